"""Birth-time benchmark: featent vs ripser.py, giotto-ph (1 thread), gudhi and np.argsort.

All peers run in the same process on the same units; every peer's birth times are asserted
identical to featent's. Prints median per-unit times and ratios (peer / featent), then the time
for all 4224 units of one VGG16-shaped image on one core and on all cores.

Then real units: the activations of random-init VGG16 (``vgg16:random@224``), of the trained
``demo`` and of a small torchvision-style ResNet (a stem and two ``torchvision.models.resnet``
BasicBlocks, trained here for a few seconds with a fixed seed) on Fashion images ("Sandal"), per
model: the share of never-born units (beta_1 stays 0 until the zero group), the median time per
born / never-born unit on one core, the births and the null births of one image on all cores
(null / births ratio), and the peers (ripser.py, giotto-ph, gudhi, featent's ripser-based
reference) asserted identical on a sample of those real units.

    .venv/bin/python bench/birth_time.py [--quick] [--real-only] [--vgg-images 2] [--demo-images 50]
                                         [--resnet-images 50] [--resnet-steps 150]
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

from featent.core.topology import birth_time, birth_time_reference, birth_times, rank_distance_matrix

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


def real_activations(spec: str, n_images: int) -> dict[str, np.ndarray]:
    """{layer: float32 [n_images, units, m, m]} of ``spec`` on the first Fashion "Sandal" images."""
    os.environ.setdefault("FEATENT_DEVICE", "cpu")
    from featent.data import load_dataset
    from featent.extract import iter_activations
    from featent.pipeline import load_model

    model = load_model(spec)
    layers = [info.name for info in model.layers]
    images = load_dataset("fashion").sample("Sandal", n_images, 0, "train", model.input_size)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    for _start, chunk in iter_activations(model, images.images, layers, batch_size=max(1, min(n_images, 16))):
        for name, acts in chunk.items():
            parts[name].append(np.asarray(acts))
    return {name: np.concatenate(values) for name, values in parts.items()}


def resnet_activations(n_images: int, steps: int) -> tuple[dict[str, np.ndarray], float]:
    """({block: float32 [n_images, units, m, m]}, test accuracy) of a small ResNet trained here on Fashion.

    A stem (conv 3->16, BN, ReLU) and two ``torchvision.models.resnet.BasicBlock`` s (16 at 32x32, 32 at
    16x16 with a strided shortcut), a linear head; ``steps`` Adam steps of 64 training images, seed 0,
    one thread (a few seconds). The block outputs (after the residual sum and its ReLU) are the units.
    """
    import torch
    from torch import nn
    from torchvision.models.resnet import BasicBlock

    from featent.data import load_dataset

    torch.manual_seed(0)
    dataset = load_dataset("fashion")
    x, y = dataset.split_arrays("train")
    xt, yt = dataset.split_arrays("test")
    stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
    down = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
    blocks = nn.ModuleList([BasicBlock(16, 16), BasicBlock(16, 32, stride=2, downsample=down)])
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    net = nn.Sequential(stem, *blocks, head)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
        net.train()
        for step in range(steps):
            pick = order[(step * 64) % len(y):][:64]
            loss = nn.functional.cross_entropy(net((x[pick] - 0.5) / 0.5), y[pick])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        net.eval()
        with torch.no_grad():
            accuracy = float((net((xt[:2000] - 0.5) / 0.5).argmax(1) == yt[:2000]).float().mean())
            images = dataset.sample("Sandal", n_images, 0, "train", 32).images
            h = stem((images - 0.5) / 0.5)
            out = {}
            for i, block in enumerate(blocks):
                h = block(h)
                out[f"block{i + 1}"] = h.numpy().copy()
    finally:
        torch.set_num_threads(threads)
    return out, accuracy


def real_units(spec: str, acts: dict[str, np.ndarray], n_sample: int, quick: bool, rng: np.random.Generator) -> None:
    """Never-born share, time per born / never-born unit, births vs null births per image, peers identical."""
    from featent.core.baselines import null_births

    n_images = next(iter(acts.values())).shape[0]
    cores = os.cpu_count() or 1
    births = {name: birth_times(a) for name, a in acts.items()}
    null_births(acts[next(iter(acts))][:1])  # compile
    units = sum(a.shape[1] for a in acts.values())
    never = float(np.mean(np.concatenate([b.ravel() for b in births.values()]) == 0))
    print(f"\n{spec} on {n_images} Fashion 'Sandal' images: {len(acts)} layers, {units} units per image, "
          f"never born {never:.1%}")
    header = (f"{'layer':<16} {'m':>4} {'units':>5} {'never':>6} {'born unit':>12} {'never unit':>12} "
              f"{'births/img':>11} {'null/img':>10} {'null/births':>11}")
    print(header)
    total_b = total_n = 0.0
    reps = 3
    for name, a in acts.items():
        m, b = a.shape[-1], births[name]
        flat, fb = a.reshape(-1, m, m), b.ravel()
        picks = rng.choice(flat.shape[0], size=min(n_sample, flat.shape[0]), replace=False)
        t_born: list[float] = []
        t_never: list[float] = []
        for i in picks:
            start = time.perf_counter()
            step = birth_time(flat[i])
            (t_never if step == 0 else t_born).append(time.perf_counter() - start)
            assert step == fb[i]
        tb = statistics.median(_timed(lambda a=a: birth_times(a, n_threads=cores)) for _ in range(reps)) / len(a)
        tn = statistics.median(_timed(lambda a=a: null_births(a, n_threads=cores)) for _ in range(reps)) / len(a)
        total_b, total_n = total_b + tb, total_n + tn
        print(f"{name:<16} {m:>4} {a.shape[1]:>5} {float(np.mean(b == 0)):>6.1%} {_med(t_born)} {_med(t_never)} "
              f"{tb:>10.4f}s {tn:>9.4f}s {tn / tb:>10.2f}x")
    print(f"{'one image':<16} {'':>4} {units:>5} {never:>6.1%} {'':>12} {'':>12} {total_b:>10.4f}s {total_n:>9.4f}s "
          f"{total_n / total_b:>10.2f}x   ({cores} cores, median of {reps})")
    # peers on real units: the smaller maps (ripser on m = 224 takes seconds per unit)
    checked = 0
    for name, a in acts.items():
        m = a.shape[-1]
        if m > 56:
            continue
        flat = a.reshape(-1, m, m)
        pick = rng.choice(flat.shape[0], size=min(2 if quick else 6, flat.shape[0]), replace=False)
        for i in pick:
            want = birth_time(flat[i])
            for peer in (peer_ripser, peer_giotto, peer_gudhi, birth_time_reference):
                assert peer(flat[i]) == want, f"{peer.__name__} disagrees with featent on {spec} {name} unit {i}"
            checked += 1
    print(f"identical births on {checked} real units: featent == ripser.py == giotto-ph == gudhi == "
          "featent's ripser-based reference")


def layer_profile(spec: str, acts: dict[str, np.ndarray], reps: int = 5) -> None:
    """Where one image's births go, on one core: each unit timed alone in the compiled kernel
    (median of ``reps``), summed per layer and split into born / never-born units; "read" is the
    layer's units x the time of an all-zero unit of the same m (reading the m^2 entries into edges,
    ranking nothing), the rest is ranking edges and the union-find / triangle checks."""
    from featent.core import kernel

    rows, total = [], 0.0
    for name, a in acts.items():
        maps = np.ascontiguousarray(a[0])
        m = maps.shape[-1]
        zero = np.zeros((m, m), maps.dtype)
        kernel.birth_step(zero)
        t_zero = statistics.median(_timed(lambda zero=zero: kernel.birth_step(zero)) for _ in range(reps))
        born_t = never_t = 0.0
        never = 0
        for unit in maps:
            t = statistics.median(_timed(lambda unit=unit: kernel.birth_step(unit)) for _ in range(reps))
            if kernel.birth_step(unit) == 0:
                never_t, never = never_t + t, never + 1
            else:
                born_t += t
        rows.append((name, m, len(maps), never, born_t, never_t, t_zero * len(maps)))
        total += born_t + never_t
    print(f"\n{spec}, image 0, one core, each unit alone (median of {reps}): {total:.4f} s")
    print(f"{'layer':<16} {'m':>4} {'units':>5} {'never':>6} {'time s':>8} {'share':>6} {'born s':>8} {'never s':>8} "
          f"{'read s':>7} {'read share':>10}")
    for name, m, n, never, born_t, never_t, read in rows:
        layer = born_t + never_t
        print(f"{name:<16} {m:>4} {n:>5} {never / n:>6.1%} {layer:>8.4f} {layer / total:>6.1%} {born_t:>8.4f} "
              f"{never_t:>8.4f} {read:>7.4f} {read / layer:>10.1%}")
    born_all = sum(r[4] for r in rows)
    read_all = sum(r[6] for r in rows)
    print(f"{'all':<16} {'':>4} {sum(r[2] for r in rows):>5} {sum(r[3] for r in rows) / sum(r[2] for r in rows):>6.1%} "
          f"{total:>8.4f} {'100%':>6} {born_all:>8.4f} {total - born_all:>8.4f} {read_all:>7.4f} {read_all / total:>10.1%}")


def _med(times: list[float]) -> str:
    return fmt(statistics.median(times)) if times else f"{'-':>12}"


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer units per size (smoke run)")
    parser.add_argument("--real-only", action="store_true", help="only the real units (skip the synthetic ones)")
    parser.add_argument("--vgg-images", type=int, default=2)
    parser.add_argument("--demo-images", type=int, default=50)
    parser.add_argument("--resnet-images", type=int, default=50)
    parser.add_argument("--resnet-steps", type=int, default=150, help="training steps of the small ResNet")
    args = parser.parse_args()
    rng = np.random.default_rng(2022)
    birth_times(realistic_units(2, 8, rng))  # compile once, outside the timings
    birth_time(realistic_units(1, 8, rng)[0])
    if not args.real_only:
        synthetic(args, rng)
    n_sample = 40 if args.quick else 200
    for spec, n_images in (("vgg16:random@224", args.vgg_images), ("demo", args.demo_images)):
        acts = real_activations(spec, n_images)
        real_units(spec, acts, n_sample, args.quick, rng)
        if spec.startswith("vgg16"):
            layer_profile(spec, acts)
    acts, accuracy = resnet_activations(args.resnet_images, args.resnet_steps)
    real_units(f"resnet (2 BasicBlocks, {args.resnet_steps} steps, test accuracy {accuracy:.1%})", acts, n_sample,
               args.quick, rng)


def synthetic(args: argparse.Namespace, rng: np.random.Generator) -> None:

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
