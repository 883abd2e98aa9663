"""featent.core.baselines and their place in the pipeline and the CLI: null FE, structure gap, silent share,
live FE, size reference."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from featent.cli.main import main
from featent.core import baselines as bl
from featent.core.entropy import conditional_feature_entropy, feature_entropy, selective_rate
from featent.core.topology import birth_times
from featent.errors import FeatentError

ROOT = Path(__file__).resolve().parents[2]


def _ring_units(n_images: int, n_units: int, m: int = 8, seed: int = 0) -> np.ndarray:
    """Weak iid noise plus, in every map, a chordless 5-cycle of strong entries (0-1-2-3-4-0): the
    cycle closes at step 5 in every image, so births are perfectly stable."""
    rng = np.random.default_rng(seed)
    units = rng.random((n_images, n_units, m, m)) * 0.1
    for i in range(5):
        units[:, :, i, (i + 1) % 5] = 1.0 + rng.random((n_images, n_units)) * 0.1
    return units


def test_null_equals_fe_when_all_entries_are_equal():
    rng = np.random.default_rng(1)
    units = np.broadcast_to(rng.random((30, 4, 1, 1)), (30, 4, 6, 6)).copy()  # each map constant
    units[:, 1] = 0.0  # and silent ReLU maps
    fe = feature_entropy(birth_times(units))
    assert np.array_equal(bl.null_feature_entropy(units, seed=3), fe)
    assert np.array_equal(bl.null_births(units, seed=3), birth_times(units))


def test_same_seed_same_value_and_chunks_match_one_call():
    units = np.random.default_rng(2).random((24, 3, 7, 7))
    a = bl.null_feature_entropy(units, seed=5)
    assert np.array_equal(a, bl.null_feature_entropy(units, seed=5))
    whole = bl.null_births(units, seed=5)
    chunked = np.concatenate([bl.null_births(units[s : s + 7], seed=5, first_image=s) for s in range(0, 24, 7)])
    assert np.array_equal(whole, chunked)
    assert not np.array_equal(bl.shuffle_units(units, seed=5), bl.shuffle_units(units, seed=6))
    # a shuffle keeps each map's multiset of values
    shuffled = bl.shuffle_units(units, seed=5)
    assert np.array_equal(np.sort(shuffled.reshape(24, 3, -1), axis=-1), np.sort(units.reshape(24, 3, -1), axis=-1))


def test_null_births_are_the_births_of_shuffle_units_for_any_threads_and_chunking():
    rng = np.random.default_rng(8)
    units = np.maximum(rng.normal(size=(10, 5, 9, 9)), 0.0).astype(np.float32)  # ReLU ties: large zero groups
    whole = bl.null_births(units, seed=2)
    assert whole.dtype == np.int32 and whole.shape == (10, 5)
    assert np.array_equal(whole, birth_times(bl.shuffle_units(units, seed=2)))
    assert np.array_equal(bl.null_births(units, seed=2, n_threads=1), bl.null_births(units, seed=2, n_threads=2))
    for step in (1, 3, 4):
        chunked = np.concatenate([bl.null_births(units[s : s + step], seed=2, first_image=s, n_threads=1 + s % 2)
                                  for s in range(0, 10, step)])
        assert np.array_equal(whole, chunked)


def test_births_and_null_births_in_one_launch_equal_the_two_kernels():
    """The sweep's fused launch gives exactly the births and the null births, for any threads and chunking."""
    rng = np.random.default_rng(9)
    units = np.maximum(rng.normal(size=(9, 4, 10, 10)), 0.0).astype(np.float32)
    units[:, 1] = np.round(units[:, 1], 1)  # more ties
    units[2, 3] = 0.0  # a silent map
    want = (birth_times(units), bl.null_births(units, seed=4))
    for threads in (1, 2):
        births, null = bl.births_and_null_births(units, seed=4, n_threads=threads)
        assert births.dtype == null.dtype == np.int32 and births.shape == null.shape == (9, 4)
        assert np.array_equal(births, want[0]) and np.array_equal(null, want[1])
    parts = [bl.births_and_null_births(units[s : s + 4], seed=4, first_image=s) for s in range(0, 9, 4)]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), want[0])
    assert np.array_equal(np.concatenate([p[1] for p in parts]), want[1])
    bad = units.copy()
    bad[1, 2, 0, 0] = np.inf
    with pytest.raises(Exception, match=r"index \(1, 2\) contains inf"):
        bl.births_and_null_births(bad)


def test_shuffle_is_pinned_across_machines():
    """The permutation is a fixed function of (seed, image, unit): stored null births stay valid."""
    units = np.arange(36, dtype=np.float64).reshape(2, 2, 3, 3)
    assert bl.shuffle_units(units, seed=0).reshape(4, 9).astype(int).tolist() == [
        [6, 8, 0, 7, 3, 1, 5, 2, 4], [17, 12, 9, 10, 13, 16, 11, 15, 14],
        [24, 26, 23, 21, 18, 22, 20, 19, 25], [35, 28, 32, 30, 31, 33, 27, 34, 29]]
    assert bl.shuffle_units(units, seed=7, first_image=3).reshape(4, 9).astype(int).tolist() == [
        [1, 2, 3, 5, 0, 7, 6, 8, 4], [14, 15, 11, 9, 10, 16, 13, 17, 12],
        [20, 23, 22, 24, 19, 26, 21, 18, 25], [27, 34, 31, 33, 30, 29, 32, 28, 35]]


def test_shuffle_draws_every_permutation_about_equally():
    n_maps = 24 * 400
    units = np.broadcast_to(np.arange(4.0).reshape(2, 2), (n_maps // 8, 8, 2, 2))
    flat = bl.shuffle_units(units, seed=1).reshape(n_maps, 4).astype(int)
    codes = flat @ np.array([64, 16, 4, 1])
    counts = np.unique(codes, return_counts=True)[1]
    assert counts.size == 24  # all 4! orders occur
    chi2 = float(((counts - 400) ** 2 / 400).sum())
    assert chi2 < 60  # 23 degrees of freedom: p < 1e-4 above 60


def test_null_births_check_their_arguments():
    with pytest.raises(FeatentError, match="seed"):
        bl.null_births(np.zeros((1, 1, 3, 3)), seed=-1)
    with pytest.raises(FeatentError, match="first_image"):
        bl.null_births(np.zeros((1, 1, 3, 3)), first_image=-2)
    assert bl.null_births(np.zeros((0, 3, 4, 4))).shape == (0, 3)
    bad = np.zeros((2, 2, 3, 3))
    bad[1, 0, 2, 1] = np.nan
    with pytest.raises(Exception, match=r"index \(1, 0\) contains NaN"):
        bl.null_births(bad)


def test_structure_gap_positive_for_a_planted_ring_and_near_zero_for_noise():
    ring = _ring_units(100, 6)
    births = birth_times(ring)
    assert np.all(births == 5)  # the planted cycle is born at step 5 in every image
    fe = feature_entropy(births)
    gap = bl.structure_gap(bl.null_feature_entropy(ring), fe)
    assert np.all(fe == 0.0) and np.all(gap > 1.0)

    noise = np.random.default_rng(4).random((100, 16, 8, 8))
    fe_noise = feature_entropy(birth_times(noise))
    gap_noise = bl.structure_gap(bl.null_feature_entropy(noise), fe_noise)
    assert abs(float(gap_noise.mean())) < 0.15
    assert float(gap.mean()) > 10 * abs(float(gap_noise.mean()))


def test_silent_share_and_live_fe():
    eps = np.array([0.0, 0.05, 0.1, 0.5, 1.0])
    fe = np.array([4.0, 3.0, 2.0, 1.0, 0.5])
    assert bl.silent_share(eps) == pytest.approx(0.4)
    assert bl.live_feature_entropy(fe, eps) == pytest.approx((2.0 + 1.0 + 0.5) / 3)
    assert math.isnan(bl.live_feature_entropy(fe[:2], eps[:2]))
    with pytest.raises(FeatentError, match="same shape"):
        bl.structure_gap(np.zeros(3), np.zeros(4))
    with pytest.raises(FeatentError, match=r"\[n_images, n_units, m, m\]"):
        bl.shuffle_units(np.zeros((3, 4, 4)))


def test_size_reference_grows_with_m_and_is_reproducible():
    small, large = bl.size_reference(4, 60, n_units=8), bl.size_reference(24, 60, n_units=8)
    assert 0.0 < small < large <= math.log(60)
    assert bl.size_reference(4, 60, n_units=8) == small
    births = bl.size_reference_births(6, 30, n_units=3)
    assert births.shape == (30, 3) and births.dtype == np.int32
    with pytest.raises(FeatentError, match="m must be an integer >= 2"):
        bl.size_reference(1, 10)


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    from featent.data import clear_dataset_cache

    monkeypatch.setenv("FEATENT_FASHION_DIR", str(tmp_path / "empty"))
    clear_dataset_cache()
    yield
    clear_dataset_cache()


def test_layer_results_with_baselines_are_cached(cache_dir, no_debian, monkeypatch):
    from featent.pipeline import Selection, layer_results

    selection = Selection("demo:random", "fashion", "Bag", ("block1_conv2", "block3_conv2"), n_images=12, seed=0)
    plain = layer_results(selection)["block3_conv2"]
    assert plain.null_feature_entropy is None and plain.structure_gap is None and plain.mean_null_feature_entropy is None
    assert plain.null_conditional_feature_entropy is None and plain.stability_gap is None
    assert plain.size_reference_conditional is None and plain.conditional_feature_entropy.shape == plain.selective_rate.shape
    messages = []
    results = layer_results(selection, baselines=True, progress=lambda f, m: messages.append((f, m)))
    assert [f for f, _ in messages] == sorted(f for f, _ in messages) and messages[-1][0] == 1.0
    for r in results.values():
        n_units = r.births.shape[1]
        assert r.null_feature_entropy.shape == (n_units,) and r.null_births.shape == r.births.shape
        assert np.array_equal(r.null_feature_entropy, feature_entropy(r.null_births))
        assert np.array_equal(r.structure_gap, r.null_feature_entropy - r.feature_entropy)
        assert r.silent_share == pytest.approx(float(np.mean(selective_rate(r.births) < 0.1)))
        assert r.size_reference is not None and 0.0 < r.size_reference <= math.log(12)
        # stability: conditional FE of the births held, of the null births, and of the iid reference
        assert np.array_equal(r.conditional_feature_entropy, conditional_feature_entropy(r.births), equal_nan=True)
        assert np.array_equal(r.null_conditional_feature_entropy, conditional_feature_entropy(r.null_births),
                              equal_nan=True)
        assert np.array_equal(r.stability_gap, r.null_conditional_feature_entropy - r.conditional_feature_entropy,
                              equal_nan=True)
        assert r.size_reference_conditional is not None and 0.0 <= r.size_reference_conditional <= math.log(12)
        live = r.selective_rate >= 0.1
        if live.any():
            assert r.mean_live_conditional_feature_entropy == pytest.approx(
                float(r.conditional_feature_entropy[live].mean()))
        assert r.few_births.tolist() == (np.count_nonzero(r.births > 0, axis=0) < 5).tolist()
    # same sampled maps shuffled in one call of the core function
    from featent.extract import iter_activations
    from featent.nets import load_model
    from featent.pipeline import sample_images

    model = load_model("demo:random")
    images = sample_images(selection)
    acts = np.concatenate([chunk["block3_conv2"] for _, chunk in iter_activations(model, images.images, ["block3_conv2"])])
    assert np.array_equal(results["block3_conv2"].null_births, bl.null_births(acts))
    # the second call reads null births and the size reference from the store: nothing is recomputed
    def refuse(*args, **kwargs):
        raise AssertionError("recomputed instead of read from the store")

    monkeypatch.setattr(bl, "null_births", refuse)
    monkeypatch.setattr(bl, "size_reference_births", refuse)
    again = layer_results(selection, baselines=True)
    assert np.array_equal(again["block1_conv2"].null_births, results["block1_conv2"].null_births)


def test_cli_entropy_json_has_baselines_offline(capsys, cache_dir, no_debian):
    code = main(["entropy", "--model", "demo", "--data", "fashion", "--class", "Sneaker", "--layer", "block3_conv2",
                 "--images", "15", "--format", "json", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)
    assert record["dataset"] == "fashion-subset" and record["data_fingerprint"].startswith("fashion-subset-")
    for key in ("mean_null_feature_entropy", "mean_live_feature_entropy", "silent_share", "size_reference_feature_entropy"):
        assert math.isfinite(record[key]), key
    assert 0.0 <= record["silent_share"] <= 1.0
    nulls = [u["null_feature_entropy"] for u in record["units"]]
    assert all(math.isfinite(v) and v >= 0.0 for v in nulls)
    assert record["mean_null_feature_entropy"] == pytest.approx(sum(nulls) / len(nulls))
    for key in ("mean_live_conditional_feature_entropy", "mean_live_null_conditional_feature_entropy",
                "size_reference_conditional_feature_entropy"):
        assert math.isfinite(record[key]), key
    for u in record["units"]:
        eps = u["selective_rate"]
        if eps == 0:
            assert u["conditional_feature_entropy"] is None and u["stability_gap"] is None
            continue
        assert math.isfinite(u["conditional_feature_entropy"])
        if u["null_conditional_feature_entropy"] is None:  # its shuffled maps never gave a birth
            assert u["stability_gap"] is None
        else:
            assert u["stability_gap"] == pytest.approx(
                u["null_conditional_feature_entropy"] - u["conditional_feature_entropy"])
        assert u["few_births"] == (sum(b > 0 for b in u["births"]) < 5)
        if eps >= 0.1:  # the identity, through the CLI's own numbers
            assert u["feature_entropy"] == pytest.approx(eps * u["conditional_feature_entropy"] - eps * math.log(eps))
    documented = (ROOT / "docs" / "cli.md").read_text()
    keys = set(record) | set(record["units"][0])
    assert not [k for k in keys if f'"{k}"' not in documented], "JSON keys missing from docs/cli.md"
    code = main(["entropy", "--model", "demo", "--data", "fashion", "--class", "Sneaker", "--layer", "block3_conv2",
                 "--images", "15", "--format", "csv", "--quiet"])
    header = capsys.readouterr().out.splitlines()
    columns = next(line for line in header if line.startswith("layer,"))
    expected = {"null_feature_entropy", "silent_share", "mean_live_feature_entropy", "mean_null_feature_entropy",
                "conditional_feature_entropy", "null_conditional_feature_entropy", "stability_gap", "few_births",
                "mean_live_conditional_feature_entropy", "mean_live_null_conditional_feature_entropy"}
    assert code == 0 and expected <= set(columns.split(","))
    assert not [c for c in columns.split(",") if f"`{c}`" not in documented], "CSV columns missing from docs/cli.md"
    rows = list(csv.DictReader(io.StringIO("\n".join(header[header.index(columns):]))))
    assert len(rows) == len(record["units"])
    for row, unit in zip(rows, record["units"]):
        if unit["selective_rate"] > 0:
            assert math.isfinite(float(row["conditional_feature_entropy"]))
            assert float(row["conditional_feature_entropy"]) == unit["conditional_feature_entropy"]


def test_size_reference_counts_the_images_actually_sampled(cache_dir, image_folder):
    """|Omega| is the sampled images: asking for far more than a class holds neither changes the
    reference nor allocates units for images that do not exist."""
    import torch
    from torch import nn

    from featent.core.baselines import size_reference as iid_reference
    from featent.nets import from_module
    from featent.pipeline import Selection, layer_results

    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    model = from_module(module, input_size=16, mean=(0.5,) * 3, std=(0.5,) * 3)
    layer = model.layers[0].name
    result = layer_results(Selection(model, str(image_folder), "cat", (layer,), n_images=10**9, seed=0),
                           baselines=True)[layer]
    sampled = result.births.shape[0]
    assert sampled == 6
    assert result.size_reference == pytest.approx(iid_reference(16, sampled))
