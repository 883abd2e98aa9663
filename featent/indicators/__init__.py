"""Unit indicators the paper compares feature entropy with (Sec. 4.3, App. A.6), per unit and class.

Why one module: every experiment (rescaling, randomness, ablation and pruning orders) needs the
same numbers from the same sampled images, so they are computed here once, from activations and
weights, by pure functions that can be checked by hand:

- L1-norm: mean over images of sum |U| (activation magnitude, after Li et al. 2016);
- APoZ: share of zero activations over images and positions (Hu et al. 2016);
- class selectivity: (mu_max - mu_-max) / (mu_max + mu_-max) over class-mean activations
  (Morcos et al. 2018, Eq. 1), and its per-class form with mu_c in place of mu_max;
- FPGM: g(F_i) = sum_j ||F_i - F_j||_2 over the layer's filters (He et al. 2019, Eq. 4; paper Eq. 13);
- NISP: s_k = |W^(k+1)|^T s_(k+1) propagated back from Inf-FS scores of the final response layer
  (Yu et al. 2018, Eq. 19; paper Eq. 14; Roffo et al. 2015);
- FE, selective rate and H/epsilon from ``featent.core.entropy``.

``compute_indicators`` does it all for a ``Selection`` and one layer; ``model_indicators`` does the
same for any LoadedModel (e.g. a rescaled copy) and image transform, which the experiments reuse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from featent.core import entropy
from featent.errors import FeatentError, ModelError
from featent.nets.hooks import Site, attach

Progress = Callable[[float, str], None]
ImageTransform = Callable[[torch.Tensor], torch.Tensor]

#: Inf-FS mixing coefficient alpha and the r = factor / rho(A) factor (Roffo et al. 2015, Sec. 3).
INF_FS_ALPHA = 0.5
INF_FS_FACTOR = 0.9

#: Column names of an indicator table, in display order.
INDICATOR_COLUMNS = (
    "l1_norm",
    "apoz",
    "class_selectivity",
    "class_selectivity_max",
    "fpgm",
    "nisp",
    "feature_entropy",
    "selective_rate",
    "h_over_eps",
)
#: Human-readable names for tables and plots.
INDICATOR_LABELS = {
    "l1_norm": "L1-norm",
    "apoz": "APoZ",
    "class_selectivity": "Class selectivity",
    "class_selectivity_max": "Class selectivity (max class)",
    "fpgm": "FPGM",
    "nisp": "NISP",
    "feature_entropy": "Feature entropy",
    "selective_rate": "Selective rate",
    "h_over_eps": "H/ε",
    "accuracy": "Class accuracy",
}

__all__ = [
    "INDICATOR_COLUMNS",
    "INDICATOR_LABELS",
    "IndicatorTable",
    "l1_norm",
    "apoz",
    "class_means",
    "class_selectivity",
    "fpgm",
    "inf_fs",
    "nisp_backward",
    "layer_filter",
    "layer_filter_weights",
    "nisp_scores",
    "model_indicators",
    "compute_indicators",
]


# --------------------------------------------------------------------------- pure functions


def _acts(activations: object) -> np.ndarray:
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 4 or a.shape[0] == 0:
        raise FeatentError(f"Activations must be [n_images, n_units, m, m] with at least one image, got shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise FeatentError("Activations contain NaN or infinite values.")
    return a


def l1_norm(activations: object) -> np.ndarray:
    """Per unit: mean over images of sum_ij |U_ij| (the activation L1-norm of Table 1)."""
    a = _acts(activations)
    return np.abs(a).sum(axis=(2, 3)).mean(axis=0)


def apoz(activations: object) -> np.ndarray:
    """Per unit: Average Percentage of Zeros, the share of exactly-zero entries over images and positions."""
    a = _acts(activations)
    return (a == 0).mean(axis=(0, 2, 3))


def class_means(activations: object) -> np.ndarray:
    """Per unit: the class-conditional mean activation mu (mean over images and positions)."""
    return _acts(activations).mean(axis=(0, 2, 3))


def class_selectivity(means: object, target: int | None = None) -> np.ndarray:
    """(mu_a - mu_-a) / (mu_a + mu_-a) per unit from class means ``[n_classes, n_units]``.

    ``target=None``: Morcos et al. 2018 Eq. 1, a = the class with the largest mean, mu_-a = mean of
    the other classes' means. ``target=c``: the same with a = c, selectivity toward class c.
    0/0 (a unit silent on every class) gives 0.
    """
    mu = np.asarray(means, dtype=np.float64)
    if mu.ndim == 1:
        mu = mu[:, None]
    if mu.ndim != 2 or mu.shape[0] < 2:
        raise FeatentError(f"Class selectivity needs means of at least 2 classes as [n_classes, n_units], got shape {mu.shape}.")
    n_classes = mu.shape[0]
    if target is None:
        best = np.argmax(mu, axis=0)
    else:
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < n_classes:
            raise FeatentError(f"The target class index must be in 0..{n_classes - 1}, got {target!r}.")
        best = np.full(mu.shape[1], int(target))
    columns = np.arange(mu.shape[1])
    top = mu[best, columns]
    rest = (mu.sum(axis=0) - top) / (n_classes - 1)
    denominator = top + rest
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, (top - rest) / np.where(denominator != 0, denominator, 1.0), 0.0)


def fpgm(weights: object) -> np.ndarray:
    """g(F_i) = sum_j ||F_i - F_j||_2 over the layer's N filters (He et al. 2019 Eq. 4, paper Eq. 13).

    ``weights`` is the conv weight ``[n_filters, ...]``; each filter is flattened.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim < 2 or w.shape[0] < 1:
        raise FeatentError(f"FPGM needs filter weights [n_filters, ...], got shape {w.shape}.")
    flat = w.reshape(w.shape[0], -1)
    sq = (flat * flat).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T, 0.0)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2).sum(axis=1)


def _spearman(x: np.ndarray) -> np.ndarray:
    """Spearman correlation between columns; constant columns correlate 0 (as Inf-FS sets NaN to 0)."""
    from scipy.stats import rankdata

    ranks = rankdata(x, axis=0)
    ranks -= ranks.mean(axis=0)
    norm = np.sqrt((ranks * ranks).sum(axis=0))
    safe = np.where(norm > 0, norm, 1.0)
    corr = (ranks.T @ ranks) / np.outer(safe, safe)
    corr[(norm == 0)[:, None] | (norm == 0)[None, :]] = 0.0
    return corr


def inf_fs(features: object, alpha: float = INF_FS_ALPHA, factor: float = INF_FS_FACTOR) -> np.ndarray:
    """Unsupervised Infinite Feature Selection scores (Roffo et al. 2015), one per feature column.

    A = alpha * sigma + (1 - alpha) * (1 - |Spearman|), sigma_ij = max(std_i, std_j) min-max
    normalised to [0, 1] (as in the authors' toolbox); S = (I - rA)^-1 - I with r = factor / rho(A);
    score s_i = sum_j S_ij, computed by one linear solve.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise FeatentError(f"Inf-FS needs features [n_samples >= 2, n_features >= 1], got shape {x.shape}.")
    if not 0.0 <= alpha <= 1.0 or not 0.0 < factor < 1.0:
        raise FeatentError(f"Inf-FS needs alpha in [0, 1] and factor in (0, 1), got {alpha!r} and {factor!r}.")
    std = x.std(axis=0, ddof=1)
    sigma = np.maximum(std[:, None], std[None, :])
    sigma = sigma - sigma.min()
    top = sigma.max()
    sigma = sigma / top if top > 0 else np.zeros_like(sigma)
    a = alpha * sigma + (1.0 - alpha) * (1.0 - np.abs(_spearman(x)))
    from scipy.linalg import eigvalsh, solve

    n = a.shape[0]
    rho = float(eigvalsh(a, subset_by_index=[n - 1, n - 1])[0])
    if rho <= 0:
        return np.zeros(n)
    r = factor / rho
    ones = np.ones(n)
    return solve(np.eye(n) - r * a, ones, assume_a="sym") - ones


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


# --------------------------------------------------------------------------- model structure


@dataclass
class _Trace:
    """Modules with weights in forward order, and where the requested layer's output appears."""

    ops: list[tuple[str, nn.Module]]  # (qualified name, module)
    layer_position: int  # index in ops of the first op after the layer's output


def _trace(module: nn.Module, layer_module: nn.Module) -> _Trace:
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
    return _Trace(ops=ops, layer_position=position)


def _layer_target(model, layer: str) -> nn.Module:
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


def _is_residual_block(mod: nn.Module) -> bool:
    return hasattr(mod, "conv2") and hasattr(mod, "bn2") and hasattr(mod, "conv1")


def layer_filter(model, layer: str) -> tuple[nn.Conv2d, nn.Module | None]:
    """The conv whose filters produce ``layer`` and the BatchNorm between them (or None).

    VGG-like nets: the last conv (and BN) before the layer's ReLU. ResNet blocks: the block's last
    conv/BN (conv3/bn3 or conv2/bn2); the stem ``conv1``: conv1/bn1.
    """
    target = _layer_target(model, layer)
    if _is_residual_block(target):
        last = "3" if hasattr(target, "conv3") else "2"
        return getattr(target, f"conv{last}"), getattr(target, f"bn{last}")
    if target is getattr(model.module, "relu", None) and hasattr(model.module, "conv1"):
        return model.module.conv1, getattr(model.module, "bn1", None)
    trace = _trace(model.module, target)
    before = trace.ops[: trace.layer_position]
    convs = [i for i, (_, mod) in enumerate(before) if isinstance(mod, nn.Conv2d)]
    if not convs:
        raise ModelError(f"No convolution runs before layer {layer!r}.")
    conv = before[convs[-1]][1]
    bns = [mod for _, mod in before[convs[-1] + 1 :] if isinstance(mod, nn.BatchNorm2d)]
    return conv, (bns[-1] if bns else None)


def layer_filter_weights(model, layer: str) -> np.ndarray:
    """The filters ``[n_units, in, kh, kw]`` of the conv producing ``layer`` (for FPGM)."""
    conv, _ = layer_filter(model, layer)
    return conv.weight.detach().to("cpu", torch.float64).numpy()


def _nisp_chain(model, layer: str) -> tuple[list[tuple[str, nn.Module]], nn.Linear]:
    """Ops between the layer's output and the final classifier, and that classifier."""
    target = _layer_target(model, layer)
    if any(_is_residual_block(m) for m in model.module.modules()):
        raise ModelError("NISP is implemented for plain feed-forward nets (demo, VGG, AlexNet), not for residual nets.")
    trace = _trace(model.module, target)
    after = trace.ops[trace.layer_position :]
    linears = [i for i, (_, mod) in enumerate(after) if isinstance(mod, nn.Linear)]
    if not linears:
        raise ModelError(f"NISP needs a final Linear classifier after layer {layer!r}.")
    return after[: linears[-1]], after[linears[-1]][1]


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
            scale = 1.0 / torch.sqrt(mod.running_var + mod.eps)
            if mod.affine:
                scale = scale * mod.weight
            scale = np.abs(scale.detach().cpu().numpy().astype(np.float64))
            scores = _to_channels(scores, scale.size) * scale
    return _to_channels(scores, n_units)


def _to_channels(scores: np.ndarray, n_channels: int) -> np.ndarray:
    """Flattened [C, h, w] scores summed per channel (identity when already per channel)."""
    if scores.size == n_channels:
        return scores
    if scores.size % n_channels:
        raise ModelError(f"NISP: {scores.size} scores cannot be split into {n_channels} channels.")
    return scores.reshape(n_channels, -1).sum(axis=1)


# --------------------------------------------------------------------------- from a model


@dataclass
class IndicatorTable:
    """Every indicator for each unit of one layer on one class (arrays of length n_units)."""

    model: str
    data: str
    class_name: str
    layer: str
    n_images: int
    seed: int
    values: dict[str, np.ndarray]
    accuracy: float
    births: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def n_units(self) -> int:
        return int(self.births.shape[1])

    def unit(self, index: int) -> dict[str, float]:
        """One unit's indicators as plain floats."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.n_units:
            raise FeatentError(f"Unit {index!r} is out of range; layer {self.layer} has {self.n_units} units.")
        return {name: float(self.values[name][index]) for name in INDICATOR_COLUMNS}

    def records(self) -> list[dict[str, float | int]]:
        """One dict per unit: ``{"unit": u, <indicator>: value, ...}`` (JSON-ready, inf as None)."""
        rows = []
        for u in range(self.n_units):
            row: dict[str, float | int | None] = {"unit": u}
            for name in INDICATOR_COLUMNS:
                value = float(self.values[name][u])
                row[name] = value if np.isfinite(value) else None
            rows.append(row)
        return rows


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

        def keep(key: str):  # noqa: ANN202
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


def model_indicators(
    model,
    images_by_class: dict[str, torch.Tensor],
    class_name: str,
    layer: str,
    transform: ImageTransform | None = None,
    class_index: int | None = None,
    births: np.ndarray | None = None,
    accuracy_images: torch.Tensor | None = None,
    progress: Progress | None = None,
    p: float = entropy.DEFAULT_P,
) -> tuple[dict[str, np.ndarray], float, np.ndarray, list[str]]:
    """All indicators of one layer of ``model`` on ``class_name``.

    ``images_by_class`` maps every class used for class selectivity to its [0, 1] images; the
    ``class_name`` entry is the image set FE is measured on. ``class_index`` is the model's output
    index of the class (for accuracy; default: its position in ``images_by_class``). ``transform``
    acts on the model's (normalized) input tensor, for every class alike.
    ``accuracy_images`` (default: the class's own images) are the images accuracy is measured on.
    Returns (values by indicator name, class accuracy, births, notes).
    """
    from featent.core.topology import birth_times

    if class_name not in images_by_class:
        raise FeatentError(f"Class {class_name!r} has no images among {sorted(images_by_class)}.")
    model.layer(layer)
    notes: list[str] = []
    names = list(images_by_class)
    index = names.index(class_name) if class_index is None else int(class_index)

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(1.0, fraction), message)

    report(0.0, f"{layer}: activations of class {class_name}")
    acts, frl, logits = forward_capture(model, images_by_class[class_name], layer, transform)
    if births is None:
        report(0.1, f"{layer}: birth times")
        births = np.asarray(birth_times(acts), dtype=np.int32)
    if accuracy_images is not None:
        _, _, eval_logits = forward_capture(model, accuracy_images, layer, transform)
    else:
        eval_logits = logits
    accuracy = float(np.mean(eval_logits.argmax(axis=1) == index)) if eval_logits.shape[1] > index else float("nan")

    means = np.zeros((len(names), acts.shape[1]))
    for k, name in enumerate(names):
        report(0.3 + 0.5 * k / max(1, len(names)), f"{layer}: class means ({k + 1}/{len(names)})")
        if name == class_name:
            means[k] = class_means(acts)
        else:
            other, _, _ = forward_capture(model, images_by_class[name], layer, transform)
            means[k] = class_means(other)
    target = names.index(class_name)
    values: dict[str, np.ndarray] = {
        "l1_norm": l1_norm(acts),
        "apoz": apoz(acts),
        "class_selectivity": class_selectivity(means, target) if len(names) > 1 else np.full(acts.shape[1], np.nan),
        "class_selectivity_max": class_selectivity(means) if len(names) > 1 else np.full(acts.shape[1], np.nan),
        "fpgm": fpgm(layer_filter_weights(model, layer)),
    }
    if len(names) < 2:
        notes.append("class selectivity needs at least two classes")
    report(0.85, f"{layer}: NISP")
    try:
        if frl is None:
            raise ModelError("the model has no final Linear classifier")
        values["nisp"] = nisp_scores(model, layer, frl)
    except ModelError as exc:
        values["nisp"] = np.full(acts.shape[1], np.nan)
        notes.append(f"NISP not available: {exc}")
    values["feature_entropy"] = np.asarray(entropy.feature_entropy(births, p), dtype=np.float64)
    values["selective_rate"] = np.asarray(entropy.selective_rate(births), dtype=np.float64)
    values["h_over_eps"] = np.asarray(entropy.ranking_score(births, p), dtype=np.float64)
    report(1.0, f"{layer}: done")
    return values, accuracy, births, notes


#: Without an explicit list, class selectivity compares with at most this many classes (the
#: class itself plus others drawn with the selection's seed), so a 1000-class folder stays cheap.
MAX_DEFAULT_CLASSES = 100


def default_compare_classes(classes: Sequence[str], target: str, seed: int) -> list[str]:
    """Every class when there are at most MAX_DEFAULT_CLASSES, else the target plus a seeded sample."""
    classes = list(classes)
    if len(classes) <= MAX_DEFAULT_CLASSES:
        return classes
    others = [c for c in classes if c != target]
    picked = np.random.default_rng([int(seed), 5]).choice(len(others), MAX_DEFAULT_CLASSES - 1, replace=False)
    chosen = {target, *(others[i] for i in picked)}
    return [c for c in classes if c in chosen]


def class_images(
    selection, classes: Sequence[str] | None = None, images_per_class: int | None = None
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """[0, 1] images per class for class selectivity: the selection's own sample for its class,
    ``images_per_class`` (default: the selection's count) seeded images for each other class.
    ``classes=None``: ``default_compare_classes``. Returns (images by class, all dataset classes)."""
    from featent.data import load_dataset
    from featent.nets.models import load_model
    from featent.pipeline import sample_images

    dataset = load_dataset(selection.data)
    model = load_model(selection.model, selection.weights)
    if classes is None:
        chosen = default_compare_classes(dataset.classes, selection.class_name, selection.seed)
    else:
        chosen = list(classes)
    if selection.class_name not in chosen:
        chosen.append(selection.class_name)
    for name in chosen:
        if name not in dataset.classes:
            raise FeatentError(f"Class {name!r} is not in {dataset.name}.")
    per_class = selection.n_images if images_per_class is None else int(images_per_class)
    if per_class < 1:
        raise FeatentError(f"images_per_class must be at least 1, got {images_per_class!r}.")
    out: dict[str, torch.Tensor] = {}
    for name in sorted(set(chosen), key=dataset.classes.index):
        if name == selection.class_name:
            out[name] = sample_images(selection).images
        else:
            out[name] = dataset.sample(name, per_class, selection.seed, selection.split, model.input_size).images
    return out, list(dataset.classes)


def compute_indicators(
    selection,
    layer: str | None = None,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    progress: Progress | None = None,
    *,
    cache: bool = True,
) -> IndicatorTable:
    """Every indicator for each unit of ``layer`` (default: the selection's first) on its class.

    FE, selective rate and H/epsilon use the cached birth times of ``featent.pipeline``; the other
    indicators use the same sampled images. Class selectivity compares with ``classes`` (default:
    all classes of the dataset), ``images_per_class`` images each.
    """
    from featent.nets.models import load_model
    from featent.pipeline import Selection, compute_births

    if not isinstance(selection, Selection):
        raise FeatentError(f"Expected a Selection, got {type(selection).__name__}.")
    layer = layer or (selection.layers[0] if selection.layers else "")
    model = load_model(selection.model, selection.weights)
    model.layer(layer)
    one = Selection(selection.model, selection.data, selection.class_name, (layer,), selection.n_images,
                    selection.seed, selection.weights, selection.split)

    def part(lo: float, hi: float) -> Progress | None:
        if progress is None:
            return None
        return lambda f, m: progress(lo + (hi - lo) * f, m)

    births = compute_births(one, progress=part(0.0, 0.4), cache=cache)[layer]
    images, all_classes = class_images(one, classes, images_per_class)
    values, accuracy, births, notes = model_indicators(
        model, images, selection.class_name, layer, class_index=all_classes.index(selection.class_name),
        births=births, progress=part(0.4, 1.0),
    )
    if classes is None and len(images) < len(all_classes):
        notes.append(f"class selectivity compares with {len(images) - 1} other classes drawn with seed {selection.seed} "
                     f"(of {len(all_classes) - 1}); pass the classes to choose them")
    return IndicatorTable(
        model=selection.model, data=selection.data, class_name=selection.class_name, layer=layer,
        n_images=int(births.shape[0]), seed=selection.seed, values=values, accuracy=accuracy,
        births=births, notes=notes,
    )
