"""Model atlas page: a local sweep with progress, the heatmap and tables, a cell opening Layer profiles."""

from __future__ import annotations

import pandas as pd
from apptest_support import DEFAULT_DATA, assert_clean, default_classes, open_app

from featent.plots.atlas import atlas_heatmap

PAGE = "featent/app/views/model_atlas.py"
DEEP_LINK_KEYS = {"model", "data", "class", "layer", "unit", "image", "step", "images", "seed"}


def test_sweep_from_the_page_then_open_a_cell():
    classes = default_classes()
    pairs = len(classes) * 6  # the demo has six conv layers
    at = open_app(PAGE, n_images=12)
    assert any(f"0 of {pairs} (class, layer) pairs" in c.value for c in at.caption)
    at.number_input(key="atlas_n_classes").set_value(2).run()
    at.button(key="atlas_run").click().run()
    assert_clean(at)
    assert any(f"12 of {pairs} (class, layer) pairs" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1 and len(at.dataframe) == 2
    table = at.dataframe[1].value
    assert len(table) == 12 and set(table["class"]) == set(classes[:2])
    at.selectbox(key="atlas_pick").set_value(7).run()  # the second class, second layer
    row = table.iloc[7]
    assert row["class"] == classes[1]
    assert any(f"Class `{row['class']}`, layer `{row['layer']}`" in m.value for m in at.markdown)
    link = dict(at.query_params)  # the view is a link: source and selected cell
    assert (link["class"], link["layer"], link["atlas"], link["images"]) == (row["class"], row["layer"], "store", "12")
    cold = open_app()  # a fresh session opening that link
    cold.query_params.clear()
    cold.query_params.update(link)
    cold.switch_page(PAGE).run()
    assert_clean(cold)
    assert any(f"Class `{row['class']}`, layer `{row['layer']}`" in m.value for m in cold.markdown)
    at.button(key="atlas_open_profiles").click().run()
    assert_clean(at)
    assert dict(at.query_params) == {"model": "demo", "data": DEFAULT_DATA, "class": classes[1], "layer": row["layer"],
                                     "images": "12", "seed": "0"}
    assert set(at.query_params) <= DEEP_LINK_KEYS
    assert [t.value for t in at.title][:1] == ["Layer profiles"]


def test_earlier_sweeps_are_listed_from_the_store():
    at = open_app(PAGE, n_images=12)
    at.radio(key="atlas_source").set_value("Earlier sweeps").run()
    assert_clean(at)
    if not at.selectbox:  # this test ran alone: nothing swept yet in this session's store
        at.radio(key="atlas_source").set_value("This model (result store)").run()
        at.number_input(key="atlas_n_classes").set_value(2).run()
        at.button(key="atlas_run").click().run()
        at.radio(key="atlas_source").set_value("Earlier sweeps").run()
    choice = at.selectbox(key="atlas_run_choice")
    assert f"demo on {DEFAULT_DATA}: 2 classes x 6 layers, 12 images, seed 0" in choice.options
    assert len(at.dataframe[1].value) == 12


def test_cell_clicks_and_links():
    from featent.app.atlas import clicked_cell, link_params

    frame = pd.DataFrame({"model": ["demo"] * 2, "data": ["digits"] * 2, "class": ["3", "4"], "layer": ["a", "b"],
                          "images": [10, 10], "seed": [2, 2], "mean_feature_entropy": [1.0, 2.0]})
    chart = {"selection": {"points": [{"customdata": ["4", "b"], "z": 2.0}]}}
    assert clicked_cell(chart, None, frame)["class"] == "4"
    assert clicked_cell(None, {"selection": {"rows": [0]}}, frame)["layer"] == "a"
    assert clicked_cell({"selection": {"points": []}}, {"selection": {"rows": []}}, frame) is None
    assert link_params(frame.iloc[0].to_dict(), unit=5) == {"model": "demo", "data": "digits", "class": "3",
                                                            "layer": "a", "images": "10", "seed": "2", "unit": "5"}
    fig = atlas_heatmap(frame.to_dict("records"), "mean_feature_entropy")
    heat = fig.data[0]
    assert list(heat.y) == ["a", "b"] and list(heat.x) == ["3", "4"]
    assert heat.z[1][1] == 2.0 and heat.z[0][0] == 1.0 and pd.isna(heat.z[0][1])
    assert list(heat.customdata[1][1]) == ["4", "b"]
