"""Every experiment keeps its exact numbers on the default model and data (demo on fashion).

``tests/fixtures/golden_fashion.json`` records, for one small run of each experiment kind, the
numbers the code computed when the record was made: floats as ``float.hex``, arrays by the sha256
of their bytes (with dtype and shape), text as it is. The test runs the same calls in a fresh
result store and asserts exact equality, so a change of a single bit of a birth time,
an FE, a baseline or an experiment's result fails here.

Each experiment is one ``golden_*`` function below: it makes the call and names the numbers to
keep. When an experiment's call signature changes, adapt the call in its function; the recorded
numbers must not change. To record again on purpose (a deliberate change of results), run::

    PYTHONPATH=. python tests/fixtures/make_golden_fashion.py

which runs these functions in a temporary store and rewrites the JSON file.

Images/s of pruned networks are timings, not results, and are not recorded. Training dynamics is
left out: it trains the demo family's checkpoints, which is far too slow for a test. The record
holds for the data source it was made on (its fingerprint is recorded): with another Fashion-MNIST
source (the shipped subset instead of the full set) the test is skipped.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

RECORD = Path(__file__).parent / "fixtures" / "golden_fashion.json"

MODEL = "demo"
DATA = "fashion"
CLASS = "Trouser"
CLASSES = ["T-shirt/top", "Trouser"]
LAYER = "block3_conv2"
LAYERS = ("block3_conv1", "block3_conv2")
N_IMAGES = 20
SEED = 0


# --------------------------------------------------------------------------- canonical digests


def digest(value: Any) -> Any:
    """A JSON-ready, exact stand-in for ``value``: floats as hex, arrays by sha256 of their bytes."""
    if isinstance(value, pd.DataFrame):
        return {str(column): digest(value[column]) for column in value.columns}
    if isinstance(value, pd.Series):
        if value.dtype == object:
            return [digest(v) for v in value.tolist()]
        return digest(value.to_numpy())
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [digest(v) for v in value.tolist()]
        array = np.ascontiguousarray(value)
        return {"dtype": str(array.dtype), "shape": list(array.shape),
                "sha256": hashlib.sha256(array.tobytes()).hexdigest()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value).hex()
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {str(k): digest(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [digest(v) for v in value]
    raise TypeError(f"No golden digest for {type(value).__name__}.")


def selection(layers: tuple[str, ...] = (LAYER,), class_name: str = CLASS):
    from featent.pipeline import Selection

    return Selection(MODEL, DATA, class_name, layers, n_images=N_IMAGES, seed=SEED)


# --------------------------------------------------------------------------- one function per experiment
# Each takes the result store to use and returns {name: value}; only the call may change.


def golden_layer_results(store) -> dict[str, Any]:
    from featent.pipeline import layer_results

    results = layer_results(selection(LAYERS), store=store, baselines=True)
    out: dict[str, Any] = {}
    for layer, r in results.items():
        out[layer] = {
            "births": r.births, "feature_entropy": r.feature_entropy, "selective_rate": r.selective_rate,
            "mean_feature_entropy": r.mean_feature_entropy, "mean_selective_rate": r.mean_selective_rate,
            "null_births": r.null_births, "null_feature_entropy": r.null_feature_entropy,
            "size_reference": r.size_reference, "silent_share": r.silent_share,
            "mean_live_feature_entropy": r.mean_live_feature_entropy,
        }
    return out


def golden_sweep(store) -> dict[str, Any]:
    from featent.experiments.sweep import sweep

    atlas = sweep(MODEL, DATA, classes=CLASSES, layers=list(LAYERS), images=N_IMAGES, seed=SEED, units=True, store=store)
    return {"layers": atlas.to_frame(), "units": atlas.units_frame()}


def golden_indicators(store) -> dict[str, Any]:
    from featent.experiments.indicator_table import indicator_table

    table = indicator_table(selection(), layer=LAYER, classes=CLASSES, images_per_class=N_IMAGES)
    return {"values": table.values, "accuracy": table.accuracy, "births": table.births, "n_images": table.n_images,
            "notes": table.notes}


def golden_rescale(store) -> dict[str, Any]:
    from featent.experiments.rescale import rescale_experiment

    result = rescale_experiment(selection(), layer=LAYER, scale=0.5, classes=CLASSES, images_per_class=8)
    return {"conditions": result.conditions, "values": result.values, "accuracy": result.accuracy,
            "n_images": result.n_images, "notes": result.notes}


def golden_randomness(store) -> dict[str, Any]:
    from featent.experiments.randomness import randomness_experiment

    result = randomness_experiment(selection(), layer=LAYER, n_models=2, first_seed=0, classes=CLASSES, images_per_class=8)
    return {"seeds": result.seeds, "trained": result.trained, "random": result.random, "n_images": result.n_images}


def golden_compare_models(store) -> dict[str, Any]:
    from featent.experiments.model_sets import compare_models

    result = compare_models([MODEL, "demo:random:0"], DATA, classes=CLASSES, layers=[LAYER], n_images=N_IMAGES, seed=SEED,
                            with_accuracy=False)
    return {"layers": result.layers, "profile": result.profile, "notes": result.notes}


def golden_layer_profiles(store) -> dict[str, Any]:
    from featent.experiments.profiles import layer_profiles

    result = layer_profiles(selection(), classes=CLASSES, random_seed=0, store=store)
    return {"dataset": result.dataset, "models": result.models, "rows": result.to_frame().to_dict(orient="records"),
            "averaged": result.layer_means().to_dict(orient="records")}


ABLATION_ORDERS = ("fe-desc", "apoz-desc", "nisp-asc", "random")


def golden_cumulative_ablation(store) -> dict[str, Any]:
    from featent.experiments.ablation import cumulative_ablation

    result = cumulative_ablation(selection(), orders=ABLATION_ORDERS, layer=LAYER, test_per_class=8, test_classes=CLASSES)
    curves = {order: {"removed": c.removed, "accuracy": c.accuracy, "loss": c.loss,
                      "balanced_accuracy": c.balanced_accuracy, "overall_accuracy": c.overall_accuracy}
              for order, c in result.curves.items()}
    return {"scores": result.scores, "curves": curves, "n_test_target": result.n_test_target,
            "n_test_total": result.n_test_total, "notes": result.notes}


def golden_enhancement_summary(store) -> dict[str, Any]:
    from featent.experiments.ablation import enhancement_summary

    summary = enhancement_summary(selection(), classes=CLASSES, orders=("fe-desc", "l1-asc"), layer=LAYER, test_per_class=8)
    rows, per_class = summary.rows, summary.per_class
    return {"rows": [{k: v for k, v in vars(row).items()} for row in rows],
            "best": {name: {order: list(c.best()) for order, c in r.curves.items()} for name, r in per_class.items()}}


def golden_compare_pruning(store) -> dict[str, Any]:
    from featent.experiments.pruning import compare_pruning
    from featent.spec import Selection

    report = compare_pruning(Selection(MODEL, DATA, CLASS, (), n_images=4, seed=SEED), ratio=0.5, methods=["l1", "fe"],
                             classes=CLASSES, finetune_epochs=1, train_per_class=8, test_per_class=8)
    rows = [{k: v for k, v in row.items() if k != "images_per_second"} for row in report.records()]
    return {"rows": rows, "n_train": report.n_train, "n_test": report.n_test}


def golden_unit_roles(store) -> dict[str, Any]:
    from featent.experiments.roles import unit_roles

    table = unit_roles(selection(), layer=LAYER)
    return {"fe_train": table.fe_train, "fe_test": table.fe_test, "eps_train": table.eps_train,
            "eps_test": table.eps_test, "train_threshold": table.train_threshold,
            "test_threshold": table.test_threshold, "roles": [str(r) for r in table.roles], "n_images": table.n_images}


def golden_gallery(store) -> dict[str, Any]:
    from featent.experiments.gallery import layer_maps, top_images, top_images_across_classes

    maps = layer_maps(selection(), LAYER)
    top = top_images_across_classes(selection(), LAYER, unit=3, k=5, per_class=N_IMAGES, classes=CLASSES)
    return {"mean_maps": maps.mean_maps, "scores": maps.scores, "ids": maps.ids,
            "top_of_unit_3": top_images(maps.scores, 3, k=5),
            "top_across_classes": [[t.class_name, t.index, t.image_id, t.score] for t in top]}


EXPERIMENTS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "layer_results": golden_layer_results,
    "sweep": golden_sweep,
    "indicators": golden_indicators,
    "rescale": golden_rescale,
    "randomness": golden_randomness,
    "compare_models": golden_compare_models,
    "layer_profiles": golden_layer_profiles,
    "cumulative_ablation": golden_cumulative_ablation,
    "enhancement_summary": golden_enhancement_summary,
    "compare_pruning": golden_compare_pruning,
    "unit_roles": golden_unit_roles,
    "gallery": golden_gallery,
}


def data_fingerprint() -> str:
    from featent.data import load_dataset

    return load_dataset(DATA).fingerprint


def run(name: str, store) -> Any:
    """The digest of one experiment's golden numbers."""
    return json.loads(json.dumps(digest(EXPERIMENTS[name](store))))


# --------------------------------------------------------------------------- the test


def _recorded() -> dict[str, Any]:
    return json.loads(RECORD.read_text())


def test_the_record_covers_every_experiment() -> None:
    assert sorted(_recorded()["experiments"]) == sorted(EXPERIMENTS)


def test_every_experiment_reproduces_its_recorded_numbers(tmp_path, monkeypatch) -> None:
    from featent.store import ResultStore

    recorded = _recorded()
    if data_fingerprint() != recorded["data_fingerprint"]:
        pytest.skip(f"the record was made on {recorded['data_fingerprint']}; this machine's {DATA} is "
                    f"{data_fingerprint()}")
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(tmp_path / "cache"))
    store = ResultStore(tmp_path / "cache")
    differ = []
    for name in EXPERIMENTS:
        differ += _differences(run(name, store), recorded["experiments"][name], name)
    assert not differ, "results changed:\n" + "\n".join(differ[:40])


def _differences(now: Any, then: Any, path: str) -> list[str]:
    """Where two digests differ, as 'path: then -> now' lines."""
    if isinstance(now, dict) and isinstance(then, dict) and now.keys() == then.keys():
        return [line for key in then for line in _differences(now[key], then[key], f"{path}.{key}")]
    if isinstance(now, list) and isinstance(then, list) and len(now) == len(then):
        return [line for i, (a, b) in enumerate(zip(now, then)) for line in _differences(a, b, f"{path}[{i}]")]
    return [] if now == then else [f"{path}: {then!r} -> {now!r}"]


def test_digest_is_exact() -> None:
    assert digest(0.1) == (0.1).hex() and digest(0.1) != digest(0.1 + 1e-17 * 2)
    assert digest(math.nan) == "nan"
    a = np.arange(4, dtype=np.float64)
    b = a.copy()
    b[2] = np.nextafter(b[2], 3.0)
    assert digest(a) != digest(b) and digest(a) == digest(a.copy())
    assert digest(a.astype(np.float32)) != digest(a)
