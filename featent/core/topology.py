"""Unit -> graph filtration -> clique complexes -> Betti curves -> birth time (paper Sec. 3.1).

Conventions (docs/method.md):

* edge weight w_ij = max(U_ij, U_ji) for i != j (Eq. 2-3);
* step v = 1..m^2; a^(v) is the v-th largest of the m^2 entries of U, diagonal included;
  the graph at step v has edge (i, j) iff w_ij >= a^(v); tied values enter together;
* the complex at step v is the clique (flag) complex of that graph; Betti numbers over Z/2;
* b(U, 1) = smallest v with beta_1(v) != 0, 1-based, 0 when there is no birth (Eq. 7).

``birth_time``/``birth_times`` use the compiled early-terminating kernel; everything else
(reference birth time, Betti curves, diagrams) uses ripser on the rank-transformed matrix and
exists for display, teaching and for checking the kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from featent.core import kernel
from featent.errors import UnitError
from featent.validation import Interval, NoneOr, check


class UnitTypeError(UnitError, TypeError):
    """A unit given as an object featent cannot read as an array (also a ``TypeError``)."""


#: Largest integer magnitude below which every integer is exact in float64.
_EXACT_INT = 2**53



def _from_torch(units: object) -> np.ndarray:
    """A torch tensor as a numpy array: detached, on the CPU, low-precision floats widened.

    Duck-typed on the module name so that ``featent.core`` never imports torch.
    """
    try:
        tensor = units.detach().cpu()  # type: ignore[attr-defined]
        if tensor.is_complex():
            raise UnitError(f"unit must hold real numbers, got a complex torch tensor ({tensor.dtype})")
        if tensor.is_floating_point() and str(tensor.dtype) not in ("torch.float32", "torch.float64"):
            tensor = tensor.float()  # bfloat16 / float16 -> float32 is exact, ties kept
        return tensor.numpy()
    except UnitError:
        raise
    except Exception as exc:
        raise UnitTypeError(
            f"unit must be a numpy array or a CPU-convertible torch tensor, got {type(units).__module__}."
            f"{type(units).__name__} that could not be converted ({type(exc).__name__})"
        ) from exc


def _numeric(units: object, what: str = "unit") -> np.ndarray:
    """``units`` as a real-valued ndarray in native byte order (float16 widened, bool as 0/1)."""
    if isinstance(units, np.ma.MaskedArray):
        raise UnitError(
            f"{what} is a masked array; fill the masked entries first (e.g. .filled(0)); "
            "the birth time uses every entry"
        )
    if (type(units).__module__ or "").startswith("torch") and hasattr(units, "detach"):
        array = _from_torch(units)
    else:
        try:
            array = np.asarray(units)
        except (ValueError, TypeError) as exc:
            raise UnitError(
                f"{what} must be an m x m array of real numbers; the {type(units).__name__} given is ragged "
                "or not numeric"
            ) from exc
    if array.ndim == 0:
        if isinstance(units, (int, float, np.number, np.bool_)):
            raise UnitError(f"{what} must be a 2-D m x m array, got a scalar")
        raise UnitTypeError(f"{what} must be a 2-D m x m array of real numbers, got {type(units).__name__}")
    kind = array.dtype.kind
    if kind == "c":
        raise UnitError(f"{what} must hold real numbers, got complex dtype {array.dtype}")
    if kind not in "biuf":
        raise UnitError(
            f"{what} must hold real numbers, got dtype {array.dtype} (strings, None or mixed objects among the values?)"
        )
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if kind == "b":
        return array.astype(np.float64)
    if array.dtype == np.float16:
        return array.astype(np.float32)  # exact: ties are preserved
    return array


def _exact_float(array: np.ndarray) -> np.ndarray:
    """A float32/float64 array with exactly the order (and ties) of ``array``'s entries.

    Integers up to 2**53 and float32/64 pass as they are; wider values (int64/uint64 beyond
    2**53, long double) are replaced by their dense ranks, which float64 holds exactly. Birth
    times depend only on the order of the entries, so they are unchanged. Non-finite values
    are left for the caller to report.
    """
    if array.dtype in (np.float32, np.float64):
        return array
    if array.dtype.kind in "iu":
        if array.dtype.itemsize <= 4 or array.size == 0:
            return array.astype(np.float64)
        lo, hi = int(array.min()), int(array.max())
        if lo >= -_EXACT_INT and hi <= _EXACT_INT:
            return array.astype(np.float64)
    elif not np.isfinite(array).all():
        return array.astype(np.float64)  # NaN/inf stay NaN/inf and are reported as such
    _, ranks = np.unique(array, return_inverse=True)
    return ranks.reshape(array.shape).astype(np.float64)


def _as_float_array(units: object, what: str = "unit") -> np.ndarray:
    return _exact_float(_numeric(units, what))


def _check_shape(shape: tuple[int, ...], what: str) -> None:
    if len(shape) < 2:
        raise UnitError(f"{what} must be a 2-D m x m array, got {len(shape)}-D shape {shape}")
    if shape[-1] != shape[-2]:
        raise UnitError(f"{what} must be square, got {shape[-2]} x {shape[-1]}")
    if shape[-1] < 2:
        raise UnitError(f"{what} must be at least 2 x 2, got {shape[-2]} x {shape[-1]}")


def _checked(unit: object) -> np.ndarray:
    """The unit in its own numeric dtype (exact for display), 2-D, square and finite."""
    array = _numeric(unit)
    if array.ndim != 2:
        raise UnitError(f"unit must be a 2-D m x m array, got {array.ndim}-D shape {array.shape}")
    _check_shape(array.shape, "unit")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "inf"
        raise UnitError(f"unit contains {kind} values; birth times need finite activations")
    return array


def validate_unit(unit: object) -> np.ndarray:
    """The unit as a finite, square float array whose entries have the unit's exact order.

    Accepts numpy arrays of any real dtype and byte order, nested lists and torch tensors;
    integers beyond 2**53 become dense ranks (the birth time depends only on the order).
    """
    return _exact_float(_checked(unit))


def edge_weights(unit: object) -> np.ndarray:
    """w = max(U, U^T): the symmetric edge weights of the unit's graph (Eq. 2-3)."""
    u = _checked(unit)
    return np.maximum(u, u.T)


def filtration_values(unit: object) -> np.ndarray:
    """a^(v) for v = 1..m^2: the entries of U in descending order (diagonal included)."""
    u = _checked(unit)
    return np.sort(u, axis=None)[::-1].copy()


def _check_step(v: int, m: int) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise UnitError(f"step must be an integer, got {v!r}")
    if not 1 <= v <= m * m:
        raise UnitError(f"step must be between 1 and m^2 = {m * m}, got {v}")
    return int(v)


def graph_at_step(unit: object, v: int) -> np.ndarray:
    """Adjacency (bool, no self loops) of G^(v): edges with w_ij >= a^(v)."""
    u = _checked(unit)
    m = u.shape[0]
    v = _check_step(v, m)
    threshold = np.sort(u, axis=None)[::-1][v - 1]
    adjacency = np.maximum(u, u.T) >= threshold
    np.fill_diagonal(adjacency, False)
    return adjacency


@dataclass(frozen=True)
class CliqueComplex:
    """The 1- and 2-simplices of the clique complex at one step (vertices are 0..m-1)."""

    edges: np.ndarray  # int [k, 2], i < j
    triangles: np.ndarray  # int [t, 3], i < j < l
    truncated: bool  # True when more than max_triangles triangles exist


def clique_complex(unit: object, v: int, max_triangles: int = 20000) -> CliqueComplex:
    """Edges and (up to max_triangles) triangles of the clique complex at step v, for display."""
    adjacency = graph_at_step(unit, v)
    edges = np.argwhere(np.triu(adjacency, 1))
    triangles: list[tuple[int, int, int]] = []
    truncated = False
    for i, j in edges:
        common = np.flatnonzero(adjacency[i] & adjacency[j])
        for k in common[common > j]:
            if len(triangles) >= max_triangles:
                truncated = True
                break
            triangles.append((int(i), int(j), int(k)))
        if truncated:
            break
    triangle_array = np.array(triangles, dtype=np.int64).reshape(-1, 3)
    return CliqueComplex(edges=edges.astype(np.int64), triangles=triangle_array, truncated=truncated)


def rank_distance_matrix(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense ripser input: D_ij = descending dense rank of w_ij (1-based), zero diagonal.

    A zero diagonal keeps ripser on its dense path (a nonzero one makes it treat the matrix
    as sparse and drop zero entries). Also returns the distinct edge weights, descending.
    """
    m = u.shape[0]
    w = np.maximum(u, u.T).astype(np.float64)
    upper = np.triu_indices(m, 1)
    distinct = np.unique(w[upper])  # ascending
    ranks = distinct.size - np.searchsorted(distinct, w[upper])  # 1 = largest weight
    d = np.zeros((m, m), dtype=np.float64)
    d[upper] = ranks
    d.T[upper] = ranks
    return d, distinct[::-1].copy()


def _diagrams_in_ranks(u: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    from ripser import ripser  # imported lazily: only the reference paths need it

    d, distinct_desc = rank_distance_matrix(u)
    diagrams = ripser(d, distance_matrix=True, maxdim=1)["dgms"]
    return [np.asarray(dgm, dtype=np.float64) for dgm in diagrams], distinct_desc


def _step_of_value(u: np.ndarray, value: float) -> int:
    """First step v whose threshold a^(v) <= value: 1 + #entries strictly above it."""
    return int(np.count_nonzero(u > value)) + 1


def birth_time_reference(unit: object) -> int:
    """b(U, 1) from ripser's H1 diagram: the smallest H1 birth, converted to a step."""
    u = validate_unit(unit).astype(np.float64)
    diagrams, distinct_desc = _diagrams_in_ranks(u)
    h1 = diagrams[1]
    if h1.shape[0] == 0:
        return 0
    first_rank = round(h1[:, 0].min())
    return _step_of_value(u, distinct_desc[first_rank - 1])


def _ranks_at_steps(u: np.ndarray, distinct_desc: np.ndarray) -> np.ndarray:
    """Filtration radius r_v at each step: the number of distinct edge weights >= a^(v)."""
    thresholds = np.sort(u.astype(np.float64), axis=None)[::-1]
    ascending = distinct_desc[::-1]
    return ascending.size - np.searchsorted(ascending, thresholds, side="left")


def betti_curves(unit: object) -> np.ndarray:
    """beta_0(v) and beta_1(v) for v = 1..m^2 as int64 [2, m^2] (column v-1 is step v)."""
    u = validate_unit(unit).astype(np.float64)
    diagrams, distinct_desc = _diagrams_in_ranks(u)
    radius = _ranks_at_steps(u, distinct_desc)
    top = distinct_desc.size + 1  # radii are integer ranks 0..R; R + 1 stands for "never dies"
    curves = np.zeros((2, radius.size), dtype=np.int64)
    for dim in (0, 1):
        dgm = diagrams[dim]
        if dgm.shape[0] == 0:
            continue
        # A bar [b, d) is alive at radius r iff b <= r < d: +1 at b, -1 at d, then a running sum.
        births = np.rint(dgm[:, 0]).astype(np.int64)
        deaths = np.where(np.isfinite(dgm[:, 1]), np.rint(np.nan_to_num(dgm[:, 1], posinf=top)), top)
        change = np.zeros(top + 1, dtype=np.int64)
        np.add.at(change, births, 1)
        np.add.at(change, deaths.astype(np.int64), -1)
        curves[dim] = np.cumsum(change)[radius]
    return curves


def persistence_diagram(unit: object) -> list[np.ndarray]:
    """[H0, H1] diagrams (birth, death) in step units; death = inf for classes that never die."""
    u = validate_unit(unit).astype(np.float64)
    diagrams, distinct_desc = _diagrams_in_ranks(u)

    def to_step(rank: float) -> float:
        if not np.isfinite(rank):
            return np.inf
        r = round(rank)
        return 1.0 if r == 0 else float(_step_of_value(u, distinct_desc[r - 1]))

    out = []
    for dgm in diagrams:
        steps = np.array([[to_step(b), to_step(d)] for b, d in dgm], dtype=np.float64)
        out.append(steps.reshape(-1, 2))
    return out


def birth_time(unit: object) -> int:
    """The paper's b(U, 1): 1-based step where beta_1 first becomes nonzero, 0 if never."""
    u = np.ascontiguousarray(_as_float_array(unit))
    if u.ndim != 2:
        raise UnitError(f"unit must be a 2-D m x m array, got {u.ndim}-D shape {u.shape}")
    _check_shape(u.shape, "unit")
    step = int(kernel.birth_step(u))
    if step < 0:
        validate_unit(u)  # raises with the precise reason (NaN or inf)
    return step


def birth_times(units: object, n_threads: int | None = None) -> np.ndarray:
    """Birth times of a stack of units [..., m, m] -> int32 [...], compiled and parallel.

    ``n_threads`` caps the worker threads (default: every core numba sees); it must be >= 1.
    """
    return batch_births(units, kernel.birth_steps_batch, (), n_threads)


def batch_births(units: object, launch: Callable[..., None], extra: tuple, n_threads: int | None) -> np.ndarray:
    """Run a compiled batch kernel ``launch(flat [N, m, m], out int32 [N], *extra)`` on a stack of units.

    Shared by the births and the null births so both see the same conversion, threading and errors.
    """
    check("n_threads", n_threads, NoneOr(Interval(int, 1, None)), error=UnitError)
    array = _as_float_array(units, "units")
    _check_shape(array.shape, "units")
    leading = array.shape[:-2]
    m = array.shape[-1]
    flat = np.ascontiguousarray(array.reshape(-1, m, m))
    out = np.zeros(flat.shape[0], dtype=np.int32)
    if flat.shape[0]:
        import numba

        previous = numba.get_num_threads()
        if n_threads is not None:
            numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
        # Units differ in cost (early birth vs none): hand them out in small chunks.
        previous_chunk = numba.set_parallel_chunksize(4)
        try:
            launch(flat, out, *extra)
        finally:
            numba.set_parallel_chunksize(previous_chunk)
            numba.set_num_threads(previous)
    if np.any(out < 0):
        bad = int(np.flatnonzero(out < 0)[0])
        position = tuple(int(p) for p in np.unravel_index(bad, leading)) if leading else ()
        kind = "NaN" if np.isnan(flat[bad]).any() else "inf"
        raise UnitError(
            f"unit at index {position} contains {kind} values; birth times need finite activations"
        )
    return out.reshape(leading)
