"""Progress: fractions map through nested subranges, messages can be prefixed, each warning text is
told once on its own channel."""

from __future__ import annotations

import warnings

import pytest

from featent.progress import FeatentWarning, PhaseEta, Progress, counted


def _recorder() -> tuple[list[tuple[float, str]], Progress]:
    seen: list[tuple[float, str]] = []
    return seen, Progress(lambda fraction, message: seen.append((fraction, message)))


def test_reports_map_through_nested_subranges_and_are_clamped() -> None:
    seen, progress = _recorder()
    progress(0.25, "top")
    inner = progress.subrange(0.5, 1.0).subrange(0.5, 1.0)  # [0.75, 1.0] of the whole run
    inner(0.0, "start")
    inner(0.5, "half")
    inner(1.0, "end")
    inner(2.0, "past the end")
    inner(-1.0, "before the start")
    assert seen == [(0.25, "top"), (0.75, "start"), (0.875, "half"), (1.0, "end"), (1.0, "past the end"),
                    (0.75, "before the start")]


def test_subrange_outside_zero_one_is_refused() -> None:
    progress = Progress()
    for lo, hi in ((-0.1, 0.5), (0.5, 1.1), (0.7, 0.3)):
        with pytest.raises(ValueError, match="within \\[0, 1\\]"):
            progress.subrange(lo, hi)


def test_prefixed_keeps_the_range_and_prefixes_every_message() -> None:
    seen, progress = _recorder()
    part = progress.subrange(0.5, 1.0).prefixed("class 3")
    part(0.5, "births")
    part.subrange(0.0, 0.5)(1.0, "layer 1")
    part.prefixed("fe-desc")(1.0, "done")
    assert seen == [(0.75, "class 3: births"), (0.75, "class 3: layer 1"), (1.0, "class 3: fe-desc: done")]
    assert not part.silent
    assert Progress().prefixed("class 3").silent


def test_prefixed_and_subranges_share_the_warning_channel_and_its_memory() -> None:
    told: list[str] = []
    progress = Progress(on_warning=told.append)
    progress.warn("cache is read-only")
    progress.warn("cache is read-only")
    progress.subrange(0.0, 0.5).warn("cache is read-only")
    progress.prefixed("class 3").warn("cache is read-only")
    progress.prefixed("class 3").warn("skipped an image")  # warnings are not prefixed
    progress.subrange(0.5, 1.0).warn("skipped an image")
    assert told == ["cache is read-only", "skipped an image"]


def test_warnings_go_to_python_warnings_without_a_sink() -> None:
    seen, progress = _recorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        progress.warn("results are not cached")
        progress.subrange(0.2, 0.4).warn("results are not cached")
    assert [(w.category, str(w.message)) for w in caught] == [(FeatentWarning, "results are not cached")]
    assert seen == []  # a warning is never a progress report


def test_of_accepts_none_a_callable_or_a_progress() -> None:
    silent = Progress.of(None)
    assert isinstance(silent, Progress) and silent.silent
    silent(0.5, "nobody listens")

    seen: list[tuple[float, str]] = []
    wrapped = Progress.of(lambda fraction, message: seen.append((fraction, message)))
    assert isinstance(wrapped, Progress) and not wrapped.silent
    wrapped.subrange(0.0, 0.5)(1.0, "half way")
    assert seen == [(0.5, "half way")]

    assert Progress.of(wrapped) is wrapped
    with pytest.raises(TypeError, match="progress must be a Progress or a callable"):
        Progress.of(3)  # type: ignore[arg-type]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_counted_messages_name_the_phase_and_its_unit() -> None:
    assert counted("3: block1_conv1: forward + births", 40, 100, "images") == "3: block1_conv1: forward + births: 40/100 images"


def test_eta_is_the_phase_throughput_in_its_own_unit() -> None:
    clock = FakeClock()
    eta = PhaseEta(clock)
    assert eta(counted("births", 0, 100, "images")) == ""  # the phase starts: nothing measured yet
    clock.now = 9.0
    assert eta(counted("births", 10, 100, "images")) == ""  # the first step carries the set-up: not a rate
    clock.now = 11.0
    assert eta(counted("births", 20, 100, "images")) == "5 images/s, phase ETA 0:16"
    clock.now = 17.0
    assert eta(counted("births", 40, 100, "images")) == "3.75 images/s, phase ETA 0:16"  # 30 in 8 s, 60 left


def test_a_slow_phase_after_a_fast_one_is_measured_afresh() -> None:
    """The earlier complaint: a fast first phase made the whole run look short. A new phase starts a new
    measurement, so its time left comes from its own (slower) rate."""
    clock = FakeClock()
    eta = PhaseEta(clock)
    eta(counted("forward", 0, 100, "images"))
    eta(counted("forward", 10, 100, "images"))
    clock.now = 1.0
    assert eta(counted("forward", 100, 100, "images")) == "90 images/s, phase ETA 0:00"
    eta(counted("baselines", 1, 6, "layers"))
    clock.now = 10.0
    assert eta(counted("baselines", 2, 6, "layers")) == "0.111 layers/s, phase ETA 0:36"


def test_no_eta_without_a_count_or_before_half_a_second() -> None:
    clock = FakeClock()
    eta = PhaseEta(clock)
    assert eta("loading: model demo") == ""
    eta(counted("births", 2, 10, "images"))
    clock.now = 0.2
    assert eta(counted("births", 5, 10, "images")) == ""
    clock.now = 0.6
    assert eta(counted("births", 5, 10, "images")) == "5 images/s, phase ETA 0:01"


def test_a_fast_rate_reads_as_a_whole_number() -> None:
    clock = FakeClock()
    eta = PhaseEta(clock)
    eta(counted("3: (class, layer) pairs", 256, 3000, "images"))
    clock.now = 0.5
    assert eta(counted("3: (class, layer) pairs", 1280, 3000, "images")) == "2048 images/s, phase ETA 0:01"
