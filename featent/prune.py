"""Feature entropy as a Torch-Pruning importance, and channel pruning of any conv net through its DependencyGraph.

Torch-Pruning (the ``prune`` extra) follows a removed channel through skip connections, depthwise
and grouped convolutions and concatenations, so residual, MobileNet, EfficientNet and DenseNet nets
lose whole coupled channel groups and still run. featent scores the channels: every featent layer is
mapped to the conv producing it (``featent.indicators.layer_filter``), and a group is scored by the
mean score of the mapped convs in it. Groups with no mapped conv (layers featent does not measure,
e.g. maps smaller than 2x2) are left unpruned. Scores are computed once, on the unpruned net.

``FEImportance`` ranks by H/epsilon averaged over classes (Eq. 15) from the cached births of
``featent.pipeline.layer_results``: a high H/epsilon is removed first, a low one kept.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from featent.core import entropy
from featent.errors import FeatentError, ModelError
from featent.indicators import layer_filter
from featent.nets import load_model
from featent.pipeline import layer_results
from featent.progress import Progress, ProgressLike
from featent.spec import Selection

try:  # the optional ``prune`` extra
    import torch_pruning as tp

    _Base: Any = tp.importance.Importance
except ImportError:  # pragma: no cover - exercised where the extra is absent
    tp = None
    _Base = object

__all__ = [
    "EXTRA_HINT", "has_torch_pruning", "require_torch_pruning", "conv_layers", "ScoreImportance", "FEImportance",
    "trainable_copy", "prune_groups", "prune_channels_tp",
]

EXTRA_HINT = 'Pruning this net needs Torch-Pruning: pip install "featent[prune]".'


def has_torch_pruning() -> bool:
    return tp is not None


def require_torch_pruning() -> None:
    """One sentence naming the extra when Torch-Pruning is not importable."""
    if tp is None:
        raise ModelError(EXTRA_HINT)


def conv_layers(model, layers: Sequence[str] | None = None) -> dict[str, str]:
    """Conv module path -> the featent layer it produces (the first layer wins when two share a conv)."""
    names = {id(m): n for n, m in model.module.named_modules()}
    out: dict[str, str] = {}
    with model.lock:
        for layer in layers if layers is not None else [info.name for info in model.layers]:
            try:
                conv, _ = layer_filter(model, layer)
            except FeatentError:
                continue
            name = names.get(id(conv))
            if name is not None:
                out.setdefault(name, layer)
    return out


def trainable_copy(module: nn.Module) -> nn.Module:
    """A deep copy with gradients on (the DependencyGraph traces autograd); the original is untouched."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(True)
    return twin


def _module_name(dep) -> str | None:
    name = getattr(dep.target, "_name", None)
    return name if isinstance(name, str) else None


class ScoreImportance(_Base):
    """A Torch-Pruning importance from fixed per-channel scores of named convs (higher = kept).

    ``scores`` maps a conv's module path (as in ``named_modules`` of the net being pruned) to one
    importance per output channel. A group is scored by the mean over its mapped convs; a group
    without one returns None, which Torch-Pruning's pruners skip.
    """

    def __init__(self, scores: Mapping[str, np.ndarray | torch.Tensor]) -> None:
        require_torch_pruning()
        self.scores = {k: torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=torch.float64) for k, v in scores.items()}

    @torch.no_grad()
    def __call__(self, group) -> torch.Tensor | None:
        n_root = len(group[0].idxs)
        total = torch.zeros(n_root, dtype=torch.float64)
        seen = 0
        for item in group:
            dep, idxs, root_idxs = item.dep, item.idxs, item.root_idxs
            if dep.pruning_fn != tp.prune_conv_out_channels:
                continue
            score = self.scores.get(_module_name(dep) or "")
            if score is None or any(r is None for r in root_idxs) or max(idxs) >= score.numel():
                continue
            total.scatter_add_(0, torch.tensor(list(root_idxs)), score[list(idxs)])
            seen += 1
        if not seen:
            return None
        return (total / seen).float()


def _finite(values: np.ndarray) -> np.ndarray:
    """+inf (a unit never born) ranks above every finite value, NaN with it."""
    finite = values[np.isfinite(values)]
    top = float(finite.max()) + 1.0 if finite.size else 1.0
    return np.nan_to_num(values.astype(np.float64), nan=top, posinf=top, neginf=-top)


class FEImportance(ScoreImportance):
    """Feature entropy (H/epsilon, lower kept) as a Torch-Pruning importance, usable in any pruner.

    Births of each class come from ``featent.pipeline.layer_results`` (cached in the result store),
    so a class set is scored once; every featent layer of ``model`` (or ``layers``) scores the conv
    producing it. ``model`` is a spec or a loaded model; prune a copy of its module, e.g.
    ``trainable_copy(importance.model.module)``: names must match the loaded model's.
    """

    def __init__(self, model, data: str = "fashion", classes: Sequence[str] | None = None, *, n_images: int = 16,
                 seed: int = 0, layers: Sequence[str] | None = None, p: float = entropy.DEFAULT_P,
                 cache: bool = True, progress: ProgressLike = None) -> None:
        require_torch_pruning()
        from featent.data import load_dataset

        progress = Progress.of(progress)
        self.model = load_model(model) if isinstance(model, str) else model
        dataset = load_dataset(data)
        self.classes = list(classes) if classes is not None else list(dataset.classes)
        if not self.classes:
            raise FeatentError("FEImportance needs at least one class.")
        self.layers = conv_layers(self.model, layers)  # conv path -> layer
        if not self.layers:
            raise ModelError("No featent layer of this model is produced by a conv; nothing to score.")
        wanted = tuple(dict.fromkeys(self.layers.values()))
        per_layer: dict[str, list[np.ndarray]] = {layer: [] for layer in wanted}
        for i, name in enumerate(self.classes):
            selection = Selection(self.model, data, name, wanted, n_images=n_images, seed=seed)
            found = layer_results(selection, progress=progress.subrange(i / len(self.classes), (i + 1) / len(self.classes)),
                                  cache=cache)
            for layer in wanted:
                per_layer[layer].append(entropy.ranking_score(found[layer].births, p))
        #: H/epsilon per unit of each layer, averaged over the classes
        self.h_over_eps = {layer: _finite(np.mean(np.stack(v), axis=0)) for layer, v in per_layer.items()}
        super().__init__({conv: -self.h_over_eps[layer] for conv, layer in self.layers.items()})
        progress(1.0, f"scored {len(wanted)} layers on {len(self.classes)} classes")


def prune_groups(module: nn.Module, importance, ratio: float, input_size: int,
                 ignored: Sequence[nn.Module] = ()) -> nn.Module:
    """Prune ``ratio`` of every scored channel group of ``module`` in place with Torch-Pruning's MetaPruner.

    The last Linear (the class outputs) is never pruned. Returns the module in eval mode with
    gradients off.
    """
    require_torch_pruning()
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    device = next(module.parameters()).device
    for p in module.parameters():
        p.requires_grad_(True)
    module.eval()
    example = torch.zeros(1, 3, input_size, input_size, device=device)
    pruner = tp.pruner.MetaPruner(module, example, importance=importance, pruning_ratio=float(ratio),
                                  ignored_layers=[*linears[-1:], *ignored])
    pruner.step()
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def prune_channels_tp(module: nn.Module, conv: str, remove: Sequence[int], input_size: int) -> nn.Module:
    """A copy of ``module`` without output channels ``remove`` of the conv at path ``conv`` (and every
    channel coupled to them), removed through Torch-Pruning's DependencyGraph."""
    require_torch_pruning()
    twin = trainable_copy(module)
    twin.eval()
    device = next(twin.parameters()).device
    graph = tp.DependencyGraph().build_dependency(twin, example_inputs=torch.zeros(1, 3, input_size, input_size,
                                                                                  device=device))
    group = graph.get_pruning_group(twin.get_submodule(conv), tp.prune_conv_out_channels, idxs=sorted(map(int, remove)))
    group.prune()
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin
