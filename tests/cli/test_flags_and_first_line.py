"""Every flag says what it does; global flags go before or after the command; the first line of a
command comes before anything heavy is imported."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from featent.cli.common import global_flags_after_command
from featent.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _parsers(parser: argparse.ArgumentParser, prog: str = "featent"):
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prog} {name}")


def test_every_flag_has_help_text():
    missing = [
        f"{prog} {action.option_strings[0]}"
        for prog, parser in _parsers(build_parser())
        for action in parser._actions
        if action.option_strings and action.help in (None, "", argparse.SUPPRESS) and action.dest != "help"
    ]
    assert not missing, "flags without help text: " + ", ".join(missing)


def test_global_flags_move_after_the_command_and_nothing_else():
    commands = ["layers", "entropy"]
    assert global_flags_after_command(["--format", "json", "--quiet", "layers", "--model", "demo"], commands) == [
        "layers", "--model", "demo", "--format", "json", "--quiet"]
    assert global_flags_after_command(["--format=csv", "layers", "--model", "demo"], commands) == [
        "layers", "--model", "demo", "--format=csv"]
    assert global_flags_after_command(["layers", "--model", "demo", "--format", "json"], commands) == [
        "layers", "--model", "demo", "--format", "json"]


@pytest.mark.parametrize("argv", [
    ["--format", "json", "--quiet", "--offline", "layers", "--model", "demo"],
    ["layers", "--model", "demo", "--format", "json", "--quiet", "--offline"],
    ["--quiet", "layers", "--offline", "--model", "demo", "--format=json"],
])
def test_global_flags_work_before_or_after_the_command(argv, monkeypatch):
    monkeypatch.setenv("FEATENT_OFFLINE", "")  # remembered, so the "1" main sets is undone after the test
    monkeypatch.delenv("FEATENT_OFFLINE")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    assert json.loads(out.getvalue())["layers"][0]["unit_size"] == 32
    assert os.environ.get("FEATENT_OFFLINE") == "1"


def test_version_is_the_package_version(capsys):
    import featent

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"featent {featent.__version__}"


#: Runs the CLI with a stderr that says it is a terminal (where the first line is shown) and records,
#: at the first write, the seconds since start and whether torch had been imported yet.
_PROBE = r"""
import sys, time
t0 = time.perf_counter()
seen = []
class Terminal:
    def isatty(self): return True
    def write(self, text):
        if not seen and text.strip():
            seen.append((time.perf_counter() - t0, "torch" in sys.modules, text.strip(),
                         "featent.cli.experiments" in sys.modules))
        return len(text)
    def flush(self): pass
sys.stderr = Terminal()
from featent.cli.main import main
code = main(sys.argv[1:])
sys.stderr = sys.__stderr__
print(repr((code, seen[0] if seen else None)))
"""


def test_first_line_comes_before_torch_is_imported(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FEATENT_CACHE_DIR": str(tmp_path)}
    argv = ["entropy", "--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2", "--images", "4"]
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env, timeout=600)
    code, (seconds, torch_loaded, line, parser_built) = eval(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr
    assert line == "featent: entropy: starting …"
    assert not torch_loaded, f"the first line came after torch was imported ({seconds:.2f} s)"
    assert not parser_built, "the first line came after the command modules were imported (the parser was built)"
    print(f"first line after {seconds:.3f} s")


def test_a_missing_data_folder_names_every_builtin_dataset(tmp_path, capsys):
    assert main(["classes", "--data", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "'fashion'" in err and "'digits'" in err and len(err.strip().splitlines()) == 1
