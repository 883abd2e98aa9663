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
        if suffix == ".csv":
            older.to_csv(old_layers, index=False)
            older_units.to_csv(old_units, index=False)
        else:
            older.to_parquet(old_layers, index=False)
            older_units.to_parquet(old_units, index=False)
        pd.testing.assert_frame_equal(Atlas.load(old_layers).to_frame(), older)
        back = Atlas.load(old_units)
        pd.testing.assert_frame_equal(back.to_frame(), older)
        assert not set(new_columns) & set(back.units_frame().columns)
