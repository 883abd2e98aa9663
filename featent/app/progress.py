"""featent progress -> a status box with a progress bar (shown only for real work), warnings -> st.warning."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import streamlit as st

from featent import pipeline
from featent.app import cached, mode, public
from featent.nets.loading import guarded_builds
from featent.pipeline import LayerResult
from featent.progress import Progress


class StatusBox:
    """The status box of one computation. It appears at the first unfinished report, so a result
    that comes straight from the store draws nothing, and disappears when the work is done."""

    def __init__(self, label: str, queued: bool = False) -> None:
        self.label = label
        self.slot = st.empty()  # the status box lives here and is removed once the work is done
        self.box: Any = None  # st.status container, made at the first unfinished report
        self.bar: Any = None
        self.queued = queued  # public mode: real work (not a store hit) takes a slot of the job queue
        self.job: Any = None  # the held slot's context, entered at the first unfinished report

    def _waiting(self, position: int) -> None:
        self.slot.info(f"Waiting for a free slot: place {position} in the queue (this server runs "
                       f"{mode.limits().max_jobs} computations at once).", icon=":material/hourglass:")

    def report(self, fraction: float, message: str) -> None:
        public.check_time()  # a session over its compute time stops here, at its running job's next report
        if self.box is None:
            if fraction >= 1.0:
                return
            if self.queued and self.job is None and mode.public_mode():
                job = public.JOBS.slot(public.session_id(), on_wait=self._waiting)
                job.__enter__()  # waits for a slot (its place shown here); left in finish()
                self.job = job
            self.box = self.slot.status(self.label, expanded=True)
            self.bar = self.box.progress(0.0)
        done = min(max(float(fraction), 0.0), 1.0)
        # a step count in the message ("9/10 units") may be of one part of the run; the bar is the whole run
        self.bar.progress(done, text=f"{message} · {done:.0%} of the whole run")

    def finish(self, ok: bool = True) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.__exit__(None, None, None)  # the slot goes back and the time is counted
        if self.box is None:
            return
        if ok:
            self.slot.empty()  # the results below replace it
        else:
            self.box.update(label=self.label + " — failed", state="error", expanded=False)


def show_warning(text: str) -> None:
    """A library warning (e.g. a cache folder that cannot be written) where the page is."""
    st.warning(text, icon=":material/warning:")


def status_progress(label: str, queued: bool = False) -> tuple[Progress, StatusBox]:
    """A Progress drawing into a new status box (reports) and st.warning (warnings); ``queued``: its real
    work waits for a slot of the public job queue."""
    box = StatusBox(label, queued)
    return Progress(on_report=box.report, on_warning=show_warning), box


@contextmanager
def status(label: str, queued: bool = False) -> Iterator[Progress]:
    """``with status("Computing birth times") as progress: layer_results(sel, progress=progress)``."""
    progress, box = status_progress(label, queued)
    try:
        yield progress
    except BaseException:
        box.finish(ok=False)
        raise
    box.finish(ok=True)


def layer_results(selection, label: str = "Computing birth times") -> dict[str, LayerResult]:
    """pipeline.layer_results with the null-FE baseline and a status box; results come from the store when present."""
    public.check_time()  # a session over its compute time gets the sentence, store hit or not
    with status(label, queued=True) as progress, guarded_builds(cached.bounded):  # a store hit reports nothing
        # and builds nothing: it never waits in the queue; a model build or real work does
        return pipeline.layer_results(selection, store=cached.store(), progress=progress, baselines=True)


def structure_gap(result: LayerResult) -> np.ndarray | None:
    """Null FE − FE per unit when the null baseline was computed, else None."""
    gap = result.structure_gap
    return None if gap is None else np.asarray(gap, dtype=float)
