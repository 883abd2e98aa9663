"""Every result says what produced it: the provenance fields carry the real version, fingerprints and
unit size, the same whether read from the store's manifests (no model loaded) or from the loaded model."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import featent
from featent.cli import cached
from featent.cli.main import main
from featent.core.entropy import hole_possible


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main([*argv, "--quiet"]) == 0
    return out.getvalue()


def test_provenance_is_the_models_and_datas_own(session_store):
    from featent.data import load_dataset
    from featent.nets import load_model

    model, dataset = load_model("demo"), load_dataset("digits")
    for layer in ("block1_conv1", "block3_conv2"):
        found = cached.provenance("demo", None, "digits", layer)
        m = model.layer(layer).unit_size
        assert found == {"unit_size": m, "hole_possible": hole_possible(m), "featent_version": featent.__version__,
                         "model_fingerprint": model.fingerprint, "data_fingerprint": dataset.fingerprint}
    assert cached.provenance("demo", None, None) == {"featent_version": featent.__version__,
                                                     "model_fingerprint": model.fingerprint, "data_fingerprint": None}


def test_provenance_from_the_manifests_needs_no_model(session_store, monkeypatch):
    """Once the manifests are kept, the answer comes from them: loading a model would fail here."""
    first = cached.provenance("demo", None, "digits", "block2_conv1")  # keeps the manifests

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("featent.nets.load_model", refuse)
    assert cached.provenance("demo", None, "digits", "block2_conv1") == first


def test_an_experiment_states_it_in_every_format(session_store):
    args = ["roles", "--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2", "--images", "8"]
    expected = cached.provenance("demo", None, "digits", "block3_conv2")
    record = json.loads(_run([*args, "--format", "json"]))
    assert {k: record[k] for k in expected} == expected
    rows = list(csv.DictReader(io.StringIO(_run([*args, "--format", "csv"]))))
    assert rows and all(row["model_fingerprint"] == expected["model_fingerprint"]
                        and row["data_fingerprint"] == expected["data_fingerprint"]
                        and row["featent_version"] == featent.__version__
                        and row["unit_size"] == str(expected["unit_size"]) for row in rows)
    table = _run([*args, "--format", "table"])
    assert f"featent {featent.__version__}, model {expected['model_fingerprint']}" in table
