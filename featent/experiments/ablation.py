"""Cumulative unit ablation (paper App. A.7.1) and its enhancement summary (Table 11).

For one class and one layer, units are ranked by an indicator computed on *training* images
(H/epsilon, L1-norm, APoZ, class selectivity, FPGM, NISP) or in a seeded random order, and removed
one at a time (their output forced to zero); after each removal the network is scored on *test*
images. Nothing here modifies the model: removal is a channel mask applied either to activations
replayed through the rest of the network (VGG-like nets, fast) or by a forward hook that lives only
inside the model's lock and is removed in ``finally``.

Orders are written ``METHOD-DIRECTION``: ``fe-desc`` sorts by H/epsilon from high to low, i.e. the
least effective units go first (the paper's "descending" ablation, Fig. 12B); ``fe-asc`` removes the
most effective first (Fig. 12A). ``desc``/``asc`` always refer to the raw indicator value; a bare
method name (``l1``) means its least-important-first direction (``LEAST_IMPORTANT_FIRST``), the one
used for Table 11 and for pruning.

Metrics after each removal, on the test images of the target class plus test images of the other
classes: ``accuracy`` = recall of the target class (the paper's curve), ``loss`` = mean cross-entropy
on the target class's images, ``balanced_accuracy`` = Brodersen et al. (2010) balanced accuracy of
the imbalanced one-vs-rest task "is it the target class?" (the mean of the per-class recalls of
target and rest; with 1000 ImageNet classes a plain accuracy would be dominated by the rest), and
``overall_accuracy`` = plain accuracy over all test images (what the other classes pay).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from featent.core import entropy
from featent.errors import DataError, FeatentError, ModelError
from featent.nets.hooks import attach
from featent.indicators.registry import LEAST_IMPORTANT_FIRST, METHODS
from featent.indicators import apoz as apoz_fn, class_selectivity, default_compare_classes, forward_capture, fpgm, layer_filter_weights, nisp_scores
from featent.core.topology import birth_times
from featent.pipeline import Selection, compute_births, sample_images
from featent.data import load_dataset
from featent.nets import load_model

Progress = Callable[[float, str], None]

#: The orders of Fig. 12: FE both ways, every other indicator least-important-first, random.
DEFAULT_ORDERS = ("fe-desc", "fe-asc", "l1-asc", "apoz-desc", "selectivity-asc", "fpgm-asc", "nisp-asc", "random")
#: Least-important-first orders of every method (Table 11).
SUMMARY_ORDERS = ("fe-desc", "l1-asc", "apoz-desc", "selectivity-asc", "fpgm-asc", "nisp-asc")
DEFAULT_TEST_PER_CLASS = 50

__all__ = [
    "METHODS",
    "LEAST_IMPORTANT_FIRST",
    "DEFAULT_ORDERS",
    "SUMMARY_ORDERS",
    "AblationCurve",
    "AblationResult",
    "SummaryRow",
    "balanced_accuracy",
    "parse_order",
    "order_label",
    "rank_units",
    "unit_scores",
    "units_removed",
    "ablation_curve",
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


def parse_order(order: str) -> tuple[str, str]:
    """``"fe-desc"`` -> ("fe", "desc"); ``"l1"`` -> ("l1", "asc"); ``"random"`` -> ("random", "")."""
    text = str(order).strip().lower()
    method, _, direction = text.partition("-")
    if method not in METHODS:
        raise FeatentError(
            f"Unknown order {order!r}; use METHOD-desc or METHOD-asc with METHOD one of "
            f"{', '.join(m for m in METHODS if m != 'random')}, or 'random'."
        )
    if method == "random":
        if direction:
            raise FeatentError(f"Unknown order {order!r}; the random order takes no direction, write 'random'.")
        return method, ""
    if not direction:
        return method, LEAST_IMPORTANT_FIRST[method]
    if direction not in ("desc", "asc"):
        raise FeatentError(f"Unknown order {order!r}; the direction must be 'desc' or 'asc'.")
    return method, direction


def order_label(order: str) -> str:
    """Readable name of an order for legends and tables, e.g. 'Feature entropy (H/ε), descending'."""
    method, direction = parse_order(order)
    if method == "random":
        return METHODS[method]
    return f"{METHODS[method]}, {'descending' if direction == 'desc' else 'ascending'}"


def rank_units(scores: Mapping[str, np.ndarray] | None, order: str, n_units: int, seed: int = 0) -> np.ndarray:
    """Unit indices in removal order; ties keep the lower unit first (stable), +inf sorts as largest."""
    method, direction = parse_order(order)
    if method == "random":
        return np.random.default_rng([int(seed), 7919]).permutation(int(n_units))
    if scores is None or method not in scores:
        raise FeatentError(f"No {METHODS[method]} scores to rank by.")
    values = np.asarray(scores[method], dtype=np.float64)
    if values.shape != (int(n_units),):
        raise FeatentError(f"{METHODS[method]} has {values.size} scores for {n_units} units.")
    if np.isnan(values).any():
        raise FeatentError(f"{METHODS[method]} is not available for this model and layer (its scores are NaN).")
    key = -values if direction == "desc" else values
    return np.argsort(key, kind="stable")


# --------------------------------------------------------------------------- indicator scores


def _chunks(images: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    for start in range(0, images.shape[0], size):
        yield images[start : start + size]


def unit_scores(
    model,
    layer: str,
    images_by_class: Mapping[str, torch.Tensor],
    targets: Sequence[str],
    methods: Sequence[str] = ("fe", "l1", "apoz", "selectivity", "fpgm", "nisp"),
    births: Mapping[str, np.ndarray] | None = None,
    p: float = entropy.DEFAULT_P,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Each indicator per unit of ``layer``, averaged over the ``targets`` classes (Eq. 15 for FE).

    ``images_by_class`` holds [0, 1] images of every class that class selectivity compares with;
    activations are streamed in chunks so big nets stay within memory. ``births`` (per class)
    skips the birth-time computation where already known (e.g. from the result store).
    """

    model.layer(layer)
    unknown = [m for m in methods if m not in METHODS or m == "random"]
    if unknown:
        raise FeatentError(f"Unknown indicator {unknown[0]!r}; use some of: {', '.join(m for m in METHODS if m != 'random')}.")
    targets = list(targets)
    names = list(images_by_class)
    if not targets or any(t not in images_by_class for t in targets):
        raise DataError(f"Every target class needs images; got targets {targets} and images of {names}.")
    n_units = model.layer(layer).n_units
    wanted = set(methods)
    need_all_classes = "selectivity" in wanted
    classes_to_run = names if need_all_classes else targets
    means = np.zeros((len(names), n_units))
    per_target: dict[str, list[np.ndarray]] = {m: [] for m in methods if m != "fpgm"}
    for k, name in enumerate(classes_to_run):
        if progress is not None:
            progress(k / max(1, len(classes_to_run)), f"{layer}: indicators on class {name} ({k + 1}/{len(classes_to_run)})")
        images = images_by_class[name]
        is_target = name in targets
        sums = np.zeros(n_units)
        l1 = np.zeros(n_units)
        zeros = np.zeros(n_units)
        positions = 0
        born: list[np.ndarray] = []
        frls: list[np.ndarray] = []
        count = 0
        for batch in _chunks(images, batch_size):
            acts, frl, _ = forward_capture(model, batch, layer, batch_size=batch_size)
            a = acts.astype(np.float64)
            sums += a.mean(axis=(2, 3)).sum(axis=0)
            count += a.shape[0]
            if is_target:
                l1 += np.abs(a).sum(axis=(2, 3)).sum(axis=0)
                zeros += apoz_fn(acts) * a.shape[0] * a.shape[2] * a.shape[3]
                positions += a.shape[0] * a.shape[2] * a.shape[3]
                if "fe" in wanted and (births is None or name not in births):
                    born.append(np.asarray(birth_times(acts), dtype=np.int32))
                if frl is not None:
                    frls.append(frl)
        means[names.index(name)] = sums / max(1, count)
        if not is_target:
            continue
        if "l1" in wanted:
            per_target["l1"].append(l1 / count)
        if "apoz" in wanted:
            per_target["apoz"].append(zeros / positions)
        if "fe" in wanted:
            b = births[name] if births is not None and name in births else np.concatenate(born)
            per_target["fe"].append(np.asarray(entropy.ranking_score(b, p), dtype=np.float64))
        if "nisp" in wanted:
            try:
                if not frls:
                    raise ModelError("the model has no final Linear classifier")
                with model.lock:  # nisp_scores traces the model with temporary hooks
                    nisp = nisp_scores(model, layer, np.concatenate(frls))
                per_target["nisp"].append(np.asarray(nisp, dtype=np.float64))
            except (ModelError, FeatentError):
                per_target["nisp"].append(np.full(n_units, np.nan))
    if "selectivity" in wanted:
        # One target: selectivity toward it. Several (pruning): Morcos et al.'s max-class form, since
        # the mean of per-class selectivities over all classes carries no information.
        for name in targets if len(targets) == 1 else targets[:1]:
            if len(names) < 2:
                per_target["selectivity"].append(np.full(n_units, np.nan))
            else:
                per_target["selectivity"].append(class_selectivity(means, names.index(name) if len(targets) == 1 else None))
    out: dict[str, np.ndarray] = {}
    for method in methods:
        if method == "fpgm":
            with model.lock:  # layer_filter_weights traces the model with temporary hooks
                out[method] = fpgm(layer_filter_weights(model, layer))
        else:
            with np.errstate(invalid="ignore"):
                out[method] = np.mean(np.stack(per_target[method]), axis=0)  # inf stays inf (dead units)
    if progress is not None:
        progress(1.0, f"{layer}: indicators done")
    return out


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
    bad = [u for u in units if isinstance(u, bool) or not isinstance(u, (int, np.integer)) or not 0 <= u < info.n_units]
    if bad:
        raise FeatentError(f"Unit {bad[0]!r} is out of range; layer {layer} has {info.n_units} units.")
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


@dataclass
class AblationResult:
    """Cumulative ablation of one layer for one class, for several orders."""

    model: str
    data: str
    class_name: str
    layer: str
    n_train_images: int
    n_test_target: int
    n_test_total: int
    seed: int
    scores: dict[str, np.ndarray]
    curves: dict[str, AblationCurve]
    notes: list[str] = field(default_factory=list)

    def records(self) -> list[dict]:
        """One JSON-ready dict per curve point: order, removed count, unit removed last, metrics."""
        rows = []
        for order, curve in self.curves.items():
            for k in range(len(curve.accuracy)):
                rows.append(
                    {
                        "order": order,
                        "removed": k,
                        "unit": None if k == 0 else int(curve.removed[k - 1]),
                        "accuracy": float(curve.accuracy[k]),
                        "loss": float(curve.loss[k]),
                        "balanced_accuracy": float(curve.balanced_accuracy[k]),
                        "overall_accuracy": float(curve.overall_accuracy[k]),
                    }
                )
        return rows


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
    removal: Sequence[int],
    images: torch.Tensor,
    labels: torch.Tensor,
    target: int,
    order: str = "custom",
    batch_size: int = 256,
    progress: Progress | None = None,
) -> AblationCurve:
    """Remove ``removal`` units of ``layer`` one by one; score ``images`` ([0, 1]) after each step.

    ``labels`` are the model's output indices, ``target`` the class under study. The model is
    never modified: VGG-like nets replay cached activations through the rest of the network with
    a channel mask; other nets run fully under ``model.lock`` with a temporary masking hook.
    """
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
            if progress is not None:
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
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise DataError(f"The number of test images per class must be a positive integer, got {n_per_class!r}.")
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


def _train_images(selection, dataset, model, classes: Sequence[str]) -> dict[str, torch.Tensor]:
    out = {}
    for name in classes:
        if name == selection.class_name:
            out[name] = sample_images(selection).images
        else:
            out[name] = dataset.sample(name, selection.n_images, selection.seed, "train", model.input_size).images
    return out


def one_layer(selection, layer: str | None):
    """The selection restricted to one layer (its first selected layer when ``layer`` is None)."""
    layer = layer or (selection.layers[0] if selection.layers else "")
    return layer, Selection(
        selection.model, selection.data, selection.class_name, (layer,), selection.n_images,
        selection.seed, selection.weights, "train",
    )


def one_layer_context(selection, layer: str | None):
    """(layer, the one-layer selection, its model, its dataset), with the layer and the class checked:
    what every per-layer experiment needs before its first forward pass."""
    layer, one = one_layer(selection, layer)
    model = load_model(one.model, one.weights)
    model.layer(layer)
    dataset = load_dataset(one.data)
    if one.class_name not in dataset.classes:
        raise DataError(f"Class {one.class_name!r} is not in {dataset.name}.")
    return layer, one, model, dataset


def cumulative_ablation(
    selection,
    orders: Sequence[str] = DEFAULT_ORDERS,
    layer: str | None = None,
    test_per_class: int = DEFAULT_TEST_PER_CLASS,
    test_classes: Sequence[str] | None = None,
    random_seed: int = 0,
    progress: Progress | None = None,
    *,
    cache: bool = True,
) -> AblationResult:
    """Ablation curves of one layer for the selection's class, one per order (App. A.7.1).

    Indicators come from the selection's ``n_images`` training images of each class (births
    from the result store); accuracy, loss and balanced accuracy from up to ``test_per_class``
    test images of the class and of each of ``test_classes`` (default: every class, at most 100:
    the class plus a seeded sample).
    """

    orders = list(dict.fromkeys(orders))
    if not orders:
        raise FeatentError("Give at least one ablation order.")
    parsed = [parse_order(o) for o in orders]
    layer, one, model, dataset = one_layer_context(selection, layer)

    # At most 100 classes by default (the class plus a seeded sample), as featent.indicators does,
    # so a 1000-class folder stays cheap for class selectivity and for the test set's "rest".
    default_classes = default_compare_classes(dataset.classes, one.class_name, one.seed)
    chosen_test = list(default_classes if test_classes is None else test_classes)
    for name in chosen_test:
        if name not in dataset.classes:
            raise DataError(f"Class {name!r} is not in {dataset.name}.")
    if one.class_name not in chosen_test:
        chosen_test.append(one.class_name)

    def part(lo: float, hi: float) -> Progress | None:
        return None if progress is None else (lambda f, m: progress(lo + (hi - lo) * f, m))

    methods = sorted({m for m, _ in parsed if m != "random"}, key=list(METHODS).index)
    scores: dict[str, np.ndarray] = {}
    if methods:
        births = compute_births(one, progress=part(0.0, 0.2), cache=cache)[layer] if "fe" in methods else None
        classes = list(default_classes) if "selectivity" in methods else [one.class_name]
        train = _train_images(one, dataset, model, classes)
        scores = unit_scores(
            model, layer, train, [one.class_name], methods,
            births=None if births is None else {one.class_name: births}, progress=part(0.2, 0.4),
        )
    notes = [f"{METHODS[m]} is not available here: {order_label(o)} was skipped."
             for o, (m, _) in zip(orders, parsed) if m in scores and np.isnan(scores[m]).any()]
    if len(default_classes) < len(dataset.classes):
        notes.append(f"Class selectivity and the test set use {len(default_classes)} of the {len(dataset.classes)} "
                     f"classes (the class plus a seeded sample).")
    images, labels = labelled_images(
        dataset, sorted(chosen_test, key=dataset.classes.index), test_per_class, one.seed, model.input_size,
        skip=one.n_images,
    )
    target = dataset.classes.index(one.class_name)
    n_units = model.layer(layer).n_units
    usable = [o for o, (m, _) in zip(orders, parsed) if m == "random" or not np.isnan(scores[m]).any()]
    curves: dict[str, AblationCurve] = {}
    for i, order in enumerate(usable):
        removal = rank_units(scores, order, n_units, seed=random_seed)
        lo = 0.4 + 0.6 * i / len(usable)
        curves[order] = ablation_curve(
            model, layer, removal, images, labels, target, order=order,
            progress=part(lo, lo + 0.6 / len(usable)),
        )
    if progress is not None:
        progress(1.0, "ablation done")
    return AblationResult(
        model=one.model, data=one.data, class_name=one.class_name, layer=layer,
        n_train_images=one.n_images, n_test_target=int((labels == target).sum()), n_test_total=int(labels.numel()),
        seed=one.seed, scores=scores, curves=curves, notes=notes,
    )


@dataclass
class SummaryRow:
    """Table 11 row: a method's mean unchanged and best-ablated balanced accuracy over classes."""

    order: str
    method: str
    unchanged: float
    ablated: float
    enhanced: float
    n_classes: int
    mean_units_removed: float

    def as_dict(self) -> dict:
        return {
            "method": self.method, "order": self.order, "unchanged": self.unchanged, "ablated": self.ablated,
            "enhanced": self.enhanced, "classes": self.n_classes, "mean_units_removed": self.mean_units_removed,
        }


def enhancement_summary(
    selection,
    classes: Sequence[str] | None = None,
    orders: Sequence[str] = SUMMARY_ORDERS,
    layer: str | None = None,
    test_per_class: int = DEFAULT_TEST_PER_CLASS,
    random_seed: int = 0,
    progress: Progress | None = None,
    *,
    cache: bool = True,
) -> tuple[list[SummaryRow], dict[str, AblationResult]]:
    """Table 11: per order, the balanced accuracy before and at the best ablation step, averaged
    over ``classes`` (default: every class), with the per-class results for inspection."""
    from dataclasses import replace


    dataset = load_dataset(selection.data)
    chosen = list(dataset.classes if classes is None else classes)
    if not chosen:
        raise DataError("Choose at least one class for the summary.")
    for name in chosen:
        if name not in dataset.classes:
            raise DataError(f"Class {name!r} is not in {dataset.name}.")
    per_class: dict[str, AblationResult] = {}
    for i, name in enumerate(chosen):
        sub = None if progress is None else (lambda f, m, i=i, name=name: progress((i + f) / len(chosen), f"class {name}: {m}"))
        per_class[name] = cumulative_ablation(
            replace(selection, class_name=name), orders, layer, test_per_class, None, random_seed, sub, cache=cache,
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
    return rows, per_class
