"""featent.experiments.profiles: the layer-profile table (a model and its random init x classes x layers,
with baselines), the means over classes and the units behind them, and the experiment's key."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from featent.errors import DataError
from featent.experiments.profiles import PROFILE_COLUMNS, layer_profiles
from featent.pipeline import layer_results
from featent.spec import Selection
from featent.store import ResultStore

LAYERS = ("block1_conv1", "block3_conv2")


def test_profiles_rows_match_layer_results(cache_dir):
    classes = ["3", "7"]
    messages = []
    selection = Selection("demo", "digits", "3", LAYERS, n_images=8, seed=1)
    result = layer_profiles(selection, classes=classes, random_seed=2, progress=lambda f, m: messages.append(f))
    assert result.models == ["demo", "demo:random:2"] and result.dataset == "digits"
    per_class = result.to_frame().to_dict(orient="records")
    assert len(per_class) == 2 * 2 * 2 and list(result.to_frame().columns) == list(PROFILE_COLUMNS)
    assert messages == sorted(messages) and messages[-1] == 1.0
    direct = layer_results(Selection("demo:random:2", "digits", "7", LAYERS, 8, 1), baselines=True)["block3_conv2"]
    row = next(r for r in per_class if r["model"] == "demo:random:2" and r["class_name"] == "7" and r["layer"] == "block3_conv2")
    assert row["kind"] == "random init" and row["unit_size"] == 8 and row["depth"] == 5
    assert row["mean_feature_entropy"] == direct.mean_feature_entropy
    assert row["mean_null_feature_entropy"] == direct.mean_null_feature_entropy
    assert row["structure_gap"] == pytest.approx(direct.mean_null_feature_entropy - direct.mean_feature_entropy)
    assert row["silent_share"] == direct.silent_share and row["size_reference"] == direct.size_reference
    np.testing.assert_equal(row["mean_live_conditional_feature_entropy"], direct.mean_live_conditional_feature_entropy)
    np.testing.assert_equal(row["mean_live_null_conditional_feature_entropy"],
                            direct.mean_live_null_conditional_feature_entropy)
    assert row["size_reference_conditional"] == direct.size_reference_conditional
    means = result.layer_means().to_dict(orient="records")
    assert len(means) == 4 and all(r["classes"] == 2 for r in means)
    first = next(r for r in means if r["model"] == "demo" and r["layer"] == "block1_conv1")
    values = [r["mean_feature_entropy"] for r in per_class if r["model"] == "demo" and r["layer"] == "block1_conv1"]
    assert first["mean_feature_entropy"] == pytest.approx(np.mean(values))
    assert first["sd_mean_feature_entropy"] == pytest.approx(np.std(values))
    assert all(math.isfinite(r["mean_null_feature_entropy"]) for r in means)
    # the units behind a layer mean, one column per class
    fe, rate = result.unit_values("demo:random:2", "block3_conv2")
    assert fe.shape == rate.shape == (direct.feature_entropy.size, 2)
    np.testing.assert_array_equal(fe[:, 1], direct.feature_entropy)
    np.testing.assert_array_equal(rate[:, 1], direct.selective_rate)
    units = result.unit_frame("demo:random:2", "block3_conv2")
    assert list(units.columns[:5]) == ["unit", "feature_entropy", "selective_rate", "fe_over_rate", "silent"]
    assert list(units.columns[5:]) == ["conditional_feature_entropy", "FE class 3", "FE class 7"]
    cond = np.stack([layer_results(Selection("demo:random:2", "digits", c, LAYERS, 8, 1))["block3_conv2"]
                     .conditional_feature_entropy for c in classes], axis=1)
    with warnings.catch_warnings():  # a unit never born in any class: NaN, the mean of nothing
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmean(cond, axis=1)
    np.testing.assert_allclose(units["conditional_feature_entropy"].to_numpy(), expected, equal_nan=True)
    assert result.layers_of("demo") == list(LAYERS)


def test_profiles_of_chosen_models_and_default_classes(cache_dir):
    selection = Selection("demo", "digits", "8", ("block3_conv2",), n_images=4)
    result = layer_profiles(selection, models=["demo-digits"], baselines=False)
    assert result.models == ["demo-digits"] and result.classes == ["8", "9", "0"]  # three from the selection's class
    assert {r["kind"] for r in result.rows_per_class} == {"model"}
    assert result.to_frame()["mean_null_feature_entropy"].isna().all()  # baselines not asked for


def test_profiles_cached_and_keyed(tmp_path, cache_dir):
    store = ResultStore(tmp_path / "store")
    selection = Selection("demo", "digits", "3", ("block3_conv2",), n_images=4)
    key = layer_profiles.key
    assert key(selection, classes=["3"]) != key(selection, classes=["3"], random_seed=1)
    assert key(selection, classes=["3"]) != key(selection, classes=["3"], baselines=False)
    assert key(selection, classes=["3"]) != key(selection, classes=["3"], models=["demo"])
    assert layer_profiles.recall(selection, classes=["3"], store=store) is None
    first = layer_profiles.cached(selection, classes=["3"], store=store)
    again = layer_profiles.recall(selection, classes=["3"], store=store)
    assert again is not None and again.to_frame().equals(first.to_frame())
    np.testing.assert_array_equal(again.unit_values("demo", "block3_conv2")[0], first.unit_values("demo", "block3_conv2")[0])


def test_profiles_bad_class(cache_dir):
    with pytest.raises(DataError, match=r"Class 'shoe' is not in digits"):
        layer_profiles(Selection("demo", "digits", "3", (), n_images=4), classes=["shoe"])
