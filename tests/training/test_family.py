"""featent.training.family: family specs, a clear error for an unbuilt run, reproducible training."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from featent.errors import ModelError
from featent.training import family as fam


def test_family_specs_parse():
    run, epoch = fam.parse_family_spec("demo@epoch5")
    assert epoch == 5 and run == fam.base_run() and not run.augment
    run, epoch = fam.parse_family_spec(" demo-corrupt-0.4 ")
    assert run.label_noise == 0.4 and epoch == run.epochs and run.training_recipe() == fam.corrupt_run(0.0).training_recipe()
    assert fam.corrupt_run(0.0) == fam.base_run()  # one recipe: the clean corrupt level is the base run
    assert fam.family_checkpoint("demo@iter50") == (fam.base_run(), "iter_00050.pt")
    with pytest.raises(ModelError, match="early checkpoints"):
        fam.family_checkpoint("demo@iter7")
    assert fam.parse_family_spec("demo") is None and fam.parse_family_spec("vgg16@64") is None
    with pytest.raises(ModelError, match="epochs 0 to"):
        fam.parse_family_spec("demo@epoch99")
    with pytest.raises(ModelError, match="below 1"):
        fam.parse_family_spec("demo-corrupt-1.5")
    assert "demo-corrupt-0.8" in fam.family_specs() and "demo@epoch0" in fam.family_specs()


def test_family_not_built_is_a_clear_error(cache_dir):
    with pytest.raises(ModelError, match="not built yet"):
        fam.resolve_family_spec("demo-corrupt-0.5", build=False)  # a level featent does not ship


def test_the_shipped_family_is_used_first_and_names_every_checkpoint(cache_dir):
    from featent.nets.family import SHIPPED_DIRECTORY

    for spec in fam.family_specs():
        name, path = fam.resolve_family_spec(spec, build=False)  # nothing trained, nothing in the cache
        assert name == "demo" and Path(path).is_file() and Path(path).is_relative_to(SHIPPED_DIRECTORY)
    assert not cache_dir.exists() or not (cache_dir / "family").exists()
    shipped = fam.ensure_run(fam.corrupt_run(0.8), build=False)
    assert shipped.parent == SHIPPED_DIRECTORY
    assert fam.run_history(fam.corrupt_run(0.8), build=False)[-1]["train_accuracy"] >= 0.97  # fitted, as the recipe says


def test_a_rebuilt_run_is_compared_with_the_shipped_one(tmp_path):
    run = fam.corrupt_run(0.4)
    shipped = fam.ensure_run(run, build=False)
    copy = tmp_path / run.run_id
    shutil.copytree(shipped, copy)
    assert fam.compare_with_shipped(run, copy)["identical"]
    state = torch.load(copy / "epoch_035.pt", weights_only=True)
    state["features.0.bias"][3] += 0.25
    torch.save(state, copy / "epoch_035.pt")
    compared = fam.compare_with_shipped(run, copy)
    assert not compared["identical"] and compared["max_weight_difference"] == pytest.approx(0.25)
    assert fam.compare_with_shipped(fam.FamilyRun(seed=1, epochs=1, label_noise=0.0), copy) is None  # not shipped


def test_training_is_reproducible_for_a_fixed_seed(tmp_path):
    run = fam.FamilyRun(seed=3, epochs=1, label_noise=0.4)
    first = fam.ensure_run(run, root=tmp_path / "a")
    second = fam.ensure_run(run, root=tmp_path / "b")
    a = torch.load(first / "epoch_001.pt", weights_only=True)
    b = torch.load(second / "epoch_001.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    init = torch.load(first / "epoch_000.pt", weights_only=True)
    assert not all(torch.equal(a[k], init[k]) for k in a)  # it did train
    history = fam.run_history(run, root=tmp_path / "a", build=False)
    assert [h["epoch"] for h in history] == [0, 1]
    assert fam.ensure_run(run, root=tmp_path / "a") == first  # found, not retrained
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]  # no scratch left behind
