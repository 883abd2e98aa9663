"""The operator's model limits bound the server's memory: loading model after model, the evicted ones are
freed and the resident set returns within a bound. Measured in a fresh subprocess (its RSS is the server's
alone, not the test runner's), with the same call the sidebar makes, and a control run without the bound
showing that the measurement sees the growth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json, os, sys
from featent.app import mode
from featent.nets import loading

def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

limits = mode.limits()
loading.set_model_cache_limits(limits.max_models, int(limits.max_model_mb * 1e6))  # as the sidebar does
size = loading.model_bytes(loading.load_model("resnet18:random:1"))
loading.load_model("resnet18:random:2")  # the allocator's pools are warm before the baseline
gc.collect()
loading._return_freed_memory()
baseline = rss()
for seed in range(3, 9):  # six more models of `size` bytes each
    loading.load_model(f"resnet18:random:{seed}")
gc.collect()
print(json.dumps({"size": size, "grown": rss() - baseline, "held": len(loading._CACHE)}))
"""


def _start(max_models: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FEATENT_PUBLIC": "1", "FEATENT_MAX_MODELS": str(max_models),
           "FEATENT_MAX_MODEL_MB": "2000", "OMP_NUM_THREADS": "1"}
    env.pop("FEATENT_CONFIG", None)
    return subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _result(process: subprocess.Popen) -> dict[str, int]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_evicted_models_give_their_memory_back_within_a_bound() -> None:
    runs = _start(max_models=2), _start(max_models=16)  # the bound, and a control where every model is kept
    bounded, unbounded = (_result(r) for r in runs)
    assert bounded["held"] == 2
    assert bounded["grown"] < 2.5 * bounded["size"], bounded  # six more models loaded, at most two kept: RSS stays
    assert unbounded["held"] == 8 and unbounded["grown"] > 4.5 * unbounded["size"], unbounded  # the measurement sees growth
