"""AppTest for the experiment pages: Indicators and Training & generalization."""

from __future__ import annotations

from apptest_support import APP, TIMEOUT, assert_clean, open_app
from streamlit.testing.v1 import AppTest

from featent.indicators import REGISTRY


def test_indicators_page_shows_every_indicator_rescaling_and_randomness() -> None:
    at = open_app("featent/app/views/indicators.py")
    assert len(at.get("plotly_chart")) == 3
    units = at.dataframe[0].value
    assert len(units) == 64 and {"l1_norm", "apoz", "fpgm", "nisp", "feature_entropy", "h_over_eps"} <= set(units.columns)
    rescale = at.dataframe[1].value
    assert list(zip(rescale["images"], rescale["filters"])) == [(1.0, 1.0), (0.5, 1.0), (1.0, 0.5), (0.5, 0.5)]
    # the filters' FPGM halves exactly on the copy; the unit's FE does not move
    assert abs(rescale["fpgm"][2] - 0.5 * rescale["fpgm"][0]) < 1e-6 * rescale["fpgm"][0]
    assert rescale["feature_entropy"][2] == rescale["feature_entropy"][0]
    before = rescale["l1_norm"].tolist()
    at.radio(key="ind_scope").set_value("Layer mean").run()
    assert_clean(at)
    assert at.dataframe[1].value["l1_norm"].tolist() != before
    random = at.dataframe[2].value
    assert set(random["indicator"]) >= {"l1_norm", "feature_entropy", "conditional_fe"} and len(random) == len(REGISTRY)
    labels = [b.label for b in at.get("download_button")]
    assert len([label for label in labels if "CSV" in label]) == 3 and "Download PNG" in labels
    # the conditional FE against every indicator, in place of FE
    assert "conditional_fe" in units.columns
    at.radio(key="ind_y").set_value("conditional FE H(x | born)").run()
    assert_clean(at)
    keys = [c.key for c in at.get("plotly_chart")]
    assert "ind_grid_conditional" in keys and "ind_grid" not in keys


def test_training_page_trains_the_family_on_demand_and_compares_models(monkeypatch) -> None:
    import featent.nets.family as family

    monkeypatch.setattr(family, "CORRUPT_EPOCHS", 1)  # a one-epoch family keeps the test short
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.number_input(key="_w_n_images").set_value(12).run()
    at.switch_page("featent/app/views/training_and_generalization.py").run()
    assert_clean(at)
    # nothing trained yet: both family sections offer to train; the layer trend is drawn
    assert {b.key for b in at.button} >= {"tg_build_base", "tg_build_set"}
    assert [c.key for c in at.get("plotly_chart")] == ["tg_trend_fe", "tg_trend_rate"]
    at.button(key="tg_build_base").click().run()
    assert_clean(at)
    assert "tg_dyn_fig" in [c.key for c in at.get("plotly_chart")]
    # once trained, the 'not trained yet' box and its button are gone from beside the new chart
    assert "tg_build_base" not in {b.key for b in at.button}
    assert not any("per-epoch checkpoints are not trained yet" in i.value for i in at.info)
    assert len(at.metric) == 3
    at.radio(key="tg_set").set_value("Training checkpoints").run()
    assert_clean(at)
    keys = [c.key for c in at.get("plotly_chart")]
    assert {"tg_dyn_fig", "tg_profile_fig", "tg_scatter_fig", "tg_trend_fe"} <= set(keys)
    accuracy = at.dataframe[0].value
    assert list(accuracy["model"]) == ["demo@epoch0", "demo@epoch1"]
    labels = [b.label for b in at.get("download_button")]
    assert len([label for label in labels if "CSV" in label]) == 3 and "Download PNG" in labels
