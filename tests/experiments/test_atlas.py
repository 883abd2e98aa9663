"""featent.experiments.atlas: an atlas written as .parquet or .csv reads back equal; other files are refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from featent.errors import FeatentError
from featent.experiments.atlas import CONDITIONAL_COLUMNS, NULL_CONDITIONAL_COLUMNS, Atlas
from featent.experiments.sweep import sweep
from featent.store import ResultStore

MODEL, DATA, IMAGES = "demo", "digits", 12


def _layers() -> list[str]:
    from featent.pipeline import load_model

    return [i.name for i in load_model(MODEL).layers]


def test_atlas_file_round_trips(tmp_path):
    atlas = sweep(
        MODEL, DATA, classes=["3", "7"], layers=_layers()[1:2], images=IMAGES, store=ResultStore(tmp_path / "s"), units=True
    )
    for suffix in (".parquet", ".csv"):
        back = Atlas.load(atlas.save(tmp_path / f"layers{suffix}", units=False))
        pd.testing.assert_frame_equal(back.to_frame(), atlas.to_frame())
        with pytest.raises(FeatentError, match="per-unit rows"):
            back.units_frame()
        back = Atlas.load(atlas.save(tmp_path / f"units{suffix}"))
        pd.testing.assert_frame_equal(back.units_frame(), atlas.units_frame())
        pd.testing.assert_frame_equal(back.to_frame(), atlas.to_frame())
    with pytest.raises(FeatentError, match=r"parquet or \.csv"):
        atlas.save(tmp_path / "atlas.xlsx")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FeatentError, match="not a featent atlas"):
        Atlas.load(tmp_path / "other.csv")


@pytest.fixture(scope="module")
def unit_atlas(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("s"))
    return sweep(MODEL, DATA, classes=["3", "7"], layers=_layers()[1:3], images=IMAGES, store=store, units=True)


@pytest.mark.parametrize("units", [True, False], ids=["unit-rows", "layer-rows"])
def test_a_truncated_csv_is_refused(tmp_path, unit_atlas, units):
    path = unit_atlas.save(tmp_path / "atlas.csv", units=units)
    text = path.read_bytes()
    assert text.splitlines()[-1].startswith(b"# featent-atlas ")
    for cut in (len(text) // 2, len(text) - 40):  # as a full disk leaves it: any prefix
        path.write_bytes(text[:cut])
        with pytest.raises(FeatentError, match=r"incomplete|does not match") as info:
            Atlas.load(path)
        assert "\n" not in str(info.value)


def test_a_csv_with_a_row_dropped_or_units_changed_is_refused(tmp_path, unit_atlas):
    path = unit_atlas.save(tmp_path / "atlas.csv")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5] + lines[6:]))  # one unit row gone, the trailer kept
    with pytest.raises(FeatentError, match="does not match what was written"):
        Atlas.load(path)
    path = unit_atlas.save(tmp_path / "layers.csv", units=False)
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0].strip().split(",")
    row = lines[1].strip().split(",")
    row[header.index("units")] = str(int(row[header.index("units")]) - 1)
    path.write_text("".join([lines[0], ",".join(row) + "\n", *lines[2:]]))
    with pytest.raises(FeatentError, match="does not match what was written"):
        Atlas.load(path)


def test_a_truncated_or_unrecorded_parquet_is_refused(tmp_path, unit_atlas):
    path = unit_atlas.save(tmp_path / "atlas.parquet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FeatentError, match="Cannot read atlas"):
        Atlas.load(path)
    unit_atlas.units_frame().to_parquet(path, index=False)  # no featent metadata
    with pytest.raises(FeatentError, match="incomplete or not written by featent"):
        Atlas.load(path)
    frame = unit_atlas.units_frame()
    unit_atlas.save(path)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    pq.write_table(table.slice(0, len(frame) - 3), path)  # metadata kept, rows lost
    with pytest.raises(FeatentError, match="does not match what was written"):
        Atlas.load(path)


def test_a_failed_write_leaves_no_file(tmp_path, unit_atlas, monkeypatch):
    import pyarrow.parquet as pq

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full_disk)
    with pytest.raises(FeatentError, match="No space left on device"):
        unit_atlas.save(tmp_path / "atlas.parquet")
    monkeypatch.setattr("pathlib.Path.write_bytes", full_disk)
    with pytest.raises(FeatentError, match="No space left on device"):
        unit_atlas.save(tmp_path / "atlas.csv")
    assert list(tmp_path.iterdir()) == []


def test_conditional_fe_columns_are_finite_and_older_files_without_them_still_load(tmp_path):
    atlas = sweep(
        MODEL, DATA, classes=["3"], layers=_layers()[-1:], images=IMAGES, store=ResultStore(tmp_path / "s"), units=True
    )
    frame, units = atlas.to_frame(), atlas.units_frame()
    for column in CONDITIONAL_COLUMNS + NULL_CONDITIONAL_COLUMNS:
        assert math.isfinite(frame[column].iloc[0]), column
    born = units["selective_rate"] > 0
    assert born.any() and np.isfinite(units.loc[born, "conditional_feature_entropy"]).all()
    assert units.loc[~born, "conditional_feature_entropy"].isna().all()  # undefined without a birth
    np.testing.assert_array_equal(units["stability_gap"],
                                  units["null_conditional_feature_entropy"] - units["conditional_feature_entropy"])
    new_columns = ["conditional_feature_entropy", "null_conditional_feature_entropy", "stability_gap"]
    for suffix in (".parquet", ".csv"):
        old_layers = tmp_path / f"old-layers{suffix}"
        old_units = tmp_path / f"old-units{suffix}"
        older = frame.drop(columns=list(CONDITIONAL_COLUMNS + NULL_CONDITIONAL_COLUMNS))
        older_units = units.drop(columns=new_columns)
        Atlas(older, older_units).save(old_layers, units=False)  # as an atlas saved before the columns existed
        Atlas(older, older_units).save(old_units, units=True)
        pd.testing.assert_frame_equal(Atlas.load(old_layers).to_frame(), older)
        back = Atlas.load(old_units)
        pd.testing.assert_frame_equal(back.to_frame(), older)
        assert not set(new_columns) & set(back.units_frame().columns)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_row_limit_refuses_a_long_atlas_before_decoding_it(tmp_path, suffix):
    """A few KB of parquet can hold a million rows: a shared server refuses by the declared count."""
    frame = pd.DataFrame({"model": ["demo"] * 5000, "data": ["fashion"] * 5000, "class": ["x"] * 5000,
                          "layer": [f"l{i}" for i in range(5000)], "feature_entropy": np.zeros(5000)})
    path = tmp_path / f"long{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    with pytest.raises(FeatentError, match=r"holds 5,000 rows; at most 100 are read here"):
        Atlas.load(path, max_rows=100)
