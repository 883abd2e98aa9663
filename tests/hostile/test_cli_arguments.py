"""Every numeric flag is checked by argparse before any work starts, the message naming the flag."""

from __future__ import annotations

import argparse

import pytest

from featent.cli import common
from featent.cli.main import build_parser, main

VALIDATING = {common.positive_int, common.non_negative_int, common.seed, common.positive_float,
              common.finite_float, common.ratio, common.fraction, common.model_spec, common.class_choice,
              common.layer_list, common.input_side, common.rgb, common.positive_rgb}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_no_numeric_flag_uses_a_bare_int_or_float():
    loose = []
    for name, parser in _subcommands().items():
        for action in parser._actions:
            if action.type in (int, float):
                loose.append(f"{name} {action.option_strings}")
            elif action.type is not None and action.type.__name__.startswith("int>="):
                continue
            elif action.type is not None:
                assert action.type in VALIDATING, (name, action.option_strings, action.type)
    assert loose == []


BASE = {
    "entropy": ["entropy", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"],
    "prune": ["prune", "--model", "demo", "--data", "digits"],
    "ablate": ["ablate", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"],
    "rescale": ["rescale", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"],
    "randomness": ["randomness", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"],
    "train-demo": ["train-demo", "--weights-out", "w.pt"],
    "train-family": ["train-family"],
}

CASES = [
    ("entropy", ["--images", "0"], "--images must be an integer >= 1, got '0'"),
    ("entropy", ["--images", "2.5"], "--images must be an integer >= 1, got '2.5'"),
    ("entropy", ["--images", "1e3"], "--images must be an integer >= 1"),
    ("entropy", ["--seed", "-1"], "--seed must be an integer from 0 to 4294967295"),
    ("entropy", ["--seed", "4294967296"], "--seed must be an integer from 0 to 4294967295"),
    ("entropy", ["--seed", "99999999999999999999999"], "--seed must be an integer from 0 to 4294967295"),
    ("entropy", ["--seed", "nan"], "--seed must be an integer from 0 to 4294967295"),
    ("prune", ["--lr", "nan"], "--lr must be a number > 0, got 'nan'"),
    ("prune", ["--lr", "-1"], "--lr must be a number > 0, got '-1'"),
    ("prune", ["--lr", "0"], "--lr must be a number > 0"),
    ("prune", ["--lr", "inf"], "--lr must be a number > 0"),
    ("prune", ["--train-per-class", "0"], "--train-per-class must be an integer >= 1"),
    ("prune", ["--test-per-class", "0"], "--test-per-class must be an integer >= 1"),
    ("prune", ["--ratio", "1"], "--ratio must be a number strictly between 0 and 1"),
    ("prune", ["--ratio", "0"], "--ratio must be a number strictly between 0 and 1"),
    ("prune", ["--ratio", "nan"], "--ratio must be a number strictly between 0 and 1"),
    ("prune", ["--epochs", "-1"], "--epochs must be an integer >= 0"),
    ("prune", ["--images", "1"], "--images must be an integer >= 2"),
    ("ablate", ["--random-seed", "-5"], "--random-seed must be an integer from 0 to 4294967295"),
    ("ablate", ["--test-per-class", "x"], "--test-per-class must be an integer >= 1"),
    ("rescale", ["--scale", "0"], "--scale must be a number > 0"),
    ("rescale", ["--scale=-inf"], "--scale must be a number > 0"),
    ("rescale", ["--unit", "-1"], "--unit must be an integer >= 0"),
    ("rescale", ["--images-per-class", "0"], "--images-per-class must be an integer >= 1"),
    ("randomness", ["--random-models", "0"], "--random-models must be an integer >= 1"),
    ("randomness", ["--first-seed", "2e9"], "--first-seed must be an integer from 0 to 4294967295"),
    ("train-demo", ["--epochs", "0"], "--epochs must be an integer >= 1"),
    ("train-demo", ["--label-noise", "1"], "--label-noise must be a number from 0 up to (not including) 1"),
    ("train-demo", ["--label-noise", "-0.1"], "--label-noise must be a number from 0 up to (not including) 1"),
    ("train-family", ["--levels", "0.2", "nan"], "--levels must be a number from 0 up to (not including) 1"),
    ("prune", ["--train-threshold", "nan"], None),  # roles only: checked below
]


@pytest.mark.parametrize(("command", "extra", "message"), [c for c in CASES if c[2]],
                         ids=[f"{c[0]} {' '.join(c[1])}" for c in CASES if c[2]])
def test_bad_numbers_are_refused_before_any_work(capsys, monkeypatch, command, extra, message):
    import featent.nets.loading as loading
    import featent.pipeline as pipeline

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(loading, "load_model", no_work)
    monkeypatch.setattr(pipeline, "load_model", no_work)
    code = main(BASE[command] + extra)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("featent: error: ")
    assert message in err
    assert f"see 'featent {command} --help'" in err


@pytest.mark.parametrize("flag", ["--train-threshold", "--test-threshold"])
def test_role_thresholds_must_be_finite(capsys, flag):
    code = main(["roles", "--model", "demo", "--data", "digits", "--layer", "block1_conv1", flag, "nan"])
    err = capsys.readouterr().err
    assert code == 2 and f"{flag} must be a number, got 'nan'" in err


@pytest.mark.parametrize("spec", ["demo:random:99999999999999999999999", "demo:random:-1", "demo:random:4294967296",
                                  "demo:random:abc@32"])
def test_out_of_range_spec_seeds_are_one_clean_line(capsys, spec):
    code = main(["layers", "--model", spec])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--model must have a seed from 0 to 2**32 - 1 after ':random:'" in err and "Traceback" not in err


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("4294967295", 4294967295), (" 7 ", 7)])
def test_seed_accepts_its_whole_range(text, value):
    assert common.seed(text) == value


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (common.positive_float, "1e-3", 1e-3),
        (common.ratio, "0.5", 0.5),
        (common.fraction, "0", 0.0),
        (common.finite_float, "-2.5", -2.5),
        (common.non_negative_int, "0", 0),
        (common.model_spec, "vgg11:random:3@64", "vgg11:random:3@64"),
    ],
)
def test_good_values_pass(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_command_takes_offline_after_it_and_explains_every_flag(command):
    sub = _subcommands()[command]
    options = {o: a for a in sub._actions for o in a.option_strings}
    assert "--offline" in options and options["--offline"].default is argparse.SUPPRESS
    assert [o for o, a in options.items() if o != "-h" and not a.help] == []


@pytest.mark.parametrize("command", ["ablate", "roles", "ablation-summary", "prune"])
def test_ablation_commands_need_two_images(capsys, command):
    argv = [command, "--model", "demo", "--data", "digits", "--class", "0", "--layer", "block3_conv2", "--images", "1"]
    assert main(argv) == 2
    assert "--images must be an integer >= 2, got '1'" in capsys.readouterr().err


def test_prune_scores_fifty_images_by_default():
    args = build_parser().parse_args(["prune", "--model", "demo", "--data", "digits"])
    assert args.images == 50 and args.layer is None and args.class_name is None
