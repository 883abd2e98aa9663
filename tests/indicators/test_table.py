"""featent.indicators.table: every registry indicator of a model, a selection, and the default classes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from featent import indicators
from featent.core import entropy
from featent.errors import FeatentError
from featent.indicators.table import MAX_DEFAULT_CLASSES


def test_model_indicators_match_the_pure_functions(tiny, random_images):
    from featent.core.topology import birth_times

    by_class = {"a": random_images(5, 2), "b": random_images(4, 3) * 0.3, "c": random_images(4, 4)}
    values, accuracy, births, notes = indicators.model_indicators(tiny, by_class, "a", "block1_conv1")
    acts = {k: indicators.forward_capture(tiny, v, "block1_conv1")[0] for k, v in by_class.items()}
    means = np.stack([indicators.class_means(acts[k]) for k in by_class])
    np.testing.assert_allclose(values["l1_norm"], indicators.l1_norm(acts["a"]))
    np.testing.assert_allclose(values["apoz"], indicators.apoz(acts["a"]))
    np.testing.assert_allclose(values["class_selectivity"], indicators.class_selectivity(means, 0))
    np.testing.assert_allclose(values["class_selectivity_max"], indicators.class_selectivity(means))
    np.testing.assert_allclose(values["fpgm"], indicators.fpgm(tiny.module.features[0].weight.detach().numpy()))
    np.testing.assert_array_equal(births, birth_times(acts["a"]))
    np.testing.assert_allclose(values["feature_entropy"], entropy.feature_entropy(births))
    np.testing.assert_allclose(values["selective_rate"], entropy.selective_rate(births))
    np.testing.assert_allclose(values["h_over_eps"], entropy.ranking_score(births))
    # conditional FE of the live units; a silent unit (eps < p) is +inf, first to remove like eps = 0 under H/eps
    live = entropy.selective_rate(births) >= entropy.DEFAULT_P
    np.testing.assert_array_equal(values["conditional_fe"][live], entropy.conditional_feature_entropy(births)[live])
    assert np.isposinf(values["conditional_fe"][~live]).all()
    with torch.no_grad():
        predicted = tiny.module(by_class["a"]).argmax(1)
    assert accuracy == pytest.approx(float((predicted == 0).float().mean()))
    assert notes == []


def test_compute_indicators_on_demo_uses_the_selection_images():
    from featent.pipeline import Selection, layer_results

    selection = Selection("demo", "digits", "3", ("block3_conv2",), n_images=12, seed=0)
    table = indicators.compute_indicators(selection, classes=["1", "3", "7"], images_per_class=8, cache=False)
    fe = layer_results(selection, cache=False)["block3_conv2"].feature_entropy
    assert table.n_units == 64 and table.births.shape == (12, 64)
    np.testing.assert_allclose(table.values["feature_entropy"], fe)
    assert set(table.values) == set(indicators.INDICATOR_COLUMNS)
    assert 0.0 <= table.accuracy <= 1.0
    rows = table.records()
    assert len(rows) == 64 and rows[0]["unit"] == 0
    assert table.unit(5)["fpgm"] == pytest.approx(table.values["fpgm"][5])
    with pytest.raises(FeatentError, match="unit must be an integer from 0 to 63"):
        table.unit(64)


def test_default_compare_classes_caps_large_datasets():
    small = [str(i) for i in range(10)]
    assert indicators.default_compare_classes(small, "3", 0) == small
    many = [f"c{i:04d}" for i in range(1000)]
    picked = indicators.default_compare_classes(many, "c0500", 7)
    assert len(picked) == MAX_DEFAULT_CLASSES and "c0500" in picked
    assert picked == indicators.default_compare_classes(many, "c0500", 7)  # seeded
    assert picked == sorted(picked, key=many.index)
