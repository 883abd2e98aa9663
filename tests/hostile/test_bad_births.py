"""Births and p that lie: one BirthsError with what was expected, never a raw numpy error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from featent.core.entropy import (
    BirthsError,
    birth_distribution,
    feature_entropy,
    layer_feature_entropy,
    multiclass_feature_entropy,
    ranking_score,
    selective_rate,
)
from featent.errors import FeatentError

EXPECTED = r"births must be integer steps >= 0 \(0 = no birth\) below 2\*\*31"


@pytest.mark.parametrize(
    ("births", "match"),
    [
        (["a", "b"], EXPECTED + r".*got dtype <U1"),
        ([object(), 1], EXPECTED + r".*got dtype object"),
        ([[1, 2], [3]], EXPECTED + r".*got a ragged or non-numeric list"),
        ([True, False], EXPECTED + r".*got booleans"),
        ([1 + 1j, 2], EXPECTED + r".*got dtype complex128"),
        ([1.5, 2.0], EXPECTED + r".*got non-whole numbers such as 1.5"),
        ([1e30, 0], EXPECTED + r".*got 1e\+30"),
        ([2**40, 0], EXPECTED + r".*got 1099511627776"),
        ([-1, 2], EXPECTED + r".*got -1"),
        ([np.nan, 1], EXPECTED + r".*got NaN or inf"),
        ([np.inf, 1], EXPECTED + r".*got NaN or inf"),
        (5, EXPECTED + r".*got a scalar"),
        (np.zeros((2, 2, 2), int), EXPECTED + r".*got shape \(2, 2, 2\)"),
        ([], r"at least one image"),
        (np.ma.array([1, 2], mask=[0, 1]), EXPECTED + r".*masked array"),
        (None, EXPECTED),
    ],
)
def test_bad_births_are_one_error_type(births, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning or other numpy noise
        for fn in (feature_entropy, selective_rate, ranking_score, layer_feature_entropy):
            with pytest.raises(BirthsError, match=match):
                fn(births)
        if births is None or np.isscalar(births) or (isinstance(births, list) and births and not isinstance(births[0], list)):
            with pytest.raises(BirthsError, match=match):
                birth_distribution(births)


@pytest.mark.parametrize("p", ["0.1", None, [0.1], np.nan, 0, -0.1, 1.5, True, float("inf")])
def test_bad_p_is_refused(p):
    with pytest.raises(BirthsError, match=r"p must be a number in \(0, 1\]"):
        feature_entropy([1, 2, 0], p)
    with pytest.raises(BirthsError, match=r"p must be a number in \(0, 1\]"):
        ranking_score([1, 2, 0], p)


def test_births_error_is_a_featent_error():
    assert issubclass(BirthsError, FeatentError) and issubclass(BirthsError, ValueError)


@pytest.mark.parametrize(
    "births",
    [
        [3, 3, 0, 5],
        np.array([3, 3, 0, 5], dtype=np.uint8),
        np.array([3, 3, 0, 5], dtype=">i4"),
        np.array([3.0, 3.0, 0.0, 5.0]),
        np.array([3, 3, 0, 5], dtype=np.uint64),
        torch.tensor([3, 3, 0, 5]),
    ],
    ids=["list", "uint8", "big-endian", "whole floats", "uint64", "torch"],
)
def test_accepted_births_agree(births):
    expected = -(0.5 * np.log(0.5) + 0.25 * np.log(0.25))
    assert feature_entropy(births) == pytest.approx(expected, abs=1e-15)
    assert selective_rate(births) == pytest.approx(0.75)


def test_p_of_one_and_numpy_p_are_accepted():
    assert feature_entropy([1, 0, 0, 0], 1.0) == pytest.approx(0.75 * np.log(4))
    assert feature_entropy([1, 2, 0, 0], np.float32(0.5)) == pytest.approx(-2 * 0.25 * np.log(0.25))


def test_multiclass_needs_a_class():
    with pytest.raises(BirthsError, match="at least one class"):
        multiclass_feature_entropy([])


def test_birth_distribution_wants_one_unit():
    with pytest.raises(BirthsError, match=r"one unit's births"):
        birth_distribution(np.ones((3, 2), int))
