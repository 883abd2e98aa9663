"""Birth-time benchmark: featent vs ripser.py, giotto-ph (1 thread), gudhi and np.argsort.

All peers run in the same process on the same units; every peer's birth times are asserted
identical to featent's. Prints median per-unit times and ratios (peer / featent), then the time
for all 4224 units of one VGG16-shaped image on one core and on all cores.

    .venv/bin/python bench/birth_time.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from scipy.ndimage import gaussian_filter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from featent.core.topology import birth_time, birth_times, rank_distance_matrix

SIZES = (7, 14, 28, 56, 112, 224)
VGG16_IMAGE = ((64, 224), (64, 224), (128, 112), (128, 112), (256, 56), (256, 56), (256, 56),
               (512, 28), (512, 28), (512, 28), (512, 14), (512, 14), (512, 14))


def realistic_units(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Smoothed noise with a random ReLU cut: spatially correlated, ReLU-sparse float32 maps."""
    units = np.empty((n, m, m), dtype=np.float32)
    for i in range(n):
        field = gaussian_filter(rng.normal(size=(m, m)), sigma=max(0.7, m / 28) * rng.uniform(0.5, 2.0))
        units[i] = np.maximum(field - np.quantile(field, rng.uniform(0.2, 0.9)), 0.0)
    return units


def step_of_rank(unit: np.ndarray, distinct_desc: np.ndarray, births: np.ndarray) -> int:
    if births.size == 0:
        return 0
    value = distinct_desc[round(births.min()) - 1]
    return int(np.count_nonzero(unit > value)) + 1


def peer_ripser(unit: np.ndarray) -> int:
    from ripser import ripser

    d, distinct = rank_distance_matrix(unit)
    return step_of_rank(unit, distinct, ripser(d, distance_matrix=True, maxdim=1)["dgms"][1][:, 0])


def peer_giotto(unit: np.ndarray) -> int:
    from gph import ripser_parallel

    d, distinct = rank_distance_matrix(unit)
    dgm = ripser_parallel(d, metric="precomputed", maxdim=1, n_threads=1)["dgms"][1]
    return step_of_rank(unit, distinct, dgm[:, 0])


def peer_gudhi(unit: np.ndarray) -> int:
    import gudhi

    d, distinct = rank_distance_matrix(unit)
    tree = gudhi.RipsComplex(distance_matrix=d).create_simplex_tree(max_dimension=2)
    tree.compute_persistence(homology_coeff_field=2, persistence_dim_max=False)
    intervals = tree.persistence_intervals_in_dimension(1)
    return step_of_rank(unit, distinct, intervals[:, 0] if intervals.size else np.empty(0))


def peer_argsort(unit: np.ndarray) -> np.ndarray:
    return np.argsort(unit, axis=None)


def median_time(fn: Callable[[np.ndarray], object], units: np.ndarray) -> tuple[float, list]:
    times, results = [], []
    for unit in units:
        start = time.perf_counter()
        results.append(fn(unit))
        times.append(time.perf_counter() - start)
    return statistics.median(times), results


def fmt(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:9.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer units per size (smoke run)")
    args = parser.parse_args()
    rng = np.random.default_rng(2022)
    birth_times(realistic_units(2, 8, rng))  # compile once, outside the timings
    birth_time(realistic_units(1, 8, rng)[0])

    print("Median per-unit time on realistic units (smoothed noise, ReLU-sparse), float32")
    header = f"{'m':>4} {'featent':>12} {'batched':>12} {'argsort':>12} {'ripser.py':>12} {'giotto-ph':>12} {'gudhi':>12}"
    print(header + "   ratios: ripser/fe  giotto/fe  gudhi/fe  argsort/fe")
    for m in SIZES:
        n_fast = 50 if args.quick else 300
        n_peer = {7: 100, 14: 100, 28: 60, 56: 20, 112: 8, 224: 3}[m]
        if args.quick:
            n_peer = max(2, n_peer // 4)
        units = realistic_units(n_fast, m, rng)
        t_fe, fe_births = median_time(birth_time, units)
        start = time.perf_counter()
        batched = birth_times(units, n_threads=1)
        t_batch = (time.perf_counter() - start) / len(units)
        assert batched.tolist() == fe_births
        t_sort, _ = median_time(peer_argsort, units)
        peers = {}
        for name, fn in (("ripser", peer_ripser), ("giotto", peer_giotto), ("gudhi", peer_gudhi)):
            t_peer, peer_births = median_time(fn, units[:n_peer])
            assert peer_births == fe_births[:n_peer], f"{name} disagrees with featent at m={m}"
            peers[name] = t_peer
        print(
            f"{m:>4} {fmt(t_fe)} {fmt(t_batch)} {fmt(t_sort)} {fmt(peers['ripser'])} {fmt(peers['giotto'])} "
            f"{fmt(peers['gudhi'])}   {peers['ripser'] / t_fe:9.0f}x {peers['giotto'] / t_fe:9.0f}x "
            f"{peers['gudhi'] / t_fe:8.0f}x {t_sort / t_fe:9.2f}x"
        )
    print("identical births: featent == ripser.py == giotto-ph == gudhi on every unit measured")

    layers = [realistic_units(n, m, rng) for n, m in VGG16_IMAGE]
    n_units = sum(layer.shape[0] for layer in layers)
    cores = os.cpu_count() or 1
    reps = 3 if args.quick else 7

    def whole_image(threads: int) -> float:
        start = time.perf_counter()
        for layer in layers:
            birth_times(layer, n_threads=threads)
        return time.perf_counter() - start

    one = statistics.median(whole_image(1) for _ in range(reps))
    many = statistics.median(whole_image(cores) for _ in range(reps))
    print(f"VGG16-shaped image, {n_units} units: 1 core {one:.3f} s, {cores} cores {many:.3f} s, "
          f"speed-up {one / many:.2f}x (median of {reps})")


if __name__ == "__main__":
    main()
