"""On-disk store of birth-time arrays (diskcache), safe against tampering and damage.

Why it looks like this: diskcache pickles anything that is not str/bytes/int/float, and a pickle
read back from disk can run code. So keys are explicit strings, values are raw bytes (a checksum
followed by an ``.npy`` image written and read with ``allow_pickle=False``), the directory is
private (0700), and the Disk class refuses to unpickle. A value that fails its checksum or does
not parse is a miss: the caller recomputes and overwrites it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import stat
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    """``$FEATENT_CACHE_DIR``, else ``cache/`` of a source checkout, else ``~/.cache/featent``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    project = Path(__file__).resolve().parent.parent
    if (project / "pyproject.toml").is_file():
        return project / "cache"
    return Path.home() / ".cache" / "featent"


def _writable(path: Path) -> bool:
    """Can this process create files in ``path``? (os.access, so root's bypass is honoured too.)"""
    return os.access(path, os.W_OK | os.X_OK)


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


def _encode(births: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(births), allow_pickle=False)
    payload = buffer.getvalue()
    return hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES).digest() + payload


def _encode_result(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
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
    return hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES).digest() + payload


def _decode_result(blob: object) -> tuple[dict[str, np.ndarray], dict] | None:
    import json

    if not isinstance(blob, bytes) or len(blob) <= _CHECKSUM_BYTES + 8:
        return None
    checksum, payload = blob[:_CHECKSUM_BYTES], blob[_CHECKSUM_BYTES:]
    if hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES).digest() != checksum:
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


def _decode(blob: object) -> np.ndarray | None:
    if not isinstance(blob, bytes) or len(blob) <= _CHECKSUM_BYTES:
        return None
    checksum, payload = blob[:_CHECKSUM_BYTES], blob[_CHECKSUM_BYTES:]
    if hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES).digest() != checksum:
        return None
    try:
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None


class StoreRepairedWarning(UserWarning):
    """The store's index was damaged; it was moved aside and a fresh store opened."""


_INDEX = "cache.db"


def _damaged_index(exc: BaseException) -> bool:
    """Is this the error of an unreadable SQLite index (not of an unwritable folder)?"""
    import sqlite3

    return (isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)) or (
        isinstance(exc, sqlite3.OperationalError) and "malformed" in str(exc)
    )


def _move_aside(path: Path) -> Path:
    """Rename cache.db (and its -wal/-shm files) to cache.db.damaged-<timestamp>; the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path / f"{_INDEX}.damaged-{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = path / f"{_INDEX}.damaged-{stamp}-{n}"
    for suffix in ("-wal", "-shm", "-journal"):
        side = path / f"{_INDEX}{suffix}"
        if side.exists():
            side.rename(Path(f"{target}{suffix}"))
    (path / _INDEX).rename(target)
    return target


class ResultStore:
    """Birth-time arrays by key, on disk; a damaged entry reads as a miss.

    A damaged index (``cache.db`` that SQLite cannot read) is moved aside under a timestamped
    name and a fresh store is opened, with one ``StoreRepairedWarning``; ``repaired`` then
    holds the sentence. Only a folder that cannot be created or written is blamed as such.
    """

    def __init__(self, directory: str | os.PathLike | None = None, size_limit: int = DEFAULT_SIZE_LIMIT) -> None:
        path = Path(directory).expanduser() if directory is not None else default_directory()
        size_limit = check_int("size_limit", size_limit, 2**20, error=CacheError)
        self.directory = path
        self.size_limit = size_limit
        self.repaired: str | None = None
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = path.stat()
            if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != 0o700:
                path.chmod(0o700)
        except OSError as exc:
            raise CacheError(
                f"Cannot use cache directory {str(path)!r} ({exc.strerror or exc}); "
                f"set {ENV_VAR} to a writable folder."
            ) from exc
        if not _writable(path):
            raise CacheError(
                f"Cache directory {str(path)!r} is not writable; set {ENV_VAR} to a writable folder."
            )
        self._cache = self._open(path)

    def _open(self, path: Path):
        import diskcache

        try:
            return diskcache.Cache(str(path), size_limit=self.size_limit, disk=_no_pickle_disk())
        except Exception as exc:  # sqlite3 errors are not OSErrors
            if not _damaged_index(exc) or not (path / _INDEX).is_file():
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                raise CacheError(f"Cannot use cache directory {str(path)!r} ({reason}).") from exc
            first = exc
        try:
            moved = _move_aside(path)
            cache = diskcache.Cache(str(path), size_limit=self.size_limit, disk=_no_pickle_disk())
        except Exception as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise CacheError(
                f"The cache index in {str(path)!r} is damaged ({first}) and could not be rebuilt ({reason})."
            ) from exc
        self.repaired = (
            f"The cache index in {str(path)!r} was damaged ({first}); it was moved to {moved.name!r} "
            "and a fresh cache was started (earlier results will be recomputed)."
        )
        warnings.warn(StoreRepairedWarning(self.repaired), stacklevel=3)
        return cache

    def get_births(self, key: str) -> np.ndarray | None:
        """The stored array, or None when absent or damaged."""
        try:
            blob = self._cache.get(key, default=None)
        except Exception:  # noqa: BLE001 - a damaged row or a refused pickle: treat as a miss
            return None
        return _decode(blob)

    def put_births(self, key: str, births: np.ndarray) -> None:
        """Store (or overwrite) an array under ``key``; CacheError if the disk refuses."""
        if not isinstance(key, str) or not key.startswith(SCHEMA + "|"):
            raise CacheError(f"Store keys must be strings starting with {SCHEMA!r}, got {key!r}.")
        births = np.asarray(births)
        if births.dtype.kind not in "biuf":
            raise CacheError(f"Only numeric arrays can be stored, got dtype {births.dtype}.")
        try:
            self._cache.set(key, _encode(births))
        except Exception as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise CacheError(f"Cannot write to cache directory {str(self.directory)!r} ({reason}).") from exc

    def get_result(self, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
        """``(arrays, meta)`` stored by ``put_result``, or None when absent or damaged."""
        try:
            blob = self._cache.get(key, default=None)
        except Exception:  # noqa: BLE001 - a damaged row or a refused pickle: treat as a miss
            return None
        return _decode_result(blob)

    def put_result(self, key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Store an experiment result: named numeric arrays (raw ``.npz`` bytes) and JSON metadata."""
        if not isinstance(key, str) or not key.startswith(SCHEMA + "|"):
            raise CacheError(f"Store keys must be strings starting with {SCHEMA!r}, got {key!r}.")
        blob = _encode_result(dict(arrays), dict(meta))
        try:
            self._cache.set(key, blob)
        except Exception as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise CacheError(f"Cannot write to cache directory {str(self.directory)!r} ({reason}).") from exc

    def delete(self, key: str) -> bool:
        """Remove one entry; True if it was there."""
        return bool(self._cache.delete(key))

    def clear(self) -> None:
        """Remove every entry; a store whose index broke while open is rebuilt empty."""
        try:
            self._cache.clear()
        except Exception as exc:
            if not _damaged_index(exc):
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                raise CacheError(f"Cannot clear cache directory {str(self.directory)!r} ({reason}).") from exc
            self._cache.close()
            self._cache = self._open_damaged(exc)

    def _open_damaged(self, exc: BaseException):
        import diskcache

        moved = _move_aside(self.directory)
        self.repaired = (
            f"The cache index in {str(self.directory)!r} was damaged ({exc}); it was moved to {moved.name!r} "
            "and a fresh cache was started."
        )
        warnings.warn(StoreRepairedWarning(self.repaired), stacklevel=3)
        return diskcache.Cache(str(self.directory), size_limit=self.size_limit, disk=_no_pickle_disk())

    def stats(self) -> dict:
        """``{"entries", "bytes", "directory"}`` for display."""
        return {"entries": len(self._cache), "bytes": int(self._cache.volume()), "directory": str(self.directory)}

    def close(self) -> None:
        """Close the underlying database (reopened automatically on next use)."""
        self._cache.close()


_STORES: dict[str, ResultStore] = {}
_STORES_LOCK = threading.Lock()


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
        return default_store()
    except CacheError as exc:
        Progress.of(progress).warn(f"results are not cached: {exc}")
        return None
