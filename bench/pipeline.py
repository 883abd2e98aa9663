"""Pipeline benchmark: demo cold vs warm (cached), and VGG16 forward vs homology time on CPU.

1. ``demo``, all six layers, 100 digits of one class: ``compute_births`` on an empty store
   (cold; model loaded and kernel compiled beforehand) vs the same call served by the store
   (warm). Targets on the 2-core dev machine: cold <= 5 s, warm <= 0.3 s.
2. ``vgg16:random`` at 224x224, 100 images, ``block5_conv3`` and ``block1_conv1``: the forward
   pass vs the birth-time (homology) computation on that layer's 100 x units maps. The forward is
   reported twice: the full network (what a classifier run costs) and the extraction featent
   actually does (it stops right after the requested layer). Target: homology <= 25% of forward.

Everything runs in this process on the CPU (``FEATENT_DEVICE=cpu`` is forced); medians over
``--repeats``.

    .venv/bin/python bench/pipeline.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["FEATENT_DEVICE"] = "cpu"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np
import torch

from featent.core.topology import birth_times
from featent.data import load_dataset
from featent.extract import default_batch_size, iter_activations
from featent.pipeline import (
    Selection,
    compute_births,
    load_model,
)
from featent.store import ResultStore


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_demo(n_images: int, repeats: int) -> None:
    model = load_model("demo")
    selection = Selection("demo", "digits", "3", tuple(i.name for i in model.layers), n_images=n_images)
    with tempfile.TemporaryDirectory() as warmup:
        compute_births(selection, ResultStore(warmup))  # imports, numba cache load, dataset

    def cold() -> None:
        with tempfile.TemporaryDirectory() as directory:
            compute_births(selection, ResultStore(directory))

    cold_s = median_time(cold, repeats)
    with tempfile.TemporaryDirectory() as directory:
        store = ResultStore(directory)
        compute_births(selection, store)
        warm_s = median_time(lambda: compute_births(selection, store), max(5, repeats))
    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "featent", "entropy", "--model", "demo", "--data", "digits", "--class", "3",
                   "--all-layers", "--images", str(n_images), "--quiet", "--format", "json"]
        env = dict(os.environ, FEATENT_CACHE_DIR=directory)
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        process_s = time.perf_counter() - t0
    units = sum(i.n_units for i in model.layers)
    print(f"demo, all 6 layers ({units} units), {n_images} images of class '3':")
    print(f"  cold (empty store)   {cold_s:8.3f} s   target <= 5 s")
    print(f"  warm (cached)        {warm_s:8.4f} s   target <= 0.3 s")
    print(f"  CLI in a fresh process, empty store (imports, model, data, compute): {process_s:.2f} s")


def bench_vgg16(n_images: int, repeats: int) -> None:
    model = load_model("vgg16:random")
    images = torch.rand(n_images, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    batch = default_batch_size(model)

    def full_forward() -> None:
        with torch.inference_mode():
            for start in range(0, n_images, batch):
                model.module(model.preprocess(images[start : start + batch]))

    full_s = median_time(full_forward, repeats)
    print(f"vgg16:random, {n_images} images at 224x224, CPU ({torch.get_num_threads()} threads), chunks of {batch}:")
    print(f"  full network forward            {full_s:8.2f} s")
    for layer in ("block5_conv3", "block1_conv1"):
        info = model.layer(layer)
        extract_times, homology_times = [], []
        for _ in range(repeats):
            extract_s = homology_s = 0.0
            t0 = time.perf_counter()
            for _, chunk in iter_activations(model, images, [layer], batch_size=batch):
                t1 = time.perf_counter()
                births = birth_times(chunk[layer])
                t2 = time.perf_counter()
                extract_s += t1 - t0
                homology_s += t2 - t1
                assert births.shape == chunk[layer].shape[:2]
                t0 = time.perf_counter()
            extract_times.append(extract_s)
            homology_times.append(homology_s)
        extract_s, homology_s = statistics.median(extract_times), statistics.median(homology_times)
        per_unit_us = 1e6 * homology_s / (n_images * info.n_units)
        print(f"  {layer} ({info.n_units} units of {info.unit_size}x{info.unit_size}):")
        print(f"    extraction (stops after layer) {extract_s:8.2f} s")
        print(f"    homology (birth times)         {homology_s:8.2f} s   ({per_unit_us:.0f} us/unit)")
        print(f"    homology / full forward        {homology_s / full_s:8.1%}   target <= 25%")
        print(f"    homology / extraction          {homology_s / extract_s:8.1%}")
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak resident memory of this process: {peak_gib:.2f} GiB (streamed in chunks of {batch} images)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 images instead of 100 (smoke run)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = 20 if args.quick else 100
    print(f"torch {torch.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    load_dataset("digits")
    bench_demo(n, args.repeats)
    bench_vgg16(n, args.repeats)


if __name__ == "__main__":
    main()
