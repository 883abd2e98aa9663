"""On-disk store of birth-time arrays (diskcache), safe against tampering and damage.

Why it looks like this: diskcache pickles anything that is not str/bytes/int/float, and a pickle
read back from disk can run code. So keys are explicit strings, values are raw bytes (a checksum
over the key and the value, followed by an ``.npy`` image written and read with
``allow_pickle=False``), a folder the store creates is private (0700), and the Disk class refuses
to unpickle. A value that fails its checksum (damaged, or sealed for another key) or does not
parse is a miss: the caller recomputes and overwrites it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import io
import os
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from featent.core import baselines
from featent.errors import CacheError
from featent.progress import Progress, ProgressLike
from featent.validation import check_int

SCHEMA = "featent-v1"


@dataclass(frozen=True)
class BirthsKey:
    """Which birth-time array: weights, data (and split), class, layer, images asked for, seed; ``null``
    for the births of the same maps with each map's entries shuffled (``featent.core.baselines``)."""

    weights: str
    data: str
    class_name: str
    layer: str
    n_images: int
    seed: int
    null: bool = False

    @property
    def kind(self) -> str:
        # The null kind names its shuffle: a different shuffle must never be served another's entries.
        return f"null-births-shuffle{baselines.NULL_SEED}-kernel" if self.null else "births"

    def text(self) -> str:
        """The store key."""
        return (f"{SCHEMA}|{self.kind}|{self.weights}|{self.data}|{self.class_name}|{self.layer}|"
                f"{int(self.n_images)}|{int(self.seed)}")

    def __str__(self) -> str:
        return self.text()

    def as_null(self) -> BirthsKey:
        return dataclasses.replace(self, null=True)


@dataclass(frozen=True)
class SizeReferenceKey:
    """Which size reference: iid uniform m x m units over ``n_images`` images."""

    m: int
    n_images: int
    units: int = baselines.SIZE_REFERENCE_UNITS
    seed: int = baselines.SIZE_REFERENCE_SEED

    def text(self) -> str:
        return f"{SCHEMA}|size-reference|m{int(self.m)}|n{int(self.n_images)}|units{int(self.units)}|seed{int(self.seed)}"

    def __str__(self) -> str:
        return self.text()


ENV_VAR = "FEATENT_CACHE_DIR"
DEFAULT_SIZE_LIMIT = 2**31
_CHECKSUM_BYTES = 16
_PERSON = b"featent-value-2"

__all__ = [
    "SCHEMA",
    "ENV_VAR",
    "BirthsKey",
    "SizeReferenceKey",
    "ResultStore",
    "default_directory",
    "default_store",
    "open_store",
    "result_key",
    "write_atomic",
    "write_bytes_atomic",
]


def result_key(kind: str, *parts: object) -> str:
    """The explicit store key of one experiment result: schema, kind, then its parts in order.

    Callers put the weights and data fingerprints among ``parts`` so a changed checkpoint or folder
    is a different key."""
    text = [str(p) for p in (kind, *parts)]
    if "|" in text[0]:
        raise CacheError(f"A result kind cannot contain '|', got {kind!r}.")
    return f"{SCHEMA}|result|" + "|".join(t.replace("|", "/") for t in text)


def default_directory() -> Path:
    """``$FEATENT_CACHE_DIR``; else ``$XDG_CACHE_HOME/featent`` (clusters point it at scratch space); else
    ``cache/`` of a source checkout; else ``~/.cache/featent``. An installed package never writes next to its code."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and Path(xdg).expanduser().is_absolute():  # the XDG spec: a relative path is to be ignored
        return Path(xdg).expanduser() / "featent"
    project = Path(__file__).resolve().parent.parent
    if (project / "pyproject.toml").is_file():
        return project / "cache"
    return Path.home() / ".cache" / "featent"


def _writable(path: Path) -> bool:
    """May this process create files in ``path``? Not on a read-only mount or without write access
    (os.access), nor in a folder its owner made read-only (no owner write bit), which root's
    permission bypass would otherwise ignore."""
    if not os.access(path, os.W_OK | os.X_OK):
        return False
    try:
        info = path.stat()
    except OSError:
        return False
    return not (info.st_uid == os.getuid() and not info.st_mode & stat.S_IWUSR)


def _no_pickle_disk():
    """A diskcache Disk that stores and returns only raw values and never unpickles."""
    import diskcache
    from diskcache.core import MODE_PICKLE

    class RawDisk(diskcache.Disk):
        def get(self, key, raw):  # diskcache API
            if not raw:
                raise ValueError("featent store keys are plain strings; refusing to unpickle a key")
            return super().get(key, raw)

        def fetch(self, mode, filename, value, read):
            if mode == MODE_PICKLE:
                raise ValueError("featent store values are raw bytes; refusing to unpickle a value")
            return super().fetch(mode, filename, value, read)

    return RawDisk


def _seal(key: str, payload: bytes) -> bytes:
    """The checksum of a value: covers its key, so a value moved under another key (a flipped key
    bit, two value files swapped) fails it, and its payload, whose ``.npy``/``.npz`` headers hold
    the full shape and dtype."""
    digest = hashlib.blake2b(digest_size=_CHECKSUM_BYTES, person=_PERSON)
    digest.update(len(key.encode()).to_bytes(8, "little"))
    digest.update(key.encode())
    digest.update(payload)
    return digest.digest()


def _open(key: str, blob: object) -> bytes | None:
    """The payload of a sealed value, or None when it is not one sealed for ``key``."""
    if not isinstance(blob, bytes) or len(blob) <= _CHECKSUM_BYTES:
        return None
    checksum, payload = blob[:_CHECKSUM_BYTES], blob[_CHECKSUM_BYTES:]
    if not hmac.compare_digest(_seal(key, payload), checksum):
        return None
    return payload


def _encode(key: str, births: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(births), allow_pickle=False)
    payload = buffer.getvalue()
    return _seal(key, payload) + payload


def _encode_result(key: str, arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """Checksum + length-prefixed JSON meta + an uncompressed ``.npz`` of the arrays (no pickle)."""
    import json

    for name, array in arrays.items():
        if not isinstance(name, str) or np.asarray(array).dtype.kind not in "biuf":
            raise CacheError(f"Result array {name!r} must be numeric, got dtype {np.asarray(array).dtype}.")
    try:
        header = json.dumps(meta, allow_nan=True, sort_keys=True).encode()
    except (TypeError, ValueError) as exc:
        raise CacheError(f"Result metadata must be JSON: {exc}.") from exc
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    payload = len(header).to_bytes(8, "little") + header + buffer.getvalue()
    return _seal(key, payload) + payload


def _decode_result(key: str, blob: object) -> tuple[dict[str, np.ndarray], dict] | None:
    import json

    payload = _open(key, blob)
    if payload is None or len(payload) < 8:
        return None
    size = int.from_bytes(payload[:8], "little")
    try:
        meta = json.loads(payload[8 : 8 + size].decode())
        with np.load(io.BytesIO(payload[8 + size :]), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, UnicodeDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    return arrays, meta


def _decode(key: str, blob: object) -> np.ndarray | None:
    payload = _open(key, blob)
    if payload is None:
        return None
    try:
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None


class StoreRepairedWarning(UserWarning):
    """The store's index was damaged; it was moved aside and a fresh store opened."""


_INDEX = "cache.db"
_DAMAGED = f"{_INDEX}.damaged-"
#: Damaged copies older than this are removed by ``clear``/``repair`` (kept a while for inspection).
DAMAGED_KEEP_SECONDS = 7 * 24 * 3600
#: ``PRAGMA quick_check`` reads the whole index; on open it runs only below this size.
QUICK_CHECK_LIMIT = 256 * 2**20
#: Folders whose index passed ``quick_check`` in this process (it runs once per folder and process).
_CHECKED: set[str] = set()
#: SQLite failures that say nothing about the index's bytes: the folder, the disk or another process.
_NOT_DAMAGE = ("locked", "disk is full", "disk i/o", "readonly", "read-only", "unable to open", "permission",
               "out of memory", "interrupted")


def _damaged_index(exc: BaseException) -> bool:
    """Is this the error of an unreadable index (rather than of its folder, disk or a lock)?

    SQLite reports damage in many ways (DatabaseError, OperationalError "malformed"/"no such
    column", and a garbled text column decodes as UnicodeDecodeError); only the folder, disk and
    lock failures in ``_NOT_DAMAGE`` are not damage."""
    import sqlite3

    if isinstance(exc, (UnicodeDecodeError, sqlite3.DatabaseError)):
        return not any(word in str(exc).lower() for word in _NOT_DAMAGE)
    return False


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _move_aside(path: Path) -> Path:
    """Rename cache.db (and its -wal/-shm files) to cache.db.damaged-<timestamp>; the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path / f"{_DAMAGED}{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = path / f"{_DAMAGED}{stamp}-{n}"
    for suffix in ("-wal", "-shm", "-journal"):
        side = path / f"{_INDEX}{suffix}"
        if side.exists():
            side.rename(Path(f"{target}{suffix}"))
    (path / _INDEX).rename(target)
    return target


def _quick_check(path: Path, limit: int | None = None) -> str | None:
    """None when ``PRAGMA quick_check`` finds the index sound (or it is absent or above ``limit``
    bytes), else what it found."""
    import sqlite3

    index = path / _INDEX
    try:
        size = index.stat().st_size
    except OSError:
        return None
    if limit is not None and size > limit:
        return None
    connection = sqlite3.connect(f"{index.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
    try:
        rows = connection.execute("PRAGMA quick_check").fetchall()
    finally:
        connection.close()
    found = "; ".join(str(r[0]) for r in rows)
    return None if found == "ok" else f"quick_check: {found[:200]}"


class _ReadOnlyIndex:
    """The few reads the store needs, straight from a diskcache index that must not be written:
    the folder or mount is read-only, so diskcache (which writes on open) cannot be used."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        self.path = path
        self._connection: sqlite3.Connection | None = None
        index = path / _INDEX
        if not index.is_file():
            return
        uri = index.resolve().as_uri()
        # immutable: SQLite creates no -wal/-shm files; only pending WAL content needs mode=ro
        wal = (path / f"{_INDEX}-wal").is_file()
        for mode in (("mode=ro", "immutable=1") if wal else ("immutable=1",)):
            try:
                connection = sqlite3.connect(f"{uri}?{mode}", uri=True, check_same_thread=False, timeout=60)
                connection.execute("SELECT COUNT(*) FROM Cache").fetchone()
            except Exception:  # noqa: BLE001 - unreadable: try the next mode, else serve nothing
                continue
            self._connection = connection
            return

    def get(self, key: str, default=None):
        from diskcache.core import MODE_BINARY, MODE_RAW

        if self._connection is None:
            return default
        row = self._connection.execute(
            "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1"
            " AND (expire_time IS NULL OR expire_time > ?)", (key, time.time()),
        ).fetchone()
        if row is None:
            return default
        mode, filename, value = row
        if mode == MODE_RAW:
            return bytes(value)
        if mode == MODE_BINARY and isinstance(filename, str):
            return (self.path / filename).read_bytes()
        return default

    def __len__(self) -> int:
        if self._connection is None:
            return 0
        return int(self._connection.execute("SELECT COUNT(*) FROM Cache").fetchone()[0])

    def volume(self) -> int:
        if self._connection is None:
            return 0
        return int(self._connection.execute("SELECT COALESCE(SUM(size), 0) FROM Cache").fetchone()[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class ResultStore:
    """Birth-time arrays and experiment results by key, on disk; a damaged entry reads as a miss.

    Every value is sealed with a checksum over its key and its bytes (whose headers hold the full
    shape and dtype), so a value that does not belong to its key is a miss, never served.

    A damaged index (``cache.db`` that SQLite cannot open or query, or that fails
    ``PRAGMA quick_check``) is moved aside under a timestamped name and a fresh store is opened,
    with one ``StoreRepairedWarning``; ``repaired`` then holds the sentence. A folder that cannot be
    written (read-only mount, or a folder its owner made read-only) is opened read-only: hits are
    served, nothing is written, and ``read_only`` says why. The folder's mode is changed only when
    the store created it.
    """

    def __init__(self, directory: str | os.PathLike | None = None, size_limit: int = DEFAULT_SIZE_LIMIT) -> None:
        path = Path(directory).expanduser() if directory is not None else default_directory()
        size_limit = check_int("size_limit", size_limit, 2**20, error=CacheError)
        self.directory = path
        self.size_limit = size_limit
        self.repaired: str | None = None
        self.read_only: str | None = None
        self._lock = threading.RLock()
        try:
            created = not path.exists()
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if created:
                path.chmod(0o700)  # mkdir's mode is filtered by the umask; a folder we made is private
            if not path.is_dir():
                raise NotADirectoryError(20, "Not a directory")
        except OSError as exc:
            raise CacheError(
                f"Cannot use cache directory {str(path)!r} ({exc.strerror or exc}); "
                f"set {ENV_VAR} to a writable folder."
            ) from exc
        if not _writable(path):
            self.read_only = (
                f"Cache directory {str(path)!r} is not writable: stored results are read from it but new "
                f"results are not kept; set {ENV_VAR} to a writable folder to keep them."
            )
            self._cache: Any = _ReadOnlyIndex(path)
            return
        self._cache = self._open(path)

    # ------------------------------------------------------------------ opening and repair
    def _diskcache(self, path: Path):
        import diskcache

        return diskcache.Cache(str(path), size_limit=self.size_limit, disk=_no_pickle_disk())

    def _open(self, path: Path):
        first: BaseException | str
        try:
            cache = self._diskcache(path)
        except Exception as exc:  # sqlite3 errors are not OSErrors
            if not _damaged_index(exc) or not (path / _INDEX).is_file():
                raise CacheError(f"Cannot use cache directory {str(path)!r} ({_reason(exc)}).") from exc
            first = exc
        else:
            checked = str(path.resolve())
            if checked in _CHECKED:
                return cache  # checked by this process already; a failure in use is still repaired
            try:
                found = _quick_check(path, QUICK_CHECK_LIMIT)
            except Exception as exc:  # noqa: BLE001 - quick_check itself failing is damage too
                found = None if not _damaged_index(exc) else _reason(exc)
            if found is None:
                _CHECKED.add(checked)
                return cache
            cache.close()
            first = found
        return self._rebuild(path, first)

    def _rebuild(self, path: Path, why: BaseException | str):
        """Move the damaged index aside and open a fresh one (one StoreRepairedWarning)."""
        try:
            moved = _move_aside(path)
            cache = self._diskcache(path)
        except Exception as exc:
            raise CacheError(
                f"The cache index in {str(path)!r} is damaged ({why}) and could not be rebuilt ({_reason(exc)})."
            ) from exc
        _CHECKED.discard(str(path.resolve()))
        self.repaired = (
            f"The cache index in {str(path)!r} was damaged ({why}); it was moved to {moved.name!r} "
            "and a fresh cache was started (earlier results will be recomputed)."
        )
        warnings.warn(StoreRepairedWarning(self.repaired), stacklevel=4)
        return cache

    def _repair_open(self, exc: BaseException) -> None:
        """The index failed while in use: move it aside and continue on a fresh one."""
        with self._lock:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                self._cache.close()
            if (self.directory / _INDEX).is_file():
                self._cache = self._rebuild(self.directory, exc)
            else:
                self._cache = self._diskcache(self.directory)

    def _index_call(self, call):
        """``call()`` on the index; a damaged index is rebuilt and the call tried once more."""
        try:
            return call()
        except Exception as exc:
            if self.read_only is not None or not _damaged_index(exc):
                raise
            self._repair_open(exc)
        return call()

    # ------------------------------------------------------------------ values
    def _get(self, key: str) -> object:
        try:
            return self._index_call(lambda: self._cache.get(key, default=None))
        except Exception:  # noqa: BLE001 - a damaged row, a missing value file or a refused pickle: a miss
            return None

    def _put(self, key: str, blob: bytes) -> None:
        if self.read_only is not None:
            return  # said once by ``open_store``/the caller; reading goes on
        try:
            self._index_call(lambda: self._cache.set(key, blob))
        except Exception as exc:
            raise CacheError(f"Cannot write to cache directory {str(self.directory)!r} ({_reason(exc)}).") from exc

    @staticmethod
    def _check_key(key: object) -> None:
        if not isinstance(key, str) or not key.startswith(SCHEMA + "|"):
            raise CacheError(f"Store keys must be strings starting with {SCHEMA!r}, got {key!r}.")

    def get_births(self, key: str, shape: tuple[int, ...] | None = None, dtype: DTypeLike | None = None) -> np.ndarray | None:
        """The stored array, or None when absent, damaged, sealed for another key, or not of the
        given full ``shape``/``dtype``."""
        births = _decode(key, self._get(key)) if isinstance(key, str) else None
        if births is None:
            return None
        if shape is not None and tuple(births.shape) != tuple(int(s) for s in shape):
            return None
        if dtype is not None and births.dtype != np.dtype(dtype):
            return None
        return births

    def put_births(self, key: str, births: np.ndarray) -> None:
        """Store (or overwrite) an array under ``key``; CacheError if the disk refuses."""
        self._check_key(key)
        births = np.asarray(births)
        if births.dtype.kind not in "biuf":
            raise CacheError(f"Only numeric arrays can be stored, got dtype {births.dtype}.")
        self._put(key, _encode(key, births))

    def get_result(self, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
        """``(arrays, meta)`` stored by ``put_result``, or None when absent or damaged."""
        return _decode_result(key, self._get(key)) if isinstance(key, str) else None

    def put_result(self, key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Store an experiment result: named numeric arrays (raw ``.npz`` bytes) and JSON metadata."""
        self._check_key(key)
        self._put(key, _encode_result(key, dict(arrays), dict(meta)))

    def delete(self, key: str) -> bool:
        """Remove one entry; True if it was there."""
        if self.read_only is not None:
            return False
        return bool(self._index_call(lambda: self._cache.delete(key)))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the index's write lock (across threads and processes) for a read-modify-write."""
        if self.read_only is not None:
            yield
            return
        with self._index_call(lambda: self._cache.transact(retry=True)):
            yield

    # ------------------------------------------------------------------ housekeeping
    def _value_files(self) -> list[Path]:
        return [p for p in self.directory.glob("*/*/*.val") if p.is_file()]

    def _indexed_files(self) -> set[str]:
        import sqlite3

        index = self.directory / _INDEX
        if not index.is_file():
            return set()
        connection = sqlite3.connect(f"{index.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            rows = connection.execute("SELECT filename FROM Cache WHERE filename IS NOT NULL").fetchall()
        finally:
            connection.close()
        return {str(r[0]) for r in rows}

    def _orphans(self) -> list[Path]:
        """Value files no index entry names (left by a writer killed between file and row)."""
        indexed = self._indexed_files()
        return [p for p in self._value_files() if p.relative_to(self.directory).as_posix() not in indexed]

    def _damaged_copies(self) -> list[Path]:
        return [p for p in self.directory.glob(f"{_DAMAGED}*") if p.is_file()]

    def _tidy(self, orphans: bool = True) -> dict:
        """Remove orphan value files and damaged copies older than ``DAMAGED_KEEP_SECONDS``."""
        removed = {"orphans_removed": 0, "damaged_removed": 0}
        if orphans:
            for path in self._orphans():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed["orphans_removed"] += 1
        cutoff = time.time() - DAMAGED_KEEP_SECONDS
        for path in self._damaged_copies():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed["damaged_removed"] += 1
        return removed

    def _require_writable(self, what: str) -> None:
        if self.read_only is not None:
            raise CacheError(f"Cannot {what} cache directory {str(self.directory)!r}: it is not writable.")

    def clear(self) -> dict:
        """Remove every entry, orphan value files and damaged copies older than a week; a store whose
        index broke (even while open) is rebuilt empty. What was removed."""
        self._require_writable("clear")
        try:
            self._index_call(self._cache.clear)
            return self._tidy()
        except CacheError:
            raise
        except Exception as exc:
            raise CacheError(f"Cannot clear cache directory {str(self.directory)!r} ({_reason(exc)}).") from exc

    def check(self) -> dict:
        """What the folder holds: entries, bytes, orphan value files, damaged copies, and whether the
        index passes ``PRAGMA quick_check`` (``index``: "ok" or what is wrong)."""
        try:
            found = _quick_check(self.directory)
        except Exception as exc:  # noqa: BLE001 - an unreadable index is what check reports
            found = _reason(exc)
        try:
            orphans = self._orphans()
        except Exception:  # noqa: BLE001 - no readable index: every value file is unaccounted for
            orphans = self._value_files()
        damaged = self._damaged_copies()
        try:
            entries, volume = len(self._cache), int(self._cache.volume())
        except Exception:  # noqa: BLE001
            entries, volume = 0, 0
        return {
            "entries": entries, "bytes": volume, "index": found or "ok",
            "orphans": len(orphans), "orphan_bytes": sum(p.stat().st_size for p in orphans),
            "damaged_copies": len(damaged), "damaged_bytes": sum(p.stat().st_size for p in damaged),
            "read_only": self.read_only is not None, "directory": str(self.directory),
        }

    def repair(self) -> dict:
        """Rebuild a damaged index, remove orphan value files and damaged copies older than a week;
        what ``check`` finds afterwards, with what was done."""
        self._require_writable("repair")
        found = self.check()["index"]
        if found != "ok":
            self._repair_open(RuntimeError(found))
        removed = self._tidy()
        return {**self.check(), "index_rebuilt": found != "ok", **removed}

    def stats(self) -> dict:
        """``{"entries", "bytes", "directory"}`` for display."""
        entries = self._index_call(lambda: len(self._cache))
        volume = self._index_call(lambda: int(self._cache.volume()))
        return {"entries": entries, "bytes": volume, "directory": str(self.directory)}

    def close(self) -> None:
        """Close the underlying database (reopened automatically on next use)."""
        self._cache.close()


_STORES: dict[str, ResultStore] = {}
_STORES_LOCK = threading.Lock()
_READ_ONLY_WARNED: set[str] = set()


def default_store() -> ResultStore:
    """The store at the default directory, opened once per directory per process."""
    key = str(default_directory())
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = ResultStore(key)
        return store


def open_store(store: ResultStore | None, progress: ProgressLike = None, cache: bool = True) -> ResultStore | None:
    """``store``, else the default store, else None with a warning through ``progress``: an unusable
    cache folder never stops a computation. None when ``cache`` is False."""
    if not cache:
        return None
    if store is not None:
        return store
    try:
        opened = default_store()
    except CacheError as exc:
        Progress.of(progress).warn(f"results are not cached: {exc}")
        return None
    if opened.read_only is not None:
        with _STORES_LOCK:
            first = str(opened.directory) not in _READ_ONLY_WARNED
            _READ_ONLY_WARNED.add(str(opened.directory))
        if first:
            Progress.of(progress).warn(opened.read_only)
    return opened


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write a file all or nothing: ``write(temporary)`` fills a temporary file in the same folder,
    which is then renamed onto ``path``; a failed or interrupted write leaves no file (and an
    earlier ``path`` untouched). The file gets the mode a plain ``open`` would give it."""
    target = Path(path).expanduser()
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        write(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return target


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """``write_atomic`` of a bytes value."""
    return write_atomic(path, lambda temporary: temporary.write_bytes(data))
