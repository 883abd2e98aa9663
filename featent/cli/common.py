"""What every ``featent`` command shares: one-line usage errors, the selection flags (declared once),
argument types built on featent.validation, output formats and files, progress on a tqdm bar with
``featent: warning:`` lines, and JSON-safe values."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import numpy as np

from featent.cli.first import GLOBAL_FLAGS
from featent.errors import FeatentError
from featent.progress import FeatentWarning, PhaseEta, Progress
from featent.spec import Selection
from featent.store import write_bytes_atomic
from featent.validation import Constraint, Interval

EXIT_ERROR = 1
EXIT_USAGE = 2
FORMATS = ("table", "csv", "json")


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """While a command runs, featent's warnings from Python's ``warnings`` module (``FeatentWarning``,
    a repaired store) print as ``featent: warning: TEXT`` lines, like those of :func:`progress_bar`;
    other packages' warnings keep their own form."""
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:  # warnings API
            if issubclass(category, FeatentWarning) or category.__module__.startswith("featent"):
                _write_line(warning_line(message))
            else:
                previous(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _write_line(text: str) -> None:
    """A line on stderr, through tqdm when a bar may be showing so the bar is not torn."""
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is not None:
        tqdm_module.tqdm.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr)


class UsageError(Exception):
    """A bad command-line argument (reported in one line, exit code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print usage + message and exit
        # "argument --lr: must be ..." (from the types below) reads better as "--lr must be ...".
        message = re.sub(r"^argument (-[\w-]+)(?:/[\w-]+)*: must ", r"\1 must ", message)
        raise UsageError(f"{message} (see '{self.prog} --help')")


# Argument types: argparse calls them while parsing, so a bad number is refused before any work
# starts. Each is a constraint of featent.validation, so a flag reads like every other argument
# check: "--images must be an integer >= 1, got '0'".

SEED_LIMIT = 2**32


def flag_type(kind: type, constraint: Constraint, name: str | None = None) -> Callable[[str], Any]:
    """An argparse type: ``text`` read as ``kind`` (int: whole decimal; float: finite) meeting ``constraint``."""

    def parse(text: str) -> Any:
        try:
            value = int(text, 10) if kind is int else float(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not constraint.is_satisfied_by(value):
            raise argparse.ArgumentTypeError(f"must be {constraint.describe()}, got {text!r}")
        return constraint.convert(value)

    parse.__name__ = name or constraint.describe()
    return parse


#: The input side in pixels of a model from code (``--input-size``).
input_side = flag_type(int, Interval(int, 2, 4096), "size")


def at_least(minimum: int) -> Callable[[str], int]:
    """A whole number >= minimum (image counts, epochs, model counts)."""
    return flag_type(int, Interval(int, minimum, None), f"int>={minimum}")


positive_int = at_least(1)
non_negative_int = at_least(0)
#: A random seed: a whole number in [0, 2**32).
seed = flag_type(int, Interval(int, 0, SEED_LIMIT, closed="left"), "seed")
#: A finite number > 0 (learning rates, scale factors).
positive_float = flag_type(float, Interval(float, 0, None, closed="neither"), "positive_float")
#: Any finite number (thresholds).
finite_float = flag_type(float, Interval(float, None, None), "finite_float")
#: A share strictly between 0 and 1 (pruning ratios).
ratio = flag_type(float, Interval(float, 0, 1, closed="neither"), "ratio")
#: A share from 0 up to (not including) 1 (label-noise levels).
fraction = flag_type(float, Interval(float, 0, 1, closed="left"), "fraction")


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


def rgb(text: str) -> tuple[float, float, float]:
    """Three finite numbers separated by commas (a per-channel mean or std, RGB)."""
    parts = [t.strip() for t in text.split(",")]
    try:
        values = tuple(float(t) for t in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"must be three numbers separated by commas (R,G,B), got {text!r}")
    return values  # type: ignore[return-value]


def add_code_model_flags(parser: argparse.ArgumentParser) -> None:
    """--input-size/--mean/--std: what a model from code ('net.py:Net') is fed, when it does not say itself."""
    parser.add_argument("--input-size", type=input_side, metavar="S",
                        help="input side in pixels of a model from code (default: its input_size attribute, else 32)")
    parser.add_argument("--mean", type=rgb, metavar="R,G,B", help="input mean of a model from code (default: its mean "
                        "attribute, else ImageNet's)")
    parser.add_argument("--std", type=positive_rgb, metavar="R,G,B", help="input std of a model from code (default: its "
                        "std attribute, else ImageNet's)")


def positive_rgb(text: str) -> tuple[float, float, float]:
    values = rgb(text)
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(f"must be three positive numbers separated by commas (R,G,B), got {text!r}")
    return values


def load_code_models(args: argparse.Namespace) -> None:
    """Load each --model given as code ('net.py:Net') once, with --weights/--input-size/--mean/--std, so every
    later load of the same spec in this run (the commands, the experiments) gets that model. Loading runs the code."""
    given = {k: getattr(args, k.replace("-", "_"), None) for k in ("input-size", "mean", "std")}
    specs = getattr(args, "model", None)
    specs = [specs] if isinstance(specs, str) else list(specs or [])
    from featent.spec import ModelSpec

    code = [s for s in specs if ModelSpec.parse(s).runs_code]
    if not code:
        flags = [f"--{k}" for k, v in given.items() if v is not None]
        if flags:
            raise UsageError(f"{'/'.join(flags)} only apply to a model from code ('net.py:Net'); zoo models know their own")
        return
    from featent.nets import load_model

    for spec in code:
        load_model(spec, getattr(args, "weights", None), input_size=given["input-size"], mean=given["mean"],
                   std=given["std"])


def add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--out", metavar="FILE", help="write the result to FILE instead of stdout")


def featent_version() -> str:
    """The installed version: featent/__init__.py sits above the CLI and is always imported before it,
    so its ``__version__`` is read, not imported (imports only run downward)."""
    return str(sys.modules["featent"].__version__)


#: Provenance every result states (``featent.cli.cached.provenance``): per layer, then of the whole run.
LAYER_PROVENANCE = ("unit_size", "hole_possible")
RUN_PROVENANCE = ("featent_version", "model_fingerprint", "data_fingerprint")


def with_provenance(rows: list[dict], fmt: str, provenance: dict, *, per_unit: bool = False) -> list[dict]:
    """``rows`` as printed, carrying what produced them the way ``featent entropy`` does: a CSV row stands
    alone, so it repeats every provenance field; a table row of a layer or unit (``per_unit``) shows its
    unit size and hole_possible, the rest is in the table's header (:func:`provenance_line`)."""
    if fmt == "csv":
        keys = [k for k in (*LAYER_PROVENANCE, *RUN_PROVENANCE) if k in provenance]
    elif fmt == "table" and per_unit:
        keys = [k for k in LAYER_PROVENANCE if k in provenance]
    else:
        keys = []
    return [{**row, **{k: provenance[k] for k in keys}} for row in rows]


def provenance_line(provenance: dict) -> str:
    """The table header line saying what produced the result."""
    size = (f"unit size {provenance['unit_size']} ({'holes possible' if provenance['hole_possible'] else 'no hole possible'}), "
            if provenance.get("unit_size") is not None else "")
    return (f"# {size}featent {provenance['featent_version']}, model {provenance.get('model_fingerprint')}, "
            f"data {provenance.get('data_fingerprint')}")




def global_flags_after_command(argv: Sequence[str], commands: Sequence[str]) -> list[str]:
    """``argv`` with the global flags given before the command moved after it, where each command's
    own parser reads them (``featent --format json entropy ...`` == ``featent entropy ... --format json``).

    A command that has no such flag then refuses it in its own one-line usage error."""
    argv = list(argv)
    moved: list[str] = []
    i = 0
    while i < len(argv) and argv[i] not in commands:
        flag, eq, _ = argv[i].partition("=")
        if flag in GLOBAL_FLAGS and flag != "--offline":
            takes_value = GLOBAL_FLAGS[flag] and not eq
            moved += argv[i:i + 1 + takes_value]
            del argv[i:i + 1 + takes_value]
            continue
        i += 1
    if i >= len(argv) or not moved:
        return argv
    return argv + moved


MODEL_HELP = ("model spec, e.g. demo, demo@epoch5, demo-corrupt-0.4, vgg16, vgg16:random, vgg11:random@64, "
              "or your own module: path/to/net.py:NAME or package.module:NAME (this runs that code)")
DATA_HELP = "'fashion', 'fashion-subset', 'digits' or a folder with one subfolder per class"
WEIGHTS_HELP = "state_dict / checkpoint file to load into the model"


def add_offline_flag(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--offline`` on the main parser and on each command, so it may come before or after the command.

    On a command it defaults to "not given" (SUPPRESS), so it never overrides one given before it."""
    parser.add_argument("--offline", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="never fetch pretrained weights (as FEATENT_OFFLINE=1): use cached files only")


def add_selection_flags(
    parser: argparse.ArgumentParser,
    *,
    model: str = "one",
    data_default: str | None = None,
    classes: str = "one",
    layers: str = "one",
    min_images: int = 1,
    images_help: str = "images sampled from the class (default 100)",
    cache: bool = True,
    class_help: str | None = None,
    layer_help: str | None = None,
) -> None:
    """The flags that choose what is measured (a ``featent.spec.Selection``), declared once for every command.

    ``model``: "one" (--model and --weights, required), "many" (--model repeatable, optional) or
    "none" (a command that picks its models itself).
    ``classes``: "one" (--class, required), "many" (--class repeatable; default every class),
    "list" (--classes all|N|LIST) or "none". ``layers``: "one" (--layer, required), "one-or-all"
    (--layer repeatable or --all-layers, one of them required), "many" (--layer repeatable; default
    every layer), "list" (--layers all|LIST) or "none". Always: --images, --seed, --quiet, --offline;
    --no-cache when ``cache``. ``class_help`` / ``layer_help`` replace the help of --class / --layer
    where a command gives the flag a narrower meaning. Read them back with :func:`selection_from_args`.
    """
    if model == "one":
        parser.add_argument("--model", type=model_spec, required=True, metavar="M", help=MODEL_HELP)
        parser.add_argument("--weights", metavar="P", help=WEIGHTS_HELP)
        add_code_model_flags(parser)
    elif model == "many":
        parser.add_argument("--model", type=model_spec, action="append", metavar="M", help=MODEL_HELP + " (repeatable)")
        add_code_model_flags(parser)
    elif model != "none":
        raise ValueError(f"model is 'one', 'many' or 'none', not {model!r}")
    if data_default is None:
        parser.add_argument("--data", required=True, metavar="D", help=DATA_HELP)
    else:
        parser.add_argument("--data", default=data_default, metavar="D", help=f"{DATA_HELP} (default {data_default})")
    if classes == "one":
        parser.add_argument(
            "--class", dest="class_name", required=True, metavar="C",
            help=class_help or "class name (as listed by 'featent classes')",
        )
    elif classes == "many":
        parser.add_argument(
            "--class", dest="class_name", action="append", metavar="C",
            help=class_help or "class (repeatable; default every class)",
        )
    elif classes == "list":
        parser.add_argument("--classes", type=class_choice, default="all", metavar="all|N|LIST",
                            help="every class, the first N, or names separated by commas (default all)")
    elif classes != "none":
        raise ValueError(f"classes is 'one', 'many', 'list' or 'none', not {classes!r}")
    if layers == "one":
        parser.add_argument(
            "--layer", required=True, metavar="L", help=layer_help or "layer name (as listed by 'featent layers')"
        )
    elif layers == "one-or-all":
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--layer", action="append", metavar="L", help=layer_help or "layer name (repeatable)")
        which.add_argument("--all-layers", action="store_true", help="every layer of the model")
    elif layers == "many":
        parser.add_argument(
            "--layer", action="append", metavar="L", help=layer_help or "layer (repeatable; default every layer)"
        )
    elif layers == "list":
        parser.add_argument(
            "--layers", type=layer_list, default="all", metavar="all|LIST", help="every layer or names separated by commas"
        )
    elif layers != "none":
        raise ValueError(f"layers is 'one', 'one-or-all', 'many', 'list' or 'none', not {layers!r}")
    parser.add_argument("--images", type=at_least(min_images), default=100, metavar="N", help=images_help)
    parser.add_argument("--seed", type=seed, default=0, metavar="S", help="sampling seed (default 0)")
    if cache:
        parser.add_argument("--no-cache", action="store_true", help="neither read nor write the result store")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_offline_flag(parser)


def selection_from_args(
    args: argparse.Namespace, *, class_name: str | None = None, layers: Sequence[str] | str | None = None,
    model: object | None = None,
) -> Selection:
    """The Selection the flags of :func:`add_selection_flags` describe.

    ``class_name`` / ``layers`` / ``model`` override the flags (one class of a repeatable --class,
    the layer list of --all-layers, one model of a repeatable --model)."""
    if layers is None:
        given = getattr(args, "layer", None)
        layers = (given,) if isinstance(given, str) else tuple(dict.fromkeys(given or ()))
    elif not isinstance(layers, str):
        layers = tuple(layers)
    return Selection(
        model=args.model if model is None else model,
        data=args.data,
        class_name=args.class_name if class_name is None else class_name,
        layers=(layers,) if isinstance(layers, str) else layers,
        n_images=args.images,
        seed=args.seed,
        weights=getattr(args, "weights", None),
    )


#: The bar ``main`` opened before the command's modules were imported; the command's own bar is this one.
_AHEAD: list[tuple[Progress, Callable[[], None]]] = []


def open_bar_ahead(quiet: bool, description: str) -> None:
    """Open the command's bar before its modules (torch among them) are imported, so that loading
    them is a phase on it; the command's :func:`progress_bar` then continues this bar."""
    close_bar_ahead()
    progress, close = progress_bar(quiet, description)
    progress(0.0, "loading: torch and the command's modules")
    _AHEAD.append((progress, close))


def close_bar_ahead() -> None:
    """Close a bar opened ahead that no step of the command took over."""
    while _AHEAD:
        _AHEAD.pop()[1]()


def progress_bar(quiet: bool, description: str) -> tuple[Progress, Callable[[], None]]:
    """(progress, close): reports drive a tqdm bar on stderr, warnings print ``featent: warning: TEXT``.

    The bar shows the percent of the whole run, then the current phase's own message in its real units
    (``births: 40/100 images``) with that phase's measured rate and time left (:class:`PhaseEta`), then
    the time spent: ``entropy:  40%|####      | 3: forward + births: 40/100 images, 5 images/s, phase ETA
    0:12 [00:09]``. No rate of anonymous "it". Warnings are written through ``tqdm.write`` so they never
    tear the bar, and are shown even with ``quiet`` (quiet hides progress, not problems). A bar opened
    ahead by :func:`open_bar_ahead` is continued, not doubled."""
    if _AHEAD:
        return _AHEAD.pop()
    import time

    from tqdm import tqdm

    class Bar(tqdm):
        """tqdm with the phase text as a field of its own (tqdm's postfix would start with a comma)."""

        phase = ""

        @property
        def format_dict(self):  # tqdm's hook for the fields of bar_format
            return {**super().format_dict, "phase": self.phase}

    eta = PhaseEta(time.monotonic)
    bar = Bar(total=100, desc=description, file=sys.stderr, disable=True if quiet else None, leave=False,
              bar_format="{desc}: {percentage:3.0f}%|{bar:10}| {phase} [{elapsed}]")

    def report(fraction: float, message: str) -> None:
        target = round(100 * max(0.0, min(1.0, fraction)))
        suffix = eta(message)
        bar.phase = f"{message[-60:]}, {suffix}" if suffix else message[-90:]  # a long message loses its start
        if target > bar.n:
            bar.update(target - bar.n)
        bar.refresh()

    def warn(text: str) -> None:
        _write_line(warning_line(text))

    return Progress(report, warn), bar.close


def run_with_progress(quiet: bool, description: str, work: Callable[[Progress], Any]) -> Any:
    """``work(progress)`` with its progress on a bar (see :func:`progress_bar`), the bar closed after."""
    progress, close = progress_bar(quiet, description)
    try:
        return work(progress)
    finally:
        close()


def stored_or_computed(experiment: Any, no_cache: bool, *args: Any, **kwargs: Any) -> Any:
    """An experiment's result through its contract: the stored one when there (else computed and
    stored), or computed afresh, storing nothing, with ``--no-cache``."""
    if no_cache:
        return experiment(*args, **kwargs)
    return experiment.cached(*args, **kwargs)


def warning_line(text: object) -> str:
    """One ``featent: warning: ...`` line (whitespace folded)."""
    return f"featent: warning: {' '.join(str(text).split())}"


def json_safe(value: Any) -> Any:
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
        write_bytes_atomic(out, text.encode("utf-8"))  # all or nothing: never a partial --out file
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


def add_class_map_flag(p: argparse.ArgumentParser) -> None:
    """``--class-map FILE.json`` for every command that reports an accuracy (see featent.experiments.class_map)."""
    p.add_argument("--class-map", metavar="FILE.json",
                   help="JSON object mapping each dataset class to a model output index or name (needed when the model's "
                        "outputs are not the dataset's classes and it knows no class names)")
