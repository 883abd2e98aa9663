"""featent.indicators.registry: one vocabulary of indicators, orders and typed spellings."""
from __future__ import annotations

import numpy as np
import pytest

from featent import indicators
from featent.errors import FeatentError
from featent.indicators import ALL_ORDERS, RANDOM, RANKING, REGISTRY
from featent.indicators.registry import canonical_order, order_label, parse_order


def test_every_vocabulary_is_the_registry():
    """Tables, ablation, pruning and figures all take their indicator names and orders from REGISTRY."""
    from featent.experiments import ablation, pruning, randomness
    from featent.plots import ablation as ablation_plots
    from featent.plots import experiments as experiment_plots

    assert REGISTRY.keys() == indicators.INDICATOR_COLUMNS
    assert set(indicators.INDICATOR_LABELS) == set(REGISTRY.keys()) | {"accuracy"}
    assert pruning.PRUNE_METHODS == RANKING and set(RANKING) == {i.key for i in REGISTRY if i.ranks}
    assert randomness.LOWER_IS_BETTER is indicators.LOWER_IS_BETTER
    assert set(ablation.DEFAULT_ORDERS) <= set(ALL_ORDERS) and ALL_ORDERS[-1] == RANDOM
    assert tuple(f"{k}-{REGISTRY[k].least_important_first}" for k in RANKING) == ablation.SUMMARY_ORDERS
    assert set(ablation_plots.ORDER_COLOURS) == set(RANKING) | {RANDOM}
    assert set(experiment_plots.COMPARED) <= set(REGISTRY.keys())
    for key in RANKING:
        direction = REGISTRY[key].least_important_first
        assert direction in ("asc", "desc")
        assert f"{key}-asc" in ALL_ORDERS and f"{key}-desc" in ALL_ORDERS
    # the paper's ranking: high H/eps first; the magnitude indicators as their papers prune them
    assert RANKING[0] == "h_over_eps" and REGISTRY["h_over_eps"].least_important_first == "desc"
    assert REGISTRY["apoz"].least_important_first == "desc" and REGISTRY["l1_norm"].least_important_first == "asc"
    assert {i.key for i in REGISTRY if i.lower_is_better} == {"feature_entropy", "h_over_eps", "apoz", "conditional_fe"}
    # the conditional FE ranks beside H/eps: unsteady births (high) first, the paper's order still first
    assert "conditional_fe" in RANKING and REGISTRY["conditional_fe"].least_important_first == "desc"
    assert parse_order("conditional") == ("conditional_fe", "desc")
    assert {"conditional_fe-desc", "conditional_fe-asc"} <= set(ALL_ORDERS)


def test_typed_spellings_map_to_keys_in_one_place():
    assert REGISTRY.resolve("fe").key == "h_over_eps" and REGISTRY.resolve("L1").key == "l1_norm"
    assert REGISTRY.resolve("selectivity").key == "class_selectivity"
    assert parse_order("fe-desc") == parse_order("h_over_eps-desc") == ("h_over_eps", "desc")
    assert parse_order("l1") == ("l1_norm", "asc") and parse_order("apoz") == ("apoz", "desc")
    assert canonical_order("selectivity-desc") == "class_selectivity-desc" and canonical_order("random") == RANDOM
    assert order_label("fe-asc") == "Feature entropy (H/ε), ascending"
    with pytest.raises(FeatentError, match="Unknown order"):
        parse_order("feature_entropy-desc")  # FE itself does not rank; H/eps does
    with pytest.raises(FeatentError, match="random order takes no direction"):
        parse_order("random-asc")
    with pytest.raises(FeatentError, match="Unknown indicator"):
        REGISTRY.resolve("entropy")


def test_an_indicator_computes_its_own_score_from_the_evidence(tiny, random_images):
    """A new indicator is one class: score_layer gathers what it needs and calls it."""
    from featent.indicators.base import Indicator
    from featent.indicators.registry import Registry

    class MeanActivation(Indicator):
        key, label = "mean_activation", "Mean activation"

        def compute(self, evidence):
            return evidence.per_target(lambda t: evidence.stats[t].means)

    by_class = {"a": random_images(5, 2), "b": random_images(4, 3)}
    registry = Registry([*REGISTRY, MeanActivation()])
    assert registry.keys()[-1] == "mean_activation" and not registry["mean_activation"].ranks
    acts = indicators.forward_capture(tiny, by_class["a"], "block1_conv1")[0]
    scores, notes, evidence = indicators.score_layer(tiny, "block1_conv1", by_class, ["a"], ["l1_norm", "fe"])
    assert set(scores) == {"l1_norm", "h_over_eps"} and notes == []
    assert set(evidence.stats) == {"a"}  # no class means needed: the other class never ran
    np.testing.assert_allclose(MeanActivation().compute(evidence), indicators.class_means(acts))
    np.testing.assert_allclose(scores["l1_norm"], indicators.l1_norm(acts))
    with pytest.raises(ValueError, match="registered twice"):
        Registry([*REGISTRY, REGISTRY["apoz"]])


def test_unavailable_indicators_give_nan_and_one_note(tiny, random_images):
    scores, notes, _ = indicators.score_layer(tiny, "block1_conv1", {"a": random_images(4, 0)}, ["a"],
                                              ["class_selectivity", "class_selectivity_max", "apoz"])
    assert np.isnan(scores["class_selectivity"]).all() and np.isnan(scores["class_selectivity_max"]).all()
    assert notes == ["class selectivity needs at least two classes"]
    assert np.isfinite(scores["apoz"]).all()
