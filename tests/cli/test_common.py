"""featent.cli.common: selection flags declared once, progress and warnings as the CLI shows them."""

from __future__ import annotations

import importlib
import os
import warnings

import pytest

from featent.cli import common
from featent.cli.main import build_parser, main
from featent.progress import FeatentWarning, Progress
from featent.spec import Selection


def _parser(**options):
    parser = common.Parser(prog="featent x")
    common.add_selection_flags(parser, **options)
    return parser


def test_selection_from_args_reads_every_flag():
    args = _parser(layers="one-or-all").parse_args(
        ["--model", "demo", "--weights", "w.pt", "--data", "fashion", "--class", "Bag", "--layer", "a", "--layer", "b",
         "--layer", "a", "--images", "7", "--seed", "3"])
    assert common.selection_from_args(args) == Selection(
        model="demo", data="fashion", class_name="Bag", layers=("a", "b"), n_images=7, seed=3, weights="w.pt")
    assert common.selection_from_args(args, class_name="Coat", layers=("c",)).layers == ("c",)


def test_every_selection_flag_has_help():
    for options in ({}, {"model": "many", "classes": "many", "layers": "many"}, {"classes": "list", "layers": "list"}):
        parser = _parser(**options)
        assert all(action.help for action in parser._actions if action.option_strings)


def test_unknown_flag_shapes_are_refused():
    with pytest.raises(ValueError, match="layers is"):
        _parser(layers="some")


@pytest.mark.parametrize("minimum", [1, 2])
def test_images_minimum_is_declared(minimum):
    with pytest.raises(common.UsageError, match=f"--images must be an integer >= {minimum}, got '0'"):
        _parser(min_images=minimum).parse_args(["--model", "demo", "--data", "d", "--class", "c", "--layer", "l",
                                                "--images", "0"])


@pytest.mark.parametrize("argv", [["--offline", "classes", "--data", "digits"], ["classes", "--data", "digits", "--offline"]])
def test_offline_before_or_after_the_command(argv):
    assert build_parser().parse_args(argv).offline is True
    assert build_parser().parse_args(["classes", "--data", "digits"]).offline is False


def test_progress_bar_warnings_are_featent_lines(capsys):
    progress, close = common.progress_bar(True, "test")
    assert isinstance(progress, Progress)
    progress(0.5, "half")
    progress.warn("results are not cached:\n disk full")
    progress.warn("results are not cached:\n disk full")  # once
    close()
    assert capsys.readouterr().err == "featent: warning: results are not cached: disk full\n"


def test_featent_warnings_from_python_print_as_lines(capsys, monkeypatch):
    cli_main = importlib.import_module("featent.cli.main")  # the package's ``main`` names the function

    def warn_then_answer(args):
        warnings.warn("a store was repaired", FeatentWarning, stacklevel=1)
        return "ok\n"

    monkeypatch.setitem(cli_main._COMMANDS, "cache", warn_then_answer)
    monkeypatch.delenv("FEATENT_OFFLINE", raising=False)
    assert main(["cache", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert out == "ok\n" and err == "featent: warning: a store was repaired\n"
    assert os.environ.pop("FEATENT_OFFLINE") == "1"
