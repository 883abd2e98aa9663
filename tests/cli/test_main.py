"""featent CLI: the four commands, output formats, the JSON schema, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from featent.cli.main import main

UNIT_KEYS = {"unit", "feature_entropy", "null_feature_entropy", "selective_rate", "conditional_feature_entropy",
             "null_conditional_feature_entropy", "stability_gap", "few_births", "births"}
RECORD_KEYS = {"model", "data", "dataset", "data_fingerprint", "class", "layer", "images", "seed", "unit_size",
               "hole_possible", "featent_version", "model_fingerprint", "mean_feature_entropy",
               "mean_selective_rate", "silent_share", "mean_live_feature_entropy", "mean_null_feature_entropy",
               "size_reference_feature_entropy", "mean_live_conditional_feature_entropy",
               "mean_live_null_conditional_feature_entropy", "size_reference_conditional_feature_entropy", "units"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _check_record(record: dict, layer: str, n_units: int, n_images: int) -> None:
    assert set(record) == RECORD_KEYS
    assert record["layer"] == layer and record["images"] == n_images and record["class"] == "4"
    assert len(record["units"]) == n_units
    for i, unit in enumerate(record["units"]):
        assert set(unit) == UNIT_KEYS and unit["unit"] == i
        assert len(unit["births"]) == n_images and all(isinstance(b, int) and b >= 0 for b in unit["births"])
        assert 0.0 <= unit["selective_rate"] <= 1.0 and unit["feature_entropy"] >= 0.0
    fe = [u["feature_entropy"] for u in record["units"]]
    assert record["mean_feature_entropy"] == pytest.approx(sum(fe) / len(fe))


def test_entropy_json_single_layer(capsys, cache_dir):
    code, out, err = run(capsys, "entropy", "--model", "demo", "--data", "digits", "--class", "4",
                         "--layer", "block3_conv2", "--images", "6", "--format", "json")
    assert code == 0, err
    record = json.loads(out)
    assert isinstance(record, dict)
    _check_record(record, "block3_conv2", 64, 6)
    assert record["model"] == "demo" and record["data"] == "digits" and record["seed"] == 0


def test_entropy_json_all_layers_is_a_list(capsys, cache_dir, tmp_path):
    target = tmp_path / "out.json"
    code, out, err = run(capsys, "entropy", "--model", "demo", "--data", "digits", "--class", "4",
                         "--all-layers", "--images", "5", "--format", "json", "--out", str(target), "--quiet")
    assert code == 0, err
    assert out == ""
    records = json.loads(target.read_text())
    assert [r["layer"] for r in records] == [
        "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2"]
    for record, units in zip(records, (16, 16, 32, 32, 64, 64)):
        _check_record(record, record["layer"], units, 5)


def test_entropy_csv_and_table_agree_with_json(capsys, cache_dir):
    args = ["entropy", "--model", "demo", "--data", "digits", "--class", "4", "--layer", "block2_conv1", "--images", "5"]
    _, out_json, _ = run(capsys, *args, "--format", "json")
    record = json.loads(out_json)
    _, out_csv, _ = run(capsys, *args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out_csv)))
    assert len(rows) == 32 and set(rows[0]) == {
        "layer",
        "unit",
        "unit_size",
        "hole_possible",
        "feature_entropy",
        "null_feature_entropy",
        "selective_rate",
        "silent_share",
        "mean_live_feature_entropy",
        "mean_null_feature_entropy",
        "conditional_feature_entropy",
        "null_conditional_feature_entropy",
        "stability_gap",
        "few_births",
        "mean_live_conditional_feature_entropy",
        "mean_live_null_conditional_feature_entropy",
        "featent_version",
        "model_fingerprint",
        "data_fingerprint",
        "births",
    }
    assert rows[0]["unit_size"] == "16" and rows[0]["hole_possible"] == "True"
    assert rows[0]["data_fingerprint"] == record["data_fingerprint"] and len(rows[0]["model_fingerprint"]) >= 16
    assert float(rows[3]["feature_entropy"]) == pytest.approx(record["units"][3]["feature_entropy"])
    assert float(rows[3]["null_feature_entropy"]) == pytest.approx(record["units"][3]["null_feature_entropy"])
    assert [int(b) for b in rows[3]["births"].split()] == record["units"][3]["births"]
    assert (rows[3]["unit_size"], rows[3]["hole_possible"]) == ("16", "True")
    assert (record["unit_size"], record["hole_possible"]) == (16, True)
    code, out_table, _ = run(capsys, *args)
    assert code == 0
    assert out_table.startswith("# block2_conv1: mean feature entropy ")
    assert f"{record['mean_feature_entropy']:.4f}" in out_table.splitlines()[0]
    live_cond = record["mean_live_conditional_feature_entropy"]
    assert f"live conditional FE {'n/a' if live_cond is None else f'{live_cond:.4f}'}" in out_table.splitlines()[0]
    assert len(out_table.splitlines()) == 1 + 2 + 32
    table_columns = out_table.splitlines()[1].split()
    assert "silent_share" not in table_columns and "mean_live_feature_entropy" not in table_columns


def test_models_layers_classes(capsys, image_folder):
    code, out, _ = run(capsys, "models", "--format", "json")
    assert code == 0 and {"model": "demo", "input_size": 32, "specs": "demo, demo:random"} in json.loads(out)
    family = next(row for row in json.loads(out) if row["model"].startswith("demo family"))
    assert "demo@epoch0" in family["specs"] and "demo-corrupt-0.8" in family["specs"]
    code, out, _ = run(capsys, "layers", "--model", "vgg11:random@32", "--format", "json")
    layers = json.loads(out)
    assert layers["input_size"] == 32 and layers["weights"] == "random init (seed 0)"
    assert layers["layers"][0] == {"layer": "block1_conv1", "units": 64, "unit_size": 32}
    code, out, _ = run(capsys, "layers", "--model", "demo", "--format", "csv")
    assert out.splitlines()[:2] == ["layer,units,unit_size", "block1_conv1,16,32"]
    code, out, _ = run(capsys, "classes", "--data", str(image_folder), "--format", "json")
    assert json.loads(out)["classes"] == ["cat", "dog"] and json.loads(out)["skipped"] == 1
    code, out, _ = run(capsys, "classes", "--data", "digits")
    assert code == 0 and out.splitlines()[0] == "# digits: 10 classes, 0 unreadable file(s) skipped"


def test_cache_stats_and_clear(capsys, cache_dir):
    run(capsys, "entropy", "--model", "demo", "--data", "digits", "--class", "4", "--layer", "block1_conv1", "--images", "3")
    code, out, _ = run(capsys, "cache", "--format", "json")
    stats = json.loads(out)
    # births, null births (shuffled maps), the iid size reference of that m and |Omega|, and the
    # manifests of the model and the dataset (so the same question is answered without torch)
    assert code == 0 and stats["entries"] == 5 and stats["directory"] == str(cache_dir)
    code, out, _ = run(capsys, "cache", "--clear", "--format", "json")
    assert json.loads(out)["entries"] == 0
    code, out, _ = run(capsys, "entropy", "--model", "demo", "--data", "digits", "--class", "4",
                       "--layer", "block1_conv1", "--images", "3", "--no-cache")
    assert code == 0 and json.loads(run(capsys, "cache", "--format", "json")[1])["entries"] == 0


@pytest.mark.parametrize(
    ("argv", "code", "match"),
    [
        (["entropy", "--model", "nope", "--data", "digits", "--class", "1", "--layer", "x"], 1, "Unknown model 'nope'"),
        (
            ["entropy", "--model", "demo", "--data", "digits", "--class", "12", "--layer", "block1_conv1"],
            1,
            "Class '12' is not in digits",
        ),
        (["entropy", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "conv9"], 1, "has no layer 'conv9'"),
        (["entropy", "--model", "demo", "--data", "/no/such", "--class", "1", "--layer", "block1_conv1"], 1, "does not exist"),
        (
            ["entropy", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1", "--images", "0"],
            2,
            "--images must be an integer >= 1",
        ),
        (
            ["entropy", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1", "--seed", "-1"],
            2,
            "--seed must be an integer from 0 to 4294967295",
        ),
        (
            ["entropy", "--model", "demo", "--data", "digits", "--class", "1", "--images", "x", "--all-layers"],
            2,
            "--images must be an integer >= 1, got 'x'",
        ),
        (
            ["entropy", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "a", "--all-layers"],
            2,
            "not allowed with argument",
        ),
        (
            ["entropy", "--model", "demo", "--data", "digits", "--class", "1"],
            2,
            "one of the arguments --layer --all-layers is required",
        ),
        (["layers", "--model", "vgg16"], 1, "to fetch the pretrained weights vgg16-"),
        (["layers", "--model", "demo", "--weights", "/no/w.pt"], 1, "does not exist"),
        (["layers", "--model", "demo", "--format", "xml"], 2, "invalid choice: 'xml'"),
        (["classes"], 2, "the following arguments are required: --data"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        ([], 2, "the following arguments are required: COMMAND"),
        (["models", "--out", "/no/such/dir/x.txt"], 1, "Cannot write '/no/such/dir/x.txt'"),
        (["train-demo", "--epochs", "0"], 2, "--epochs must be an integer >= 1"),
        (
            ["train-demo", "--label-noise", "2", "--weights-out", "w.pt"],
            2,
            "--label-noise must be a number from 0 up to (not including) 1",
        ),
        (["train-demo", "--label-noise", "0.2"], 2, "give --weights-out FILE: the shipped demo weights are only rebuilt"),
        (["train-demo", "--epochs", "3"], 2, "give --weights-out FILE"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(capsys, cache_dir, monkeypatch, tmp_path, argv, code, match):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    got, out, err = run(capsys, *argv)
    assert got == code
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("featent: error: ")
    assert match in err
    assert "Traceback" not in err


def test_python_dash_m_and_console_script(tmp_path):
    env = dict(os.environ, FEATENT_CACHE_DIR=str(tmp_path / "c"))
    done = subprocess.run([sys.executable, "-m", "featent", "models", "--format", "csv"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.splitlines()[1].startswith("demo,32,")
    done = subprocess.run([sys.executable, "-m", "featent", "classes", "--data", str(tmp_path / "none")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "does not exist" in done.stderr
    script = Path(sys.executable).with_name("featent")
    if script.exists():  # installed by `make setup` (pip install -e .)
        done = subprocess.run([str(script), "layers", "--model", "demo", "--format", "json"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0 and json.loads(done.stdout)["layers"][5]["layer"] == "block3_conv2"


def test_train_demo_writes_weights_and_history(capsys, tmp_path):
    target = tmp_path / "w.pt"
    code, out, err = run(
        capsys,
        "train-demo",
        "--data",
        "fashion-subset",
        "--epochs",
        "1",
        "--seed",
        "2",
        "--weights-out",
        str(target),
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
        "--format",
        "json",
        "--quiet",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["weights"] == str(target) and [row["epoch"] for row in payload["epochs"]] == [0, 1]
    assert payload["recipe"].startswith("fashion-subset")
    assert set(payload["epochs"][1]) == {"epoch", "loss", "train_accuracy", "test_accuracy"}
    assert (tmp_path / "ckpt" / "epoch_001.pt").is_file()
    code, out, _ = run(capsys, "layers", "--model", "demo", "--weights", str(target), "--format", "json")
    assert code == 0 and json.loads(out)["weights"] == str(target.resolve())


def test_the_command_freezes_the_heap_before_exiting_and_a_caller_of_main_is_left_alone(tmp_path) -> None:
    """As the ``featent`` command, main() freezes the heap on its way out, so the interpreter's shutdown
    collections skip torch's and the model's objects (about a second at exit); called from Python, as
    here and in a notebook, it leaves the caller's garbage collector as it was."""
    probe = (
        "import gc, sys\n"
        "from featent.cli.main import main\n"
        "sys.argv[0] = sys.argv[1]\n"
        "code = main(['models'])\n"
        "print(code, gc.get_freeze_count() > 0)\n"
    )
    env = {**os.environ, "FEATENT_CACHE_DIR": str(tmp_path)}
    outs = [subprocess.run([sys.executable, "-c", probe, program], capture_output=True, text=True, env=env, timeout=300)
            for program in ("/usr/local/bin/featent", "/tmp/a-notebook-kernel")]
    assert [out.returncode for out in outs] == [0, 0], [out.stderr[-2000:] for out in outs]
    assert [out.stdout.strip().split("\n")[-1] for out in outs] == ["0 True", "0 False"]
