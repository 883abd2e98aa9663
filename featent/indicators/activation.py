"""Indicators read from activations: L1-norm (Li et al. 2016), APoZ (Hu et al. 2016) and class
selectivity (Morcos et al. 2018), as pure functions that can be checked by hand and as registry
indicators computed from streamed sums (``ClassStats``)."""

from __future__ import annotations

import numpy as np

from featent.errors import FeatentError
from featent.indicators.base import Indicator, LayerEvidence, Unavailable
from featent.validation import Interval, check

__all__ = [
    "l1_norm", "apoz", "class_means", "class_selectivity",
    "L1Norm", "APoZ", "ClassSelectivity", "ClassSelectivityMax",
]


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
        best = np.full(mu.shape[1], check("target", target, Interval(int, 0, n_classes - 1), FeatentError))
    columns = np.arange(mu.shape[1])
    top = mu[best, columns]
    rest = (mu.sum(axis=0) - top) / (n_classes - 1)
    denominator = top + rest
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, (top - rest) / np.where(denominator != 0, denominator, 1.0), 0.0)


class L1Norm(Indicator):
    """Small mean activations: the unit contributes little (Li et al. 2016)."""

    key, label, lower_is_better = "l1_norm", "L1-norm", False
    least_important_first, aliases = "asc", ("l1",)

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        return evidence.per_target(lambda t: evidence.stats[t].l1_sum / evidence.stats[t].count)


class APoZ(Indicator):
    """Mostly zeros: the unit rarely fires (Hu et al. 2016)."""

    key, label, lower_is_better = "apoz", "APoZ", True
    least_important_first = "desc"

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        return evidence.per_target(lambda t: evidence.stats[t].zeros / evidence.stats[t].positions)


_FEW_CLASSES = "class selectivity needs at least two classes"


class ClassSelectivity(Indicator):
    """Not selective for the class (Morcos et al. 2018). One target: selectivity toward it. Several
    (pruning): the max-class form, since the mean of per-class selectivities carries no information."""

    key, label, lower_is_better = "class_selectivity", "Class selectivity", False
    least_important_first, aliases = "asc", ("selectivity",)
    needs = frozenset({"class_means"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        if len(evidence.classes) < 2:
            raise Unavailable(_FEW_CLASSES)
        target = evidence.classes.index(evidence.targets[0]) if len(evidence.targets) == 1 else None
        return class_selectivity(evidence.class_means(), target)


class ClassSelectivityMax(Indicator):
    """Selectivity toward whichever class the unit prefers (Morcos et al. 2018, Eq. 1)."""

    key, label, lower_is_better = "class_selectivity_max", "Class selectivity (max class)", False
    needs = frozenset({"class_means"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        if len(evidence.classes) < 2:
            raise Unavailable(_FEW_CLASSES)
        return class_selectivity(evidence.class_means())
