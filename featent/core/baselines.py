"""Baselines that tell a unit's spatial structure apart from its size and its silence (beyond the paper).

FE alone mixes three things. Eq. 12 gives a unit that rarely yields a birth (epsilon < p) the value
(1 - epsilon) ln|Omega|, whatever its maps look like; and FE of structure-free maps grows with the
unit side m. So beside FE featent reports:

- ``silent_share``: the share of units with epsilon < p, and FE over the *live* units only;
- a **null FE** per unit: the same maps with each map's entries shuffled (seeded) — same m, same
  values, same zeros, no spatial arrangement — through the same birth-time and entropy code; the
  **structure gap** is null FE - FE (positive: the arrangement makes births steadier than chance).
  A simultaneous permutation of rows and columns would not do: it relabels the graph's vertices
  and leaves every birth time unchanged, so each entry is moved on its own here;
- a **size reference**: FE of iid uniform m x m units over the same |Omega|;
- the same null and size reference for the **conditional FE** H(x | born)
  (``featent.core.entropy.conditional_feature_entropy``), the stability part of FE with the
  frequency epsilon divided out, and its **stability gap** = null conditional FE - conditional FE.

numpy and numba only, like the rest of ``featent.core``.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from featent.core.entropy import (
    DEFAULT_P,
    conditional_feature_entropy,
    feature_entropy,
    few_births,
    mean_live_conditional_feature_entropy,
)
from featent.errors import FeatentError
from featent.validation import check_int

#: Seeds of the shuffles and of the iid reference units; fixed, so a result is the same everywhere.
NULL_SEED = 0
SIZE_REFERENCE_SEED = 0
#: Units averaged into one size reference value.
SIZE_REFERENCE_UNITS = 32

__all__ = [
    "NULL_SEED",
    "SIZE_REFERENCE_UNITS",
    "shuffle_units",
    "null_births",
    "births_and_null_births",
    "null_feature_entropy",
    "silent_share",
    "live_feature_entropy",
    "structure_gap",
    "size_reference_births",
    "size_reference",
    "null_conditional_feature_entropy",
    "stability_gap",
    "size_reference_conditional",
    "StabilityParts",
]


def _stack(units: object) -> np.ndarray:
    array = np.asarray(units)
    if array.ndim != 4 or array.shape[-1] != array.shape[-2]:
        raise FeatentError(f"units must be [n_images, n_units, m, m], got shape {array.shape}")
    return array


def _check_offsets(seed: int, first_image: int) -> None:
    check_int("seed", seed, 0, 2**63 - 1, error=FeatentError)
    check_int("first_image", first_image, 0, 2**63 - 1, error=FeatentError)


def shuffle_units(units: object, seed: int = NULL_SEED, first_image: int = 0) -> np.ndarray:
    """Each m x m map of ``units`` [n_images, n_units, m, m] with its m*m entries permuted on their own.

    The permutation of map (i, k) is Fisher-Yates driven by a counter-based hash of (``seed``,
    ``first_image`` + i, k) (``featent.core.kernel.shuffle_into``), so a stream of chunks
    (``first_image`` = the chunk's offset) gives the same maps as one call, on any machine and
    thread count. These are exactly the maps whose births :func:`null_births` computes.
    """
    from featent.core import kernel

    array = _stack(units)
    _check_offsets(seed, first_image)
    n, k, m, _ = array.shape
    flat = np.ascontiguousarray(array.reshape(n * k, m, m))
    out = np.empty_like(flat)
    if flat.size:
        kernel.shuffle_maps_batch(flat, out, np.uint64(seed), np.int64(first_image), np.int64(k))
    return out.reshape(array.shape)


def null_births(units: object, seed: int = NULL_SEED, first_image: int = 0, n_threads: int | None = None) -> np.ndarray:
    """Birth times int32 [n_images, n_units] of the shuffled maps (see :func:`shuffle_units`).

    The shuffle runs inside the compiled births kernel, map by map in parallel: no shuffled copy of
    the stack is made and no Python loop runs per image.
    """
    from featent.core import kernel  # the numba kernel, compiled only when births are computed
    from featent.core.topology import batch_births

    array = _stack(units)
    _check_offsets(seed, first_image)
    n_units = int(array.shape[1])
    extra = (np.uint64(seed), np.int64(first_image), np.int64(max(n_units, 1)))
    return np.asarray(batch_births(array, kernel.null_birth_steps_batch, extra, n_threads), dtype=np.int32)


def births_and_null_births(units: object, seed: int = NULL_SEED, first_image: int = 0,
                           n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(births, null births), each int32 [n_images, n_units], of ``units`` in one compiled parallel pass.

    The same values as ``birth_times(units)`` and :func:`null_births`; one launch for both halves the
    threads' waits at the end of a launch, which is what a sweep needs per layer.
    """
    from featent.core import kernel
    from featent.core.topology import batch_births

    array = _stack(units)
    _check_offsets(seed, first_image)
    n_units = int(array.shape[1])
    null = np.zeros(array.shape[0] * n_units, dtype=np.int32)
    extra = (null, np.uint64(seed), np.int64(first_image), np.int64(max(n_units, 1)))
    births = batch_births(array, kernel.births_and_null_steps_batch, extra, n_threads)
    return np.asarray(births, dtype=np.int32), null.reshape(births.shape)


def null_feature_entropy(units: object, seed: int = NULL_SEED, p: float = DEFAULT_P) -> np.ndarray:
    """Null FE per unit of ``units`` [n_images, n_units, m, m]: FE of the shuffled maps' births."""
    return np.asarray(feature_entropy(null_births(units, seed), p), dtype=np.float64)


def _rates(selective_rate: object) -> np.ndarray:
    eps = np.asarray(selective_rate, dtype=np.float64).reshape(-1)
    if eps.size == 0:
        raise FeatentError("A layer needs at least one unit.")
    return eps


def silent_share(selective_rate: object, p: float = DEFAULT_P) -> float:
    """Share of units with epsilon < p: the units whose FE is Eq. 12's (1 - epsilon) ln|Omega|."""
    return float(np.mean(_rates(selective_rate) < p))


def live_feature_entropy(feature_entropy_: object, selective_rate: object, p: float = DEFAULT_P) -> float:
    """Mean FE over the live units (epsilon >= p); NaN when every unit is silent."""
    fe = np.asarray(feature_entropy_, dtype=np.float64).reshape(-1)
    live = _rates(selective_rate) >= p
    if fe.shape != live.shape:
        raise FeatentError(f"FE and selective rate need one value per unit, got {fe.shape} and {live.shape}.")
    return float(fe[live].mean()) if live.any() else float("nan")


def structure_gap(null_fe: object, fe: object) -> np.ndarray:
    """Null FE - FE per unit: how much steadier the maps' arrangement makes births than chance."""
    null, actual = np.asarray(null_fe, dtype=np.float64), np.asarray(fe, dtype=np.float64)
    if null.shape != actual.shape:
        raise FeatentError(f"Null FE and FE need the same shape, got {null.shape} and {actual.shape}.")
    return null - actual


def _check_reference_args(m: int, n_images: int, n_units: int) -> None:
    for name, value, low in (("m", m, 2), ("n_images", n_images, 1), ("n_units", n_units, 1)):
        check_int(name, value, low, error=FeatentError)


def size_reference_births(
    m: int, n_images: int, n_units: int = SIZE_REFERENCE_UNITS, seed: int = SIZE_REFERENCE_SEED
) -> np.ndarray:
    """Birth times int32 [n_images, n_units] of iid uniform m x m units (one unit at a time, bounded memory)."""
    from featent.core.topology import birth_times

    _check_reference_args(m, n_images, n_units)
    out = np.empty((n_images, n_units), dtype=np.int32)
    for unit in range(n_units):
        rng = np.random.default_rng([int(seed), int(m), int(n_images), unit])
        out[:, unit] = birth_times(rng.random((n_images, m, m)))
    return out


def size_reference(
    m: int, n_images: int, n_units: int = SIZE_REFERENCE_UNITS, seed: int = SIZE_REFERENCE_SEED, p: float = DEFAULT_P
) -> float:
    """Mean FE of iid uniform m x m units over |Omega| = ``n_images``: what size alone gives."""
    return float(np.mean(feature_entropy(size_reference_births(m, n_images, n_units, seed), p)))


def null_conditional_feature_entropy(null_births_: object) -> np.ndarray:
    """Conditional FE per unit of the null births (:func:`null_births`): the stability shuffled maps give."""
    return np.asarray(conditional_feature_entropy(null_births_), dtype=np.float64)


def stability_gap(null_conditional: object, conditional: object) -> np.ndarray:
    """Null conditional FE - conditional FE per unit (NaN where either is undefined)."""
    null, actual = np.asarray(null_conditional, dtype=np.float64), np.asarray(conditional, dtype=np.float64)
    if null.shape != actual.shape:
        raise FeatentError(f"Null and actual conditional FE need the same shape, got {null.shape} and {actual.shape}.")
    return null - actual


def size_reference_conditional(reference_births: object) -> float:
    """Mean conditional FE of the iid size-reference units' births (:func:`size_reference_births`),
    over the units with a birth; NaN if none has one."""
    h = np.asarray(conditional_feature_entropy(reference_births), dtype=np.float64).reshape(-1)
    return float(np.nanmean(h)) if np.isfinite(h).any() else float("nan")


class StabilityParts:
    """The stability part of a layer's FE, read from the births it holds (one code path for computed
    results, ``featent.pipeline.LayerResult``, and stored ones, ``featent.cli.cached``)."""

    births: np.ndarray
    selective_rate: np.ndarray
    null_births: np.ndarray | None

    @cached_property
    def conditional_feature_entropy(self) -> np.ndarray:
        """H(x | born) per unit: FE's stability part with the frequency epsilon divided out (NaN at epsilon = 0)."""
        return np.asarray(conditional_feature_entropy(self.births), dtype=np.float64)

    @cached_property
    def few_births(self) -> np.ndarray:
        """True per unit born on fewer than ``featent.core.entropy.MIN_BORN_IMAGES`` images."""
        return few_births(self.births)

    @property
    def mean_live_conditional_feature_entropy(self) -> float:
        """Mean conditional FE over the live units (epsilon >= p); NaN when every unit is silent."""
        return mean_live_conditional_feature_entropy(self.conditional_feature_entropy, self.selective_rate)

    @cached_property
    def null_conditional_feature_entropy(self) -> np.ndarray | None:
        """Conditional FE of the null births per unit (None without baselines)."""
        return None if self.null_births is None else null_conditional_feature_entropy(self.null_births)

    @property
    def mean_live_null_conditional_feature_entropy(self) -> float | None:
        """Mean null conditional FE over the live units (epsilon >= p of the actual births)."""
        null = self.null_conditional_feature_entropy
        return None if null is None else mean_live_conditional_feature_entropy(null, self.selective_rate)

    @property
    def stability_gap(self) -> np.ndarray | None:
        """Null conditional FE - conditional FE per unit (None without baselines)."""
        null = self.null_conditional_feature_entropy
        return None if null is None else stability_gap(null, self.conditional_feature_entropy)
