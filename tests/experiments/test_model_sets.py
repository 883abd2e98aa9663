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


def _ten_outputs():
    import torch
    from torch import nn

    from featent.nets import from_module

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)  # not seed 0: its random init with seed 0 would be the same weights
        module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    return from_module(module, name="ten", input_size=16)


def test_compare_models_and_layer_trend_take_loaded_models(cache_dir, tiny_cnn):
    """A LoadedModel is compared (never dropped), named by its spec; its accuracy is mapped by index with the
    note saying so, or refused with a note when its outputs are not the classes."""
    ten = _ten_outputs()
    result = compare_models([ten, tiny_cnn], "digits", classes=["3"], layers=["1", "block1_conv1"], n_images=4)
    assert result.models == ["ten", "tiny"]
    assert {(r["model"], r["layer"]) for r in result.profile} == {("ten", "1"), ("tiny", "block1_conv1")}
    assert [a["model"] for a in result.accuracy] == ["ten", "tiny"]
    assert 0.0 <= result.accuracy[0]["test_accuracy"] <= 1.0 and result.accuracy[1]["test_accuracy"] is None
    assert "ten: Classes mapped to outputs by index (the model names no classes)." in result.notes
    assert any(n.startswith("tiny: accuracy not reported: The model has 3 outputs") for n in result.notes)
    trend = layer_trend(ten, "digits", classes=["3"], n_random=2, n_images=4)
    assert trend.models == ["ten", "ten random init (seed 0)", "ten random init (seed 1)"]
    assert {(r["group"], r["seed"]) for r in trend.profile} == {("trained", None), ("random init", 0), ("random init", 1)}
    trained = [r["mean_feature_entropy"] for r in trend.profile if r["group"] == "trained"]
    assert trained != [r["mean_feature_entropy"] for r in trend.profile if r["seed"] == 0]
    with pytest.raises(FeatentError, match="neither a model spec nor a LoadedModel"):
        compare_models([ten, 3], "digits")
