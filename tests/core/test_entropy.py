"""featent.core.entropy on birth arrays whose feature entropy is worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from featent.core.entropy import (
    DEFAULT_P,
    MIN_BORN_IMAGES,
    birth_distribution,
    born_count,
    conditional_feature_entropy,
    feature_entropy,
    few_births,
    layer_feature_entropy,
    mean_live_conditional_feature_entropy,
    multiclass_feature_entropy,
    ranking_score,
    selective_rate,
)
from featent.errors import FeatentError


def test_distribution_divides_by_all_sampled_images():
    # 10 images: births 3,3,3,5,5 and five images without a birth.
    births = np.array([3, 3, 3, 5, 5, 0, 0, 0, 0, 0])
    values, probabilities = birth_distribution(births)
    assert values.tolist() == [3, 5]
    assert probabilities.tolist() == [0.3, 0.2]  # b_x / |Omega|, |Omega| = 10: sums to eps = 0.5
    assert selective_rate(births) == pytest.approx(0.5)
    # H = -(0.3 ln 0.3 + 0.2 ln 0.2) = 0.361192 + 0.321888
    assert feature_entropy(births) == pytest.approx(-(0.3 * math.log(0.3) + 0.2 * math.log(0.2)))


def test_uniform_births_give_log_of_the_sample_size():
    births = np.arange(1, 9)  # 8 images, 8 different births: H = ln 8
    assert feature_entropy(births) == pytest.approx(math.log(8))
    assert ranking_score(births) == pytest.approx(math.log(8))  # eps = 1


def test_one_repeated_birth_has_zero_entropy_only_when_selective_enough():
    # eps = 2/10 >= p: the distribution is degenerate, H = -0.2 ln 0.2 (not 0: P sums to 0.2).
    births = np.array([7, 7, 0, 0, 0, 0, 0, 0, 0, 0])
    assert feature_entropy(births) == pytest.approx(-0.2 * math.log(0.2))
    # Every image born at the same step: P(7) = 1, H = 0.
    assert feature_entropy(np.full(10, 7)) == pytest.approx(0.0)
    # eps = 1/20 < p = 0.1: Eq. 12 replaces H by (1 - eps) ln|Omega| = 0.95 ln 20.
    rare = np.zeros(20, dtype=int)
    rare[4] = 7
    assert feature_entropy(rare) == pytest.approx(0.95 * math.log(20))


def test_no_birth_at_all_gives_the_maximum_and_an_infinite_rank():
    births = np.zeros(100, dtype=int)
    assert selective_rate(births) == 0.0
    assert feature_entropy(births) == pytest.approx(math.log(100))
    assert np.isinf(ranking_score(births))


def test_threshold_p_is_inclusive_at_the_boundary():
    births = np.array([4] + [0] * 9)  # eps = 0.1 = p: Eq. 11 applies, H = -0.1 ln 0.1
    assert feature_entropy(births, p=0.1) == pytest.approx(-0.1 * math.log(0.1))
    assert feature_entropy(births, p=0.11) == pytest.approx(0.9 * math.log(10))


def test_columns_are_units_and_results_are_per_unit():
    births = np.array(
        [
            [3, 0, 2],
            [3, 0, 2],
            [4, 0, 0],
            [0, 0, 0],
        ]
    )
    h = feature_entropy(births)
    assert h.shape == (3,)
    assert h[0] == pytest.approx(-(0.5 * math.log(0.5) + 0.25 * math.log(0.25)))
    assert h[1] == pytest.approx(math.log(4))
    assert h[2] == pytest.approx(-0.5 * math.log(0.5))
    assert selective_rate(births).tolist() == [0.75, 0.0, 0.5]
    score = ranking_score(births)
    assert score[0] == pytest.approx(h[0] / 0.75) and np.isinf(score[1]) and score[2] == pytest.approx(h[2] / 0.5)
    assert layer_feature_entropy(births) == pytest.approx(h.mean())


def test_multiclass_entropy_is_the_mean_over_classes():
    assert multiclass_feature_entropy([np.array([1.0, 2.0]), np.array([3.0, 0.0])]).tolist() == [2.0, 1.0]
    with pytest.raises(FeatentError, match="at least one class"):
        multiclass_feature_entropy([])


@given(hnp.arrays(np.int32, st.tuples(st.integers(1, 40), st.integers(1, 6)), elements=st.integers(0, 12)))
def test_vectorised_results_equal_the_per_unit_definition(births):
    h = feature_entropy(births)
    eps = selective_rate(births)
    n = births.shape[0]
    for unit in range(births.shape[1]):
        column = births[:, unit]
        _, probabilities = birth_distribution(column)
        assert probabilities.sum() == pytest.approx(eps[unit])
        plain = -sum(p * math.log(p) for p in probabilities)
        expected = plain if eps[unit] >= DEFAULT_P else (1 - eps[unit]) * math.log(n)
        assert h[unit] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((0, 3), dtype=int), "at least one image"),
        (np.array([1, -2, 3]), ">= 0"),
        (np.array([1.5, 2.0]), "integer"),
        (np.zeros((2, 2, 2), dtype=int), "shape"),
    ],
)
def test_bad_birth_arrays_are_rejected(bad, message):
    with pytest.raises(FeatentError, match=message):
        feature_entropy(bad)


def test_p_outside_the_unit_interval_is_rejected():
    with pytest.raises(FeatentError, match="p must be"):
        feature_entropy(np.array([1, 2]), p=1.5)


# --- conditional FE: the stability part of FE, with the frequency epsilon divided out ---


@given(hnp.arrays(np.int32, st.tuples(st.integers(1, 60), st.integers(1, 6)), elements=st.integers(0, 15)))
def test_fe_is_eps_times_conditional_fe_minus_eps_log_eps_on_live_units(births):
    fe, eps, cond = feature_entropy(births), selective_rate(births), conditional_feature_entropy(births)
    live = eps >= DEFAULT_P
    expected = eps[live] * cond[live] - eps[live] * np.log(eps[live])
    np.testing.assert_allclose(fe[live], expected, rtol=1e-12, atol=1e-12)
    assert np.isnan(cond[eps == 0]).all() and np.isfinite(cond[eps > 0]).all()
    np.testing.assert_array_equal(born_count(births), np.count_nonzero(births > 0, axis=0))


def test_one_step_on_every_born_image_has_zero_conditional_entropy():
    assert conditional_feature_entropy(np.full(30, 4)) == 0.0
    # Born on a third of the images, always at step 9: FE = -eps ln eps > 0, conditional FE = 0.
    births = np.array([9, 0, 0] * 10)
    assert conditional_feature_entropy(births) == 0.0
    assert feature_entropy(births) == pytest.approx(-(1 / 3) * math.log(1 / 3))


@pytest.mark.parametrize("k", [1, 2, 3, 7, 12])
def test_uniform_births_over_k_steps_give_log_k_whatever_the_rate(k):
    born = np.repeat(np.arange(1, k + 1), 4)
    for silent in (0, 5, 40):
        births = np.concatenate([born, np.zeros(silent, dtype=int)])
        assert conditional_feature_entropy(births) == pytest.approx(math.log(k), abs=1e-15)


def test_conditional_entropy_is_undefined_without_a_birth_and_flagged_with_few():
    births = np.zeros((20, 3), dtype=int)
    births[:2, 1] = 5  # born twice
    births[:, 2] = 3  # born on every image
    cond = conditional_feature_entropy(births)
    assert np.isnan(cond[0]) and cond[1] == 0.0 and cond[2] == 0.0
    assert few_births(births).tolist() == [True, True, False]
    assert MIN_BORN_IMAGES == 5 and few_births(births, 3).tolist() == [True, True, False]
    with pytest.raises(FeatentError, match="minimum must be an integer >= 1"):
        few_births(births, 0)


def test_layer_mean_covers_only_live_units():
    cond = np.array([np.nan, 0.5, 1.5, 2.0])
    eps = np.array([0.0, 0.05, 0.5, 1.0])
    assert mean_live_conditional_feature_entropy(cond, eps) == pytest.approx(1.75)
    assert np.isnan(mean_live_conditional_feature_entropy(cond[:2], eps[:2]))
    # a live unit with no defined value (a null that never gave a birth) is left out
    assert mean_live_conditional_feature_entropy([0.5, np.nan, 1.5], [0.5, 0.5, 0.5]) == pytest.approx(1.0)
    with pytest.raises(FeatentError, match="one value per unit"):
        mean_live_conditional_feature_entropy(cond, eps[:3])
