"""The sweep on a real distributed.LocalCluster with two worker processes: same atlas as the local
executor, progress before the end, and completion after a worker is killed mid-run."""

from __future__ import annotations

import os
import signal
import time

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from featent.experiments.sweep import sweep  # noqa: E402
from featent.store import ResultStore  # noqa: E402

MODEL, DATA = "demo", "digits"


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_dask_atlas_equals_local_and_reports_progress(tmp_path, client):
    events: list[tuple[float, float]] = []
    start = time.perf_counter()
    remote = sweep(MODEL, DATA, classes=6, layers="all", images=16, executor="dask", scheduler=client,
                   layers_per_task=2, store=ResultStore(tmp_path / "client"), units=True,
                   progress=lambda f, m: events.append((time.perf_counter(), f)))
    end = time.perf_counter()
    local = sweep(MODEL, DATA, classes=6, layers="all", images=16, store=ResultStore(tmp_path / "local"), units=True)
    pd.testing.assert_frame_equal(remote.to_frame(), local.to_frame())
    pd.testing.assert_frame_equal(remote.units_frame(), local.units_frame())
    during = [f for t, f in events if 0 < f < 1]
    assert len(set(during)) >= 2 and all(t < end for t, _ in events)
    print(f"\ndask sweep: {len(remote)} (class, layer) pairs in {end - start:.2f} s, {len(events)} progress events, "
          f"{len(set(during))} distinct fractions before the end")
    # the summaries landed in the client's store: a rerun computes nothing
    again = sweep(MODEL, DATA, classes=6, layers="all", images=16, executor="dask", scheduler=client,
                  store=ResultStore(tmp_path / "client"))
    assert again.computed == 0


def test_dask_sweep_survives_a_killed_worker(tmp_path, client):
    pids = client.run(os.getpid)
    killed: list[int] = []
    at: list[float] = []

    def kill_one_worker(fraction: float, message: str) -> None:
        if not killed and 0 < fraction < 1:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            at.append(fraction)

    start = time.perf_counter()
    atlas = sweep(MODEL, DATA, classes="all", layers="all", images=24, executor="dask", scheduler=client,
                  layers_per_task=1, store=ResultStore(tmp_path / "client"), worker_store=None, progress=kill_one_worker)
    elapsed = time.perf_counter() - start
    assert killed and at[0] < 0.5  # killed with most of the tasks still to run
    assert killed[0] not in client.run(os.getpid).values()  # that process is gone
    assert atlas.computed == len(atlas) == 60
    local = sweep(MODEL, DATA, classes="all", layers="all", images=24, store=ResultStore(tmp_path / "local"))
    pd.testing.assert_frame_equal(atlas.to_frame(), local.to_frame())
    print(f"\ndask sweep with worker {killed[0]} killed mid-run: {len(atlas)} pairs in {elapsed:.2f} s, identical to local")
