"""What every ``featent`` command shares: one-line usage errors, output formats and files,
the tqdm progress bar, and JSON-safe values."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from featent.errors import FeatentError

EXIT_ERROR = 1
EXIT_USAGE = 2
FORMATS = ("table", "csv", "json")


class UsageError(Exception):
    """A bad command-line argument (reported in one line, exit code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage + message and exit
        raise UsageError(f"{message} (see '{self.prog} --help')")


def add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--out", metavar="FILE", help="write the result to FILE instead of stdout")


def progress_bar(quiet: bool, description: str):
    """(callback, close) mapping the library's Progress onto a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=description, file=sys.stderr, disable=True if quiet else None, leave=False)

    def callback(fraction: float, message: str) -> None:
        if message.startswith("warning:"):
            tqdm.write(f"featent: {message}", file=sys.stderr)
            return
        target = int(round(1000 * max(0.0, min(1.0, fraction))))
        if target > bar.n:
            bar.update(target - bar.n)
        bar.set_postfix_str(message[:60], refresh=False)

    return callback, bar.close


def json_safe(value: object) -> object:
    """JSON-ready copy: numpy arrays/scalars -> Python, non-finite floats -> None, recursively."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render(rows: list[dict], fmt: str, payload: object | None = None, header: Sequence[str] = ()) -> str:
    """Rows as an aligned table or CSV; ``payload`` (default: rows) as JSON."""
    if fmt == "json":
        return json.dumps(rows if payload is None else payload, indent=2, allow_nan=False) + "\n"
    columns = list(rows[0]) if rows else []
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    cells = [[str(c) for c in columns]] + [[_cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = list(header)
    for k, row in enumerate(cells):
        lines.append("  ".join(v.rjust(w) if k and _numeric(v) else v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def emit(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        Path(out).expanduser().write_text(text, encoding="utf-8")
    except OSError as exc:
        raise FeatentError(f"Cannot write {out!r}: {exc.strerror or exc}.") from exc
