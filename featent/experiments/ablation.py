"""Cumulative unit ablation (paper App. A.7.1) and its enhancement summary (Table 11).

For one class and one layer, units are ranked by an indicator of the registry computed on the
selection's images (H/epsilon, L1-norm, APoZ, class selectivity, FPGM, NISP) or in a seeded random
order, and removed one at a time (their output forced to zero); after each removal the network is
scored on *test* images. Nothing here modifies the model: removal is a channel mask applied either
to activations replayed through the rest of the network (VGG-like nets, fast) or by a forward hook
that lives only inside the model's lock and is removed in ``finally``.

Orders are written ``KEY-DIRECTION`` (``featent.indicators.registry``): ``h_over_eps-desc`` removes
the least effective units first (the paper's "descending" ablation, Fig. 12B); ``h_over_eps-asc``
the most effective first (Fig. 12A).

Metrics after each removal, on the test images of the target class plus test images of the other
classes: ``accuracy`` = recall of the target class (the paper's curve), ``loss`` = mean cross-entropy
on the target class's images, ``balanced_accuracy`` = Brodersen et al. (2010) balanced accuracy of
the imbalanced one-vs-rest task "is it the target class?" (the mean of the per-class recalls of
target and rest; with 1000 ImageNet classes a plain accuracy would be dominated by the rest), and
``overall_accuracy`` = plain accuracy over all test images (what the other classes pay).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from featent.data import load_dataset
from featent.errors import DataError, FeatentError
from featent.experiments.contract import ExperimentResult, experiment
from featent.indicators import RANDOM, REGISTRY, default_compare_classes, unit_scores
from featent.indicators.registry import canonical_order, method_label, order_label, parse_order
from featent.nets import load_model
from featent.nets.hooks import attach
from featent.pipeline import compute_births, sample_images
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, NoneOr, check, check_class, validate_params

#: The orders of Fig. 12: FE both ways, every other indicator least-important-first, random.
DEFAULT_ORDERS: tuple[str, ...] = (
    "h_over_eps-desc", "h_over_eps-asc",
    *(canonical_order(i.key) for i in REGISTRY.ranking() if i.key != "h_over_eps"), RANDOM,
)
#: Least-important-first orders of every ranking indicator (Table 11).
SUMMARY_ORDERS: tuple[str, ...] = tuple(canonical_order(i.key) for i in REGISTRY.ranking())
DEFAULT_TEST_PER_CLASS = 50

__all__ = [
    "DEFAULT_ORDERS",
    "SUMMARY_ORDERS",
    "AblationCurve",
    "AblationResult",
    "EnhancementSummary",
    "SummaryRow",
    "balanced_accuracy",
    "prefixed",
    "parse_order",
    "order_label",
    "rank_units",
    "unit_scores",
    "units_removed",
    "ablation_curve",
    "one_layer_context",
    "cumulative_ablation",
    "enhancement_summary",
    "labelled_images",
]


# --------------------------------------------------------------------------- metrics and orders


def balanced_accuracy(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (Brodersen et al. 2010)."""
    t = np.asarray(y_true).reshape(-1)
    p = np.asarray(y_pred).reshape(-1)
    if t.size == 0 or t.shape != p.shape:
        raise FeatentError(f"Balanced accuracy needs equally long, non-empty label arrays; got {t.shape} and {p.shape}.")
    recalls = [float(np.mean(p[t == c] == c)) for c in np.unique(t)]
    return float(np.mean(recalls))


def rank_units(scores: Mapping[str, np.ndarray] | None, order: str, n_units: int, seed: int = 0) -> np.ndarray:
    """Unit indices in removal order; ties keep the lower unit first (stable), +inf sorts as largest."""
    key, direction = parse_order(order)
    if key == RANDOM:
        return np.random.default_rng([int(seed), 7919]).permutation(int(n_units))
    label = method_label(key)
    if scores is None or key not in scores:
        raise FeatentError(f"No {label} scores to rank by.")
    values = np.asarray(scores[key], dtype=np.float64)
    if values.shape != (int(n_units),):
        raise FeatentError(f"{label} has {values.size} scores for {n_units} units.")
    if np.isnan(values).any():
        raise FeatentError(f"{label} is not available for this model and layer (its scores are NaN).")
    ranked = -values if direction == "desc" else values
    return np.argsort(ranked, kind="stable")


def prefixed(progress: Progress, prefix: str) -> Progress:
    """``progress`` with every message prefixed (``class 3: ...``), warnings unchanged."""

    def report(fraction: float, message: str) -> None:
        progress(fraction, f"{prefix}: {message}")

    return Progress(report, progress.warn)


def _chunks(images: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    for start in range(0, images.shape[0], size):
        yield images[start : start + size]


# --------------------------------------------------------------------------- removing units


def _mask_hook(units: Sequence[int], n_units: int):
    keep = torch.ones(n_units)
    keep[list(units)] = 0.0

    def hook(output: torch.Tensor) -> torch.Tensor:
        return output * keep.to(output.device, output.dtype).view(1, -1, *([1] * (output.ndim - 2)))

    return hook


@contextmanager
def units_removed(model, layer: str, units: Sequence[int]) -> Iterator[None]:
    """Inside the block, the given units (channels) of ``layer`` output zeros; restored on exit.

    A forward hook on the layer's module, removed in ``finally``. The hook is visible to every
    caller of the module while the block runs: on a shared model, hold ``model.lock`` around it.
    """
    info = model.layer(layer)
    units = [check("unit", u, Interval(int, 0, info.n_units - 1), FeatentError) for u in units]
    with attach(model.runner, {info.site: _mask_hook(units, info.n_units)}):
        yield


class _Replay:
    """Runs a VGG-like net from a layer's activations on: ``features[i+1:]`` then the net's own
    forward after ``features``. Built on a shallow copy sharing every parameter (the model is
    not touched); checked against the full forward before use, else ``None``."""

    @staticmethod
    def build(model, layer: str, probe: torch.Tensor) -> tuple[nn.Module, nn.Module] | None:
        module = model.module
        features = getattr(module, "features", None)
        site = model.layer(layer).site
        if not isinstance(features, nn.Sequential) or model.runner is not module or site.call != 0:
            return None
        target = module.get_submodule(site.path)
        children = list(features)
        index = next((i for i, child in enumerate(children) if child is target), None)
        if index is None:
            return None
        head = nn.Sequential(*children[: index + 1])
        tail = copy.copy(module)
        tail._modules = dict(module._modules)
        tail._modules["features"] = nn.Sequential(*children[index + 1 :])
        try:
            with torch.inference_mode():
                x = model.preprocess(probe)
                full = module(x)
                replayed = tail(head(x))
        except Exception:  # noqa: BLE001 - any failure means the shortcut does not apply
            return None
        if replayed.shape != full.shape or not torch.allclose(replayed, full, rtol=1e-4, atol=1e-5):
            return None
        return head, tail


@dataclass
class AblationCurve:
    """Metrics after removing 0, 1, ..., n_units units of a layer in ``removed`` order."""

    order: str
    removed: np.ndarray  # int [n_units]: the unit removed at step k+1
    accuracy: np.ndarray  # float [n_units + 1]; index k = after k removals
    loss: np.ndarray
    balanced_accuracy: np.ndarray
    overall_accuracy: np.ndarray

    @property
    def label(self) -> str:
        return order_label(self.order)

    def best(self) -> tuple[int, float]:
        """(removals, balanced accuracy) at the best point with 1..n-1 units removed (0 if n < 2)."""
        n = len(self.removed)
        if n < 2:
            return 0, float(self.balanced_accuracy[0])
        k = 1 + int(np.argmax(self.balanced_accuracy[1:n]))
        return k, float(self.balanced_accuracy[k])


def _metrics(logits: torch.Tensor, labels: torch.Tensor, target: int) -> tuple[float, float, float, float]:
    predictions = logits.argmax(1)
    mine = labels == target
    accuracy = float((predictions[mine] == target).float().mean()) if mine.any() else float("nan")
    loss = float(nn.functional.cross_entropy(logits[mine], labels[mine])) if mine.any() else float("nan")
    balanced = balanced_accuracy(mine.numpy(), (predictions == target).numpy())
    overall = float((predictions == labels).float().mean())
    return accuracy, loss, balanced, overall


def ablation_curve(
    model,
    layer: str,
    removal: Sequence[int] | np.ndarray,
    images: torch.Tensor,
    labels: torch.Tensor,
    target: int,
    order: str = "custom",
    batch_size: int = 256,
    progress: ProgressLike = None,
) -> AblationCurve:
    """Remove ``removal`` units of ``layer`` one by one; score ``images`` ([0, 1]) after each step.

    ``labels`` are the model's output indices, ``target`` the class under study. The model is
    never modified: VGG-like nets replay cached activations through the rest of the network with
    a channel mask; other nets run fully under ``model.lock`` with a temporary masking hook.
    """
    progress = Progress.of(progress)
    info = model.layer(layer)
    removal = [int(u) for u in removal]
    if len(set(removal)) != len(removal) or any(not 0 <= u < info.n_units for u in removal):
        raise FeatentError(f"The removal order must list distinct units of 0..{info.n_units - 1}.")
    labels = torch.as_tensor(labels, dtype=torch.long).cpu()
    if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise DataError("Ablation needs test images with one label each.")
    steps = len(removal) + 1
    results = np.zeros((4, steps))
    # Held for the whole curve: the replayed tail shares its modules with the model, and a hook
    # another caller registers under the lock (featent.extract) must never see these passes.
    with model.lock:
        replay = _Replay.build(model, layer, images[: min(4, images.shape[0])])
        cached: list[torch.Tensor] = []
        if replay is not None:
            head, tail = replay
            with torch.inference_mode():
                cached = [head(model.preprocess(b)).clone() for b in _chunks(images, batch_size)]
        mask = torch.ones(info.n_units)
        for k in range(steps):
            if k > 0:
                mask[removal[k - 1]] = 0.0
            with torch.inference_mode():
                if replay is not None:
                    view = mask.to(cached[0].device, cached[0].dtype).view(1, -1, 1, 1)
                    logits = torch.cat([tail(a * view) for a in cached])
                else:
                    with units_removed(model, layer, removal[:k]):
                        logits = torch.cat([model.forward(model.preprocess(b)) for b in _chunks(images, batch_size)])
            results[:, k] = _metrics(logits.float().cpu(), labels, int(target))
            progress((k + 1) / steps, f"{order}: {k}/{len(removal)} units removed")
    return AblationCurve(
        order=order,
        removed=np.asarray(removal, dtype=np.int64),
        accuracy=results[0],
        loss=results[1],
        balanced_accuracy=results[2],
        overall_accuracy=results[3],
    )


# --------------------------------------------------------------------------- from a selection


def labelled_images(
    dataset,
    classes: Sequence[str],
    n_per_class: int,
    seed: int,
    size: int,
    split: str = "test",
    skip: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """[0, 1] images of several classes and their labels (index in ``dataset.classes``).

    A dataset without the split (an image folder has only 'train') gives held-out images instead:
    the images after the first ``skip`` of each class's seeded order, which are never the ones
    the indicators were computed on (a sample is a prefix of a longer sample with the same seed).
    """
    n_per_class = check("n_per_class", n_per_class, Interval(int, 1, None))
    xs, ys = [], []
    for name in classes:
        if split in dataset.splits:
            part = dataset.sample(name, int(n_per_class), seed, split, size).images
        else:
            part = dataset.sample(name, int(skip + n_per_class), seed, "train", size).images[skip:]
        if part.shape[0] == 0:
            raise DataError(f"Class {name!r} has no held-out images beyond the {skip} used for ranking; lower the image count.")
        xs.append(part)
        ys.append(torch.full((part.shape[0],), dataset.classes.index(name), dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)


def _train_images(selection: Selection, dataset, model, classes: Sequence[str]) -> dict[str, torch.Tensor]:
    out = {}
    for name in classes:
        if name == selection.class_name:
            out[name] = sample_images(selection).images
        else:
            out[name] = dataset.sample(name, selection.n_images, selection.seed, "train", model.input_size).images
    return out


def one_layer_context(selection: Selection, layer: str | None):
    """(layer, the one-layer selection, its model, its dataset), with the layer and the class checked:
    what every per-layer experiment needs before its first forward pass."""
    one = selection.one_layer(layer)
    model = load_model(one.model, one.weights)
    model.layer(one.layers[0])
    dataset = load_dataset(one.data)
    check_class(one.class_name, dataset.classes, dataset.name)
    return one.layers[0], one, model, dataset


@dataclass
class AblationResult(ExperimentResult):
    """Cumulative ablation of one layer for one class, for several orders."""

    selection: Selection  # one layer
    n_test_target: int
    n_test_total: int
    scores: dict[str, np.ndarray]
    curves: dict[str, AblationCurve]
    notes: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return str(self.selection.model)

    @property
    def data(self) -> str:
        return self.selection.data

    @property
    def class_name(self) -> str:
        return self.selection.class_name

    @property
    def layer(self) -> str:
        return self.selection.layers[0]

    @property
    def n_train_images(self) -> int:
        return self.selection.n_images

    @property
    def seed(self) -> int:
        return self.selection.seed

    def to_frame(self) -> pd.DataFrame:
        """One row per curve point: order, removed count, unit removed last, metrics."""
        rows = []
        for order, curve in self.curves.items():
            for k in range(len(curve.accuracy)):
                rows.append({
                    "order": order, "removed": k, "unit": None if k == 0 else int(curve.removed[k - 1]),
                    "accuracy": float(curve.accuracy[k]), "loss": float(curve.loss[k]),
                    "balanced_accuracy": float(curve.balanced_accuracy[k]),
                    "overall_accuracy": float(curve.overall_accuracy[k]),
                })
        columns = ["order", "removed", "unit", "accuracy", "loss", "balanced_accuracy", "overall_accuracy"]
        return pd.DataFrame(rows, columns=columns).astype({"unit": object})


def _orders(orders: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(canonical_order(o) for o in orders))
    if not chosen:
        raise FeatentError("Give at least one ablation order.")
    return chosen


@experiment("ablation", version=1)
@validate_params({
    "selection": InstanceOf(Selection),
    "orders": InstanceOf((list, tuple), "a list of orders"),
    "layer": NoneOr(InstanceOf(str)),
    "test_per_class": Interval(int, 1, None),
    "test_classes": NoneOr(InstanceOf((list, tuple), "a list of classes")),
    "random_seed": Interval(int, 0, None),
})
def cumulative_ablation(
    selection: Selection,
    *,
    orders: Sequence[str] = DEFAULT_ORDERS,
    layer: str | None = None,
    test_per_class: int = DEFAULT_TEST_PER_CLASS,
    test_classes: Sequence[str] | None = None,
    random_seed: int = 0,
    progress: ProgressLike = None,
    cache: bool = True,
) -> AblationResult:
    """Ablation curves of one layer for the selection's class, one per order (App. A.7.1).

    Indicators come from the selection's ``n_images`` images of each class (births from the result
    store); accuracy, loss and balanced accuracy from up to ``test_per_class`` test images of the
    class and of each of ``test_classes`` (default: every class, at most 100: the class plus a
    seeded sample).
    """
    progress = Progress.of(progress)
    orders = _orders(orders)
    parsed = [parse_order(o) for o in orders]
    layer, one, model, dataset = one_layer_context(selection, layer)

    # At most 100 classes by default (the class plus a seeded sample), as featent.indicators does,
    # so a 1000-class folder stays cheap for class selectivity and for the test set's "rest".
    default_classes = default_compare_classes(dataset.classes, one.class_name, one.seed)
    chosen_test = list(default_classes if test_classes is None else test_classes)
    for name in chosen_test:
        check_class(name, dataset.classes, dataset.name)
    if one.class_name not in chosen_test:
        chosen_test.append(one.class_name)

    ranking = [i.key for i in REGISTRY.ranking()]
    keys = sorted({k for k, _ in parsed if k != RANDOM}, key=ranking.index)
    scores: dict[str, np.ndarray] = {}
    if keys:
        births = compute_births(one, progress=progress.subrange(0.0, 0.2), cache=cache)[layer] if "h_over_eps" in keys else None
        classes = list(default_classes) if "class_selectivity" in keys else [one.class_name]
        train = _train_images(one, dataset, model, classes)
        scores = unit_scores(
            model, layer, train, [one.class_name], keys,
            births=None if births is None else {one.class_name: births}, progress=progress.subrange(0.2, 0.4),
        )
    notes = [f"{method_label(k)} is not available here: {order_label(o)} was skipped."
             for o, (k, _) in zip(orders, parsed) if k in scores and np.isnan(scores[k]).any()]
    if len(default_classes) < len(dataset.classes):
        notes.append(f"Class selectivity and the test set use {len(default_classes)} of the {len(dataset.classes)} "
                     f"classes (the class plus a seeded sample).")
    images, labels = labelled_images(
        dataset, sorted(chosen_test, key=dataset.classes.index), test_per_class, one.seed, model.input_size,
        skip=one.n_images,
    )
    target = dataset.classes.index(one.class_name)
    n_units = model.layer(layer).n_units
    usable = [o for o, (k, _) in zip(orders, parsed) if k == RANDOM or not np.isnan(scores[k]).any()]
    curves: dict[str, AblationCurve] = {}
    for i, order in enumerate(usable):
        removal = rank_units(scores, order, n_units, seed=random_seed)
        lo = 0.4 + 0.6 * i / len(usable)
        curves[order] = ablation_curve(
            model, layer, removal, images, labels, target, order=order,
            progress=progress.subrange(lo, lo + 0.6 / len(usable)),
        )
    progress(1.0, "ablation done")
    return AblationResult(
        selection=one, n_test_target=int((labels == target).sum()), n_test_total=int(labels.numel()),
        scores=scores, curves=curves, notes=notes,
    )


@dataclass
class SummaryRow:
    """Table 11 row: an order's mean unchanged and best-ablated balanced accuracy over classes."""

    order: str
    method: str
    unchanged: float
    ablated: float
    enhanced: float
    n_classes: int
    mean_units_removed: float


@dataclass
class EnhancementSummary(ExperimentResult):
    """Table 11 over several classes, with the per-class ablations behind it."""

    selection: Selection  # one layer; its class is the first summarised
    rows: list[SummaryRow]
    per_class: dict[str, AblationResult]

    def to_frame(self) -> pd.DataFrame:
        """One row per order: method label, order, unchanged, ablated, enhanced, classes, mean units removed."""
        columns = ["method", "order", "unchanged", "ablated", "enhanced", "classes", "mean_units_removed"]
        return pd.DataFrame(
            [[r.method, r.order, r.unchanged, r.ablated, r.enhanced, r.n_classes, r.mean_units_removed] for r in self.rows],
            columns=columns,
        )


@experiment("ablation-summary", version=1)
@validate_params({
    "selection": InstanceOf(Selection),
    "classes": NoneOr(InstanceOf((list, tuple), "a list of classes")),
    "orders": InstanceOf((list, tuple), "a list of orders"),
    "layer": NoneOr(InstanceOf(str)),
    "test_per_class": Interval(int, 1, None),
    "random_seed": Interval(int, 0, None),
})
def enhancement_summary(
    selection: Selection,
    *,
    classes: Sequence[str] | None = None,
    orders: Sequence[str] = SUMMARY_ORDERS,
    layer: str | None = None,
    test_per_class: int = DEFAULT_TEST_PER_CLASS,
    random_seed: int = 0,
    progress: ProgressLike = None,
    cache: bool = True,
) -> EnhancementSummary:
    """Table 11: per order, the balanced accuracy before and at the best ablation step, averaged
    over ``classes`` (default: every class), with the per-class results for inspection."""
    progress = Progress.of(progress)
    orders = _orders(orders)
    one = selection.one_layer(layer)
    dataset = load_dataset(one.data)
    chosen = list(dataset.classes if classes is None else classes)
    if not chosen:
        raise DataError("Choose at least one class for the summary.")
    for name in chosen:
        check_class(name, dataset.classes, dataset.name)
    per_class: dict[str, AblationResult] = {}
    for i, name in enumerate(chosen):
        per_class[name] = cumulative_ablation(
            one.with_class(name), orders=orders, test_per_class=test_per_class, random_seed=random_seed,
            progress=prefixed(progress.subrange(i / len(chosen), (i + 1) / len(chosen)), f"class {name}"), cache=cache,
        )
    rows = []
    for order in orders:
        results = [r.curves[order] for r in per_class.values() if order in r.curves]
        if not results:
            continue
        unchanged = float(np.mean([c.balanced_accuracy[0] for c in results]))
        best = [c.best() for c in results]
        ablated = float(np.mean([b for _, b in best]))
        rows.append(SummaryRow(order, order_label(order), unchanged, ablated, ablated - unchanged, len(results),
                               float(np.mean([k for k, _ in best]))))
    return EnhancementSummary(selection=one.with_class(chosen[0]), rows=rows, per_class=per_class)
