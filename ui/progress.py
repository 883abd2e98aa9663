"""featent progress callbacks -> st.status with a progress bar, shown only for real work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import streamlit as st

from ui import cached


class StatusProgress:
    """A ``Progress`` callable. The status box appears at the first unfinished report, so a
    result that comes straight from the store draws nothing, and disappears when the work is
    done; "warning:" messages become ``st.warning`` (e.g. a cache folder that cannot be written)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.slot = st.empty()  # the status box lives here and is removed once the work is done
        self.box = None
        self.bar = None

    def __call__(self, fraction: float, message: str) -> None:
        if message.startswith("warning:"):
            st.warning(message.removeprefix("warning:").strip(), icon=":material/warning:")
            return
        if self.box is None:
            if fraction >= 1.0:
                return
            self.box = self.slot.status(self.label, expanded=True)
            self.bar = self.box.progress(0.0)
        done = min(max(float(fraction), 0.0), 1.0)
        # a step count in the message ("9/10 units") may be of one part of the run; the bar is the whole run
        self.bar.progress(done, text=f"{message} · {done:.0%} of the whole run")

    def finish(self, ok: bool = True) -> None:
        if self.box is None:
            return
        if ok:
            self.slot.empty()  # the results below replace it
        else:
            self.box.update(label=self.label + " — failed", state="error", expanded=False)


@contextmanager
def status(label: str) -> Iterator[StatusProgress]:
    """``with status("Computing birth times") as progress: layer_results(sel, progress=progress)``."""
    progress = StatusProgress(label)
    try:
        yield progress
    except BaseException:
        progress.finish(ok=False)
        raise
    progress.finish(ok=True)


def layer_results(selection, label: str = "Computing birth times"):
    """pipeline.layer_results with a status box; results come from the store when present."""
    from featent.pipeline import layer_results as compute

    with status(label) as progress:
        return with_baselines(compute)(selection, store=cached.store(), progress=progress)


def structure_gap(result):
    """Null FE − FE per unit when the library computed the null baseline, else None."""
    try:
        gap = getattr(result, "structure_gap", None)
    except (TypeError, ValueError):  # a property over a baseline that was not computed
        return None
    return None if gap is None else np.asarray(gap, dtype=float)


def with_baselines(compute):
    """``compute(selection, **kwargs)`` asking for the null-FE baseline when the library offers it."""
    import inspect

    if "baselines" in inspect.signature(compute).parameters:
        return lambda selection, **kwargs: compute(selection, baselines=True, **kwargs)
    return compute


def layer_summary(result, p: float) -> dict[str, float]:
    """FE, ε and the baselines of one LayerResult: silent share, live FE and (when computed) null FE."""
    import numpy as np

    fe = np.asarray(result.feature_entropy, dtype=np.float64)
    eps = np.asarray(result.selective_rate, dtype=np.float64)
    live = eps >= p
    null = getattr(result, "null_feature_entropy", None)
    return {
        "mean_feature_entropy": float(result.mean_feature_entropy),
        "mean_selective_rate": float(result.mean_selective_rate),
        "mean_live_feature_entropy": float(fe[live].mean()) if live.any() else float("nan"),
        "silent_share": float(1.0 - live.mean()) if fe.size else float("nan"),
        "mean_null_feature_entropy": float(np.mean(null)) if null is not None else float("nan"),
    }
