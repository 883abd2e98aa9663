"""``featent sweep``: the atlas file, resuming from the store, one-line errors before any work."""

from __future__ import annotations

import pytest

from featent.cli.main import main
from featent.experiments.atlas import Atlas


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(tmp_path / "cache"))


def test_sweep_writes_the_atlas_and_resumes(tmp_path, capsys):
    out = tmp_path / "atlas.parquet"
    assert main(["sweep", "--model", "demo", "--data", "digits", "--classes", "3,5", "--images", "8",
                 "--quiet", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "2 classes x 6 layers" in first and "12 (class, layer) pairs computed, 0 from the store" in first
    atlas = Atlas.load(out)
    assert sorted(atlas.to_frame()["class"].unique()) == ["3", "5"]
    units = tmp_path / "units.csv"
    assert main(["sweep", "--model", "demo", "--data", "digits", "--classes", "3,5", "--images", "8",
                 "--quiet", "--units", "--out", str(units)]) == 0
    assert "0 (class, layer) pairs computed, 12 from the store" in capsys.readouterr().out
    back = Atlas.load(units)
    assert back.has_units and len(back.units_frame()) == back.to_frame()["units"].sum()
    # layer rows rebuilt from unit rows lack the per-file provenance columns; every other column agrees
    assert back.to_frame().equals(atlas.to_frame()[list(back.to_frame().columns)])


@pytest.mark.parametrize(
    ("argv", "message", "code"),
    [
        (["--classes", "0"], "--classes must be an integer >= 1, got '0'", 2),
        (["--images", "-3"], "--images must be an integer >= 1, got '-3'", 2),
        (["--seed", "x"], "--seed must be an integer from 0 to 4294967295, got 'x'", 2),
        (["--classes", "cat"], "Class 'cat' is not in digits", 1),
        (["--layers", "nope"], "has no layer 'nope'", 1),
        (["--device", "tpu"], "Unknown device 'tpu'", 1),
        (["--executor", "dask"], "--executor dask needs --scheduler", 2),
        (["--scheduler", "tcp://x:1"], "--scheduler is only used with --executor dask", 2),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, argv, message, code):
    out = tmp_path / "a.csv"
    assert main(["sweep", "--model", "demo", "--data", "digits", "--images", "4", "--quiet", "--out", str(out), *argv]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_bad_output_name_is_refused_before_work(tmp_path, capsys):
    assert main(["sweep", "--model", "demo", "--data", "digits", "--out", str(tmp_path / "a.xlsx")]) == 2
    assert "--out must end in .parquet or .csv" in capsys.readouterr().err
    assert main(["sweep", "--model", "demo", "--data", "digits", "--out", str(tmp_path / "no" / "a.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
