"""The indicator vocabulary: the one place indicator keys, labels and orders are defined.

Each :class:`Indicator` is a per-unit score. ``key`` is its column in tables and JSON
(``h_over_eps``); ``method`` its short name where it ranks units for ablation and pruning
(``fe``), with ``least_important_first`` the direction (``"asc"``/``"desc"``) of the raw value that
puts the least important unit first; ``lower_is_better`` says which way a unit looks more
effective. Everything else (ablation methods, pruning methods, order lists, plot labels) is
derived from :data:`INDICATORS`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Indicator",
    "INDICATORS",
    "INDICATOR_COLUMNS",
    "INDICATOR_LABELS",
    "LOWER_IS_BETTER",
    "METHODS",
    "LEAST_IMPORTANT_FIRST",
    "PRUNE_METHODS",
    "ALL_ORDERS",
    "by_method",
]


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    lower_is_better: bool
    method: str | None = None  # short name in ablation / pruning, when it ranks units
    method_label: str | None = None  # the label there, when it differs
    least_important_first: str | None = None  # "asc" or "desc", for ranking indicators


INDICATORS: dict[str, Indicator] = {
    i.key: i
    for i in (
        # small mean activations (Li et al. 2016)
        Indicator("l1_norm", "L1-norm", False, "l1", None, "asc"),
        # mostly zeros (Hu et al. 2016)
        Indicator("apoz", "APoZ", True, "apoz", None, "desc"),
        # not selective for the class (Morcos et al. 2018)
        Indicator("class_selectivity", "Class selectivity", False, "selectivity", None, "asc"),
        Indicator("class_selectivity_max", "Class selectivity (max class)", False),
        # close to the geometric median: replaceable (He et al. 2019)
        Indicator("fpgm", "FPGM", False, "fpgm", None, "asc"),
        # low propagated importance (Yu et al. 2018)
        Indicator("nisp", "NISP", False, "nisp", None, "asc"),
        Indicator("feature_entropy", "Feature entropy", True),
        Indicator("selective_rate", "Selective rate", False),
        # high H/epsilon: the unit perceives no common feature (the paper's ranking)
        Indicator("h_over_eps", "H/ε", True, "fe", "Feature entropy (H/ε)", "desc"),
    )
}

#: Table columns, in display order.
INDICATOR_COLUMNS: tuple[str, ...] = tuple(INDICATORS)
#: Human-readable names for tables and plots (plus the class accuracy shown beside them).
INDICATOR_LABELS: dict[str, str] = {**{k: i.label for k, i in INDICATORS.items()}, "accuracy": "Class accuracy"}
#: Columns where a lower value means a more effective unit.
LOWER_IS_BETTER: dict[str, bool] = {k: True for k, i in INDICATORS.items() if i.lower_is_better}
_RANKING = [i for i in sorted(INDICATORS.values(), key=lambda i: i.method != "fe") if i.method]
#: Ablation methods -> label (FE first; "random" is the chance baseline, not an indicator).
METHODS: dict[str, str] = {**{i.method: i.method_label or i.label for i in _RANKING}, "random": "Random"}  # type: ignore[misc]
#: Method -> direction of its raw value that puts the least important unit first.
LEAST_IMPORTANT_FIRST: dict[str, str] = {i.method: i.least_important_first for i in _RANKING}  # type: ignore[misc]
#: Methods pruning compares.
PRUNE_METHODS: tuple[str, ...] = tuple(LEAST_IMPORTANT_FIRST)
#: Every order an ablation can follow: each method both ways (least important first, first), then random.
ALL_ORDERS: tuple[str, ...] = tuple(
    order
    for m, d in LEAST_IMPORTANT_FIRST.items()
    for order in (f"{m}-{d}", f"{m}-{'asc' if d == 'desc' else 'desc'}")
) + ("random",)


def by_method(method: str) -> Indicator:
    """The indicator behind an ablation / pruning method name (``fe`` -> h_over_eps)."""
    for indicator in INDICATORS.values():
        if indicator.method == method:
            return indicator
    raise KeyError(method)
