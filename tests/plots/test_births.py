"""featent.plots.births: birth-time histograms show p(x) over all images and the 'no birth' bar."""

from __future__ import annotations

import math

import numpy as np
import pytest

from featent.plots import births as birth_plots


def test_birth_histogram_shows_p_of_x_over_all_images_and_a_no_birth_bar() -> None:
    births = np.array([0, 3, 3, 4, 5, 0, 3])
    fig = birth_plots.birth_histogram(births)
    no_birth, steps = fig.data
    assert list(no_birth.x) == ["no birth"] and no_birth.y[0] == pytest.approx(2 / 7)
    assert list(steps.x) == [3, 4, 5]
    np.testing.assert_allclose(steps.y, [3 / 7, 1 / 7, 1 / 7])
    assert list(steps.customdata) == [3, 1, 1]
    assert sum(steps.y) + no_birth.y[0] == pytest.approx(1.0)  # every sampled image is in one bar
    h = -(3 / 7 * math.log(3 / 7) + 2 * (1 / 7) * math.log(1 / 7))
    text = fig.layout.title.text
    assert f"FE H = {h:.3f}" in text and "ε = 0.71" in text and "no birth: 2" in text
    assert "Eq. 12" not in text


def test_birth_histogram_step_ticks_are_whole_and_never_repeat() -> None:
    fig = birth_plots.birth_histogram_compare([np.array([4, 5, 6, 7]), np.array([5, 5, 6, 0])], ["a", "b"])
    axis = fig.layout.xaxis2
    assert axis.tickformat == "d" and axis.dtick == 1 and list(axis.range) == [3.3, 7.7]
    assert fig.layout.legend.y < 0  # FE/ε in the legend below the bars, never over them


def test_silent_unit_histogram_is_one_no_birth_bar_and_says_eq12() -> None:
    births = np.zeros(20, dtype=int)
    births[0] = 5
    summary = birth_plots.entropy_summary(births)
    assert summary["low_rate"] and summary["feature_entropy"] == pytest.approx(0.95 * math.log(20))
    fig = birth_plots.birth_histogram(births)
    assert fig.data[0].y[0] == pytest.approx(0.95) and fig.data[1].y[0] == pytest.approx(0.05)
    assert "Eq. 12" in fig.layout.title.text


def test_birth_histogram_compare_has_a_no_birth_and_a_step_trace_per_distribution() -> None:
    fig = birth_plots.birth_histogram_compare([np.array([1, 2, 2]), np.array([3, 3, 0])], ["class 0", "class 1"])
    assert [list(t.x) for t in fig.data] == [["no birth"], [1, 2], ["no birth"], [3]]
    assert fig.data[2].y[0] == pytest.approx(1 / 3)
    assert fig.data[3].name == f"class 1: H = {-(2 / 3) * math.log(2 / 3):.2f}, ε = 0.67"


def test_fe_parts_name_frequency_silence_size_and_stability() -> None:
    # 10 images: born on 5, at steps 3,3,3,5,5 -> eps 0.5, H(x | born) = H(0.6, 0.4)
    births = np.array([3, 3, 3, 5, 5, 0, 0, 0, 0, 0])
    null = np.array([1, 2, 3, 4, 5, 6, 0, 0, 0, 0])
    rows = {r["part"]: r for r in birth_plots.fe_parts(births, null, 2.5, 1.9)}
    cond = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert rows["frequency ε"]["value"] == "0.50" and rows["silence (Eq. 12)"]["value"] == "live"
    assert rows["stability H(x | born)"]["value"] == f"{cond:.3f}"
    assert f"ε·H(x | born) = {0.5 * cond:.3f}" in rows["stability H(x | born)"]["reading"]
    assert f"−ε ln ε = {-0.5 * math.log(0.5):.3f}" in rows["frequency ε"]["reading"]
    # FE = eps H(x|born) - eps ln eps, the two readings add up to the FE row
    assert rows["FE H"]["value"] == f"{0.5 * cond - 0.5 * math.log(0.5):.3f}"
    assert rows["null H(x | born)"]["value"] == f"{math.log(6):.3f}"
    assert f"{math.log(6) - cond:.3f}" in rows["null H(x | born)"]["reading"]
    assert rows["size reference"]["value"] == "2.500" and "1.900" in rows["size reference"]["reading"]


def test_fe_parts_of_silent_and_never_born_units() -> None:
    silent = np.zeros(20, dtype=int)
    silent[:1] = 4
    rows = {r["part"]: r for r in birth_plots.fe_parts(silent)}
    assert rows["silence (Eq. 12)"]["value"] == "silent" and "only 1 births" in rows["stability H(x | born)"]["reading"]
    assert "null H(x | born)" not in rows and "size reference" not in rows
    never = {r["part"]: r for r in birth_plots.fe_parts(np.zeros(10, dtype=int))}
    assert never["stability H(x | born)"]["value"] == "n/a"
    assert never["stability H(x | born)"]["reading"] == "undefined: no birth"
