"""featent.experiments.stored: every experiment result type survives the store, and a new process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from featent.errors import CacheError
from featent.experiments.stored import decode, encode
from featent.store import ResultStore, result_key

ROOT = Path(__file__).resolve().parents[2]


def _same(a, b) -> None:
    """Equal values: the same encoding tree and bit-identical arrays, and the same type."""
    assert type(a) is type(b)
    arrays_a, meta_a = encode(a)
    arrays_b, meta_b = encode(b)
    assert meta_a == meta_b and arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name])


def _through_store(store: ResultStore, value):
    key = result_key("test", "r", type(value).__name__)
    store.put_result(key, *encode(value))
    return decode(*ResultStore(store.directory).get_result(key))


def _examples():
    from featent.experiments.ablation import AblationResult, SummaryRow
    from featent.experiments.dynamics import DynamicsResult
    from featent.experiments.masking import AblationCurve
    from featent.experiments.model_sets import LayerTrendResult, ModelSetResult
    from featent.experiments.profiles import ProfileResult
    from featent.experiments.pruning import PruneReport, PruneRow
    from featent.experiments.randomness import RandomnessResult
    from featent.experiments.rescale import RescaleResult
    from featent.indicators import INDICATOR_COLUMNS, IndicatorTable
    from featent.spec import Selection

    rng = np.random.default_rng(0)
    selection = Selection("demo", "digits", "3", ("conv",), 10)
    values = {name: rng.normal(size=8) for name in INDICATOR_COLUMNS}
    values[INDICATOR_COLUMNS[0]][2] = np.inf
    curve = AblationCurve("fe-desc", rng.permutation(8), rng.random(9), rng.random(9), rng.random(9), rng.random(9))
    row = PruneRow("h_over_eps", "FE", 0.5, None, 0.91, 0.02, 1234, 56789, 321.5, {"conv1": [1, 4]})
    return [
        IndicatorTable("demo", "digits", "3", "conv", 10, 0, values, 0.9, rng.integers(0, 60, (10, 8)).astype(np.int32),
                       ["a note"]),
        RescaleResult(selection, 10, 0.5, [(1.0, 1.0), (0.5, 1.0)], [values, values], [0.9, float("nan")]),
        RandomnessResult(selection, 10, [0, 1], values, {k: np.stack([v, v]) for k, v in values.items()}),
        ModelSetResult(["demo", "demo:random"], "digits", ["3"], ["conv"], 10, 0,
                       [{"model": "demo", "layer": "conv", "mean_feature_entropy": 1.5, "n": None}],
                       [{"model": "demo", "train_accuracy": 0.9, "label_noise": None}]),
        LayerTrendResult(["demo", "demo:random:0"], "digits", ["3"], 10, 0,
                         [{"model": "demo", "layer": "conv", "group": "trained", "seed": None}]),
        DynamicsResult("digits", "conv", ["3", "4"], 10, 0, [{"epoch": 1, "loss": 0.3, "class_name": "3"}]),
        ProfileResult(selection, "digits", ["demo"], ["3"], [{"model": "demo", "layer": "conv", "silent_share": 0.5}],
                      {"demo": {"conv": {"feature_entropy": rng.random((8, 1)), "selective_rate": rng.random((8, 1))}}}),
        AblationResult(Selection("demo", "digits", "3", ("conv",), 10), 5, 50, {"h_over_eps": rng.random(8)},
                       {"h_over_eps-desc": curve}),
        (SummaryRow("fe-desc", "fe", 0.8, 0.85, 0.05, 10, 2.5), {"3": "x"}),
        PruneReport(Selection("demo", "digits", "3", (), 50), 0.5, ["3"], 100, 100, 1, [row]),
        pd.DataFrame({"unit": np.arange(3), "fe": [0.5, np.nan, np.inf], "role": ["a", "b", None]}),
    ]


def test_every_result_type_round_trips(tmp_path):
    store = ResultStore(tmp_path / "s")
    for value in _examples():
        back = _through_store(store, value)
        _same(back, value)
    frame = _examples()[-1]
    pd.testing.assert_frame_equal(_through_store(store, frame), frame, check_dtype=False)


def test_real_results_round_trip(tmp_path):
    from featent.experiments.ablation import cumulative_ablation
    from featent.experiments.roles import unit_roles
    from featent.pipeline import Selection, load_model

    layer = load_model("demo").layers[-1].name
    selection = Selection("demo", "digits", "3", (layer,), n_images=10)
    store = ResultStore(tmp_path / "s")
    roles = unit_roles(selection, cache=False)
    back = _through_store(store, roles)
    _same(back, roles)
    assert back.counts() == roles.counts()
    ablation = cumulative_ablation(selection, orders=["fe", "random"], test_per_class=5, test_classes=["3", "4"], cache=False)
    back = _through_store(store, ablation)
    _same(back, ablation)
    assert back.records() == ablation.records() and all(back.curves[k].best() == c.best() for k, c in ablation.curves.items())


def test_only_featent_types_are_rebuilt(tmp_path):
    hostile = {"tree": {"dc": "subprocess:Popen", "fields": {"args": {"v": "true"}}}}
    with pytest.raises(CacheError, match="not a featent result type"):
        decode({}, hostile)
    with pytest.raises(CacheError, match="Cannot store"):
        encode(object())
    from featent.experiments.contract import experiment

    answers = iter(["recomputed", "again"])

    @experiment("probe")
    def probe(tag: str) -> str:
        return next(answers)

    store = ResultStore(tmp_path / "s")
    store.put_result(probe.key("x"), {}, hostile)
    assert probe.cached("x", store=store) == "recomputed"  # a bad entry is a miss
    assert probe.cached("x", store=store) == "recomputed"  # ... overwritten by the result


def test_put_result_refuses_pickles_and_damage(tmp_path):
    store = ResultStore(tmp_path / "s")
    key = result_key("k", 1)
    with pytest.raises(CacheError, match="numeric"):
        store.put_result(key, {"x": np.array([object()])}, {})
    with pytest.raises(CacheError, match="JSON"):
        store.put_result(key, {}, {"x": object()})
    store.put_result(key, {"x": np.arange(3)}, {"n": 3})
    arrays, meta = store.get_result(key)
    assert meta == {"n": 3} and arrays["x"].tolist() == [0, 1, 2]
    blob = bytearray(store._cache.get(key))
    blob[-5] ^= 0xFF
    store._cache.set(key, bytes(blob))
    assert store.get_result(key) is None  # checksum mismatch: a miss


_CHILD = textwrap.dedent(
    """
    import json, sys
    from featent.experiments import roles
    from featent.pipeline import Selection, load_model
    from featent.store import ResultStore

    layer = load_model("demo").layers[-1].name
    selection = Selection("demo", "digits", "3", (layer,), n_images=10)
    calls = []
    compute = roles.unit_roles.function

    def counted(*args, **kwargs):
        calls.append(1)
        if sys.argv[2] == "forbid":
            raise SystemExit("recomputed in the second process")
        return compute(*args, **kwargs)

    roles.unit_roles.function = counted
    table = roles.unit_roles.cached(selection, cache=False, store=ResultStore(sys.argv[1]))
    print(json.dumps({"calls": len(calls), "fe": table.fe_train.tolist(), "roles": table.roles.tolist()}))
    """
)


def test_results_survive_a_new_process(tmp_path):
    directory = str(tmp_path / "store")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FEATENT_DEVICE": "cpu"}
    runs = []
    for mode in ("compute", "forbid"):
        done = subprocess.run([sys.executable, "-c", _CHILD, directory, mode], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs[0]["calls"] == 1 and runs[1]["calls"] == 0
    assert runs[0]["fe"] == runs[1]["fe"] and runs[0]["roles"] == runs[1]["roles"]
