"""Helpers of the Model atlas page: which atlas to show, which cell was clicked, where it links to."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from featent.app import navigation

LAYER_PROFILES = "layer_profiles"
UNIT_GALLERY = "unit_gallery"
#: Models small enough to sweep from the page (input side); bigger ones get the CLI command instead.
MAX_APP_INPUT = 64


def link_params(row: Mapping, unit: int | None = None) -> dict[str, str]:
    """Deep-link query parameters (model, data, class, layer, images, seed[, unit]) of an atlas cell."""
    params = {"model": str(row["model"]), "data": str(row["data"]), "class": str(row["class"]),
              "layer": str(row["layer"]), "images": str(int(row["images"]))}
    if "seed" in row and row["seed"] is not None and not pd.isna(row["seed"]):
        params["seed"] = str(int(row["seed"]))
    if unit is not None:
        params["unit"] = str(int(unit))
    return params


def clicked_cell(chart_state: object, table_state: object, frame: pd.DataFrame) -> dict | None:
    """The atlas row picked by a click on the heatmap (a point's customdata) or a table row."""
    points = _get(_get(chart_state, "selection"), "points") or []
    for point in points:
        custom = point.get("customdata") if isinstance(point, Mapping) else None
        if custom and len(custom) == 2:
            hit = frame[(frame["class"].astype(str) == str(custom[0])) & (frame["layer"] == custom[1])]
            if len(hit):
                return hit.iloc[0].to_dict()
    rows = _get(_get(table_state, "selection"), "rows") or []
    if rows and 0 <= rows[0] < len(frame):
        return frame.iloc[rows[0]].to_dict()
    return None


def _get(state: object, name: str) -> Any:  # Streamlit widget state: a mapping or an object, any value
    if state is None:
        return None
    if isinstance(state, Mapping):
        return state.get(name)
    return getattr(state, name, None)


def open_cell(page: str, row: Mapping, unit: int | None = None) -> None:
    """Switch to ``page`` (a featent.app.views module) on the cell's model, data, class and layer."""
    st.switch_page(navigation.page(page), query_params=link_params(row, unit))


def run_label(run: Mapping) -> str:
    """One line naming a recorded sweep."""
    classes, layers = run.get("classes", []), run.get("layers", [])
    weights = f" + {Path(run['weights']).name}" if run.get("weights") else ""
    return (f"{run.get('model')}{weights} on {run.get('data')}: {len(classes)} classes x {len(layers)} layers, "
            f"{run.get('images')} images, seed {run.get('seed')}")
