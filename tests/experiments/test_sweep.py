"""featent.experiments.sweep on the demo: equal to per-class layer_results, resumable, progress, files."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from featent import births as births_module
from featent.births import iter_births
from featent.errors import FeatentError
from featent.experiments.atlas import LAYER_COLUMNS, Atlas
from featent.experiments.sweep import sweep
from featent.pipeline import Selection, layer_results
from featent.store import ResultStore

MODEL, DATA, IMAGES = "demo", "digits", 12


def _layers() -> list[str]:
    from featent.pipeline import load_model

    return [i.name for i in load_model(MODEL).layers]


@pytest.fixture
def counted(monkeypatch):
    """Counts the birth-time computations the sweep makes (one call per chunk of units)."""
    calls = []
    real = births_module.birth_times

    def counting(units, *args, **kwargs):
        calls.append(np.shape(units))
        return real(units, *args, **kwargs)

    monkeypatch.setattr(births_module, "birth_times", counting)
    return calls


def test_sweep_equals_layer_results_per_class(tmp_path):
    atlas = sweep(MODEL, DATA, classes="all", layers="all", images=IMAGES, store=ResultStore(tmp_path / "s"), units=True)
    frame = atlas.to_frame()
    from featent.pipeline import load_model

    layers = [i.name for i in load_model(MODEL).layers]
    classes = [str(c) for c in range(10)]
    assert list(frame.columns[: len(LAYER_COLUMNS)]) == list(LAYER_COLUMNS)
    assert list(zip(frame["class"], frame["layer"])) == [(c, layer) for c in classes for layer in layers]
    units = atlas.units_frame()
    for c in classes:
        results = layer_results(Selection(MODEL, DATA, c, tuple(layers), n_images=IMAGES), cache=False, baselines=True)
        for layer, result in results.items():
            row = frame[(frame["class"] == c) & (frame["layer"] == layer)].iloc[0]
            assert row["mean_feature_entropy"] == result.mean_feature_entropy
            assert row["mean_selective_rate"] == result.mean_selective_rate
            assert row["images"] == IMAGES and row["units"] == result.births.shape[1]
            assert row["silent_share"] == float(np.mean(result.selective_rate < 0.1))
            part = units[(units["class"] == c) & (units["layer"] == layer)]
            np.testing.assert_array_equal(part["feature_entropy"].to_numpy(), result.feature_entropy)
            np.testing.assert_array_equal(part["selective_rate"].to_numpy(), result.selective_rate)
            np.testing.assert_array_equal(part["null_feature_entropy"].to_numpy(), result.null_feature_entropy)
            assert row["mean_null_feature_entropy"] == result.mean_null_feature_entropy


def test_rerun_recomputes_nothing_and_a_killed_run_resumes(tmp_path, counted):
    store = ResultStore(tmp_path / "s")

    class Killed(Exception):
        pass

    def kill_after_second_class(fraction: float, message: str) -> None:
        if fraction >= 0.5 and "pairs" in message and not message.startswith("class"):
            raise Killed

    with pytest.raises(Killed):
        sweep(MODEL, DATA, classes=4, layers=_layers()[::2][:2], images=IMAGES, store=store, progress=kill_after_second_class)
    assert not [t for t in threading.enumerate() if t.name == "featent-forward"]  # producer stopped
    before = len(counted)
    assert before > 0
    resumed = sweep(MODEL, DATA, classes=4, layers=_layers()[::2][:2], images=IMAGES, store=store)
    assert resumed.computed == 4  # the two classes the kill cut off, two layers each
    after_resume = len(counted)
    assert after_resume > before
    again = sweep(MODEL, DATA, classes=4, layers=_layers()[::2][:2], images=IMAGES, store=ResultStore(tmp_path / "s"))
    assert again.computed == 0 and len(counted) == after_resume  # nothing recomputed in a fresh store handle
    fresh = sweep(MODEL, DATA, classes=4, layers=_layers()[::2][:2], images=IMAGES, store=ResultStore(tmp_path / "t"))
    pd.testing.assert_frame_equal(again.to_frame(), fresh.to_frame())


def test_progress_moves_during_the_run(tmp_path):
    events: list[tuple[float, str]] = []
    sweep(MODEL, DATA, classes=3, layers="all", images=IMAGES, store=ResultStore(tmp_path / "s"),
          progress=lambda f, m: events.append((f, m)))
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len({f for f in fractions if 0 < f < 1}) >= 2  # moved more than once before the end


def test_atlas_file_round_trips(tmp_path):
    atlas = sweep(MODEL, DATA, classes=["3", "7"], layers=_layers()[1:2], images=IMAGES, store=ResultStore(tmp_path / "s"), units=True)
    for suffix in (".parquet", ".csv"):
        back = Atlas.load(atlas.save(tmp_path / f"layers{suffix}", units=False))
        pd.testing.assert_frame_equal(back.to_frame(), atlas.to_frame())
        with pytest.raises(FeatentError, match="per-unit rows"):
            back.units_frame()
        back = Atlas.load(atlas.save(tmp_path / f"units{suffix}"))
        pd.testing.assert_frame_equal(back.units_frame(), atlas.units_frame())
        pd.testing.assert_frame_equal(back.to_frame(), atlas.to_frame())
    with pytest.raises(FeatentError, match="parquet or .csv"):
        atlas.save(tmp_path / "atlas.xlsx")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FeatentError, match="not a featent atlas"):
        Atlas.load(tmp_path / "other.csv")


def test_overlapped_births_equal_sequential():
    from featent.core.topology import birth_times
    from featent.extract import extract_activations
    from featent.pipeline import load_model, sample_images

    model = load_model(MODEL)
    layers = [_layers()[0], _layers()[-1]]
    images = sample_images(Selection(MODEL, DATA, "5", tuple(layers), n_images=30))
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


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classes": 0}, "classes must be an integer from 1 to 10, got 0"),
        ({"classes": ["3", "cat"]}, "Class 'cat' is not in digits"),
        ({"layers": ["nope"]}, "has no layer 'nope'"),
        ({"images": 0}, "images must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"executor": "spark"}, "executor must be one of 'local' or 'dask', got 'spark'"),
        ({"executor": "dask"}, "needs --scheduler"),
        ({"device": "tpu"}, "Unknown device"),
    ],
)
def test_bad_arguments_are_one_sentence(tmp_path, kwargs, match):
    with pytest.raises(FeatentError, match=match):
        sweep(MODEL, DATA, **{"classes": 1, "layers": _layers()[:1], "images": 4, "store": ResultStore(tmp_path / "s"), **kwargs})


def test_devices_and_chunks(monkeypatch, tiny_cnn):
    import torch

    from featent.errors import ModelError
    from featent.births import _HOST_BUDGET, chunk_size, place_model
    from featent.experiments.cluster import worker_device
    from featent.extract import default_batch_size

    monkeypatch.delenv("FEATENT_DEVICE", raising=False)
    assert worker_device("cuda:1") == "cuda:1"  # asked for: used as given
    assert place_model(tiny_cnn, "cpu") is tiny_cnn
    if torch.cuda.is_available():
        assert worker_device(None).startswith("cuda:")
        placed = place_model(tiny_cnn, "cuda")
        assert placed.device.type == "cuda" and next(placed.module.parameters()).dtype == torch.float32
        assert not torch.backends.cudnn.allow_tf32 and tiny_cnn.device.type == "cpu"  # exact, original untouched
    else:
        assert worker_device(None) == "cpu"
        with pytest.raises(ModelError, match="sees no CUDA GPU"):
            place_model(tiny_cnn, "cuda:0")
    monkeypatch.setenv("FEATENT_DEVICE", "cpu")
    assert worker_device(None) == "cpu"
    names = [i.name for i in tiny_cnn.layers]
    assert chunk_size(tiny_cnn, names) == default_batch_size(tiny_cnn)  # small maps: the extractor's default
    per_image = 4 * sum(i.n_units * i.unit_size**2 for i in tiny_cnn.layers)
    assert chunk_size(tiny_cnn, names) <= max(1, _HOST_BUDGET // per_image)


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


def test_baseline_columns_come_from_the_same_pass(tmp_path, monkeypatch):
    """Null births computed beside the births (here: of the maps flipped upside down, standing in for
    featent's shuffle) give the null FE and structure gap columns per (class, layer) and per unit."""
    from featent.core.entropy import feature_entropy
    from featent.core.topology import birth_times
    from featent.extract import extract_activations
    from featent.pipeline import load_model, sample_images

    flipped = lambda acts, start: birth_times(np.ascontiguousarray(acts[..., ::-1, :]))  # noqa: E731
    monkeypatch.setattr(births_module, "shuffled_births", flipped)
    layers = _layers()[:2]
    atlas = sweep(MODEL, DATA, classes=2, layers=layers, images=IMAGES, units=True, store=ResultStore(tmp_path / "s"))
    frame = atlas.to_frame()
    assert list(frame.columns[-2:]) == ["mean_null_feature_entropy", "structure_gap"]
    images = sample_images(Selection(MODEL, DATA, "1", tuple(layers), n_images=IMAGES))
    acts = extract_activations(load_model(MODEL), images.images, layers)
    units = atlas.units_frame()
    for layer in layers:
        null = feature_entropy(flipped(acts[layer], 0))
        part = units[(units["class"] == "1") & (units["layer"] == layer)]
        np.testing.assert_array_equal(part["null_feature_entropy"].to_numpy(), null)
        np.testing.assert_array_equal(part["structure_gap"].to_numpy(), null - part["feature_entropy"].to_numpy())
        row = frame[(frame["class"] == "1") & (frame["layer"] == layer)].iloc[0]
        assert row["mean_null_feature_entropy"] == float(null.mean())
