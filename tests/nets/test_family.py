"""featent.nets.family: the demo family's specs load in a fresh interpreter with nothing else imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from featent.errors import ModelError
from featent.nets import family
from featent.nets.demo import DEMO_WEIGHTS

ROOT = Path(__file__).resolve().parents[2]


def _fake_run(cache: Path, epochs: tuple[int, ...]) -> Path:
    """A finished base run whose checkpoints are copies of the shipped demo weights (no training)."""
    run = family.base_run()
    directory = cache / "family" / run.run_id
    directory.mkdir(parents=True)
    (directory / "history.json").write_text(json.dumps({"epochs": [], "run": run.run_id}))
    for epoch in (*epochs, run.epochs):
        shutil.copy(DEMO_WEIGHTS, directory / f"epoch_{epoch:03d}.pt")
    return directory


def test_family_spec_loads_in_a_fresh_interpreter(tmp_path):
    directory = family.SHIPPED_DIRECTORY / family.base_run().run_id  # shipped: found before the (empty) cache
    probe = ("import sys, featent.nets as n; m = n.load_model('demo@epoch3'); "
             "print(m.weights_source); print(sorted(k for k in sys.modules if k.startswith('featent.training')))")
    env = {**os.environ, "FEATENT_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    source, training = out.stdout.strip().splitlines()
    assert source == str(directory / "epoch_003.pt")
    assert training == "[]"  # a finished run is found without importing the trainer


def test_resolution_names_the_checkpoint_and_refuses_unbuilt_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(family, "SHIPPED_DIRECTORY", tmp_path / "nothing-shipped")  # the cache's own rules
    directory = _fake_run(tmp_path, (3,))
    assert family.resolve_family_spec(" demo@epoch3 ") == ("demo", str(directory / "epoch_003.pt"))
    assert family.resolve_family_spec("vgg16") is None
    with pytest.raises(ModelError, match="not built yet"):
        family.resolve_family_spec("demo-corrupt-0.6", build=False)
    with pytest.raises(ModelError, match="is not a checkpoint"):
        family.resolve_family_spec("demo@epoch4", build=False)


def test_trainer_is_declared_and_offers_ensure_run():
    import importlib

    assert callable(importlib.import_module(family.TRAINER_MODULE).ensure_run)
