"""featent.experiments.runs: the sweep history keeps every run recorded, also from many threads at once."""

from __future__ import annotations

import threading

from featent.errors import CacheError
from featent.experiments.runs import MAX_RUNS, record_run, stored_runs
from featent.progress import Progress
from featent.store import ResultStore


def _run(i: int) -> dict:
    return {"model": "demo", "weights": None, "data": "digits", "classes": [str(i)], "layers": ["block1_conv1"],
            "images": 8, "seed": 0}


def test_runs_are_newest_first_once_and_capped(tmp_path):
    store = ResultStore(tmp_path / "s")
    assert stored_runs(store) == []
    for i in range(3):
        record_run(store, _run(i))
    record_run(store, _run(0))
    assert stored_runs(store) == [_run(0), _run(2), _run(1)]
    for i in range(MAX_RUNS + 5):
        record_run(store, _run(100 + i))
    assert len(stored_runs(store)) == MAX_RUNS and stored_runs(store)[0] == _run(100 + MAX_RUNS + 4)


def test_concurrent_records_lose_no_run(tmp_path):
    store = ResultStore(tmp_path / "s")
    start = threading.Barrier(8)

    def record(i: int) -> None:
        start.wait()
        record_run(store, _run(i))

    threads = [threading.Thread(target=record, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["classes"][0] for r in stored_runs(store)) == [str(i) for i in range(8)]


class _FullDiskStore(ResultStore):
    def put_result(self, key, arrays, meta):
        raise CacheError("Cannot write to cache directory (No space left on device).")


def test_a_refused_write_is_warned(tmp_path):
    warned: list[str] = []
    record_run(_FullDiskStore(tmp_path / "s"), _run(1), Progress(on_warning=warned.append))
    assert warned == ["results are not cached: Cannot write to cache directory (No space left on device)."]



def _writer(folder: str, process: int, rounds: int) -> None:
    """One process: ``rounds`` times, 8 threads record a run each at the same moment."""
    store = ResultStore(folder)
    for r in range(rounds):
        start = threading.Barrier(8)

        def record(i: int, r: int = r, start: threading.Barrier = start) -> None:
            start.wait()
            record_run(store, {"model": "demo", "classes": [f"p{process}-r{r}-t{i}"]})

        threads = [threading.Thread(target=record, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def test_records_from_threads_of_several_processes_are_all_kept(tmp_path):
    """8 threads x 2 processes, three rounds: 48 records, none lost (within the 50 kept). Forked, so
    the writers start at once rather than after importing the package."""
    import multiprocessing

    folder = tmp_path / "s"
    ResultStore(folder).close()
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(str(folder), p, 3)) for p in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    found = sorted(r["classes"][0] for r in stored_runs(ResultStore(folder)))
    assert found == sorted(f"p{p}-r{r}-t{i}" for p in range(2) for r in range(3) for i in range(8))
