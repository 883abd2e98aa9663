"""featent.pipeline: selection -> cached birth times -> FE / selective rate, on real models and data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from featent.births import BirthsKey
from featent.core.entropy import feature_entropy, selective_rate
from featent.core.topology import birth_time
from featent.data import clear_dataset_cache, load_dataset
from featent.errors import CacheError, DataError, FeatentError, ModelError
from featent.extract import extract_activations
from featent.pipeline import (
    LayerResult,
    Selection,
    compute_births,
    compute_births_many,
    layer_results,
    load_model,
    sample_images,
    unit_activations,
)
from featent.progress import Progress
from featent.store import ResultStore

DEMO = Selection(model="demo", data="digits", class_name="3", layers=("block2_conv2", "block3_conv1"), n_images=12, seed=1)


def test_births_equal_birth_time_of_each_extracted_unit(cache_dir):
    births = compute_births(DEMO)
    assert list(births) == ["block2_conv2", "block3_conv1"]
    assert births["block2_conv2"].shape == (12, 32) and births["block2_conv2"].dtype == np.int32
    assert births["block3_conv1"].shape == (12, 64)
    images = sample_images(DEMO)
    acts = extract_activations(load_model("demo"), images.images, ["block3_conv1"])["block3_conv1"]
    for i, u in [(0, 0), (3, 17), (11, 63), (5, 40)]:
        assert births["block3_conv1"][i, u] == birth_time(acts[i, u])


def test_layer_results_apply_the_entropy_definitions(cache_dir):
    results = layer_results(DEMO)
    r = results["block3_conv1"]
    assert isinstance(r, LayerResult) and r.layer == "block3_conv1"
    np.testing.assert_allclose(r.feature_entropy, feature_entropy(r.births))
    np.testing.assert_allclose(r.selective_rate, selective_rate(r.births))
    assert r.mean_feature_entropy == pytest.approx(float(np.mean(feature_entropy(r.births))))
    assert r.mean_selective_rate == pytest.approx(float(np.mean(selective_rate(r.births))))


def test_second_call_reads_the_store(cache_dir):
    store = ResultStore()
    first = compute_births(DEMO, store)
    assert store.stats()["entries"] == 2
    key = BirthsKey(load_model("demo").fingerprint, load_dataset("digits").fingerprint, "3", "block3_conv1", 12, 1).text()
    sentinel = np.full_like(first["block3_conv1"], 7)
    store.put_births(key, sentinel)
    again = compute_births(DEMO, store)
    assert np.array_equal(again["block3_conv1"], sentinel)  # served from the store, not recomputed
    assert np.array_equal(again["block2_conv2"], first["block2_conv2"])


def test_progress_is_reported_and_ends_at_one(cache_dir):
    seen: list[tuple[float, str]] = []
    compute_births(dataclasses.replace(DEMO, seed=2), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)


def test_a_damaged_entry_is_recomputed_and_overwritten(cache_dir):
    store = ResultStore()
    good = compute_births(DEMO, store)["block2_conv2"]
    store.close()
    import diskcache

    raw = diskcache.Cache(str(cache_dir))
    keys = [k for k in raw.iterkeys() if "block2_conv2" in k]
    raw.set(keys[0], b"\0" * 64)
    raw.close()
    store = ResultStore()
    assert store.get_births(keys[0]) is None
    assert np.array_equal(compute_births(DEMO, store)["block2_conv2"], good)
    assert np.array_equal(store.get_births(keys[0]), good)


def test_other_weights_or_data_do_not_hit_the_cache(cache_dir, image_folder, tmp_path):
    store = ResultStore()
    a = Selection("demo:random", str(image_folder), "cat", ("block3_conv2",), n_images=4)
    compute_births(a, store)
    compute_births(dataclasses.replace(a, model="demo:random:1"), store)
    assert store.stats()["entries"] == 2  # other weights: a new entry
    # a changed weights file: same path, new fingerprint
    weights = tmp_path / "w.pt"
    torch.save(load_model("demo:random:5").module.state_dict(), weights)
    b = dataclasses.replace(a, model="demo", weights=str(weights))
    compute_births(b, store)
    assert store.stats()["entries"] == 3
    # a changed image: the folder's fingerprint changes after the dataset is re-read
    target = image_folder / "cat" / "cat2.png"
    target.write_bytes(target.read_bytes() + b"\0")
    clear_dataset_cache()
    compute_births(a, store)
    assert store.stats()["entries"] == 4


def test_unwritable_default_store_still_computes_with_a_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(blocker / "cache"))
    warnings: list[str] = []
    births = compute_births(DEMO, progress=Progress(on_warning=warnings.append))
    assert births["block3_conv1"].shape == (12, 64)
    assert len(warnings) == 1 and warnings[0].startswith("results are not cached: Cannot use cache directory")
    with pytest.raises(CacheError):
        ResultStore(blocker / "cache")


def test_cache_false_neither_reads_nor_writes(cache_dir):
    births = compute_births(DEMO, cache=False)
    assert not cache_dir.exists() or ResultStore().stats()["entries"] == 0
    assert births["block2_conv2"].shape == (12, 32)


def test_sample_images_and_unit_activations_match_the_births(cache_dir):
    sel = Selection("vgg11:random@32", "digits", "7", ("block3_conv2",), n_images=3)
    images = sample_images(sel)
    assert images.images.shape == (3, 3, 32, 32) and images.labels == ["7"] * 3
    births = compute_births(sel)["block3_conv2"]
    acts = unit_activations(sel, "block3_conv2", 2)
    assert acts.shape == (256, 8, 8) and acts.dtype == np.float32
    assert [birth_time(acts[u]) for u in range(0, 256, 37)] == list(births[2, ::37])


def test_small_image_folder_on_vgg(cache_dir, image_folder):
    sel = Selection("vgg11:random@32", str(image_folder), "dog", ("block4_conv2",), n_images=100)
    results = layer_results(sel)
    # only the 4 decodable dog images are used
    assert results["block4_conv2"].births.shape == (4, 512)
    assert all(i.startswith("dog") for i in sample_images(sel).ids)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"class_name": "x"}, DataError, r"Class 'x' is not in digits"),
        ({"layers": ("block9",)}, ModelError, r"has no layer 'block9'"),
        ({"layers": ()}, ModelError, r"No layer given"),
        ({"n_images": 0}, DataError, r"n_images must be an integer >= 1, got 0"),
        ({"seed": -2}, DataError, r"seed must be an integer >= 0, got -2"),
        ({"model": "vgg99"}, ModelError, r"Unknown model 'vgg99'"),
        ({"data": "/no/such/folder"}, DataError, r"does not exist"),
        ({"split": "val"}, DataError, r"split must be one of 'train', 'test', got 'val'"),
    ],
)
def test_bad_selections(cache_dir, change, error, match):
    with pytest.raises(error, match=match):
        compute_births(dataclasses.replace(DEMO, **change))


def test_unit_activations_bad_index(cache_dir):
    with pytest.raises(DataError, match=r"image_index must be an integer from 0 to 11, got 12"):
        unit_activations(DEMO, "block3_conv1", 12)


def test_selection_accepts_a_single_layer_string_and_is_hashable():
    sel = Selection("demo", "digits", "1", "block1_conv1")
    assert sel.layers == ("block1_conv1",)
    assert hash(sel) == hash(Selection("demo", "digits", "1", ["block1_conv1"]))


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_compute_births_many(cache_dir, executor):
    sels = [dataclasses.replace(DEMO, class_name=c, layers=("block3_conv2",), n_images=5) for c in ("1", "2", "3")]
    many = compute_births_many(sels, executor=executor, scheduler="threads" if executor == "dask" else None)
    assert len(many) == 3
    for sel, got in zip(sels, many):
        assert np.array_equal(got["block3_conv2"], compute_births(sel)["block3_conv2"])


def test_compute_births_many_bad_executor():
    with pytest.raises(FeatentError, match=r"executor must be one of 'local' or 'dask', got 'spark'"):
        compute_births_many([DEMO], executor="spark")


class _FullDiskStore(ResultStore):
    """A real store whose writes fail as on a full disk (reads still work)."""

    def put_births(self, key, births):
        raise CacheError(f"Cannot write to cache directory {str(self.directory)!r} (No space left on device).")


def test_a_store_that_stops_accepting_writes_only_warns(cache_dir):
    warnings: list[str] = []
    births = compute_births(dataclasses.replace(DEMO, seed=9), _FullDiskStore(), progress=Progress(on_warning=warnings.append))
    assert births["block2_conv2"].shape == (12, 32)
    assert len(warnings) == 1 and warnings[0].startswith("results are not cached: Cannot write to cache directory")


def test_compute_births_many_on_a_real_dask_cluster(cache_dir):
    """A distributed.Client (in-process workers, no network beyond loopback) runs the selections."""
    import distributed
    sels = [dataclasses.replace(DEMO, class_name=c, layers=("block3_conv2",), n_images=4) for c in ("4", "5")]
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        many = compute_births_many(sels, executor="dask", scheduler=client)
    for sel, got in zip(sels, many):
        assert np.array_equal(got["block3_conv2"], compute_births(sel)["block3_conv2"])
