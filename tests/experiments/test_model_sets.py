"""featent.experiments.model_sets: model sets, the layer trend, their tables and keys."""

from __future__ import annotations

import pytest

from featent.errors import FeatentError
from featent.experiments.model_sets import (
    MODEL_SETS,
    PROFILE_COLUMNS,
    LayerTrendResult,
    compare_models,
    layer_trend,
    model_set,
)


def test_model_sets_are_named_specs():
    assert model_set("trained-vs-random") == ["demo", "demo:random"]
    assert model_set("corrupt")[0] == "demo-corrupt-0.0" and len(MODEL_SETS) == 3
    with pytest.raises(FeatentError, match="Unknown model set"):
        model_set("nope")


def test_compare_models_and_layer_trend_rows(cache_dir):
    result = compare_models(["demo-digits", "demo:random"], "digits", classes=["3", "5"],
                            layers=["block3_conv1", "block3_conv2"], n_images=5)
    assert len(result.profile) == 2 * 2 * 2
    assert list(result.to_frame().columns) == list(PROFILE_COLUMNS)
    assert result.to_frame().to_dict(orient="records") == result.profile
    assert {r["layer"] for r in result.last_layer_rows()} == {"block3_conv2"}
    demo_acc = result.accuracy[0]
    assert demo_acc["model"] == "demo-digits" and demo_acc["test_accuracy"] > 0.9
    trend = layer_trend("demo", "digits", classes=["3"], n_random=2, n_images=5)
    assert isinstance(trend, LayerTrendResult) and trend.models == ["demo", "demo:random:0", "demo:random:1"]
    assert {r["group"] for r in trend.profile} == {"trained", "random init"}
    assert {r["seed"] for r in trend.profile} == {None, 0, 1}
    assert list(trend.to_frame().columns) == [*PROFILE_COLUMNS, "group", "seed"]
    with pytest.raises(FeatentError, match="not in"):
        compare_models(["demo"], "digits", classes=["eleven"])


def test_key_follows_the_models_and_every_parameter(cache_dir):
    key = compare_models.key
    base = key(["demo", "demo:random"], "digits")
    changed = [key(["demo"], "digits"), key(["demo", "demo:random:1"], "digits"), key(["demo", "demo:random"], "fashion"),
               key(["demo", "demo:random"], "digits", classes=["3"]), key(["demo", "demo:random"], "digits", n_images=5),
               key(["demo", "demo:random"], "digits", seed=1), key(["demo", "demo:random"], "digits", with_accuracy=False),
               key(["demo", "demo:random"], "digits", layers=["block3_conv2"])]
    assert base not in changed and len(set(changed)) == len(changed)
    assert key(["demo", "demo:random"], "digits", cache=False) == base
    trend = layer_trend.key("demo", "digits")
    assert trend != layer_trend.key("demo", "digits", n_random=2) != layer_trend.key("demo-digits", "digits")
