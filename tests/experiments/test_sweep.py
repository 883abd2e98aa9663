"""featent.experiments.sweep on the demo: equal to per-class layer_results, resumable, progress, files."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from featent import births as births_module
from featent.errors import FeatentError
from featent.experiments.atlas import LAYER_COLUMNS
from featent.experiments.sweep import sweep
from featent.pipeline import Selection, layer_results
from featent.store import ResultStore

MODEL, DATA, IMAGES = "demo", "digits", 12


def _layers() -> list[str]:
    from featent.pipeline import load_model

    return [i.name for i in load_model(MODEL).layers]


@pytest.fixture
def counted(monkeypatch):
    """Counts the birth-time computations the sweep makes (one call per chunk of units, births alone or
    births with their null births in one launch)."""
    calls = []

    def counter(real):
        def counting(units, *args, **kwargs):
            calls.append(np.shape(units))
            return real(units, *args, **kwargs)
        return counting

    monkeypatch.setattr(births_module, "birth_times", counter(births_module.birth_times))
    monkeypatch.setattr(births_module, "births_and_null_births", counter(births_module.births_and_null_births))
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
            # the stability part: the same conditional FE as LayerResult, per unit and over the live units
            np.testing.assert_array_equal(part["conditional_feature_entropy"].to_numpy(),
                                          result.conditional_feature_entropy)
            np.testing.assert_array_equal(part["null_conditional_feature_entropy"].to_numpy(),
                                          result.null_conditional_feature_entropy)
            np.testing.assert_array_equal(part["stability_gap"].to_numpy(), result.stability_gap)
            np.testing.assert_equal(row["mean_live_conditional_feature_entropy"],
                                    result.mean_live_conditional_feature_entropy)
            np.testing.assert_equal(row["mean_live_null_conditional_feature_entropy"],
                                    result.mean_live_null_conditional_feature_entropy)


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
    start = len(LAYER_COLUMNS)
    assert list(frame.columns[start:start + 2]) == ["mean_null_feature_entropy", "structure_gap"]
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


def test_sweep_takes_a_loaded_model(tiny_cnn, image_folder, cache_dir):
    from featent.experiments.sweep import sweep as run_sweep

    atlas = run_sweep(tiny_cnn, str(image_folder), classes=1, layers=["features.1"], images=3)
    frame = atlas.to_frame()
    assert list(frame["model"]) == [str(tiny_cnn)] and list(frame["layer"]) == [tiny_cnn.layer("features.1").name]
    assert list(frame["hole_possible"]) == [True] and list(frame["unit_size"]) == [16]
    again = run_sweep(tiny_cnn, str(image_folder), classes=1, layers=["features.1"], images=3)
    assert again.computed == 0  # the same weights: served from the store
