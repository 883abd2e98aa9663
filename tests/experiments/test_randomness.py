"""featent.experiments.randomness: the statistics by hand, the random models one at a time, the key."""

from __future__ import annotations

import numpy as np
import pytest

from featent import indicators as ind
from featent.errors import FeatentError
from featent.experiments.randomness import COLUMNS, RandomnessResult, randomness_experiment
from featent.spec import ModelSpec, Selection

LAYER = "block3_conv2"


def _random(seed: int) -> str:
    return ModelSpec.parse("demo").random(seed).format(explicit_seed=True)


def test_randomness_frame_statistics_by_hand():
    names = ind.INDICATOR_COLUMNS
    trained = {n: np.array([1.0, 2.0]) for n in names}
    random = {n: np.array([[0.0, 4.0], [2.0, 4.0], [4.0, np.inf]]) for n in names}
    result = RandomnessResult(Selection("m", "d", "c", ("L",), 5), 5, [0, 1, 2], trained, random)
    assert list(result.to_frame().columns) == list(COLUMNS)
    rows = {r["indicator"]: r for r in result.to_frame(unit=0).to_dict(orient="records")}
    # unit 0: random values 0, 2, 4 -> mean 2, std sqrt(8/3); trained 1
    assert rows["l1_norm"]["random_mean"] == pytest.approx(2.0)
    assert rows["l1_norm"]["random_std"] == pytest.approx(np.sqrt(8 / 3))
    assert rows["l1_norm"]["random_better_share"] == pytest.approx(2 / 3)  # higher is better: 2 and 4
    assert rows["feature_entropy"]["random_better_share"] == pytest.approx(1 / 3)  # lower is better: 0
    rows = {r["indicator"]: r for r in result.to_frame(unit=1).to_dict(orient="records")}
    assert rows["l1_norm"]["random_mean"] == pytest.approx(4.0)  # inf left out
    layer = {r["indicator"]: r for r in result.records()}
    assert layer["l1_norm"]["trained"] == pytest.approx(1.5)  # mean over units; random rows: 2, 3, 4
    assert layer["l1_norm"]["random_mean"] == pytest.approx(3.0)
    with pytest.raises(FeatentError, match="unit must be an integer from 0 to 1"):
        result.to_frame(unit=2)


def test_randomness_experiment_shapes_and_values(cache_dir):
    selection = Selection("demo", "digits", "3", (LAYER,), n_images=6, seed=0)
    result = randomness_experiment(selection, n_models=2, first_seed=4, classes=["3", "7"], images_per_class=3)
    assert result.seeds == [4, 5] and result.selection == selection
    from featent.nets import loading

    memoized = {spec for spec, _ in vars(loading)["_CACHE"]}
    assert not memoized & {_random(4), _random(5)}  # one at a time
    for name in ind.INDICATOR_COLUMNS:
        assert result.trained[name].shape == (64,)
        assert result.random[name].shape == (2, 64)
    own = ind.compute_indicators(Selection("demo:random:5", "digits", "3", (LAYER,), 6, 0),
                                 classes=["3", "7"], images_per_class=3)
    for name in ("l1_norm", "fpgm", "feature_entropy", "class_selectivity"):
        np.testing.assert_allclose(result.random[name][1], own.values[name], rtol=1e-6)
    assert len(result.to_frame(unit=3)) == len(ind.INDICATOR_COLUMNS)
    with pytest.raises(FeatentError, match="n_models must be an integer >= 1, got 0"):
        randomness_experiment(selection, n_models=0)


def test_key_follows_every_parameter(cache_dir):
    selection = Selection("demo", "digits", "3", (LAYER,), n_images=6)
    key = randomness_experiment.key
    base = key(selection)
    assert key(selection, cache=False) == base  # reading the births store or not changes no number
    changed = [key(selection, n_models=3), key(selection, first_seed=1), key(selection, classes=["3"]),
               key(selection, images_per_class=2), key(selection, layer="block3_conv1"), key(selection.replace(seed=1))]
    assert base not in changed and len(set(changed)) == len(changed)
