"""NISP (Yu et al. 2018): importance propagated back from Inf-FS scores of the final response layer,
s_k = |W^(k+1)|^T s_(k+1) (paper Eq. 14), through Linear, Conv and BatchNorm of a plain net."""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import nn

from featent.errors import FeatentError, ModelError
from featent.indicators.base import Indicator, LayerEvidence, Unavailable
from featent.indicators.capture import is_residual_block, layer_target, trace_layer
from featent.indicators.feature_selection import inf_fs

__all__ = ["nisp_backward", "nisp_scores", "NISP"]


def nisp_backward(weight: object, scores: object, n_channels: int | None = None) -> np.ndarray:
    """One step of NISP (Yu et al. 2018 Eq. 19): s_in,i = sum_j |W_ji| s_out,j.

    ``weight`` is a Linear ``[out, in]`` or a Conv ``[out, in, kh, kw]`` weight (kernel entries are
    summed: a channel's score sums its connections). With ``n_channels``, inputs of a Linear that
    reads a flattened ``[C, h, w]`` map are summed per channel, giving C scores.
    """
    w = np.abs(np.asarray(weight, dtype=np.float64))
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if w.ndim < 2 or w.shape[0] != s.size:
        raise FeatentError(f"NISP: weight {w.shape} does not match {s.size} output scores.")
    incoming = np.tensordot(s, w.reshape(w.shape[0], w.shape[1], -1).sum(axis=2), axes=(0, 0))
    if n_channels is not None:
        if incoming.size % n_channels:
            raise FeatentError(f"NISP: {incoming.size} inputs cannot be split into {n_channels} channels.")
        incoming = incoming.reshape(n_channels, -1).sum(axis=1)
    return incoming


def _nisp_chain(model, layer: str) -> tuple[list[tuple[str, nn.Module]], nn.Linear]:
    """Ops between the layer's output and the final classifier, and that classifier."""
    target = layer_target(model, layer)
    if any(is_residual_block(m) for m in model.module.modules()):
        raise ModelError("NISP is implemented for plain feed-forward nets (demo, VGG, AlexNet), not for residual nets.")
    trace = trace_layer(model.module, target)
    after = trace.ops[trace.layer_position :]
    linears = [i for i, (_, mod) in enumerate(after) if isinstance(mod, nn.Linear)]
    if not linears:
        raise ModelError(f"NISP needs a final Linear classifier after layer {layer!r}.")
    return after[: linears[-1]], cast(nn.Linear, after[linears[-1]][1])  # an index of ``linears``


def nisp_scores(model, layer: str, frl_features: np.ndarray) -> np.ndarray:
    """NISP score per unit of ``layer``: Inf-FS on the final-response-layer features, then Eq. 19 back.

    ``frl_features`` are the inputs of the final Linear ``[n_images, n_features]`` on the class's
    images. BatchNorm (eval) contributes |gamma| / sqrt(var + eps) per channel; ReLU, pooling and
    dropout pass channel scores through.
    """
    chain, _ = _nisp_chain(model, layer)
    scores = inf_fs(frl_features)
    n_units = model.layer(layer).n_units
    for _, mod in reversed(chain):
        if isinstance(mod, nn.Linear):
            scores = nisp_backward(mod.weight.detach().cpu().numpy(), scores)
        elif isinstance(mod, nn.Conv2d):
            if mod.groups != 1:
                raise ModelError("NISP is implemented for ungrouped convolutions only.")
            channels = mod.out_channels
            scores = _to_channels(scores, channels)
            scores = nisp_backward(mod.weight.detach().cpu().numpy(), scores)
        else:  # BatchNorm in eval mode: y = gamma (x - mu) / sqrt(var + eps) + beta
            bn = cast(nn.BatchNorm2d, mod)
            if bn.running_var is None:
                raise ModelError("NISP needs the running statistics of every BatchNorm after the layer.")
            factor = 1.0 / torch.sqrt(bn.running_var + bn.eps)
            if bn.affine and bn.weight is not None:  # affine: the weight exists
                factor = factor * bn.weight
            scale = np.abs(factor.detach().cpu().numpy().astype(np.float64))
            scores = _to_channels(scores, scale.size) * scale
    return _to_channels(scores, n_units)


def _to_channels(scores: np.ndarray, n_channels: int) -> np.ndarray:
    """Flattened [C, h, w] scores summed per channel (identity when already per channel)."""
    if scores.size == n_channels:
        return scores
    if scores.size % n_channels:
        raise ModelError(f"NISP: {scores.size} scores cannot be split into {n_channels} channels.")
    return scores.reshape(n_channels, -1).sum(axis=1)


class NISP(Indicator):
    """Low importance propagated back from the classifier's inputs (Yu et al. 2018)."""

    key, label, lower_is_better = "nisp", "NISP", False
    least_important_first = "asc"
    needs = frozenset({"frl", "weights"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        def on(target: str) -> np.ndarray:
            frl = evidence.stats[target].frl
            if not frl:
                raise ModelError("the model has no final Linear classifier")
            with evidence.model.lock:  # nisp_scores traces the model
                return nisp_scores(evidence.model, evidence.layer, np.concatenate(frl))

        try:
            return evidence.per_target(on)
        except FeatentError as exc:
            raise Unavailable(f"NISP not available: {exc}") from exc
