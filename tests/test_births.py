"""featent.births: typed store keys, full-shape checks, one pass for births and null births, shared by the
pipeline and the sweep, cache problems warned once."""

from __future__ import annotations

import numpy as np
import pytest

from featent import births as engine
from featent.births import BirthsKey, SizeReferenceKey, layer_births
from featent.core.entropy import feature_entropy
from featent.data import load_dataset
from featent.errors import CacheError
from featent.experiments.sweep import sweep
from featent.pipeline import Selection, compute_births, layer_results, load_model
from featent.progress import Progress
from featent.store import ResultStore

MODEL, DATA, CLASS, IMAGES = "demo", "digits", "3", 12
LAYERS = ("block2_conv1", "block3_conv2")
SELECTION = Selection(MODEL, DATA, CLASS, LAYERS, n_images=IMAGES, seed=0)


def _key(layer: str, null: bool = False) -> str:
    model, dataset = load_model(MODEL), load_dataset(DATA)
    return BirthsKey(model.fingerprint, dataset.fingerprint, CLASS, layer, IMAGES, 0, null=null).text()


def test_keys_from_typed_fields_are_the_stores_strings():
    key = BirthsKey("w123", "d456", "cat", "block1_conv1", 100, 0)
    assert key.text() == str(key) == "featent-v1|births|w123|d456|cat|block1_conv1|100|0"
    assert key.as_null().text() == "featent-v1|null-births-shuffle0|w123|d456|cat|block1_conv1|100|0"
    assert key.as_null().as_null() == key.as_null() and not key.null
    assert SizeReferenceKey(8, 20).text() == "featent-v1|size-reference|m8|n20|units32|seed0"


def test_the_pipeline_stores_under_those_keys(tmp_path):
    store = ResultStore(tmp_path / "s")
    results = layer_results(SELECTION, store, baselines=True)
    for layer in LAYERS:
        np.testing.assert_array_equal(store.get_births(_key(layer)), results[layer].births)
        np.testing.assert_array_equal(store.get_births(_key(layer, null=True)), results[layer].null_births)
    m = load_model(MODEL).layer(LAYERS[0]).unit_size
    assert store.get_births(SizeReferenceKey(m, IMAGES).text()).shape == (IMAGES, 32)


def test_a_stored_array_with_fewer_rows_is_recomputed_and_overwritten(tmp_path):
    store = ResultStore(tmp_path / "s")
    good = compute_births(SELECTION, store)[LAYERS[0]]
    store.put_births(_key(LAYERS[0]), good[:-1].copy())  # right width, one image short
    store.put_births(_key(LAYERS[1]), np.zeros((IMAGES, 64), np.int64))  # right shape, wrong dtype
    again = compute_births(SELECTION, store)
    np.testing.assert_array_equal(again[LAYERS[0]], good)
    assert store.get_births(_key(LAYERS[0])).shape == good.shape
    assert store.get_births(_key(LAYERS[1])).dtype == np.int32


def test_the_sweep_reuses_cached_births(tmp_path):
    store = ResultStore(tmp_path / "s")
    compute_births(SELECTION, store)
    units = load_model(MODEL).layer(LAYERS[0]).n_units
    sentinel = (np.arange(IMAGES * units, dtype=np.int32).reshape(IMAGES, units) % 5)
    store.put_births(_key(LAYERS[0]), sentinel)
    atlas = sweep(MODEL, DATA, classes=[CLASS], layers=list(LAYERS[:1]), images=IMAGES, store=store, units=True)
    np.testing.assert_array_equal(atlas.units_frame()["feature_entropy"].to_numpy(), feature_entropy(sentinel))


def test_null_births_stored_by_the_sweep_are_reused_by_layer_results(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "s")
    atlas = sweep(MODEL, DATA, classes=[CLASS], layers=list(LAYERS), images=IMAGES, store=store, units=True)
    for layer in LAYERS:
        assert store.get_births(_key(layer, null=True)) is not None

    def no_forward_pass(*args, **kwargs):
        raise AssertionError("everything asked for is in the store")

    monkeypatch.setattr(engine, "iter_births", no_forward_pass)
    results = layer_results(SELECTION, store, baselines=True)
    units = atlas.units_frame()
    for layer in LAYERS:
        np.testing.assert_array_equal(results[layer].null_feature_entropy,
                                      units[units["layer"] == layer]["null_feature_entropy"].to_numpy())


class _FullDiskStore(ResultStore):
    """A real store whose writes fail as on a full disk."""

    def put_births(self, key, births):
        raise CacheError(f"Cannot write to cache directory {str(self.directory)!r} (No space left on device).")


def test_a_refusing_store_is_warned_about_once_and_the_work_goes_on(tmp_path):
    warned: list[str] = []
    reports: list[str] = []
    results = layer_results(SELECTION, _FullDiskStore(tmp_path / "s"), baselines=True,
                            progress=Progress(lambda f, m: reports.append(m), warned.append))
    assert results[LAYERS[1]].births.shape == (IMAGES, 64) and results[LAYERS[1]].size_reference is not None
    assert warned == [f"results are not cached: Cannot write to cache directory {str(tmp_path / 's')!r} "
                      "(No space left on device)."]
    assert not [m for m in reports if "warning" in m]


def test_overlap_on_and_off_give_the_same_births():
    model, dataset = load_model(MODEL), load_dataset(DATA)
    runs = [layer_births(model, dataset, CLASS, LAYERS, IMAGES, null=True, overlap=overlap, batch_size=5)
            for overlap in (True, False)]
    whole = layer_births(model, dataset, CLASS, LAYERS, IMAGES, null=True, overlap=False)
    for layer in LAYERS:
        for run in runs:
            assert run.births[layer].dtype == np.int32 and run.births[layer].shape[0] == IMAGES
            np.testing.assert_array_equal(run.births[layer], whole.births[layer])
            np.testing.assert_array_equal(run.null[layer], whole.null[layer])
    assert runs[0].computed == ((LAYERS[0], False), (LAYERS[1], False), (LAYERS[0], True), (LAYERS[1], True))


@pytest.mark.parametrize("overlap", [True, False])
def test_null_births_alone_reuse_stored_births(tmp_path, overlap):
    store = ResultStore(tmp_path / "s")
    compute_births(SELECTION, store)
    model, dataset = load_model(MODEL), load_dataset(DATA)
    found = layer_births(model, dataset, CLASS, LAYERS, IMAGES, null=True, store=store, overlap=overlap)
    assert found.computed == ((LAYERS[0], True), (LAYERS[1], True))  # births came from the store


def test_null_births_alone_compute_no_births(tmp_path):
    from featent.pipeline import compute_null_births

    store = ResultStore(tmp_path / "s")
    null = compute_null_births(SELECTION, store)
    assert store.get_births(_key(LAYERS[0])) is None  # births were not asked for
    np.testing.assert_array_equal(store.get_births(_key(LAYERS[0], null=True)), null[LAYERS[0]])
    np.testing.assert_array_equal(layer_results(SELECTION, store, baselines=True)[LAYERS[0]].null_births, null[LAYERS[0]])
