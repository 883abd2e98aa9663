"""featent.store: raw-bytes diskcache store, private directory, damaged entries, refusal to unpickle."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import diskcache
import numpy as np
import pytest

from featent.errors import CacheError
from featent.store import ResultStore, default_directory

KEY = "featent-v1|births|w123|d456|cat|block1_conv1|100|0"


@pytest.mark.parametrize("shape", [(3, 4), (100, 512)])  # small: in sqlite; large: in a file
def test_roundtrip(tmp_path, shape):
    store = ResultStore(tmp_path / "s")
    births = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    assert store.get_births(KEY) is None
    store.put_births(KEY, births)
    got = store.get_births(KEY)
    assert got.dtype == np.int32 and np.array_equal(got, births)
    assert ResultStore(tmp_path / "s").get_births(KEY) is not None  # persisted on disk


def test_a_folder_it_creates_is_private_and_a_given_folder_keeps_its_mode(tmp_path):
    directory = tmp_path / "new" / "store"
    ResultStore(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    ResultStore(loose).put_births(KEY, np.zeros(2, np.int32))
    assert stat.S_IMODE(loose.stat().st_mode) == 0o777  # the owner's choice is kept


def test_env_var_sets_the_default_directory(cache_dir):
    assert default_directory() == cache_dir
    store = ResultStore()
    assert store.directory == cache_dir and cache_dir.is_dir()
    assert store.stats()["directory"] == str(cache_dir)


def test_xdg_cache_home_comes_after_the_env_var_and_a_relative_one_is_ignored(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == cache_dir  # FEATENT_CACHE_DIR wins
    monkeypatch.delenv("FEATENT_CACHE_DIR")
    assert default_directory() == tmp_path / "xdg" / "featent"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec: relative paths are invalid
    assert default_directory() != Path("relative/cache/featent")
    assert default_directory().is_absolute()


def test_stats_and_clear(tmp_path):
    store = ResultStore(tmp_path)
    store.put_births(KEY, np.zeros((2, 2), np.int32))
    store.put_births(KEY.replace("|0", "|1"), np.zeros((2, 2), np.int32))
    stats = store.stats()
    assert stats["entries"] == 2 and stats["bytes"] >= 0
    assert store.delete(KEY) and not store.delete(KEY)
    store.clear()
    assert store.stats()["entries"] == 0


def _raw_cache(directory) -> diskcache.Cache:
    return diskcache.Cache(str(directory))


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[:-5],  # truncated
        lambda blob: blob[:40] + bytes([blob[40] ^ 1]) + blob[41:],  # one flipped bit
        lambda blob: b"xyz",  # too short
    ],
    ids=["truncated", "bitflip", "short"],
)
def test_damaged_entry_is_a_miss_and_can_be_overwritten(tmp_path, damage):
    store = ResultStore(tmp_path)
    births = np.ones((5, 7), np.int32)
    store.put_births(KEY, births)
    store.close()
    raw = _raw_cache(tmp_path)
    raw.set(KEY, damage(raw.get(KEY)))
    raw.close()
    store = ResultStore(tmp_path)
    assert store.get_births(KEY) is None
    store.put_births(KEY, births)
    assert np.array_equal(store.get_births(KEY), births)


def test_damaged_value_file_is_a_miss(tmp_path):
    store = ResultStore(tmp_path)
    store.put_births(KEY, np.ones((200, 512), np.int32))  # large: stored as a file
    files = [p for p in tmp_path.rglob("*.val")]
    assert len(files) == 1
    files[0].write_bytes(files[0].read_bytes()[:1000])
    assert store.get_births(KEY) is None
    files[0].unlink()
    assert store.get_births(KEY) is None


def test_a_pickled_value_is_never_unpickled(tmp_path):
    ResultStore(tmp_path).close()
    marker = tmp_path / "unpickled"
    raw = _raw_cache(tmp_path)
    raw.set(KEY, _Marker(str(marker)))  # diskcache pickles non-bytes values
    raw.close()
    assert ResultStore(tmp_path).get_births(KEY) is None
    assert not marker.exists()


class _Marker:
    """Unpickling this creates a file: proof that something unpickled it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    open(path, "w").close()


def test_unusable_directory_is_a_cache_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match=r"Cannot use cache directory .*; set FEATENT_CACHE_DIR to a writable folder"):
        ResultStore(blocker / "store")


@pytest.mark.parametrize(
    ("limit", "match"), [(10, r"size_limit must be an integer >= 1048576, got 10"), ("big", r"must be an integer")]
)
def test_bad_size_limit(tmp_path, limit, match):
    with pytest.raises(CacheError, match=match):
        ResultStore(tmp_path, size_limit=limit)


@pytest.mark.parametrize("key", ["births|x", 5, b"featent-v1|x"])
def test_bad_keys(tmp_path, key):
    with pytest.raises(CacheError, match=r"Store keys must be strings starting with 'featent-v1'"):
        ResultStore(tmp_path).put_births(key, np.zeros(2, np.int32))


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(CacheError, match=r"Only numeric arrays can be stored, got dtype object"):
        ResultStore(tmp_path).put_births(KEY, np.array([object()]))


def test_values_are_raw_npy_bytes(tmp_path):
    store = ResultStore(tmp_path)
    store.put_births(KEY, np.zeros((2, 3), np.int32))
    blob = _raw_cache(tmp_path).get(KEY)
    assert isinstance(blob, bytes) and blob[16:22] == b"\x93NUMPY"
