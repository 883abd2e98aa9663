"""featent.experiments.dynamics: the epoch table averages over classes and its key follows every parameter."""

from __future__ import annotations

import pytest

from featent.experiments.dynamics import COLUMNS, DynamicsResult, training_dynamics


def test_dynamics_rows_average_over_classes():
    per_class = [
        {"epoch": e, "loss": 2.0 - e, "train_accuracy": 0.1, "test_accuracy": 0.1, "class_name": c,
         "mean_feature_entropy": fe, "mean_selective_rate": 0.5}
        for e, c, fe in [(0, "a", 3.0), (0, "b", 4.0), (1, "a", 2.0), (1, "b", 2.0), (2, "a", 1.0), (2, "b", 0.0)]
    ]
    result = DynamicsResult("digits", "L", ["a", "b"], 5, 0, per_class)
    frame = result.to_frame()
    assert list(frame.columns) == list(COLUMNS)
    assert frame["mean_feature_entropy"].tolist() == [3.5, 2.0, 0.5]
    assert frame["class_name"].iloc[0] == "mean"
    assert result.to_frame(average=False).to_dict(orient="records") == per_class
    assert result.correlation() == pytest.approx(1.0)  # loss 2, 1, 0 and FE 3.5, 2, 0.5 fall together


def test_key_follows_every_parameter():
    key = training_dynamics.key
    base = key("digits")
    changed = [key("fashion"), key("digits", classes=["3"]), key("digits", layer="block3_conv1"),
               key("digits", n_images=5), key("digits", seed=1), key("digits", epochs=[0, 1])]
    assert base not in changed and len(set(changed)) == len(changed)
    assert key("digits", cache=False, progress=print) == base
