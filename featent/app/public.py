"""What a public server lets a visitor choose: zoo models within the limits, data by name, safe uploads.

Why a module of its own: every check a shared server needs sits here, apart from the widgets, so the
sidebar calls one function per choice and the hostile-visitor script and the tests call the same ones.
Nothing here accepts a path typed by a visitor: data are built-in names, folder names under the
operator's roots (``FEATENT_DATA_ROOTS``) or a zip the visitor uploads into a folder of their session.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import threading
import time
import uuid
import weakref
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from featent.app import mode
from featent.errors import DataError, FeatentError, ModelError
from featent.spec import ModelSpec

#: The session-state key of the object whose collection removes the session's uploads.
_JANITOR = "_public_upload_janitor"
_STARTED = False
_START_LOCK = threading.Lock()


# -- models --------------------------------------------------------------------------------------


def _parameters(name: str) -> int:
    """Parameter count of a zoo model, built on the meta device (no memory, no weights)."""
    import torch

    from featent.nets.zoo import build

    with torch.device("meta"):
        module = build(name)
    return sum(p.numel() for p in module.parameters())


def check_spec(spec: str, limits: mode.Limits | None = None) -> str:
    """``spec`` when a public visitor may load it; ModelError naming the rule otherwise.

    Allowed: a name the zoo lists (``featent.nets.list_models()``), optionally ``:random[:SEED]`` and
    ``@SIZE`` within the input-size limit, under the parameter limit; and the standard demo family
    specs, already trained unless the operator allows training. Anything else (a file, a module path,
    user code, an unknown name) is refused, whatever its syntax.
    """
    from featent.nets import list_models
    from featent.nets.family import family_specs, parse_family_spec, resolve_family_spec

    limits = limits or mode.limits()
    text = str(spec).strip()
    try:
        family = parse_family_spec(text) is not None
    except ModelError:
        family = True  # a family spec with a level or epoch the family does not have
    if family:
        if text not in family_specs():
            raise ModelError(f"{text!r} is not offered on this server; choose one of the demo family models in the list.")
        if not mode.training_allowed():
            try:
                resolve_family_spec(text, build=False)
            except ModelError:
                raise ModelError(f"{text!r} would be trained first, and this server does not allow training.") from None
        return text
    parsed = ModelSpec.parse(text)
    if parsed.name not in list_models() or parsed.tag is not None:
        raise ModelError(f"{text!r} is not offered on this server; choose a model from the list (NAME or NAME:random).")
    if parsed.size is not None and parsed.size > limits.max_input_size:
        raise ModelError(limits.sentence("max_input_size", f"@{parsed.size}"))
    n = _parameters(parsed.name)
    if n > limits.max_parameters:
        raise ModelError(limits.sentence("max_parameters", f"{parsed.name} ({n:,} parameters)"))
    return text


def needs_training(spec: str) -> bool:
    """True for a demo family member not trained yet on this server (loading it would train it)."""
    from featent.nets.family import parse_family_spec, resolve_family_spec

    try:
        if parse_family_spec(str(spec).strip()) is None:
            return False
        resolve_family_spec(str(spec).strip(), build=False)
    except ModelError:
        return True
    return False


def check_images(n: int, limits: mode.Limits | None = None) -> int:
    """``n`` when within the images-per-selection limit; DataError with the limit otherwise."""
    limits = limits or mode.limits()
    if n > limits.max_images:
        raise DataError(limits.sentence("max_images", f"{n} images"))
    return n


# -- data ----------------------------------------------------------------------------------------


def sessions_root() -> Path:
    """The private folder holding one subfolder of uploads per browser session (0700, ours)."""
    root = Path(tempfile.gettempdir()) / f"featent-sessions-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise DataError(f"The upload folder {str(root)!r} is not private to this server; remove it and restart.")
    return root


def clear_uploads_at_startup() -> None:
    """Remove uploads left by an earlier server process (once per process)."""
    global _STARTED
    with _START_LOCK:
        if _STARTED:
            return
        _STARTED = True
        shutil.rmtree(sessions_root(), ignore_errors=True)
        legacy = Path(tempfile.gettempdir()) / f"featent-uploads-{os.getuid()}"
        shutil.rmtree(legacy, ignore_errors=True)


#: Upload folders untouched for this long belong to sessions that ended without their janitor running.
STALE_S = 6 * 3600


def sweep_ended_sessions(now: float | None = None) -> list[str]:
    """Remove upload folders no session has used for STALE_S seconds; returns their names."""
    now = time.time() if now is None else now
    removed = []
    for folder in sessions_root().iterdir():
        try:
            stale = now - folder.stat().st_mtime > STALE_S
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def session_id() -> str:
    """A random id of this browser session (kept in its state), naming its upload folder and its compute time."""
    import streamlit as st

    return str(st.session_state.setdefault("_public_session_id", uuid.uuid4().hex))


class _Janitor:
    """Kept in a session's state; when the session ends and its state is collected, its folder goes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        weakref.finalize(self, shutil.rmtree, str(folder), True)


def session_folder() -> Path:
    """This browser session's upload folder (created on first use, removed when the session ends)."""
    import streamlit as st

    clear_uploads_at_startup()  # the first use in a process removes what an earlier process left
    janitor = st.session_state.get(_JANITOR)
    if janitor is None or not janitor.folder.is_dir():
        folder = sessions_root() / session_id()
        folder.mkdir(mode=0o700, exist_ok=True)
        janitor = _Janitor(folder)
        st.session_state[_JANITOR] = janitor
    os.utime(janitor.folder)  # in use: not stale
    return janitor.folder


def keep_alive() -> None:
    """Mark this session's upload folder as in use (each run), so the stale sweep leaves it."""
    import streamlit as st

    janitor = st.session_state.get(_JANITOR)
    if janitor is not None and janitor.folder.is_dir():
        os.utime(janitor.folder)


def end_session_uploads() -> None:
    """Remove this session's uploads now (the janitor does it when the session's state goes)."""
    import streamlit as st

    janitor = st.session_state.pop(_JANITOR, None)
    if janitor is not None:
        shutil.rmtree(janitor.folder, ignore_errors=True)


def check_upload_size(n_bytes: int, limits: mode.Limits | None = None) -> None:
    """DataError naming the upload limit when ``n_bytes`` is over it."""
    limits = limits or mode.limits()
    if n_bytes > limits.max_upload_mb * 1e6:
        raise DataError(limits.sentence("max_upload_mb", f"an upload of {n_bytes / 1e6:.1f} MB"))


def unpack_zip(data: bytes, dest: Path, limits: mode.Limits | None = None) -> Path:
    """Unpack a zip of class folders into a new folder under ``dest``; one sentence for what is refused.

    Refused: absolute names, ``..``, links (any entry whose mode says symlink), more files than the
    limit, and bombs: the declared unpacked total over the upload limit, or an entry writing more bytes
    than it declared (each is copied with a byte budget, never trusted).
    """
    limits = limits or mode.limits()
    check_upload_size(len(data), limits)
    budget = int(limits.max_upload_mb * 1e6)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DataError("The upload is not a zip file; zip a folder holding one subfolder of images per class.") from None
    with archive:
        entries = archive.infolist()
        files = [e for e in entries if not e.is_dir()]
        if len(files) > limits.max_upload_files:
            raise DataError(limits.sentence("max_upload_files", f"a zip of {len(files)} files"))
        declared = sum(e.file_size for e in files)
        if declared > budget:
            raise DataError(limits.sentence("max_upload_mb", f"a zip unpacking to {declared / 1e6:.1f} MB"))
        for entry in entries:
            name = entry.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts or "\x00" in name:
                raise DataError(f"The zip entry {name!r} points outside the zip; zip the class folders themselves.")
            if stat.S_ISLNK(entry.external_attr >> 16):
                raise DataError(f"The zip entry {name!r} is a link; zip the image files themselves.")
        target = Path(tempfile.mkdtemp(prefix="zip-", dir=dest))
        try:
            _copy_entries(archive, files, target, budget, limits)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a lying header (CRC, sizes) or a broken stream
            shutil.rmtree(target, ignore_errors=True)
            raise DataError(f"The zip cannot be unpacked ({exc}); zip the class folders again.") from None
    return _class_root(target)


def _copy_entries(archive: zipfile.ZipFile, files: list[zipfile.ZipInfo], target: Path, budget: int,
                  limits: mode.Limits) -> None:
    """Copy each entry with a running byte budget (never trusting the declared sizes)."""
    written = 0
    for entry in files:
        out = target / Path(*PurePosixPath(entry.filename.replace("\\", "/")).parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(entry) as source, open(out, "wb") as sink:
            while chunk := source.read(1 << 16):
                written += len(chunk)
                if written > budget:
                    shutil.rmtree(target, ignore_errors=True)
                    raise DataError(limits.sentence("max_upload_mb", "the zip's unpacked content"))
                sink.write(chunk)


def _class_root(target: Path) -> Path:
    """The folder holding the class folders: the zip's single top folder when it has one."""
    children = [c for c in target.iterdir() if not c.name.startswith((".", "__MACOSX"))]
    if len(children) == 1 and children[0].is_dir() and any(g.is_dir() for g in children[0].iterdir()):
        return children[0]
    return target


# -- jobs at once --------------------------------------------------------------------------------


def stop_requested() -> bool:
    """True when Streamlit asked this script run to stop (its session closed); read without consuming it.

    A job waiting for a slot sends nothing to the browser, so it never reaches one of Streamlit's own stop
    points; the queue asks this instead, so a closed tab's waiting job leaves the queue.
    """
    try:
        from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:  # pragma: no cover - another Streamlit layout: stop through st calls only
        return False
    ctx = get_script_run_ctx(suppress_warning=True)
    requests = getattr(ctx, "script_requests", None)
    return getattr(requests, "_state", None) is ScriptRequestType.STOP


class JobQueue:
    """At most ``limits.max_jobs`` computations at once; the rest wait in order and can see their place.

    Each session's compute time is summed (finished jobs and the running ones); a session over
    ``session_compute_s`` gets the limit's sentence before it starts and at its running job's next
    progress report (``check_time``). A thread already holding a slot runs nested work in it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: list[object] = []
        self._spent: dict[str, float] = {}
        self._started: dict[object, tuple[str, float]] = {}  # running ticket -> (session, start)
        self._held = threading.local()

    def position(self, ticket: object) -> int:
        """1-based place of ``ticket`` among the waiting, 0 when it runs."""
        with self._cond:
            return self._waiting.index(ticket) + 1 if ticket in self._waiting else 0

    def spent(self, session: str) -> float:
        """Compute seconds ``session`` has used, its running jobs included."""
        now = time.monotonic()
        with self._cond:
            running = sum(now - start for who, start in self._started.values() if who == session)
            return self._spent.get(session, 0.0) + running

    def check_time(self, session: str, limits: mode.Limits | None = None) -> None:
        """FeatentError with the limit's sentence when ``session`` has used its compute time."""
        limits = limits or mode.limits()
        if self.spent(session) >= limits.session_compute_s:
            raise FeatentError(limits.sentence("session_compute_s", "this session"))

    @contextmanager
    def slot(self, session: str, on_wait=None, limits: mode.Limits | None = None) -> Iterator[None]:
        """Hold a slot for the body; ``on_wait(position)`` is told the place while waiting (every 0.5 s).

        A waiting job whose session was closed (``stop_requested``) or whose ``on_wait`` raises (Streamlit
        stops a closed session's script at its next output) leaves the queue; the others move up.
        """
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        limits = limits or mode.limits()
        self.check_time(session, limits)
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._running < limits.max_jobs and self._waiting[0] is ticket:
                        self._waiting.pop(0)
                        self._running += 1
                        self._started[ticket] = (session, time.monotonic())
                        break
                    place = self._waiting.index(ticket) + 1
                if stop_requested():
                    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

                    raise StopException()
                if on_wait is not None:
                    on_wait(place)
                with self._cond:
                    self._cond.wait(timeout=0.5)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        self._held.depth = 1
        try:
            yield
        finally:
            self._held.depth = 0
            with self._cond:
                who, start = self._started.pop(ticket)
                self._running -= 1
                self._spent[who] = self._spent.get(who, 0.0) + time.monotonic() - start
                self._cond.notify_all()

    def run(self, session: str, work, on_wait=None, limits: mode.Limits | None = None):
        """``work()`` in a slot (see ``slot``); a session over its compute time gets the limit's sentence."""
        with self.slot(session, on_wait, limits):
            return work()


JOBS = JobQueue()


def bounded(work, on_wait=None):
    """``work()`` within this server's limits: in public mode through ``JOBS`` for this browser session
    (jobs at once, compute time); in local mode directly."""
    if not mode.public_mode():
        return work()
    return JOBS.run(session_id(), work, on_wait=on_wait)


def check_time() -> None:
    """In public mode, the compute-time sentence once this session has used its time (progress reports call it)."""
    if mode.public_mode():
        JOBS.check_time(session_id())
