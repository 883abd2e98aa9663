"""featent.cli.experiments: the experiment subcommands, their JSON and their usage errors."""

from __future__ import annotations

import json

import pytest


def test_cli_rescale_json_and_errors(cache_dir, capsys):
    from featent.cli.main import main

    code = main(["rescale", "--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2",
                 "--unit", "2", "--images", "5", "--compare-classes", "3", "--compare-classes", "4",
                 "--images-per-class", "3", "--quiet", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    payload = json.loads(out)
    assert payload["unit"] == 2 and payload["scale"] == 0.5 and len(payload["rows"]) == 4
    assert {"images", "filters", "accuracy", "feature_entropy", "nisp"} <= set(payload["rows"][0])
    code = main(["randomness", "--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2",
                 "--random-models", "0", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--random-models" in err and err.count("\n") == 1
    code = main(["compare-models", "--set", "nope", "--data", "digits"])
    assert code == 2 and "unknown model set" in capsys.readouterr().err


def test_cli_rescale_answers_from_the_store_the_second_time(cache_dir, capsys, monkeypatch):
    from featent.cli.main import main
    from featent.experiments import rescale

    argv = ["rescale", "--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2",
            "--images", "4", "--compare-classes", "3", "--compare-classes", "4", "--images-per-class", "2",
            "--quiet", "--format", "csv"]
    assert main(argv) == 0
    first = capsys.readouterr().out

    def forbidden(*args, **kwargs):
        raise AssertionError("recomputed although the result is stored")

    monkeypatch.setattr(rescale.ind, "model_indicators", forbidden)
    assert main(argv) == 0
    assert capsys.readouterr().out == first
    with pytest.raises(AssertionError, match="recomputed"):  # --no-cache computes afresh
        main([*argv, "--no-cache"])


def test_cli_rescale_class_map_file_and_refusal(cache_dir, capsys, image_folder, tmp_path):
    """The demo's 10 outputs on a cat/dog folder: no accuracy without a map, the map's outputs with one."""
    from featent.cli.main import main

    argv = ["rescale", "--model", "demo:random", "--data", str(image_folder), "--class", "cat", "--layer",
            "block1_conv1", "--images", "3", "--images-per-class", "2", "--quiet", "--format", "json"]
    assert main(argv) == 0
    refused = json.loads(capsys.readouterr().out)
    assert all(row["accuracy"] is None for row in refused["rows"])
    assert any("not reported" in n and "--class-map FILE.json" in n for n in refused["notes"])
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"cat": 7, "dog": 2}))
    assert main([*argv, "--class-map", str(path)]) == 0
    mapped = json.loads(capsys.readouterr().out)
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in mapped["rows"])
    assert "Classes mapped to outputs by the given class map (2 classes)." in mapped["notes"]
    assert main([*argv[:-2], "--class-map", str(path)]) == 0  # the table says it too
    assert "# note: Classes mapped to outputs by the given class map (2 classes)." in capsys.readouterr().out
    path.write_text(json.dumps({"cat": 7}))
    assert main([*argv, "--class-map", str(path), "--no-cache"]) != 0
    assert "no output for 'dog'" in capsys.readouterr().err


def test_cli_indicators_class_map_file(cache_dir, capsys, image_folder, tmp_path):
    from featent.cli.main import main

    argv = ["indicators", "--model", "demo:random", "--data", str(image_folder), "--class", "dog", "--layer",
            "block1_conv1", "--images", "3", "--images-per-class", "2", "--quiet", "--format", "json"]
    assert main(argv) == 0
    refused = json.loads(capsys.readouterr().out)
    assert refused["accuracy"] is None and any("--class-map FILE.json" in n for n in refused["notes"])
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"cat": 0, "dog": 9}))
    assert main([*argv, "--class-map", str(path)]) == 0
    mapped = json.loads(capsys.readouterr().out)
    assert 0.0 <= mapped["accuracy"] <= 1.0 and "Classes mapped to outputs by the given class map (2 classes)." in mapped["notes"]
