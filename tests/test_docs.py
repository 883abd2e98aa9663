"""The README stays short and points into docs/; the CLI reference names every command and flag."""

import argparse
from pathlib import Path

from featent.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]


def test_every_subcommand_and_flag_is_in_the_cli_reference():
    text = (ROOT / "docs" / "cli.md").read_text()
    parser = build_parser()
    missing = [f"featent {o}" for o in _options(parser) if o not in text]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 10
    for name, sp in sub.choices.items():
        if f"featent {name}`" not in text:
            missing.append(f"featent {name}")
        section = text.split(f"### `featent {name}`", 1)[-1].split("\n### ", 1)[0]
        missing += [f"featent {name} {o}" for o in _options(sp) if f"`{o}" not in section]
    assert not missing, "missing from docs/cli.md: " + ", ".join(missing)


def test_readme_is_short_and_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 15 * 1024
    head = readme[:400]
    assert "make run" in head and "make test" in head
    for doc in ("method.md", "cli.md", "python.md", "performance.md", "experiments.md"):
        assert f"docs/{doc}" in readme
    for doc in ("method.md", "cli.md", "python.md", "performance.md"):
        assert (ROOT / "docs" / doc).is_file()
