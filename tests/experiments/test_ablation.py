"""Cumulative ablation on the demo: the model is never modified, curves and records are right,
bad orders are refused, figures and the CLI carry the results."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featent.errors import FeatentError, ModelError
from featent.experiments.ablation import DEFAULT_ORDERS, cumulative_ablation


def _state(module: torch.nn.Module) -> dict[str, bytes]:
    return {k: v.detach().cpu().contiguous().numpy().tobytes() for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- on the demo


def test_cumulative_ablation_on_demo_never_modifies_the_model(cache_dir) -> None:
    from featent.nets import load_model
    from featent.pipeline import Selection

    model = load_model("demo")
    before = _state(model.module)
    sel = Selection("demo", "digits", "3", ("block3_conv2",), n_images=12, seed=0)
    result = cumulative_ablation(sel, orders=DEFAULT_ORDERS, test_per_class=6, test_classes=["3", "5", "8"])
    assert _state(model.module) == before
    assert all(not m._forward_hooks for m in model.module.modules())
    assert list(result.curves) == list(DEFAULT_ORDERS)
    assert (result.n_test_target, result.n_test_total) == (6, 18)
    starts = {round(float(c.balanced_accuracy[0]), 9) for c in result.curves.values()}
    ends = {round(float(c.loss[-1]), 6) for c in result.curves.values()}
    assert len(starts) == 1 and len(ends) == 1  # same network before any / after all removals
    for curve in result.curves.values():
        assert sorted(curve.removed.tolist()) == list(range(64))
        assert curve.accuracy.shape == (65,)
        assert ((curve.balanced_accuracy >= 0) & (curve.balanced_accuracy <= 1)).all()
    fe = result.scores["h_over_eps"]
    assert result.curves["h_over_eps-desc"].removed.tolist() == np.argsort(-fe, kind="stable").tolist()
    rows = result.records()
    assert len(rows) == len(DEFAULT_ORDERS) * 65 and rows[0]["unit"] is None and rows[1]["removed"] == 1


def test_cumulative_ablation_rejects_unknown_order_and_layer(cache_dir) -> None:
    from featent.pipeline import Selection

    sel = Selection("demo", "digits", "3", ("block3_conv2",), n_images=5)
    with pytest.raises(FeatentError, match="Unknown order 'best'"):
        cumulative_ablation(sel, orders=["best"])
    with pytest.raises(ModelError, match="no layer 'block9'"):
        cumulative_ablation(sel, orders=["random"], layer="block9")


def test_figures_carry_the_curves_and_the_summary() -> None:
    from featent.experiments.ablation import SummaryRow
    from featent.experiments.masking import AblationCurve
    from featent.plots.ablation import ablation_curves, summary_bars

    curve = AblationCurve("fe-desc", np.array([2, 0, 1]), np.array([0.5, 0.75, 1.0, 0.0]), np.array([1.0, 0.8, 0.5, 3.0]),
                          np.array([0.7, 0.8, 0.9, 0.5]), np.array([0.9, 0.9, 0.8, 0.1]))
    fig = ablation_curves({"fe-desc": curve, "random": curve}, metric="balanced_accuracy")
    assert len(fig.data) == 4 and fig.data[0].name == "Feature entropy (H/ε), descending"
    assert list(fig.data[0].y) == [0.7, 0.8, 0.9, 0.5] and list(fig.data[1].y) == [1.0, 0.8, 0.5, 3.0]
    assert list(fig.data[0].customdata) == ["none", "2", "0", "1"]
    assert curve.best() == (2, 0.9)
    with pytest.raises(ValueError, match="Unknown metric"):
        ablation_curves({"fe-desc": curve}, metric="f1")
    bars = summary_bars([SummaryRow("fe-desc", "FE", 0.7, 0.9, 0.2, 3, 5.0)])
    assert list(bars.data[0].y) == [0.7] and list(bars.data[1].y) == [0.9]


def test_cli_ablate_json_and_one_line_errors(cache_dir, capsys) -> None:
    import json

    from featent.cli.main import main

    code = main(["ablate", "--model", "demo", "--data", "digits", "--class", "2", "--layer", "block3_conv2",
                 "--order", "fe-asc", "--order", "random", "--images", "6", "--test-per-class", "3",
                 "--test-class", "2", "--test-class", "7", "--format", "json", "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    payload = json.loads(out.out)
    assert payload["orders"] == ["h_over_eps-asc", "random"] and payload["test_images"] == 6
    assert [p["removed"] for p in payload["points"][:3]] == [0, 1, 2] and len(payload["points"]) == 130
    assert len(payload["scores"]["h_over_eps"]) == 64
    assert main(["prune", "--model", "demo", "--data", "digits", "--ratio", "1.2"]) == 2
    assert "strictly between 0 and 1" in capsys.readouterr().err
    assert main(["ablate", "--model", "demo", "--data", "digits", "--class", "2", "--layer", "block3_conv2",
                 "--order", "best"]) == 2  # a typed order is checked before any work
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown order 'best'" in err
