"""The sweeps run against a store ("Earlier sweeps" in the app): newest first, at most fifty.

Why a lock: the history is one store entry rewritten by read-modify-write, and sweeps may finish
in several threads (the app's sessions) and several processes at once; unguarded, one would drop
another's run. A thread lock orders this process's threads and the store's transaction (SQLite's
write lock on the index) orders processes.
"""

from __future__ import annotations

import threading

from featent.errors import CacheError
from featent.experiments.atlas import SUMMARY_VERSION
from featent.progress import Progress, ProgressLike
from featent.store import ResultStore, result_key

__all__ = ["stored_runs", "record_run", "MAX_RUNS"]

RUNS_KEY = result_key("sweep-runs", SUMMARY_VERSION)
MAX_RUNS = 50
_LOCK = threading.Lock()


def stored_runs(store: ResultStore) -> list[dict]:
    """The sweeps recorded in ``store``, newest first: model, weights, data, classes, layers, images, seed."""
    hit = store.get_result(RUNS_KEY)
    runs = hit[1].get("runs", []) if hit is not None else []
    return [r for r in runs if isinstance(r, dict)]


def record_run(store: ResultStore, run: dict, progress: ProgressLike = None) -> None:
    """Put ``run`` first in the history (once); a store that refuses the write is warned about."""
    try:
        with _LOCK, store.transaction():
            runs = [r for r in stored_runs(store) if r != run]
            store.put_result(RUNS_KEY, {}, {"runs": [run, *runs][:MAX_RUNS]})
    except CacheError as exc:
        Progress.of(progress).warn(f"results are not cached: {exc}")
    except Exception as exc:  # noqa: BLE001 - a lock that cannot be had (a busy or broken index) is a warning too
        Progress.of(progress).warn(f"results are not cached: cannot lock the store ({exc}).")
