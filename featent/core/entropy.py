"""Birth distribution, feature entropy and selective rate (paper Sec. 3.2, Eq. 9-12, 15).

Births are the integer steps from ``featent.core.topology``: 1-based, 0 = the image gave no birth.
|Omega| counts every sampled image, those without a birth too, so P sums to epsilon, not 1.

Because P sums to epsilon, FE mixes *how often* a unit is born with *how steadily*: for
epsilon >= p, FE = epsilon * H(x | born) - epsilon ln epsilon, where the **conditional FE**
H(x | born) is the entropy of P(x | born) = b_x / (epsilon |Omega|) over the images with a birth
(beyond the paper; it is the stability part of FE, free of the frequency epsilon).
"""

from __future__ import annotations

import numpy as np

from featent.errors import FeatentError

#: Threshold p of Eq. 12: below this selective rate the unit counts as invalid.
DEFAULT_P = 0.1

#: A unit born on fewer images than this has a conditional FE drawn from too few births to say
#: how steady they are (at most ln(count)); it is flagged by :func:`few_births`, not hidden.
MIN_BORN_IMAGES = 5


class BirthsError(FeatentError):
    """Births or p that feature entropy cannot be computed from."""


#: Birth steps are int32 in the store; a larger "step" is not a birth time.
_MAX_STEP = 2**31 - 1


def _as_births(births: object) -> np.ndarray:
    """Births as a non-negative int64 array [n_images] or [n_images, n_units], or BirthsError."""
    expected = "births must be integer steps >= 0 (0 = no birth) below 2**31, shaped [n_images] or [n_images, n_units]"
    if isinstance(births, np.ma.MaskedArray):
        raise BirthsError(f"{expected}; got a masked array (fill or drop the masked images first)")
    if (type(births).__module__ or "").startswith("torch") and hasattr(births, "detach"):
        try:
            births = births.detach().cpu().numpy()  # type: ignore[attr-defined]
        except Exception as exc:
            raise BirthsError(f"{expected}; got a {type(births).__name__} that could not be read") from exc
    try:
        array = np.asarray(births)
    except (ValueError, TypeError) as exc:
        raise BirthsError(f"{expected}; got a ragged or non-numeric {type(births).__name__}") from exc
    if array.ndim == 0:
        raise BirthsError(f"{expected}; got a scalar")
    if array.ndim not in (1, 2):
        raise BirthsError(f"{expected}; got shape {array.shape}")
    if array.shape[0] == 0:
        raise BirthsError("births need at least one image (|Omega| = 0)")
    kind = array.dtype.kind
    if kind == "b":
        raise BirthsError(f"{expected}; got booleans (use 0 for no birth and the step otherwise)")
    if kind not in "iuf":
        raise BirthsError(f"{expected}; got dtype {array.dtype}")
    if kind == "f":
        if not np.isfinite(array).all():
            raise BirthsError(f"{expected}; got NaN or inf")
        if np.any(array != np.round(array)):
            raise BirthsError(f"{expected}; got non-whole numbers such as {array[array != np.round(array)].flat[0].item()!r}")
    if array.size and (array.min() < 0):
        raise BirthsError(f"{expected}; got {array.min().item()!r}")
    if array.size and array.max() > _MAX_STEP:
        raise BirthsError(f"{expected}; got {array.max().item()!r}")
    return array.astype(np.int64)


def _check_p(p: object) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise BirthsError(f"p must be a number in (0, 1], got {p!r}")
    value = float(p)
    if not (0.0 < value <= 1.0):  # also refuses NaN
        raise BirthsError(f"p must be a number in (0, 1], got {p!r}")
    return value


def birth_distribution(births: object) -> tuple[np.ndarray, np.ndarray]:
    """Distinct birth steps x > 0 (ascending) and P(x) = b_x / |Omega| (Eq. 9-10)."""
    array = _as_births(births)
    if array.ndim != 1:
        raise BirthsError(f"birth_distribution takes one unit's births [n_images], got {array.shape}")
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
    p = _check_p(p)
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


def born_count(births: object) -> np.ndarray:
    """epsilon |Omega|: the number of sampled images with a birth, per unit."""
    array = _as_births(births)
    return np.asarray(np.count_nonzero(array > 0, axis=0), dtype=np.int64)


def conditional_feature_entropy(births: object) -> np.ndarray:
    """H(x | born) per unit: the entropy (natural log) of P(x | born) = b_x / (epsilon |Omega|).

    The stability of a unit's births with their frequency divided out; NaN when epsilon = 0 (no
    birth to condition on). No Eq. 12 substitution: for epsilon >= p,
    FE = epsilon * H(x | born) - epsilon ln epsilon.
    """
    array = _as_births(births)
    column = array.reshape(array.shape[0], -1)
    h = np.full(column.shape[1], np.nan, dtype=np.float64)
    for unit in range(column.shape[1]):
        born = column[:, unit]
        _, counts = np.unique(born[born > 0], return_counts=True)
        if counts.size:
            prob = counts / counts.sum()
            h[unit] = float(-(prob * np.log(prob)).sum())
    return h.reshape(array.shape[1:])


def few_births(births: object, minimum: int = MIN_BORN_IMAGES) -> np.ndarray:
    """True per unit born on fewer than ``minimum`` images (its conditional FE rests on too few births)."""
    if isinstance(minimum, (bool, np.bool_)) or not isinstance(minimum, (int, np.integer)) or minimum < 1:
        raise BirthsError(f"minimum must be an integer >= 1, got {minimum!r}")
    return np.asarray(born_count(births) < int(minimum))


def mean_live_conditional_feature_entropy(conditional: object, rate: object, p: float = DEFAULT_P) -> float:
    """Mean conditional FE over the live units (epsilon >= p) where it is defined; NaN when none is.

    ``rate`` decides which units are live, so a null's conditional FE is averaged over the same units
    as the actual one (a live unit whose shuffled maps never give a birth is left out)."""
    p = _check_p(p)
    h = np.asarray(conditional, dtype=np.float64).reshape(-1)
    eps = np.asarray(rate, dtype=np.float64).reshape(-1)
    if h.shape != eps.shape or h.size == 0:
        raise BirthsError(f"conditional FE and selective rate need one value per unit, got {h.shape} and {eps.shape}")
    keep = (eps >= p) & np.isfinite(h)
    return float(h[keep].mean()) if keep.any() else float("nan")


def layer_feature_entropy(births: object, p: float = DEFAULT_P) -> float:
    """A layer's FE: the mean over its units."""
    return float(np.mean(feature_entropy(births, p)))


def multiclass_feature_entropy(per_class: list[np.ndarray]) -> np.ndarray:
    """Eq. 15: the mean of per-class feature entropies (each [n_units] or scalar)."""
    if not per_class:
        raise BirthsError("multi-class feature entropy needs at least one class")
    return np.mean(np.stack([np.asarray(h, dtype=np.float64) for h in per_class]), axis=0)


#: The fewest vertices (rows/columns of an m x m map) a clique complex needs to hold a 1-cycle that
#: no triangle fills: a square. With m < 4 every unit's birth time is 0 (never born) whatever its
#: values, so its FE measures nothing about the unit.
MIN_HOLE_SIZE = 4


def hole_possible(m: int) -> bool:
    """Whether an m x m unit can give birth to a hole at all (m >= MIN_HOLE_SIZE)."""
    return int(m) >= MIN_HOLE_SIZE
