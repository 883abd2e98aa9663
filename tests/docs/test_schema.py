"""The output schema in docs/cli.md is the output: each command is run in each format and its
fields compared with the documented ones."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest

from featent.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\|\s*`(?P<command>[\w-]+)`\s*\|\s*(?P<format>\w+)\s*\|(?P<fields>.*)\|\s*$")


def documented_schema(path: Path = ROOT / "docs" / "cli.md") -> dict[tuple[str, str], list[str]]:
    """(command, format) -> fields, from the table under "## Output schema".

    A field ``key[]: a, b`` names the fields of the objects in the JSON list ``key``."""
    text = path.read_text(encoding="utf-8")
    section = text.split("## Output schema", 1)[1].split("\n## ", 1)[0]
    schema = {}
    for line in section.split("\n"):
        m = _ROW.match(line)
        if m:
            schema[m["command"], m["format"]] = sorted(fields_of_cell(m["fields"]))
    return schema


def fields_of_cell(cell: str) -> set[str]:
    fields = set()
    for part in cell.replace("`", "").split(";"):
        prefix, sep, rest = part.partition("[]:")
        if sep:
            key = prefix.strip().strip("`")
            fields.add(key)
            fields |= {f"{key}[].{name.strip().strip('`')}" for name in rest.split(",") if name.strip()}
        else:
            fields |= {name.strip().strip("`") for name in part.split(",") if name.strip()}
    return fields


def fields_of_output(text: str, fmt: str) -> set[str]:
    """The column names (csv, table) or keys (json, with ``key[].name`` for lists of objects) of an output."""
    if fmt == "csv":
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        return set(next(csv.reader(io.StringIO("\n".join(lines)))))
    if fmt == "table":
        header = next(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
        return set(header.split())
    value = json.loads(text)
    record = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
    if not isinstance(record, dict):
        return set()
    fields = set(record)
    for key, item in record.items():
        if isinstance(item, list) and item and isinstance(item[0], dict):
            fields |= {f"{key}[].{name}" for name in item[0]}
    return fields


_SELECTION = ["--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2", "--images", "8"]
#: Cheap arguments for each command (the demo model on digits, a few images, one layer, few units of work).
ARGS = {
    "models": [],
    "layers": ["--model", "demo"],
    "classes": ["--data", "digits"],
    "cache": [],
    "entropy": _SELECTION,
    "indicators": _SELECTION,
    "rescale": [*_SELECTION, "--unit", "53"],
    "randomness": [*_SELECTION, "--unit", "53", "--random-models", "2"],
    "roles": _SELECTION,
    "dynamics": ["--data", "digits", "--class", "3", "--layer", "block3_conv2", "--images", "4"],
    "compare-models": ["--model", "demo", "--model", "demo@epoch1", "--data", "digits", "--class", "3",
                       "--layer", "block3_conv2", "--images", "4"],
    "ablate": ["--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2", "--images", "4",
               "--order", "fe", "--order", "l1", "--test-per-class", "2", "--test-class", "3", "--test-class", "5"],
    "ablation-summary": ["--model", "demo", "--data", "digits", "--class", "3", "--class", "5", "--layer",
                         "block3_conv2", "--images", "4", "--order", "fe", "--test-per-class", "2"],
    "prune": ["--model", "demo", "--data", "digits", "--class", "3", "--class", "5", "--layer", "block3_conv2",
              "--images", "2", "--epochs", "0", "--train-per-class", "2", "--test-per-class", "2", "--method", "l1"],
    "train-demo": ["--data", "digits", "--epochs", "1"],  # --weights-out is added per test
    "train-family": ["--levels", "0.8", "--no-base"],  # finds the run built (see built_family_run)
}
#: Commands that print no fields: `app` serves the app, `story` writes one HTML file (its own tests).
NO_FIELDS = {"app", "story"}
SCHEMA = documented_schema()


@pytest.fixture
def quick_throughput(monkeypatch):
    """prune measures each network's images/s; here over one short round (the fields are what is checked)."""
    from featent.experiments import pruning

    measure = pruning.throughputs
    monkeypatch.setattr(pruning, "throughputs", lambda modules, size, **_: measure(modules, size, batch_size=2,
                                                                                    min_seconds=0.0))


@pytest.fixture
def built_family_run(session_store):
    """The corrupted-label run train-family would retrain (35 epochs), already built in the store's family
    folder: a copy of the shipped run, so the command reads it and compares it as after training."""
    import shutil

    from featent.nets.family import corrupt_run, family_directory, shipped_run

    run = corrupt_run(0.8)
    target = family_directory() / run.run_id
    if not target.exists():
        shutil.copytree(shipped_run(run), target)
    return target


def test_every_command_is_in_the_schema_and_run():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    documented = {command for command, _ in SCHEMA}
    missing = [name for name in sub.choices if name not in documented and name not in NO_FIELDS]
    assert not missing, f"docs/cli.md '## Output schema' has no rows for: {', '.join(missing)}"
    assert set(ARGS) | {"sweep"} == documented - {"sweep-units"}
    for command in ARGS:
        assert {fmt for c, fmt in SCHEMA if c == command} == {"table", "csv", "json"}, command


@pytest.mark.parametrize(("command", "fmt"), sorted(k for k in SCHEMA if k[0] in ARGS))
def test_documented_fields_are_the_output(command, fmt, session_store, request, tmp_path):
    args = list(ARGS[command])
    if command == "prune":
        request.getfixturevalue("quick_throughput")
    if command == "train-family":
        request.getfixturevalue("built_family_run")
    if command == "train-demo":
        args += ["--weights-out", str(tmp_path / "demo.pt")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main([command, *args, "--quiet", "--format", fmt]) == 0
    real = fields_of_output(out.getvalue(), fmt)
    documented = set(SCHEMA[command, fmt])
    assert real == documented, (
        f"docs/cli.md Output schema, `{command}` {fmt}: missing from the docs {sorted(real - documented)}, "
        f"documented but not printed {sorted(documented - real)}")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_sweep_atlas_columns_are_documented(suffix, session_store, tmp_path):
    from featent.experiments.atlas import Atlas

    for units, row in ((False, "sweep"), (True, "sweep-units")):
        path = tmp_path / f"atlas{int(units)}{suffix}"
        argv = ["sweep", "--model", "demo", "--data", "digits", "--classes", "1", "--layers", "block3_conv2",
                "--images", "8", "--quiet", "--out", str(path)] + (["--units"] if units else [])
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0
        atlas = Atlas.load(path)
        real = set((atlas.units_frame() if units else atlas.to_frame()).columns)
        fmt = "parquet" if (row, "parquet") in SCHEMA and suffix == ".parquet" else "csv"
        documented = set(SCHEMA.get((row, fmt), SCHEMA.get((row, "parquet"), [])))
        assert real == documented, f"docs/cli.md Output schema, `{row}` {fmt}: {sorted(real ^ documented)}"
