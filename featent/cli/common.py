"""What every ``featent`` command shares: one-line usage errors, output formats and files,
the tqdm progress bar, and JSON-safe values."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from featent.errors import FeatentError

EXIT_ERROR = 1
EXIT_USAGE = 2
FORMATS = ("table", "csv", "json")


def one_line_warnings() -> None:
    """Show featent's own warnings (e.g. a repaired store) as one ``featent: warning: ...`` line each."""

    previous = warnings.formatwarning
    if getattr(previous, "featent_one_line", False):
        return

    def format_warning(message, category, filename, lineno, line=None) -> str:
        if not category.__module__.startswith("featent"):
            return previous(message, category, filename, lineno, line)
        return f"featent: warning: {' '.join(str(message).split())}\n"

    format_warning.featent_one_line = True  # type: ignore[attr-defined]
    warnings.formatwarning = format_warning


class UsageError(Exception):
    """A bad command-line argument (reported in one line, exit code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage + message and exit
        # "argument --lr: must be ..." (from the types below) reads better as "--lr must be ...".
        message = re.sub(r"^argument (-[\w-]+)(?:/[\w-]+)*: must ", r"\1 must ", message)
        raise UsageError(f"{message} (see '{self.prog} --help')")


# Argument types: argparse calls them while parsing, so a bad number is refused before any work
# starts, and argparse's message names the flag ("argument --lr: must be ...").

SEED_LIMIT = 2**32


def _number(text: str, kind: type, expected: str, ok: Callable[[float], bool]) -> int | float:
    """``text`` as an int (whole decimal) or a finite float meeting ``ok``; else ArgumentTypeError."""
    try:
        value = int(text, 10) if kind is int else float(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
    return value


def at_least(minimum: int) -> Callable[[str], int]:
    """A whole number >= minimum (image counts, epochs, model counts)."""

    def parse(text: str) -> int:
        return int(_number(text, int, f"at least {minimum} (a whole number)", lambda v: v >= minimum))

    parse.__name__ = f"int>={minimum}"
    return parse


positive_int = at_least(1)
non_negative_int = at_least(0)


def seed(text: str) -> int:
    """A random seed: a whole number in [0, 2**32)."""
    return int(_number(text, int, "non-negative and below 2**32 (a whole number)", lambda v: 0 <= v < SEED_LIMIT))


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, scale factors)."""
    return float(_number(text, float, "a finite number > 0", lambda v: v > 0.0))


def finite_float(text: str) -> float:
    """Any finite number (thresholds)."""
    return float(_number(text, float, "a finite number", lambda v: True))


def ratio(text: str) -> float:
    """A share strictly between 0 and 1 (pruning ratios)."""
    return float(_number(text, float, "a number strictly between 0 and 1", lambda v: 0.0 < v < 1.0))


def fraction(text: str) -> float:
    """A share from 0 up to (not including) 1 (label-noise levels)."""
    return float(_number(text, float, "a number from 0 up to (not including) 1", lambda v: 0.0 <= v < 1.0))


def model_spec(text: str) -> str:
    """A model spec, passed on as typed once any ``:random:SEED`` seed is a valid seed.

    The spec parser reads the rest; this only keeps an out-of-range seed from reaching torch.
    """
    for found in re.finditer(r":random:([^:@]*)", text):
        try:
            seed(found.group(1).strip())
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"must have a seed from 0 to 2**32 - 1 after ':random:', got {text!r}"
            ) from None
    return text


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


def class_choice(text: str) -> str | int | list[str]:
    """``all``, a class count N >= 1, or class names separated by commas."""
    text = text.strip()
    if text == "all":
        return "all"
    if text.lstrip("+-").isdigit():
        return positive_int(text)
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected 'all', a count N or a comma-separated list of class names")
    return names


def layer_list(text: str) -> str | list[str]:
    """``all`` or layer names separated by commas."""
    text = text.strip()
    if text == "all":
        return "all"
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected 'all' or a comma-separated list of layer names")
    return names
