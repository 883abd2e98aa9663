"""Cached ``featent entropy`` vs an uncached one vs ``python -c "import torch"``, measured in one run.

A fully stored answer is read from the store with no model loaded (``featent.cli.cached``), so it
should cost far less than importing torch. Each command runs in a fresh interpreter, ``--runs``
times; medians are printed with their ratios (the machine may be shared: medians, not means).
Target: a cached answer under 0.6 s on an idle 2-core machine. For the uncached command it also
prints how long the process takes to exit after its last byte of output. ``--app-root`` runs the
commands of another checkout.

    .venv/bin/python bench/cached_entropy.py [--runs N] [--layer L] [--images N] [--app-root DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TORCH_PROBE = (
    "import sys; from featent.cli.main import main; code = main(sys.argv[1:]); sys.exit(3 if 'torch' in sys.modules else code)"
)


def wall(argv: list[str], env: dict[str, str], after: list[float] | None = None) -> float:
    """Seconds one command takes, start to exit (it must succeed); ``after`` gets the seconds from its
    last byte of output to its exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=env["PYTHONPATH"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    last = start
    while os.read(proc.stdout.fileno(), 1 << 16):
        last = time.perf_counter()
    proc.stdout.close()
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(argv[2:])} exited with {proc.returncode}")
    end = time.perf_counter()
    if after is not None:
        after.append(end - last)
    return end - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--layer", default="block3_conv2", help="layer (default block3_conv2)")
    parser.add_argument("--images", type=int, default=100, help="images of the class (default 100)")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose featent runs (default: this one)")
    args = parser.parse_args()
    flags = ["entropy", "--model", "demo", "--data", "fashion", "--class", "Trouser", "--layer", args.layer,
             "--images", str(args.images), "--quiet", "--format", "json"]
    with tempfile.TemporaryDirectory(prefix="featent-bench-") as cache:
        env = {**os.environ, "FEATENT_CACHE_DIR": cache, "PYTHONPATH": str(args.app_root.resolve())}
        command = [sys.executable, "-m", "featent"]
        wall(command + flags, env)  # fills the store and records the manifests
        # the cached answer must not import torch (exit code 3 otherwise)
        wall([sys.executable, "-c", TORCH_PROBE, *flags], env)
        times: dict[str, list[float]] = {"cached": [], "uncached": [], "import torch": []}
        exit_after_output: list[float] = []
        for _ in range(args.runs):  # interleaved, so a busy moment hits every command alike
            times["cached"].append(wall(command + flags, env))
            times["uncached"].append(wall(command + flags + ["--no-cache"], env, exit_after_output))
            times["import torch"].append(wall([sys.executable, "-c", "import torch"], env))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.app_root}: featent entropy --model demo --data fashion --class Trouser --layer {args.layer} "
          f"--images {args.images}, {args.runs} runs each, {os.cpu_count()} CPUs")
    for name, value in median.items():
        shown = " ".join(f"{v:.2f}" for v in times[name])
        print(f"  {name:13s} median {value:6.3f} s   (runs: {shown})")
    shown = " ".join(f"{v:.2f}" for v in exit_after_output)
    print(f"  uncached: exit after its output, median {statistics.median(exit_after_output):.3f} s   (runs: {shown})")
    print(f"  cached / uncached     {median['cached'] / median['uncached']:.3f}")
    print(f"  cached / import torch {median['cached'] / median['import torch']:.3f}")
    print(f"  target: cached < 0.6 s on an idle 2-core machine: {'met' if median['cached'] < 0.6 else 'not met'} here")


if __name__ == "__main__":
    main()
