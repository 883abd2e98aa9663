"""featent.experiments.atlas: an atlas written as .parquet or .csv reads back equal; other files are refused."""

from __future__ import annotations

import pandas as pd
import pytest

from featent.errors import FeatentError
from featent.experiments.atlas import Atlas
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
