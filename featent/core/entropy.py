"""Birth distribution, feature entropy and selective rate (paper Sec. 3.2, Eq. 9-12, 15).

Births are the integer steps from ``featent.core.topology``: 1-based, 0 = the image gave no birth.
|Omega| counts every sampled image, those without a birth too, so P sums to epsilon, not 1.
"""

from __future__ import annotations

import numpy as np

from featent.errors import FeatentError

#: Threshold p of Eq. 12: below this selective rate the unit counts as invalid.
DEFAULT_P = 0.1


def _as_births(births: object) -> np.ndarray:
    array = np.asarray(births)
    if array.ndim not in (1, 2):
        raise FeatentError(
            f"births must be [n_images] or [n_images, n_units], got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise FeatentError("births need at least one image (|Omega| = 0)")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise FeatentError("births must be integer steps (0 = no birth)")
        array = array.astype(np.int64)
    if np.any(array < 0):
        raise FeatentError("births must be >= 0 (0 = no birth)")
    return array


def birth_distribution(births: object) -> tuple[np.ndarray, np.ndarray]:
    """Distinct birth steps x > 0 (ascending) and P(x) = b_x / |Omega| (Eq. 9-10)."""
    array = _as_births(births)
    if array.ndim != 1:
        raise FeatentError(f"birth_distribution takes one unit's births [n_images], got {array.shape}")
    values, counts = np.unique(array[array > 0], return_counts=True)
    return values, counts / array.shape[0]


def selective_rate(births: object) -> np.ndarray:
    """epsilon: the fraction of sampled images with a birth, per unit."""
    array = _as_births(births)
    return np.asarray(np.count_nonzero(array > 0, axis=0) / array.shape[0], dtype=np.float64)


def _plain_entropy(column: np.ndarray) -> np.ndarray:
    """-sum_x P(x) ln P(x) over x > 0 for each column of [n_images, n_units] (Eq. 11)."""
    n = column.shape[0]
    h = np.zeros(column.shape[1], dtype=np.float64)
    for unit in range(column.shape[1]):
        born = column[:, unit]
        _, counts = np.unique(born[born > 0], return_counts=True)
        prob = counts / n
        h[unit] = float(-(prob * np.log(prob)).sum())
    return h


def feature_entropy(births: object, p: float = DEFAULT_P) -> np.ndarray:
    """H per unit (Eq. 11), with Eq. 12: H = (1 - epsilon) ln|Omega| when epsilon < p."""
    if not 0.0 <= p <= 1.0:
        raise FeatentError(f"p must be in [0, 1], got {p}")
    array = _as_births(births)
    column = array.reshape(array.shape[0], -1)
    h = _plain_entropy(column)
    eps = np.count_nonzero(column > 0, axis=0) / column.shape[0]
    h = np.where(eps < p, (1.0 - eps) * np.log(column.shape[0]), h)
    return h.reshape(array.shape[1:])


def ranking_score(births: object, p: float = DEFAULT_P) -> np.ndarray:
    """H / epsilon, the paper's ranking for ablation and pruning; +inf when epsilon = 0."""
    h = feature_entropy(births, p)
    eps = selective_rate(births)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(eps > 0, h / np.where(eps > 0, eps, 1.0), np.inf)


def layer_feature_entropy(births: object, p: float = DEFAULT_P) -> float:
    """A layer's FE: the mean over its units."""
    return float(np.mean(feature_entropy(births, p)))


def multiclass_feature_entropy(per_class: list[np.ndarray]) -> np.ndarray:
    """Eq. 15: the mean of per-class feature entropies (each [n_units] or scalar)."""
    if not per_class:
        raise FeatentError("multi-class feature entropy needs at least one class")
    return np.mean(np.stack([np.asarray(h, dtype=np.float64) for h in per_class]), axis=0)
