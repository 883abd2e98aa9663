"""Where a layer's numbers come from: one forward pass with the layer (and the final Linear's
inputs) captured, the conv whose filters produce a layer, and the streamed evidence every indicator
reads (``gather_evidence``), so activations are summed in one place whoever asks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from featent.core.topology import birth_times
from featent.errors import DataError, ModelError
from featent.indicators.base import ClassStats, LayerEvidence
from featent.nets.hooks import Site, attach
from featent.progress import Progress, ProgressLike

__all__ = [
    "ImageTransform", "LayerTrace", "trace_layer", "layer_target", "is_residual_block", "layer_filter",
    "layer_filter_weights", "forward_capture", "gather_evidence",
]

ImageTransform = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class LayerTrace:
    """Modules with weights in forward order, and where the requested layer's output appears."""

    ops: list[tuple[str, nn.Module]]  # (qualified name, module)
    layer_position: int  # index in ops of the first op after the layer's output


def trace_layer(module: nn.Module, layer_module: nn.Module) -> LayerTrace:
    """The weighted modules in registration order, which is the forward order of the plain
    feed-forward nets this is used for (VGG-like ``features`` then classifier; ResNet blocks are
    handled apart). No hooks and no forward pass: safe on a model shared between threads."""
    kinds = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d)
    inside = {id(m) for m in layer_module.modules()}
    ops: list[tuple[str, nn.Module]] = []
    position: int | None = None
    for name, mod in module.named_modules():
        if isinstance(mod, kinds):
            ops.append((name, mod))
        if id(mod) in inside:
            position = len(ops)  # after the layer's module and everything inside it
    if position is None:
        raise ModelError("The chosen layer is not part of the model.")
    return LayerTrace(ops=ops, layer_position=position)


def layer_target(model, layer: str) -> nn.Module:
    """The module whose output is ``layer``: its own module, or the residual block when the layer is
    a later call of a ReLU the block reuses (torchvision ResNets); the conv itself for a tapped layer."""
    info = model.layer(layer)
    path = info.site.path
    if info.site.call > 0:
        path = path.rpartition(".")[0]
    try:
        target = model.module.get_submodule(path)
    except AttributeError:
        target = None
    if target is None and info.conv is not None:
        return model.module.get_submodule(info.conv)
    if target is None:
        raise ModelError(f"Layer {layer!r} is not a module of the model.")
    return target


def is_residual_block(mod: nn.Module) -> bool:
    return hasattr(mod, "conv2") and hasattr(mod, "bn2") and hasattr(mod, "conv1")


def layer_filter(model, layer: str) -> tuple[nn.Conv2d, nn.BatchNorm2d | None]:
    """The conv whose filters produce ``layer`` and the BatchNorm between them (or None).

    VGG-like nets: the last conv (and BN) before the layer's ReLU. ResNet blocks: the block's last
    conv/BN (conv3/bn3 or conv2/bn2); the stem ``conv1``: conv1/bn1.
    """
    target = layer_target(model, layer)
    if is_residual_block(target):
        last = "3" if hasattr(target, "conv3") else "2"
        return getattr(target, f"conv{last}"), getattr(target, f"bn{last}")
    if target is getattr(model.module, "relu", None) and hasattr(model.module, "conv1"):
        return model.module.conv1, getattr(model.module, "bn1", None)
    trace = trace_layer(model.module, target)
    before = trace.ops[: trace.layer_position]
    convs = [i for i, (_, mod) in enumerate(before) if isinstance(mod, nn.Conv2d)]
    if not convs:
        raise ModelError(f"No convolution runs before layer {layer!r}.")
    conv = cast(nn.Conv2d, before[convs[-1]][1])  # an index of ``convs``: an nn.Conv2d
    bns = [mod for _, mod in before[convs[-1] + 1 :] if isinstance(mod, nn.BatchNorm2d)]
    return conv, (bns[-1] if bns else None)


def layer_filter_weights(model, layer: str) -> np.ndarray:
    """The filters ``[n_units, in, kh, kw]`` of the conv producing ``layer`` (for FPGM)."""
    conv, _ = layer_filter(model, layer)
    return conv.weight.detach().to("cpu", torch.float64).numpy()



def _frl_module(module: nn.Module) -> nn.Linear | None:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def forward_capture(
    model, images: torch.Tensor, layer: str, transform: ImageTransform | None = None, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """One full forward pass: (layer activations, final-Linear inputs or None, logits).

    ``transform`` changes the model's input tensor, after its preprocessing (e.g. x0.5). Hooks
    are removed in ``finally``; outputs are cloned so in-place ReLUs cannot touch them.
    """
    site = model.layer(layer).site
    last = _frl_module(model.runner)
    acts, frls, logits = [], [], []
    with model.lock:
        captured: dict[str, torch.Tensor] = {}

        def keep(key: str):
            def hook(value: torch.Tensor) -> None:
                captured[key] = value.detach().to("cpu", torch.float32, copy=True)

            return hook

        hooks = {site: keep("layer")}
        if last is not None:
            path = next(name for name, mod in model.runner.named_modules() if mod is last)
            hooks[Site(path, 0, inputs=True)] = keep("frl")
        with attach(model.runner, hooks):
            for start in range(0, images.shape[0], batch_size):
                batch = images[start : start + batch_size]
                inputs = model.preprocess(batch)
                if transform is not None:
                    inputs = transform(inputs)
                with torch.inference_mode():
                    out = model.runner(inputs)
                acts.append(captured.pop("layer").numpy())
                if "frl" in captured:
                    frls.append(captured.pop("frl").reshape(batch.shape[0], -1).numpy())
                logits.append(out.detach().to("cpu", torch.float32).reshape(batch.shape[0], -1).numpy())
    frl = np.concatenate(frls) if frls and len(frls) == len(acts) else None
    return np.concatenate(acts), frl, np.concatenate(logits)


def _chunks(images: torch.Tensor, size: int | None) -> list[torch.Tensor]:
    if size is None:
        return [images]
    return [images[start : start + size] for start in range(0, images.shape[0], size)]


def gather_evidence(
    model,
    layer: str,
    images_by_class: Mapping[str, torch.Tensor],
    targets: Sequence[str],
    needs: frozenset[str],
    *,
    births: Mapping[str, np.ndarray] | None = None,
    transform: ImageTransform | None = None,
    batch_size: int | None = None,
    p: float,
    progress: ProgressLike = None,
) -> LayerEvidence:
    """Stream the images of each class through ``model`` once and keep what the indicators ``needs``.

    The targets' activations are summed (L1, zeros, means), their birth times computed (unless
    given in ``births``) and their final-Linear inputs kept; the other classes of
    ``images_by_class`` run only when class means are needed. ``batch_size=None`` runs each class
    as one chunk (forward passes still batched).
    """
    progress = Progress.of(progress)
    targets = list(targets)
    names = list(images_by_class)
    if not targets or any(t not in images_by_class for t in targets):
        raise DataError(f"Every target class needs images; got targets {targets} and images of {names}.")
    n_units = model.layer(layer).n_units
    given = dict(births or {})
    run = names if "class_means" in needs else targets
    stats: dict[str, ClassStats] = {}
    born: dict[str, list[np.ndarray]] = {}
    for k, name in enumerate(run):
        progress(k / max(1, len(run)), f"{layer}: activations: {k + 1}/{len(run)} classes")
        is_target = name in targets
        stat = stats[name] = ClassStats(n_units)
        for batch in _chunks(images_by_class[name], batch_size):
            acts, frl, logits = forward_capture(model, batch, layer, transform, batch_size=batch_size or 256)
            stat.add_means(acts)
            if not is_target:
                continue
            stat.add_detail(acts)
            stat.logits.append(logits)
            if "births" in needs and name not in given:
                born.setdefault(name, []).append(np.asarray(birth_times(acts), dtype=np.int32))
            if "frl" in needs and frl is not None:
                stat.frl.append(frl)
    progress(1.0, f"{layer}: activations done")
    for name, parts in born.items():
        given[name] = np.concatenate(parts)
    return LayerEvidence(model=model, layer=layer, n_units=n_units, classes=names, targets=targets, stats=stats,
                         births=given, p=p)
