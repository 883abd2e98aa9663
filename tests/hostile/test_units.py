"""Units that lie: huge integers, torch tensors of any dtype, masked, ragged, object, scalar,
complex and byte-swapped arrays, and bad thread counts. Exact where accepted, named where refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from featent.core.topology import (
    UnitTypeError,
    betti_curves,
    birth_time,
    birth_time_reference,
    birth_times,
    edge_weights,
    filtration_values,
    validate_unit,
)
from featent.errors import UnitError

BIG = 2**62


def _four_cycle(base: int, dtype) -> np.ndarray:
    """Top entries base+3, base+2, base+1, base form the 4-cycle 0-1-2-3-0: birth at step 4."""
    u = np.zeros((4, 4), dtype=dtype)
    u[0, 1], u[1, 2], u[2, 3], u[3, 0] = base + 3, base + 2, base + 1, base
    return u


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_huge_integer_four_cycle_is_born_at_step_4(dtype):
    unit = _four_cycle(BIG, dtype)
    assert birth_time(unit) == 4
    assert birth_time_reference(unit) == 4
    assert birth_times(np.stack([unit, unit]))[0] == 4
    assert float(unit.max()) == float(unit[0, 1] - 3)  # float64 really would merge them


def test_huge_integers_keep_their_exact_values_for_display():
    unit = _four_cycle(BIG, np.int64)
    assert filtration_values(unit)[:4].tolist() == [BIG + 3, BIG + 2, BIG + 1, BIG]
    assert edge_weights(unit).dtype == np.int64
    assert betti_curves(unit)[1, 3] == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    small=hnp.arrays(np.int64, st.tuples(st.integers(2, 7)).map(lambda t: (t[0], t[0])), elements=st.integers(0, 6)),
    base=st.sampled_from([2**53 - 3, 2**60, 2**62, 2**63 - 8, -(2**63)]),
    sign=st.sampled_from([1, -1]),
)
def test_offset_integers_give_the_births_of_their_small_twin(small, base, sign):
    """Adding a huge constant (or mirroring) keeps the order, so births must not change."""
    if base < 0 and sign < 0:
        sign = 1
    twin = small * sign
    if base >= 2**63 - 8 and sign < 0:
        base = 2**62
    shifted = twin + np.int64(base) if base >= 0 else twin - twin.min() + np.int64(base)
    expected = birth_time_reference(twin.astype(np.float64))
    assert birth_time(shifted) == expected
    assert birth_times(shifted[None])[0] == expected
    assert birth_time_reference(shifted) == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.uint64, st.tuples(st.integers(2, 6)).map(lambda t: (t[0], t[0])),
                  elements=st.integers(2**64 - 8, 2**64 - 1)))
def test_top_of_uint64_with_ties(unit):
    ranks = np.unique(unit, return_inverse=True)[1].reshape(unit.shape).astype(np.float64)
    assert birth_time(unit) == birth_time_reference(ranks)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.int64, np.uint64, np.bool_])
def test_every_integer_dtype_matches_float(dtype, fig2_unit):
    rng = np.random.default_rng(3)
    unit = rng.integers(0, 2 if dtype is np.bool_ else 100, (7, 7)).astype(dtype)
    assert birth_time(unit) == birth_time_reference(unit.astype(np.float64))


def test_long_double_is_ranked_exactly():
    if np.finfo(np.longdouble).nmant < 62:
        pytest.skip("long double is float64 on this platform")
    steps = _four_cycle(1, np.longdouble)  # 4, 3, 2, 1 on the cycle, 0 elsewhere
    unit = np.longdouble(1) + np.longdouble(2) ** -60 * steps
    assert np.unique(unit.astype(np.float64)).size == 1  # float64 would see one big tie
    assert birth_time(unit) == 4


@pytest.mark.parametrize("order", [">f8", ">f4", ">i8", ">u4", "<f8"])
def test_non_native_byte_order(order):
    rng = np.random.default_rng(0)
    native = rng.random((6, 6))
    if order[1] in "iu":
        native = (native * 1000).astype(np.int64)
    unit = native.astype(order)
    assert birth_time(unit) == birth_time(native.astype(order.replace(">", "<")))


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.rand(6, 6, requires_grad=True),
        lambda: torch.rand(6, 6, dtype=torch.bfloat16),
        lambda: torch.rand(6, 6, dtype=torch.float16),
        lambda: torch.rand(6, 6, dtype=torch.float64),
        lambda: torch.randint(0, 9, (6, 6)),
        lambda: torch.nn.Parameter(torch.rand(6, 6)),
        lambda: torch.rand(6, 6).t(),  # not contiguous
    ],
    ids=["requires_grad", "bfloat16", "float16", "float64", "int64", "Parameter", "transposed"],
)
def test_torch_tensors_are_accepted(make):
    torch.manual_seed(0)
    tensor = make()
    as_numpy = tensor.detach().float().numpy() if tensor.is_floating_point() else tensor.numpy()
    assert birth_time(tensor) == birth_time_reference(as_numpy)
    assert birth_times(tensor[None])[0] == birth_time(tensor)


def test_core_does_not_import_torch_for_tensors():
    import subprocess
    import sys

    code = "import sys, featent.core.topology as t, numpy as np; t.birth_time(np.eye(3)); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


class _FakeTensor:
    """Looks like a tensor from a torch-named module whose conversion fails."""

    def detach(self):
        raise RuntimeError("cannot detach")


_FakeTensor.__module__ = "torch.fake"


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (np.float64(3), UnitError, r"got a scalar"),
        (3, UnitError, r"got a scalar"),
        ("abc", UnitTypeError, r"got str"),
        (None, UnitTypeError, r"got NoneType"),
        (object(), UnitTypeError, r"got object"),
        (_FakeTensor(), UnitTypeError, r"torch.fake._FakeTensor that could not be converted"),
        ([[1, 2], [3]], UnitError, r"ragged or not numeric"),
        ([[1, "a"], [2, 3]], UnitError, r"must hold real numbers, got dtype <U"),
        (np.array([[1, None], [2, 3]]), UnitError, r"got dtype object"),
        (np.eye(3) * 1j, UnitError, r"complex dtype complex128"),
        (torch.eye(3) * 1j, UnitError, r"complex torch tensor"),
        (np.ma.array(np.eye(3), mask=np.eye(3)), UnitError, r"masked array; fill the masked entries first"),
        (np.zeros((3, 4)), UnitError, r"must be square, got 3 x 4"),
        (np.zeros((1, 1)), UnitError, r"at least 2 x 2"),
        (np.zeros(4), UnitError, r"2-D m x m array, got 1-D"),
        (np.zeros((2, 3, 3)), UnitError, r"2-D m x m array, got 3-D"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), UnitError, r"NaN values"),
        (np.array([[1.0, np.inf], [0.0, 1.0]], dtype=">f8"), UnitError, r"inf values"),
        (np.array([[1.0, np.nan], [0.0, 1.0]], dtype=np.longdouble), UnitError, r"NaN values"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]], dtype=torch.bfloat16), UnitError, r"NaN values"),
    ],
)
def test_refused_units_are_named(value, error, match):
    with pytest.raises(error, match=match):
        birth_time(value)
    with pytest.raises(error, match=match):
        validate_unit(value)


def test_unit_type_error_is_a_type_error_and_a_featent_error():
    from featent.errors import FeatentError

    with pytest.raises(TypeError):
        birth_time(object())
    with pytest.raises(FeatentError):
        birth_time(object())


@pytest.mark.parametrize("n", [0, -3, True, 1.5, "2"])
def test_bad_thread_counts_are_errors(n):
    with pytest.raises(UnitError, match=r"n_threads must be None or an integer >= 1"):
        birth_times(np.random.default_rng(0).random((2, 4, 4)), n_threads=n)


def test_thread_count_one_and_huge_give_the_same_births():
    units = np.random.default_rng(1).random((6, 5, 5))
    assert np.array_equal(birth_times(units, n_threads=1), birth_times(units, n_threads=10**6))


def test_stack_error_names_the_unit():
    units = np.random.default_rng(0).random((3, 4, 4))
    units[2, 1, 1] = np.nan
    with pytest.raises(UnitError, match=r"unit at index \(2,\) contains NaN"):
        birth_times(units)
