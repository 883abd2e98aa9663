"""featent.indicators: every indicator on hand-made activations and weights, values derived by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from featent.core import entropy
from featent import indicators
from featent.errors import FeatentError, ModelError
from featent.nets import LoadedModel, from_module


@pytest.fixture
def acts() -> np.ndarray:
    """2 images x 2 units x 2x2: unit 0 varies, unit 1 is silent."""
    a = np.zeros((2, 2, 2, 2))
    a[0, 0] = [[1.0, -2.0], [0.0, 3.0]]  # sum |.| = 6, one zero, mean 0.5
    a[1, 0] = [[0.0, 0.0], [0.0, 2.0]]  # sum |.| = 2, three zeros, mean 0.5
    return a


def test_l1_norm_is_mean_over_images_of_sum_abs(acts):
    np.testing.assert_allclose(indicators.l1_norm(acts), [4.0, 0.0])


def test_apoz_counts_exact_zeros_over_images_and_positions(acts):
    np.testing.assert_allclose(indicators.apoz(acts), [4 / 8, 1.0])


def test_class_means(acts):
    np.testing.assert_allclose(indicators.class_means(acts), [0.5, 0.0])


def test_activation_indicators_reject_bad_shapes():
    with pytest.raises(FeatentError, match=r"\[n_images, n_units, m, m\]"):
        indicators.l1_norm(np.zeros((3, 3)))
    with pytest.raises(FeatentError, match="NaN or infinite"):
        indicators.apoz(np.full((1, 1, 2, 2), np.nan))


def test_class_selectivity_morcos_and_per_class():
    means = np.array([[4.0, 0.0], [1.0, 0.0], [1.0, 0.0]])  # 3 classes, 2 units
    # max class 0: (4 - (1+1)/2) / (4 + 1) = 0.6; a silent unit: 0/0 -> 0
    np.testing.assert_allclose(indicators.class_selectivity(means), [0.6, 0.0])
    # toward class 1: (1 - (4+1)/2) / (1 + 2.5) = -3/7
    np.testing.assert_allclose(indicators.class_selectivity(means, target=1), [-3 / 7, 0.0])
    # ratio of means: invariant to a common scale
    np.testing.assert_allclose(indicators.class_selectivity(0.5 * means), [0.6, 0.0])


def test_class_selectivity_bad_input():
    with pytest.raises(FeatentError, match="at least 2 classes"):
        indicators.class_selectivity(np.ones((1, 3)))
    with pytest.raises(FeatentError, match="target class index"):
        indicators.class_selectivity(np.ones((3, 2)), target=3)


def test_fpgm_sums_distances_to_other_filters():
    # F0 = (0, 0), F1 = (3, 4), F2 = (0, 4): |F0F1| = 5, |F0F2| = 4, |F1F2| = 3
    w = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]]).reshape(3, 1, 1, 2)
    np.testing.assert_allclose(indicators.fpgm(w), [9.0, 8.0, 7.0])
    np.testing.assert_allclose(indicators.fpgm(0.5 * w), [4.5, 4.0, 3.5])
    with pytest.raises(FeatentError, match="filter weights"):
        indicators.fpgm(np.zeros(3))


def test_inf_fs_two_features_by_hand():
    # stds (ddof 1) 1 and 2 -> sigma = [[0, 1], [1, 1]] after min-max; Spearman = 1 -> 1 - |rho| = 0
    x = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]])
    # A = 0.5 sigma = [[0, .5], [.5, .5]], rho(A) = (1 + sqrt 5) / 4, r = 0.9 / rho(A)
    r = 0.9 / ((1 + math.sqrt(5)) / 4)
    det = (1 - r / 2) - r * r / 4  # det(I - rA)
    expected = [1 / det - 1, (1 + r / 2) / det - 1]  # (I - rA)^-1 1 - 1
    np.testing.assert_allclose(indicators.inf_fs(x), expected, rtol=1e-10)


def test_inf_fs_constant_feature_is_finite():
    x = np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 0.0], [1.0, 3.0, 1.0]])
    s = indicators.inf_fs(x)
    assert s.shape == (3,) and np.all(np.isfinite(s))
    with pytest.raises(FeatentError, match="n_samples >= 2"):
        indicators.inf_fs(np.ones((1, 3)))
    with pytest.raises(FeatentError, match="alpha in"):
        indicators.inf_fs(x, alpha=2.0)


def test_nisp_backward_linear_conv_and_channels():
    # s_in,i = sum_j |W_ji| s_j with W = [[1, -2], [0, 3]], s = [1, 2] -> [1, 2*1 + 3*2]
    np.testing.assert_allclose(indicators.nisp_backward([[1.0, -2.0], [0.0, 3.0]], [1.0, 2.0]), [1.0, 8.0])
    conv = np.array([[[[1.0, -1.0]]], [[[2.0, 0.0]]]])  # [2 out, 1 in, 1, 2]
    np.testing.assert_allclose(indicators.nisp_backward(conv, [1.0, 3.0]), [2 * 1 + 2 * 3])
    # a Linear reading a flattened [2, 1, 2] map: inputs [2, 4, 6, 8] summed per channel
    np.testing.assert_allclose(indicators.nisp_backward([[1.0, 2.0, 3.0, 4.0]], [2.0], n_channels=2), [6.0, 14.0])
    with pytest.raises(FeatentError, match="does not match"):
        indicators.nisp_backward(np.ones((2, 2)), [1.0, 2.0, 3.0])


class _Tiny(nn.Module):
    """VGG-like: one conv block (2 units of 4x4 after pooling 8x8) and a 2-layer classifier."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.features = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 5), nn.ReLU(inplace=True), nn.Linear(5, 3))
        with torch.no_grad():
            self.features[0].bias.fill_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@pytest.fixture
def tiny() -> LoadedModel:
    model = from_module(_Tiny().eval(), name="tiny", input_size=8, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    assert [(i.name, i.n_units, i.unit_size) for i in model.layers] == [("block1_conv1", 2, 8)]
    return model


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_layer_filter_and_forward_capture(tiny):
    conv, bn = indicators.layer_filter(tiny, "block1_conv1")
    assert conv is tiny.module.features[0] and bn is None
    images = _images(6, 0)
    acts, frl, logits = indicators.forward_capture(tiny, images, "block1_conv1")
    with torch.no_grad():
        expected_acts = torch.relu(conv(images))
        hidden = torch.relu(tiny.module.classifier[1](torch.flatten(tiny.module.features(images), 1)))
        np.testing.assert_allclose(acts, expected_acts.numpy(), rtol=1e-6)
        np.testing.assert_allclose(frl, hidden.numpy(), rtol=1e-6)
        np.testing.assert_allclose(logits, tiny.module(images).numpy(), rtol=1e-6)


def test_nisp_scores_follow_eq19_from_inf_fs(tiny):
    images = _images(12, 1)
    _, frl, _ = indicators.forward_capture(tiny, images, "block1_conv1")
    w1 = tiny.module.classifier[1].weight.detach().numpy()
    expected = indicators.nisp_backward(w1, indicators.inf_fs(frl), n_channels=2)
    np.testing.assert_allclose(indicators.nisp_scores(tiny, "block1_conv1", frl), expected)


def test_nisp_refuses_residual_nets():
    from featent.pipeline import load_model

    resnet = load_model("resnet18:random@64")
    with pytest.raises(ModelError, match="residual"):
        indicators.nisp_scores(resnet, "conv5_2_out", np.ones((3, 512)))


def test_model_indicators_match_the_pure_functions(tiny):
    from featent.core.topology import birth_times

    by_class = {"a": _images(5, 2), "b": _images(4, 3) * 0.3, "c": _images(4, 4)}
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
    with pytest.raises(FeatentError, match="out of range"):
        table.unit(64)


def test_structure_lookups_run_no_forward_pass(tiny, monkeypatch):
    """layer_filter and nisp_scores read the module tree only: safe on a model another thread runs."""
    frl = np.random.default_rng(0).random((6, 5))

    def refuse(*_args, **_kwargs):
        raise AssertionError("forward pass during a structure lookup")

    monkeypatch.setattr(tiny.module, "forward", refuse)
    assert indicators.layer_filter(tiny, "block1_conv1")[0] is tiny.module.features[0]
    assert indicators.nisp_scores(tiny, "block1_conv1", frl).shape == (2,)


def test_default_compare_classes_caps_large_datasets():
    small = [str(i) for i in range(10)]
    assert indicators.default_compare_classes(small, "3", 0) == small
    many = [f"c{i:04d}" for i in range(1000)]
    picked = indicators.default_compare_classes(many, "c0500", 7)
    assert len(picked) == indicators.MAX_DEFAULT_CLASSES and "c0500" in picked
    assert picked == indicators.default_compare_classes(many, "c0500", 7)  # seeded
    assert picked == sorted(picked, key=many.index)


def test_every_vocabulary_is_the_registry():
    """One indicator vocabulary: every list of names, labels and orders derives from INDICATORS."""
    from featent.experiments import ablation, pruning, studies
    from featent.indicators.registry import ALL_ORDERS, INDICATORS, by_method

    assert indicators.INDICATOR_COLUMNS == tuple(INDICATORS)
    assert set(indicators.INDICATOR_LABELS) == set(INDICATORS) | {"accuracy"}
    assert ablation.METHODS.keys() - {"random"} == set(ablation.LEAST_IMPORTANT_FIRST) == set(pruning.PRUNE_METHODS)
    assert studies.LOWER_IS_BETTER is indicators.LOWER_IS_BETTER
    for method, direction in ablation.LEAST_IMPORTANT_FIRST.items():
        indicator = by_method(method)
        assert indicator.least_important_first == direction in ("asc", "desc")
        assert f"{method}-asc" in ALL_ORDERS and f"{method}-desc" in ALL_ORDERS
    # the paper's ranking: high H/eps first; the magnitude indicators as their papers prune them
    assert by_method("fe").key == "h_over_eps" and ablation.LEAST_IMPORTANT_FIRST["fe"] == "desc"
    assert ablation.LEAST_IMPORTANT_FIRST["apoz"] == "desc" and ablation.LEAST_IMPORTANT_FIRST["l1"] == "asc"
    assert set(ablation.DEFAULT_ORDERS) <= set(ALL_ORDERS) and ALL_ORDERS[-1] == "random"
    assert {k for k, i in INDICATORS.items() if i.lower_is_better} == {"feature_entropy", "h_over_eps", "apoz"}
