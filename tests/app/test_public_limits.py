"""Public mode's job queue and compute time over every computation a visitor can start: each page's work
goes through the queue (a session over its time gets the limit's sentence on every page), a waiting job
shows its place, a closed session's waiting job leaves the queue, and a running job stops at the limit."""

from __future__ import annotations

import threading
import time

import pytest
from apptest_support import APP, TIMEOUT, assert_clean
from streamlit.testing.v1 import AppTest

from featent.app import cached, mode, public
from featent.errors import FeatentError

OVER_TIME = "This server allows 0 s of computing per session; this session is over that limit."


@pytest.fixture
def public_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(mode.PUBLIC_ENV, "1")
    for name in ("FEATENT_CONFIG", "FEATENT_DATA_ROOTS", "FEATENT_MAX_JOBS", "FEATENT_SESSION_COMPUTE_S"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("page", [
    "featent/app/views/unit_inspector.py", "featent/app/views/unit_gallery.py",
    "featent/app/views/birth_distribution.py", "featent/app/views/layer_profiles.py",
    "featent/app/views/indicators.py",
])
def test_a_session_over_its_compute_time_gets_the_sentence_on_every_page(public_env, monkeypatch, page: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"images": "4"})
    at.run()  # Home: the model is loaded and the sample drawn, within the default limits
    assert_clean(at)
    monkeypatch.setenv("FEATENT_SESSION_COMPUTE_S", "0.001")  # the time Home used is now over the limit
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert OVER_TIME in [e.value for e in at.error], [e.value for e in at.error]


def test_a_waiting_computation_shows_its_place_in_the_queue(public_env, monkeypatch) -> None:
    monkeypatch.setenv("FEATENT_MAX_JOBS", "1")
    shown: list[str] = []

    class Place:
        def info(self, text: str, **_) -> None:
            shown.append(text)

        def empty(self) -> None:
            pass

    monkeypatch.setattr(cached.st, "empty", Place)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        release.wait(10)

    other = threading.Thread(target=public.JOBS.run, args=("another-session", hold))
    other.start()
    holding.wait(5)
    threading.Timer(0.8, release.set).start()
    assert cached.bounded(lambda: 42) == 42  # waits for the other job, then runs
    other.join(5)
    assert shown and shown[0] == ("Waiting for a free slot: place 1 in the queue (this server runs 1 computations "
                                  "at once).")


def _one_slot_held(monkeypatch) -> tuple[public.JobQueue, threading.Event, threading.Thread]:
    """A queue of one slot, held by session 'a' until the returned event is set."""
    monkeypatch.setenv("FEATENT_MAX_JOBS", "1")
    queue = public.JobQueue()
    release = threading.Event()
    first = threading.Thread(target=queue.run, args=("a", lambda: release.wait(10)))
    first.start()
    time.sleep(0.1)
    return queue, release, first


def test_a_closed_sessions_waiting_job_leaves_the_queue(public_env, monkeypatch) -> None:
    queue, release, first = _one_slot_held(monkeypatch)

    class Closed(BaseException):
        """What Streamlit raises at the next output of a closed session's script."""

    def closed(place: int) -> None:
        raise Closed

    with pytest.raises(Closed):
        queue.run("b", lambda: pytest.fail("a closed session's job ran"), on_wait=closed)
    places: list[int] = []
    third = threading.Thread(target=queue.run, args=("c", lambda: None), kwargs={"on_wait": places.append})
    third.start()
    time.sleep(0.2)
    assert places[0] == 1  # 'b' left: 'c' is first in line, not second
    release.set()
    first.join(5)
    third.join(5)
    assert not third.is_alive() and queue.position(object()) == 0


def test_a_running_job_stops_at_its_sessions_limit_and_nested_work_shares_its_slot(public_env, monkeypatch) -> None:
    monkeypatch.setenv("FEATENT_MAX_JOBS", "1")
    monkeypatch.setenv("FEATENT_SESSION_COMPUTE_S", "0.3")
    queue = public.JobQueue()
    reports = 0

    def long_job() -> None:
        nonlocal reports
        assert queue.run("s", lambda: "nested") == "nested"  # in the job's own slot: no deadlock at max_jobs=1
        while True:  # a progress report every 50 ms, as the pipeline's are
            reports += 1
            queue.check_time("s")
            time.sleep(0.05)

    started = time.monotonic()
    with pytest.raises(FeatentError, match="0 s of computing per session"):
        queue.run("s", long_job)
    assert 0.25 <= time.monotonic() - started < 2 and reports >= 5
    assert queue.spent("s") >= 0.3
    with pytest.raises(FeatentError, match="computing per session"):
        queue.run("s", lambda: None)  # refused before it starts
    assert queue.run("t", lambda: "ok") == "ok"  # another session keeps its own time


def test_uploaded_checkpoints_go_to_the_sessions_own_folder_in_both_modes(monkeypatch) -> None:
    from featent.app.selection import saved_upload

    for public_value in ("", "1"):
        monkeypatch.setenv(mode.PUBLIC_ENV, public_value)
        path = saved_upload(f"weights in mode {public_value!r}".encode())
        folder = public.session_folder()
        assert path.startswith(str(folder) + "/") and folder.parent == public.sessions_root()
        public.end_session_uploads()  # what the session's end does
        assert not folder.exists()


def test_the_inspectors_births_are_a_job_of_the_queue(public_env, monkeypatch) -> None:
    from featent.app import progress
    from featent.spec import Selection

    public.JOBS.run(public.session_id(), lambda: time.sleep(0.01))  # this session has computed for 10 ms
    monkeypatch.setenv("FEATENT_SESSION_COMPUTE_S", "0.001")
    selection = Selection(model="demo", data="fashion", class_name="Trouser", layers=("block3_conv2",), n_images=4)
    with pytest.raises(FeatentError, match="0 s of computing per session"):
        progress.layer_results(selection)  # refused before the store is read or a birth computed
    monkeypatch.setenv("FEATENT_SESSION_COMPUTE_S", "600")
    monkeypatch.setenv("FEATENT_MAX_JOBS", "1")
    fresh = Selection(model="demo", data="fashion", class_name="Trouser", layers=("block3_conv2",), n_images=3, seed=7919)
    for computed_before in (False, True):
        holding, release = threading.Event(), threading.Event()

        def hold(holding=holding, release=release) -> None:
            holding.set()
            release.wait(10)

        other = threading.Thread(target=public.JOBS.run, args=("another-session", hold))
        other.start()
        holding.wait(5)  # another session's job holds the only slot
        started = time.monotonic()
        threading.Timer(1.0, release.set).start()
        assert progress.layer_results(fresh)["block3_conv2"].births.shape[0] == 3
        took = time.monotonic() - started
        other.join(5)
        # real work waits for the slot; a store hit reports nothing and never waits
        assert took < 0.9 if computed_before else took >= 0.9, (computed_before, took)


def test_a_job_waiting_without_output_leaves_the_queue_when_its_session_closes(public_env, monkeypatch) -> None:
    from types import SimpleNamespace

    from streamlit.runtime.scriptrunner_utils import script_run_context
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequests

    queue, release, first = _one_slot_held(monkeypatch)
    requests = ScriptRequests()
    monkeypatch.setattr(script_run_context, "get_script_run_ctx",
                        lambda suppress_warning=False: SimpleNamespace(script_requests=requests))
    assert not public.stop_requested()
    threading.Timer(0.3, requests.request_stop).start()  # the tab closes while the job waits (inside a cache: no output)
    with pytest.raises(StopException):
        queue.run("b", lambda: pytest.fail("a closed session's job ran"))
    assert not queue._waiting  # it left the queue
    release.set()
    first.join(5)


def test_the_train_buttons_need_the_operators_permission(public_env, monkeypatch, tmp_path) -> None:
    from featent.nets import family

    monkeypatch.setenv("FEATENT_CACHE_DIR", str(tmp_path / "empty-cache"))  # no family run built here
    monkeypatch.setattr(family, "SHIPPED_DIRECTORY", tmp_path / "not-shipped")  # as in an install without them

    def train_buttons() -> list[str]:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.query_params.update({"images": "4"})
        at.run()
        at.switch_page("featent/app/views/training_and_generalization.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return [str(b.label) for b in at.button if str(b.label).startswith("Train ")]

    assert train_buttons() == []  # public, training not allowed
    monkeypatch.setenv("FEATENT_ALLOW_TRAINING", "1")
    assert train_buttons()  # the operator allows it: offered (each a job of the queue)
