"""Cumulative unit ablation (paper App. A.7.1) and its enhancement summary (Table 11).

For one class and one layer, units are ranked by an indicator of the registry computed on the
selection's images (H/epsilon, L1-norm, APoZ, class selectivity, FPGM, NISP) or in a seeded random
order, and removed one at a time; after each removal the network is scored on *test* images of the
class and of other classes (``featent.experiments.masking`` removes the units and scores; the
model is never modified).

Orders are written ``KEY-DIRECTION`` (``featent.indicators.registry``): ``h_over_eps-desc`` removes
the least effective units first (the paper's "descending" ablation, Fig. 12B); ``h_over_eps-asc``
the most effective first (Fig. 12A). The summary reports, per order, the balanced accuracy before
any removal and at the best step, averaged over classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from featent.data import load_dataset
from featent.errors import DataError, FeatentError
from featent.experiments.class_map import resolve_class_map
from featent.experiments.contract import ExperimentResult, SelectionFields, experiment
from featent.experiments.masking import AblationCurve, ablation_curve, labelled_images, one_layer_context, rank_units
from featent.indicators import RANDOM, REGISTRY, default_compare_classes, unit_scores
from featent.indicators.registry import canonical_order, method_label, order_label, parse_order
from featent.pipeline import compute_births, sample_images
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, NoneOr, check_class, validate_params

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
    "DEFAULT_TEST_PER_CLASS",
    "AblationResult",
    "EnhancementSummary",
    "SummaryRow",
    "cumulative_ablation",
    "enhancement_summary",
]


def _train_images(selection: Selection, dataset, model, classes: Sequence[str]) -> dict[str, torch.Tensor]:
    out = {}
    for name in classes:
        if name == selection.class_name:
            out[name] = sample_images(selection).images
        else:
            out[name] = dataset.sample(name, selection.n_images, selection.seed, "train", model.input_size).images
    return out


@dataclass
class AblationResult(SelectionFields, ExperimentResult):
    """Cumulative ablation of one layer for one class, for several orders."""

    selection: Selection  # one layer
    n_test_target: int
    n_test_total: int
    scores: dict[str, np.ndarray]
    curves: dict[str, AblationCurve]
    notes: list[str] = field(default_factory=list)

    @property
    def layer(self) -> str:
        return self.selection.layers[0]

    @property
    def n_train_images(self) -> int:
        return self.selection.n_images

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
    "class_map": NoneOr(InstanceOf((dict, str), "a dict or a JSON file path")),
})
def cumulative_ablation(
    selection: Selection,
    *,
    orders: Sequence[str] = DEFAULT_ORDERS,
    layer: str | None = None,
    test_per_class: int = DEFAULT_TEST_PER_CLASS,
    test_classes: Sequence[str] | None = None,
    random_seed: int = 0,
    class_map: dict | str | None = None,
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
    mapping = resolve_class_map(model, dataset, class_map)
    if mapping.note:
        notes.append(mapping.note)
    labels = mapping.labels(labels)
    target = mapping.outputs[dataset.classes.index(one.class_name)]
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
            progress=progress.subrange(i / len(chosen), (i + 1) / len(chosen)).prefixed(f"class {name}"), cache=cache,
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
