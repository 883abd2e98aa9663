"""Values bound to their keys and full shape; any index damage repaired; read-only stores read.

The tampering here goes below the store (raw diskcache, the SQLite file, the value files), the way
a bit flip, a crash or a hand edit would."""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import warnings

import diskcache
import numpy as np
import pytest

import featent.store as store_module
from featent.births import BirthsKey
from featent.data import load_dataset
from featent.errors import CacheError
from featent.pipeline import Selection, compute_births, load_model
from featent.store import ResultStore, StoreRepairedWarning

MODEL, DATA, IMAGES = "demo", "fashion", 12
LAYER = "block2_conv1"


def _selection(class_name: str, seed: int = 0) -> Selection:
    return Selection(MODEL, DATA, class_name, (LAYER,), n_images=IMAGES, seed=seed)


def _key(class_name: str, seed: int = 0) -> str:
    model, dataset = load_model(MODEL), load_dataset(DATA)
    return BirthsKey(model.fingerprint, dataset.fingerprint, class_name, LAYER, IMAGES, seed).text()


@pytest.fixture(scope="module")
def truth():
    """Births computed without a store: what every recovery must give back."""
    return {(c, s): compute_births(_selection(c, s))[LAYER] for c, s in (("Sneaker", 0), ("Bag", 0), ("Sneaker", 1))}


def _raw(directory) -> diskcache.Cache:
    return diskcache.Cache(str(directory))


def test_a_short_value_with_a_valid_checksum_is_a_miss_then_recomputed(tmp_path, truth):
    store = ResultStore(tmp_path)
    good = truth["Sneaker", 0]
    key = _key("Sneaker")
    store.put_births(key, good[:4].copy())  # sealed correctly, but 4 of 12 rows
    assert store.get_births(key, shape=good.shape) is None
    assert store.get_births(key, shape=good.shape[::-1]) is None
    again = compute_births(_selection("Sneaker"), store)[LAYER]
    np.testing.assert_array_equal(again, good)
    np.testing.assert_array_equal(store.get_births(key, shape=good.shape, dtype=np.int32), good)


def test_a_flipped_bit_in_a_stored_key_is_a_miss(tmp_path, truth):
    store = ResultStore(tmp_path)
    seed0, seed1 = _key("Sneaker", 0), _key("Sneaker", 1)
    assert seed0[-1] == "0" and seed1 == seed0[:-1] + "1"  # "0" -> "1" is one bit
    store.put_births(seed0, truth["Sneaker", 0])
    store.close()
    index = sqlite3.connect(tmp_path / "cache.db")
    index.execute("UPDATE Cache SET key = ? WHERE key = ?", (seed1, seed0))
    index.commit()
    index.close()
    store = ResultStore(tmp_path)
    assert store.get_births(seed1) is None  # seed-0 births are never served for seed 1
    again = compute_births(_selection("Sneaker", 1), store)[LAYER]
    np.testing.assert_array_equal(again, truth["Sneaker", 1])
    assert not np.array_equal(truth["Sneaker", 0], truth["Sneaker", 1])
    np.testing.assert_array_equal(store.get_births(seed1), truth["Sneaker", 1])


@pytest.mark.parametrize("in_files", [False, True], ids=["in-index", "value-files"])
def test_two_swapped_values_are_misses_then_recomputed(tmp_path, truth, in_files):
    store = ResultStore(tmp_path)
    sneaker, bag = _key("Sneaker"), _key("Bag")
    store.put_births(sneaker, truth["Sneaker", 0])
    store.put_births(bag, truth["Bag", 0])
    store.close()
    if in_files:  # two .val files exchanged on disk
        files = sorted(p for p in tmp_path.glob("*/*/*.val"))
        pad = np.zeros((40000,), np.int32)  # force file storage for the swap
        raw = _raw(tmp_path)
        for key, value in ((sneaker, raw.get(sneaker)), (bag, raw.get(bag))):
            raw.set(key, value + pad.tobytes())
        raw.close()
        files = sorted(p for p in tmp_path.glob("*/*/*.val"))
        assert len(files) == 2
        a, b = files[0].read_bytes(), files[1].read_bytes()
        files[0].write_bytes(b)
        files[1].write_bytes(a)
    else:
        raw = _raw(tmp_path)
        a, b = raw.get(sneaker), raw.get(bag)
        raw.set(sneaker, b)
        raw.set(bag, a)
        raw.close()
    store = ResultStore(tmp_path)
    assert store.get_births(sneaker) is None and store.get_births(bag) is None
    np.testing.assert_array_equal(compute_births(_selection("Bag"), store)[LAYER], truth["Bag", 0])
    np.testing.assert_array_equal(compute_births(_selection("Sneaker"), store)[LAYER], truth["Sneaker", 0])
    np.testing.assert_array_equal(store.get_births(bag), truth["Bag", 0])


def test_a_value_of_another_dtype_is_a_miss(tmp_path):
    store = ResultStore(tmp_path)
    key = "featent-v1|births|w|d|c|l|3|0"
    store.put_births(key, np.zeros((3, 4), np.int64))
    assert store.get_births(key, shape=(3, 4), dtype=np.int32) is None
    assert store.get_births(key, shape=(3, 4), dtype=np.int64) is not None


# ---------------------------------------------------------------------------- the index

KEY = "featent-v1|births|w|d|c|l|3|0"


def _filled(directory, n: int = 40) -> None:
    store = ResultStore(directory)
    for i in range(n):
        store.put_births(f"{KEY}{i}", np.arange(i, i + 50, dtype=np.int32))
    store.put_births(f"{KEY}big", np.arange(20000, dtype=np.int32))  # one value in a file
    store.close()


def _works_and_clears(directory) -> None:
    """The store opens (repairing if it must), reads, writes, and ``featent cache --clear`` succeeds."""
    from featent.cli.main import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreRepairedWarning)
        store = ResultStore(directory)
        for i in range(40):
            got = store.get_births(f"{KEY}{i}")
            assert got is None or np.array_equal(got, np.arange(i, i + 50, dtype=np.int32))
        store.put_births(KEY, np.ones(3, np.int32))
        assert store.get_births(KEY).tolist() == [1, 1, 1]
        store.close()
    os.environ[store_module.ENV_VAR] = str(directory)
    assert main(["cache", "--clear"]) == 0
    assert ResultStore(directory).stats()["entries"] == 0


@pytest.mark.parametrize("seed", range(30))
def test_random_byte_flips_of_the_index_end_in_a_working_store(tmp_path, seed, monkeypatch, capsys):
    monkeypatch.setenv(store_module.ENV_VAR, str(tmp_path))
    _filled(tmp_path)
    index = tmp_path / "cache.db"
    data = bytearray(index.read_bytes())
    rng = random.Random(seed)
    for _ in range(400):
        data[rng.randrange(len(data))] = rng.randrange(256)
    index.write_bytes(bytes(data))
    _works_and_clears(tmp_path)
    capsys.readouterr()


@pytest.mark.parametrize("damage", ["truncated", "zero-length", "foreign", "page-size", "text-garbage"])
def test_damaged_or_foreign_index_ends_in_a_working_store(tmp_path, damage, monkeypatch, capsys):
    monkeypatch.setenv(store_module.ENV_VAR, str(tmp_path))
    _filled(tmp_path)
    index = tmp_path / "cache.db"
    data = index.read_bytes()
    if damage == "truncated":
        index.write_bytes(data[: len(data) // 3])
    elif damage == "zero-length":
        index.write_bytes(b"")
    elif damage == "foreign":
        index.unlink()
        foreign = sqlite3.connect(index)
        foreign.execute("CREATE TABLE Cache (name TEXT, price REAL)")
        foreign.execute("INSERT INTO Cache VALUES ('x', 1.0)")
        foreign.commit()
        foreign.close()
    elif damage == "page-size":
        index.write_bytes(data[:16] + b"\x00\x03" + data[18:])  # 768: not a power of two
    else:  # a text column that no longer decodes as UTF-8
        connection = sqlite3.connect(index)
        connection.execute("UPDATE Settings SET value = CAST(X'BAFF00BA' AS TEXT) WHERE key = 'eviction_policy'")
        connection.commit()
        connection.close()
    _works_and_clears(tmp_path)
    capsys.readouterr()


def test_clear_removes_orphans_and_old_damaged_copies(tmp_path):
    _filled(tmp_path)
    orphan = tmp_path / "ab" / "cd" / "0123456789abcdef.val"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 1000)
    old, new = tmp_path / "cache.db.damaged-20000101-000000", tmp_path / "cache.db.damaged-29990101-000000"
    old.write_bytes(b"old")
    new.write_bytes(b"new")
    os.utime(old, (0, 0))
    store = ResultStore(tmp_path)
    found = store.check()
    assert found["orphans"] == 1 and found["orphan_bytes"] == 1000 and found["damaged_copies"] == 2
    assert found["index"] == "ok" and found["entries"] == 41
    removed = store.clear()
    assert removed == {"orphans_removed": 1, "damaged_removed": 1}
    assert not orphan.exists() and not old.exists() and new.exists()
    assert not list(tmp_path.glob("*/*/*.val"))


def test_repair_rebuilds_an_index_that_fails_quick_check(tmp_path, monkeypatch):
    _filled(tmp_path)
    store = ResultStore(tmp_path)
    monkeypatch.setattr(store_module, "_quick_check", lambda path, limit=None: "quick_check: row 3 missing")
    assert store.check()["index"] == "quick_check: row 3 missing"
    with pytest.warns(StoreRepairedWarning):
        done = store.repair()
    assert done["index_rebuilt"] and len(list(tmp_path.glob("cache.db.damaged-*"))) == 1


def test_cli_cache_check_and_repair(tmp_path, monkeypatch, capsys):
    import json

    from featent.cli.main import main

    monkeypatch.setenv(store_module.ENV_VAR, str(tmp_path))
    _filled(tmp_path, n=3)
    orphan = tmp_path / "ab" / "cd" / "0123456789abcdef.val"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 10)
    assert main(["cache", "--check", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    found = found[0] if isinstance(found, list) else found
    assert found["entries"] == 4 and found["orphans"] == 1 and found["index"] == "ok"
    assert main(["cache", "--repair", "--format", "json"]) == 0
    done = json.loads(capsys.readouterr().out)
    done = done[0] if isinstance(done, list) else done
    assert done["orphans_removed"] == 1 and done["orphans"] == 0 and done["entries"] == 4


# ---------------------------------------------------------------------------- read-only stores


def _read_only_cases(tmp_path, monkeypatch, how: str):
    _filled(tmp_path, n=3)
    if how == "folder":
        tmp_path.chmod(0o500)
    else:  # a read-only mount: os.access refuses writing even to root
        monkeypatch.setattr(store_module.os, "access", lambda path, mode: not mode & os.W_OK)
    return stat.S_IMODE(tmp_path.stat().st_mode)


@pytest.mark.parametrize("how", ["folder", "mount"])
def test_a_read_only_store_serves_hits_and_writes_nothing(tmp_path, monkeypatch, how):
    mode = _read_only_cases(tmp_path, monkeypatch, how)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    try:
        store = ResultStore(tmp_path)
        assert store.read_only and "not writable" in store.read_only
        np.testing.assert_array_equal(store.get_births(f"{KEY}1"), np.arange(1, 51, dtype=np.int32))
        assert store.get_births(f"{KEY}big").shape == (20000,)
        store.put_births(f"{KEY}new", np.ones(3, np.int32))  # not kept, not an error
        assert store.get_births(f"{KEY}new") is None
        assert store.stats()["entries"] == 4
        with pytest.raises(CacheError, match="not writable"):
            store.clear()
        store.close()
        assert stat.S_IMODE(tmp_path.stat().st_mode) == mode
        assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
    finally:
        tmp_path.chmod(0o700)


def test_a_read_only_default_store_warns_once(tmp_path, monkeypatch):
    from featent.progress import Progress

    monkeypatch.setenv(store_module.ENV_VAR, str(tmp_path))
    _read_only_cases(tmp_path, monkeypatch, "folder")
    monkeypatch.setattr(store_module, "_STORES", {})
    monkeypatch.setattr(store_module, "_READ_ONLY_WARNED", set())
    said: list[str] = []
    progress = Progress(on_warning=said.append)
    try:
        first = store_module.open_store(None, progress)
        second = store_module.open_store(None, progress)
        assert first is second and first.get_births(f"{KEY}2") is not None
        assert len(said) == 1 and "new results are not kept" in said[0]
    finally:
        tmp_path.chmod(0o700)


def test_cli_cache_leaves_a_read_only_folder_alone(tmp_path, monkeypatch, capsys):
    from featent.cli.main import main

    monkeypatch.setenv(store_module.ENV_VAR, str(tmp_path))
    _filled(tmp_path, n=3)
    tmp_path.chmod(0o500)
    try:
        assert main(["cache"]) == 0
        assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o500
        assert main(["cache", "--clear"]) == 1
        assert "not writable" in capsys.readouterr().err
    finally:
        tmp_path.chmod(0o700)
