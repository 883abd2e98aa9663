"""One progress protocol for every long computation: a fraction done with a short message, and
warnings on a channel of their own.

Why a small class rather than a bare callback: the library reports progress from many nested
steps (births inside an experiment inside a sweep), and each step must map its own 0..1 onto the
part of the whole run it covers (``subrange``) while warnings ("results are not cached") must reach
the person as warnings, never as progress text. The CLI maps reports to a tqdm bar and warnings to
``featent: warning:`` lines; the app maps them to ``st.progress`` and ``st.warning``.

A plain ``callable(fraction, message)`` is still accepted wherever a ``Progress`` is (``Progress.of``
wraps it); its warnings then go through Python's ``warnings`` module as ``FeatentWarning``.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable

__all__ = ["Progress", "ProgressLike", "FeatentWarning", "Report", "Warn", "PhaseEta", "counted"]

Report = Callable[[float, str], None]
Warn = Callable[[str], None]


class FeatentWarning(UserWarning):
    """A problem that did not stop the computation (an unusable cache, a skipped input)."""


class Progress:
    """``progress(fraction, message)`` reports; ``progress.warn(message)`` warns (each text once).

    ``on_report`` receives fractions of the whole run in [0, 1]; ``on_warning`` receives warning
    texts (default: ``warnings.warn(text, FeatentWarning)``). ``subrange(lo, hi)`` gives a child
    whose 0..1 covers [lo, hi] of this one and shares its warning channel; ``prefixed(text)`` a
    child whose messages start with ``text``.
    """

    __slots__ = ("_hi", "_lo", "_lock", "_report", "_seen", "_warn")

    def __init__(self, on_report: Report | None = None, on_warning: Warn | None = None) -> None:
        self._report = on_report
        self._warn = on_warning
        self._lo, self._hi = 0.0, 1.0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, progress: ProgressLike) -> Progress:
        """``progress`` as a Progress: None is silent, a callable receives the reports."""
        if isinstance(progress, Progress):
            return progress
        if progress is None:
            return cls()
        if not callable(progress):
            raise TypeError(f"progress must be a Progress or a callable(fraction, message), not {type(progress).__name__}.")
        return cls(progress)

    @property
    def silent(self) -> bool:
        """True when nobody listens to the reports (lets callers skip building messages)."""
        return self._report is None

    def __call__(self, fraction: float, message: str) -> None:
        if self._report is None:
            return
        done = min(max(float(fraction), 0.0), 1.0)
        self._report(self._lo + (self._hi - self._lo) * done, message)

    def warn(self, message: str) -> None:
        """Tell the person something went wrong without stopping the work; a repeated text is dropped."""
        with self._lock:
            if message in self._seen:
                return
            self._seen.add(message)
        if self._warn is not None:
            self._warn(message)
        else:
            warnings.warn(message, FeatentWarning, stacklevel=2)

    def subrange(self, lo: float, hi: float) -> Progress:
        """A child Progress whose fractions 0..1 cover [lo, hi] of this one (same warning channel)."""
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"A progress subrange lies within [0, 1] with lo <= hi, got [{lo}, {hi}].")
        width = self._hi - self._lo
        return self._child(self._lo + width * lo, self._lo + width * hi, self._report)

    def prefixed(self, text: str) -> Progress:
        """This Progress with every message written ``"{text}: {message}"`` (``class 3: ...``), so
        that reports of a step repeated per item say which item; same range, same warning channel."""
        report = self._report
        if report is None:
            return self._child(self._lo, self._hi, None)
        return self._child(self._lo, self._hi, lambda fraction, message: report(fraction, f"{text}: {message}"))

    def _child(self, lo: float, hi: float, report: Report | None) -> Progress:
        child = Progress.__new__(Progress)
        child._report = report
        child._warn = self._warn
        child._lo, child._hi = lo, hi
        child._seen = self._seen  # one warning channel: a text warned by a part is not repeated by another
        child._lock = self._lock
        return child


ProgressLike = Progress | Report | None


def counted(phase: str, done: int, total: int, unit: str) -> str:
    """A progress message for a phase that counts real things: ``"births: 40/100 images"``.

    Every step that reports progress over countable work words its message this way, so whoever shows
    it (:class:`PhaseEta`) can measure the phase's throughput in its own unit."""
    return f"{phase}: {int(done)}/{int(total)} {unit}"


_COUNT = re.compile(r"(?P<done>\d+)/(?P<total>\d+) (?P<unit>[^\d;/]+?)\s*$")


class PhaseEta:
    """Time left in the current phase, from the throughput measured in it.

    Why per phase: the phases of one run cost very different amounts per percent (loading a model is
    one step, births are thousands of images), so a time left read off the overall fraction promises
    too little early on. Each message worded by :func:`counted` names its phase and its count; the
    phase's rate (``done`` per second since its first step ended: that step also carries the phase's
    set-up) gives ``"2.5 images/s, phase ETA 0:24"``.
    A message without a count, or a phase measured for under ``min_seconds``, gives no ETA."""

    def __init__(self, clock: Callable[[], float], min_seconds: float = 0.5) -> None:
        self._clock = clock
        self._min_seconds = min_seconds
        self._phase: str | None = None
        self._start = (0.0, 0)

    def __call__(self, message: str) -> str:
        found = _COUNT.search(message)
        if found is None:
            self._phase = None
            return ""
        done, total, unit = int(found["done"]), int(found["total"]), found["unit"]
        phase = f"{message[:found.start()].rstrip(' :')}|{total}|{unit}"
        now = self._clock()
        if phase != self._phase:
            self._phase, self._start = phase, (now, done)
            return ""
        t0, d0 = self._start
        if d0 == 0 and done > 0:
            # the first step carries the phase's set-up (placing the model, compiling): measure from its end
            self._start = (now, done)
            return ""
        spent, moved = now - t0, done - d0
        if moved <= 0 or spent < self._min_seconds:
            return ""
        rate = moved / spent
        left = round(max(0, total - done) / rate)
        shown = f"{rate:.3g}" if rate < 100 else f"{rate:.0f}"
        return f"{shown} {unit}/s, phase ETA {left // 60}:{left % 60:02d}"
