"""Sweep benchmark: does the sweep run at the speed of its parts?

For each model (``vgg16:random@224`` and the demo), on the same Fashion "Sandal" images and every layer,
in one run:

- forward alone: the chunked extraction the sweep does (activations of every layer, copied out);
- births alone and null births alone: the bare kernels on those activations, computed from memory;
- bare births and null births in one launch (``featent.core.baselines.births_and_null_births``, what the engine
  runs per layer);
- births engine: ``featent.births.iter_births`` with the producer thread (forward of chunk k+1 while the births of
  chunk k are computed), and without it (serial: forward, then births, chunk by chunk). In the serial engine the
  time spent inside the forward generator is clocked, so its births phase (wall - that forward) is measured in the
  same call and compared with the bare births + null births (extra copies, conversions or checks on the hot path
  would show there); "two launches" is the same engine with births and null births launched apart (the engine
  before the fused launch);
- the whole ``sweep()`` on an empty store (sampling, summaries and store writes included).

Targets: sweep engine <= 1.15 x max(forward, births + null); births phase <= 1.15 x bare births + null.
The load average is printed before and after (the machine is shared).
Medians over ``--repeats`` interleaved rounds (3x for the demo);
CPU only (``FEATENT_DEVICE=cpu``) unless ``--device`` says otherwise.

    .venv/bin/python bench/sweep.py [--vgg-images 8] [--demo-images 300] [--repeats 3] [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

os.environ.setdefault("FEATENT_DEVICE", "cpu")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import featent.births as births_module
from featent.births import chunk_size, iter_births, place_model, shuffled_births
from featent.core.baselines import births_and_null_births
from featent.core.topology import birth_times
from featent.data import load_dataset
from featent.experiments.sweep import sweep
from featent.extract import iter_activations
from featent.pipeline import load_model
from featent.store import ResultStore


def interleaved_medians(fns: dict, repeats: int) -> dict[str, float]:
    """Median wall and CPU time of each function over ``repeats`` rounds, one call of each per
    round, so drift in the machine's load (it is shared) hits every variant alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    out = {name: statistics.median(values) for name, values in times.items()}
    out.update({f"{name} cpu": statistics.median(values) for name, values in cpu.items()})
    return out


def in_thread(fn):
    """Run ``fn`` in a fresh thread, as the sweep's producer runs the forward pass (torch's forward
    in the main thread was 2-3x slower on the shared 2-core machine, so the comparison is like for like)."""

    def run() -> None:
        errors: list[BaseException] = []

        def body() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        thread = threading.Thread(target=body)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    return run


def bench(spec: str, data: str, class_name: str, n_images: int, repeats: int, device: str | None) -> dict:
    model = place_model(load_model(spec), device)
    layers = [info.name for info in model.layers]
    images = load_dataset(data).sample(class_name, n_images, 0, "train", model.input_size)
    size = chunk_size(model, layers)
    null = shuffled_births  # the baselines' null births are part of the sweep's work
    chunks = list(iter_activations(model, images.images, layers, batch_size=size))  # warm-up

    def forward() -> None:
        for _ in iter_activations(model, images.images, layers, batch_size=size):
            pass

    def births() -> None:
        for _start, chunk in chunks:
            for acts in chunk.values():
                birth_times(acts)

    def nulls() -> None:
        for start, chunk in chunks:
            for acts in chunk.values():
                null(acts, start)

    births()  # warm-up (kernel compilation)
    nulls()

    def fused() -> None:
        for start, chunk in chunks:
            for acts in chunk.values():
                births_and_null_births(acts, first_image=start)

    def engine() -> None:
        for _ in iter_births(model, images.images, layers, batch_size=size, overlap=True, null=null):
            pass

    phases: dict[str, list[float]] = {"serial": [], "two launches": []}

    def serial_with(null_fn, name: str):
        def run() -> None:
            spent = clocked_forward(lambda: [None for _ in iter_births(model, images.images, layers, batch_size=size,
                                                                       overlap=False, null=null_fn)])
            phases[name].append(spent)
        return run

    def two_launches(acts, start):  # another callable than the kernel's null: births and null launched apart
        return null(acts, start)

    def whole() -> None:
        with tempfile.TemporaryDirectory() as directory:
            sweep(spec, data, classes=[class_name], layers="all", images=n_images, device=device,
                  store=ResultStore(directory))

    row = {"model": spec, "images": len(images), "chunk": size, "units": sum(i.n_units for i in model.layers)}
    row.update(interleaved_medians({"forward": in_thread(forward), "births": births, "null": nulls, "fused": fused,
                                    "sweep": engine, "serial": in_thread(serial_with(null, "serial")),
                                    "two launches": in_thread(serial_with(two_launches, "two launches")),
                                    "sweep()": whole}, repeats))
    row["bare births"] = row["births"]
    row["births"], row["births cpu"] = row["births"] + row["null"], row["births cpu"] + row["null cpu"]
    row["phase"] = statistics.median(phases["serial"])
    row["phase two"] = statistics.median(phases["two launches"])
    return row


def clocked_forward(run) -> float:
    """Wall time of ``run()`` less the time spent inside the engine's forward generator: the births phase."""
    original = births_module.iter_activations
    inside = [0.0]

    def timed(*args, **kwargs):
        source = original(*args, **kwargs)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(source)
            except StopIteration:
                inside[0] += time.perf_counter() - t0
                return
            inside[0] += time.perf_counter() - t0
            yield item

    births_module.iter_activations = timed
    try:
        t0 = time.perf_counter()
        run()
        return time.perf_counter() - t0 - inside[0]
    finally:
        births_module.iter_activations = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vgg-images", type=int, default=8)
    parser.add_argument("--demo-images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default cpu)")
    args = parser.parse_args()
    import torch

    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"# torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, device {args.device or 'cpu'}, "
          f"medians of {args.repeats} (demo: {3 * args.repeats}); births include the null births")
    rows = [
        bench("vgg16:random@224", "fashion", "Sandal", args.vgg_images, args.repeats, args.device),
        bench("demo", "fashion", "Sandal", args.demo_images, 3 * args.repeats, args.device),
    ]
    print(f"{'model':<18} {'births s':>9} {'null s':>7} {'null/births':>11} {'fused s':>8} {'phase s':>7} "
          f"{'phase/bare':>10} {'two-launch phase s':>18} {'its /bare':>9}")
    for r in rows:
        bare = r["births"]
        print(f"{r['model']:<18} {r['bare births']:>9.3f} {r['null']:>7.3f} {r['null'] / r['bare births']:>11.2f} "
              f"{r['fused']:>8.3f} {r['phase']:>7.3f} {r['phase'] / bare:>10.2f} {r['phase two']:>18.3f} "
              f"{r['phase two'] / bare:>9.2f}")
    print("births / null = the bare kernels on the activations in memory (bare = births + null); fused = both in one")
    print("launch per layer; phase = the serial engine's births phase (its wall time less the time inside its forward")
    print("generator, same call); two-launch phase = the same with births and null births launched apart.")
    print()
    header = (
        f"{'model':<18} {'images':>6} {'chunk':>5} {'units':>5} {'forward s':>9} {'births s':>9} "
        f"{'sweep s':>8} {'sum s':>7} {'cpu floor s':>11} {'sweep/max':>9} {'sweep/floor':>11} {'sweep/sum':>9} {'sweep() s':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        peak = max(r["forward"], r["births"])
        total = r["forward"] + r["births"]
        floor = max(peak, (r["forward cpu"] + r["births cpu"]) / (os.cpu_count() or 1))
        print(f"{r['model']:<18} {r['images']:>6} {r['chunk']:>5} {r['units']:>5} {r['forward']:>9.3f} "
              f"{r['births']:>9.3f} {r['sweep']:>8.3f} {total:>7.3f} {floor:>11.3f} {r['sweep'] / peak:>9.2f} "
              f"{r['sweep'] / floor:>11.2f} {r['sweep'] / total:>9.2f} {r['sweep()']:>9.3f}")
    print("target: sweep/max <= 1.15. sweep = the overlapped engine; sum = forward + births (no overlap);")
    print("cpu floor = max(forward, births, (CPU seconds of forward + births) / cores): when both saturate every")
    print("core no overlap can beat it; sweep() = the library call on an empty store (sampling, summaries, writes).")
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
