"""featent.births: typed store keys, full-shape checks, one pass for births and null births, shared by the
pipeline and the sweep, cache problems warned once."""

from __future__ import annotations

import numpy as np
import pytest

from featent import births as engine
from featent.births import BirthsKey, SizeReferenceKey, iter_births, layer_births
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
    assert key.as_null().text() == "featent-v1|null-births-shuffle0-kernel|w123|d456|cat|block1_conv1|100|0"
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


def test_overlapped_births_equal_sequential():
    from featent.core.topology import birth_times
    from featent.extract import extract_activations
    from featent.pipeline import load_model, sample_images

    model = load_model(MODEL)
    names = [i.name for i in load_model(MODEL).layers]
    layers = [names[0], names[-1]]
    images = sample_images(Selection(MODEL, "digits", "5", tuple(layers), n_images=30))
    flipped = lambda acts, start: birth_times(np.ascontiguousarray(acts[..., ::-1, :]))  # noqa: E731
    seq = list(iter_births(model, images.images, layers, batch_size=7, overlap=False, null=flipped))
    par = list(iter_births(model, images.images, layers, batch_size=7, overlap=True, null=flipped))
    assert [s[0] for s in seq] == [p[0] for p in par] == [0, 7, 14, 21, 28]
    whole = extract_activations(model, images.images, layers)
    for layer in layers:
        births = np.concatenate([p[1][layer] for p in par])
        np.testing.assert_array_equal(births, np.concatenate([s[1][layer] for s in seq]))
        np.testing.assert_array_equal(births, birth_times(whole[layer]))
        np.testing.assert_array_equal(np.concatenate([p[2][layer] for p in par]), flipped(whole[layer], 0))


def test_chunks_are_bounded_by_host_memory():
    import torch
    from torch import nn

    from featent.births import _HOST_BUDGET, chunk_size
    from featent.extract import default_batch_size
    from featent.nets import from_module

    torch.manual_seed(0)
    module = nn.Sequential()
    module.features = nn.Sequential(nn.Conv2d(3, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1),
                                    nn.ReLU(), nn.MaxPool2d(16), nn.Conv2d(128, 4, 1), nn.ReLU())
    model = from_module(module, name="wide", input_size=256, mean=(0.5,) * 3, std=(0.25,) * 3)
    names = [i.name for i in model.layers]
    per_image = 4 * sum(i.n_units * i.unit_size**2 for i in model.layers)
    size = chunk_size(model, names)
    assert size == _HOST_BUDGET // per_image < default_batch_size(model)  # every layer captured: memory bound
    assert chunk_size(model, names[-1:]) == default_batch_size(model)  # one small layer: the default


def test_placement_and_chunks(tiny_cnn):
    import torch

    from featent.births import _HOST_BUDGET, chunk_size, place_model
    from featent.errors import ModelError
    from featent.extract import default_batch_size

    assert place_model(tiny_cnn, "cpu") is tiny_cnn
    if torch.cuda.is_available():
        placed = place_model(tiny_cnn, "cuda")
        assert placed.device.type == "cuda" and next(placed.module.parameters()).dtype == torch.float32
        assert not torch.backends.cudnn.allow_tf32 and tiny_cnn.device.type == "cpu"  # exact, original untouched
    else:
        with pytest.raises(ModelError, match="sees no CUDA GPU"):
            place_model(tiny_cnn, "cuda:0")
    with pytest.raises(ModelError, match="Unknown device 'tpu'"):
        place_model(tiny_cnn, "tpu")
    names = [i.name for i in tiny_cnn.layers]
    assert chunk_size(tiny_cnn, names) == default_batch_size(tiny_cnn)  # small maps: the extractor's default
    per_image = 4 * sum(i.n_units * i.unit_size**2 for i in tiny_cnn.layers)
    assert chunk_size(tiny_cnn, names) <= max(1, _HOST_BUDGET // per_image)


def test_null_births_stored_under_another_shuffle_are_never_served(tmp_path):
    """The null kind names the shuffle: an entry of another shuffle (same other fields) is not read."""
    store = ResultStore(tmp_path / "s")
    model, dataset = load_model(MODEL), load_dataset(DATA)
    fresh = layer_births(model, dataset, CLASS, LAYERS[:1], IMAGES, null=True, births=False)
    other = _key(LAYERS[0], null=True).replace("|null-births-shuffle0-kernel|", "|null-births-shuffle0|")
    assert other != _key(LAYERS[0], null=True)
    store.put_births(other, np.full_like(fresh.null[LAYERS[0]], 7))
    found = layer_births(model, dataset, CLASS, LAYERS[:1], IMAGES, null=True, births=False, store=store)
    assert found.computed == ((LAYERS[0], True),)
    np.testing.assert_array_equal(found.null[LAYERS[0]], fresh.null[LAYERS[0]])
