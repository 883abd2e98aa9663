"""Removing units: masking is exact and temporary, the replay equals the hooked forward, metrics and
removal orders are right."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featent.errors import FeatentError, ModelError
from featent.experiments import masking
from featent.experiments.masking import ablation_curve, balanced_accuracy, rank_units, units_removed
from featent.indicators.registry import parse_order
from featent.nets import layer_modules


def _state(module: torch.nn.Module) -> dict[str, bytes]:
    return {k: v.detach().cpu().contiguous().numpy().tobytes() for k, v in module.state_dict().items()}


def _layer_output(model, layer: str, x: torch.Tensor) -> torch.Tensor:
    out = {}
    handle = layer_modules(model.module)[layer].register_forward_hook(lambda _m, _i, o: out.setdefault("o", o.clone()))
    try:
        with torch.inference_mode():
            model.module(model.preprocess(x))
    finally:
        handle.remove()
    return out["o"]


# --------------------------------------------------------------------------- balanced accuracy


def test_balanced_accuracy_on_a_hand_made_confusion() -> None:
    # class 0: 4 images, 3 right; class 1: 2 images, 1 right -> (3/4 + 1/2) / 2
    assert balanced_accuracy([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]) == pytest.approx(0.625)
    # plain accuracy would be 4/6; three classes, one never predicted right
    assert balanced_accuracy([0, 1, 1, 2, 2, 2], [0, 1, 0, 0, 0, 0]) == pytest.approx((1 + 0.5 + 0) / 3)
    # a class only predicted (never true) does not count
    assert balanced_accuracy([1, 1], [1, 5]) == pytest.approx(0.5)


def test_balanced_accuracy_rejects_mismatched_labels() -> None:
    with pytest.raises(FeatentError, match="equally long"):
        balanced_accuracy([0, 1], [0])
    with pytest.raises(FeatentError, match="non-empty"):
        balanced_accuracy([], [])


# --------------------------------------------------------------------------- orders


def test_parse_order_and_bare_method_names() -> None:
    assert parse_order("fe-desc") == ("h_over_eps", "desc")
    assert parse_order("FE-asc") == ("h_over_eps", "asc")
    assert parse_order("l1") == ("l1_norm", "asc")
    assert parse_order("apoz") == ("apoz", "desc")
    assert parse_order("random") == ("random", "")
    for bad, match in (("entropy", "Unknown order"), ("fe-up", "direction"), ("random-asc", "no direction")):
        with pytest.raises(FeatentError, match=match):
            parse_order(bad)


def test_rank_units_by_each_method() -> None:
    scores = {
        "h_over_eps": np.array([1.0, np.inf, 0.5, 2.0]),
        "l1_norm": np.array([3.0, 1.0, 2.0, 0.0]),
        "apoz": np.array([0.1, 0.9, 0.5, 0.5]),
        "class_selectivity": np.array([0.2, -0.1, 0.8, 0.0]),
        "fpgm": np.array([4.0, 3.0, 5.0, 1.0]),
        "nisp": np.array([1.0, 2.0, 3.0, 4.0]),
    }
    assert rank_units(scores, "fe-desc", 4).tolist() == [1, 3, 0, 2]  # dead unit (eps = 0) first
    assert rank_units(scores, "fe-asc", 4).tolist() == [2, 0, 3, 1]
    assert rank_units(scores, "l1", 4).tolist() == [3, 1, 2, 0]
    assert rank_units(scores, "apoz", 4).tolist() == [1, 2, 3, 0]  # tie 2/3 keeps the lower unit first
    assert rank_units(scores, "selectivity", 4).tolist() == [1, 3, 0, 2]
    assert rank_units(scores, "fpgm", 4).tolist() == [3, 1, 0, 2]
    assert rank_units(scores, "nisp-desc", 4).tolist() == [3, 2, 1, 0]
    first = rank_units(None, "random", 10, seed=3)
    assert sorted(first.tolist()) == list(range(10))
    assert first.tolist() == rank_units(None, "random", 10, seed=3).tolist()
    assert first.tolist() != rank_units(None, "random", 10, seed=4).tolist()


def test_rank_units_refuses_missing_or_nan_scores() -> None:
    with pytest.raises(FeatentError, match="No L1-norm scores"):
        rank_units({"h_over_eps": np.zeros(3)}, "l1_norm", 3)
    with pytest.raises(FeatentError, match="not available"):
        rank_units({"nisp": np.full(3, np.nan)}, "nisp", 3)
    with pytest.raises(FeatentError, match="3 scores for 4 units"):
        rank_units({"h_over_eps": np.zeros(3)}, "h_over_eps-desc", 4)


# --------------------------------------------------------------------------- removing units


def test_removing_a_unit_zeroes_exactly_that_channel_and_restores_it(tiny_cnn) -> None:
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    before_state = _state(tiny_cnn.module)
    original = _layer_output(tiny_cnn, "block1_conv2", x)
    assert original[:, 1].abs().sum() > 0
    with units_removed(tiny_cnn, "block1_conv2", [1]):
        ablated = _layer_output(tiny_cnn, "block1_conv2", x)
    assert torch.count_nonzero(ablated[:, 1]) == 0
    keep = [0, 2, 3]
    assert torch.equal(ablated[:, keep], original[:, keep])
    assert torch.equal(_layer_output(tiny_cnn, "block1_conv2", x), original)
    assert _state(tiny_cnn.module) == before_state
    assert all(not m._forward_hooks for m in tiny_cnn.module.modules())


def test_hook_is_removed_when_the_block_raises(tiny_cnn) -> None:
    with pytest.raises(RuntimeError, match="boom"), units_removed(tiny_cnn, "block2_conv1", [0, 5]):
        raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in tiny_cnn.module.modules())


def test_units_removed_rejects_bad_units_and_layers(tiny_cnn) -> None:
    with (
        pytest.raises(FeatentError, match="unit must be an integer from 0 to 3, got 4"),
        units_removed(tiny_cnn, "block1_conv1", [4]),
    ):
        pass
    with pytest.raises(ModelError, match="no layer 'nope'"), units_removed(tiny_cnn, "nope", [0]):
        pass


def test_replayed_curve_equals_the_hooked_full_forward(tiny_cnn, monkeypatch) -> None:
    g = torch.Generator().manual_seed(1)
    images = torch.rand(12, 3, 16, 16, generator=g)
    labels = torch.randint(0, 3, (12,), generator=g)
    before = _state(tiny_cnn.module)
    fast = ablation_curve(tiny_cnn, "block1_conv2", [2, 0, 3, 1], images, labels, target=1)
    monkeypatch.setattr(masking._Replay, "build", staticmethod(lambda *a, **k: None))
    slow = ablation_curve(tiny_cnn, "block1_conv2", [2, 0, 3, 1], images, labels, target=1)
    for name in ("accuracy", "loss", "balanced_accuracy", "overall_accuracy"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-5, atol=1e-6)
    assert _state(tiny_cnn.module) == before
    # all units removed: the network sees a zero layer whatever the order
    with torch.inference_mode(), units_removed(tiny_cnn, "block1_conv2", [0, 1, 2, 3]):
        logits = tiny_cnn.module(tiny_cnn.preprocess(images))
    assert fast.overall_accuracy[-1] == pytest.approx(float((logits.argmax(1) == labels).float().mean()))


def test_ablation_curve_rejects_a_bad_removal_order(tiny_cnn) -> None:
    images = torch.rand(2, 3, 16, 16)
    with pytest.raises(FeatentError, match="distinct units"):
        ablation_curve(tiny_cnn, "block1_conv1", [0, 0], images, torch.zeros(2), target=0)
    with pytest.raises(FeatentError, match="distinct units"):
        ablation_curve(tiny_cnn, "block1_conv1", [7], images, torch.zeros(2), target=0)
