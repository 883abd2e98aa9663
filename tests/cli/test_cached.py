"""featent.cli.cached: a fully stored ``featent entropy`` or ``featent sweep`` answers without importing torch,
with the same output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from featent.nets.demo import DEMO_WEIGHTS

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import sys; from featent.cli.main import main; code = main(sys.argv[1:]); "
         "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr); sys.exit(code)")


def _run(cache: Path, command: str, *flags: str) -> tuple[str, bool]:
    """(stdout, torch imported) of one featent command in a fresh interpreter."""
    env = {**os.environ, "FEATENT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE, command, *flags, "--quiet"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout, "torch imported" in out.stderr.splitlines()[-1]


def _entropy(cache: Path, *flags: str) -> tuple[str, bool]:
    return _run(cache, "entropy", *flags)


def test_a_stored_answer_needs_no_torch_and_is_identical(tmp_path):
    flags = ("--model", "demo", "--data", "fashion", "--class", "Trouser", "--layer", "block3_conv2", "--images", "8",
             "--format", "json")
    computed, torch_first = _entropy(tmp_path, *flags)
    stored, torch_again = _entropy(tmp_path, *flags)
    assert torch_first and not torch_again
    assert stored == computed  # every digit of every unit's FE, null FE, births


def test_a_changed_weights_file_takes_the_normal_path(tmp_path):
    weights = tmp_path / "w.pt"
    shutil.copy(DEMO_WEIGHTS, weights)
    flags = ("--model", "demo", "--weights", str(weights), "--data", "fashion", "--class", "Bag", "--layer",
             "features.1", "--images", "6", "--no-baselines", "--format", "csv")
    computed, _ = _entropy(tmp_path / "cache", *flags)
    stored, torch_stored = _entropy(tmp_path / "cache", *flags)
    assert stored == computed and not torch_stored  # an alias finds its layer's stored births
    os.utime(weights, ns=(1, 1))
    again, torch_again = _entropy(tmp_path / "cache", *flags)
    assert torch_again and again == computed  # same bytes, so the same fingerprint, found after loading


def test_a_stored_sweep_needs_no_torch_and_writes_the_same_atlas(tmp_path):
    flags = ("--model", "demo", "--data", "fashion", "--classes", "Trouser,Bag", "--layers", "block1_conv1,block3_conv2",
             "--images", "6", "--units")
    first, torch_first = _run(tmp_path / "cache", "sweep", *flags, "--out", str(tmp_path / "a.csv"))
    again, torch_again = _run(tmp_path / "cache", "sweep", *flags, "--out", str(tmp_path / "b.csv"))
    assert torch_first and not torch_again
    assert "4 (class, layer) pairs computed" in first and "0 (class, layer) pairs computed, 4 from the store" in again
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    _, torch_other = _run(tmp_path / "cache", "sweep", *flags[:6], "--images", "7", "--out", str(tmp_path / "c.csv"))
    assert torch_other  # another image count is not stored: computed on the normal path
