"""featent.experiments.profiles: the layer-profile table (model and its random init x classes x layers, with baselines)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from featent.errors import DataError
from featent.experiments.profiles import PROFILE_COLUMNS, layer_profiles, random_counterpart
from featent.pipeline import Selection, layer_results


def test_random_counterpart():
    assert random_counterpart("vgg16") == "vgg16:random:0"
    assert random_counterpart("vgg11@64", seed=2) == "vgg11:random:2@64"
    assert random_counterpart("demo-corrupt-0.4") == "demo:random:0"
    assert random_counterpart("demo@epoch3") == "demo:random:0"
    assert random_counterpart("demo:random:1") is None


def test_profiles_rows_match_layer_results(cache_dir):
    classes = ["3", "7"]
    layers = ("block1_conv1", "block3_conv2")
    messages = []
    result = layer_profiles("demo-digits", "digits", classes, n_images=8, seed=1, random_seed=2, layers=layers,
                            progress=lambda f, m: messages.append(f))
    assert result.models == ["demo-digits", "demo:random:2"] and result.dataset == "digits"
    per_class = result.rows(average=False)
    assert len(per_class) == 2 * 2 * 2 and set(per_class[0]) == set(PROFILE_COLUMNS)
    assert messages == sorted(messages) and messages[-1] == 1.0
    direct = layer_results(Selection("demo:random:2", "digits", "7", layers, 8, 1), baselines=True)["block3_conv2"]
    row = next(r for r in per_class if r["model"] == "demo:random:2" and r["class_name"] == "7" and r["layer"] == "block3_conv2")
    assert row["kind"] == "random init" and row["unit_size"] == 8 and row["depth"] == 5
    assert row["mean_feature_entropy"] == direct.mean_feature_entropy
    assert row["mean_null_feature_entropy"] == direct.mean_null_feature_entropy
    assert row["structure_gap"] == pytest.approx(direct.mean_null_feature_entropy - direct.mean_feature_entropy)
    assert row["silent_share"] == direct.silent_share and row["size_reference"] == direct.size_reference
    means = result.rows()
    assert len(means) == 4 and all(r["classes"] == 2 for r in means)
    first = next(r for r in means if r["model"] == "demo-digits" and r["layer"] == "block1_conv1")
    values = [r["mean_feature_entropy"] for r in per_class if r["model"] == "demo-digits" and r["layer"] == "block1_conv1"]
    assert first["mean_feature_entropy"] == pytest.approx(np.mean(values))
    assert first["sd_mean_feature_entropy"] == pytest.approx(np.std(values))
    assert all(math.isfinite(r["mean_null_feature_entropy"]) for r in means)


def test_profiles_bad_class(cache_dir):
    with pytest.raises(DataError, match=r"Class 'shoe' is not in digits"):
        layer_profiles("demo-digits", "digits", ["shoe"], n_images=4)
