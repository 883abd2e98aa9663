"""``featent story``: the nine stages of the method as one self-contained HTML page.

Why a separate module: ``featent.cli.main`` owns the program, its errors and output helpers; this
module only adds the subcommand. The page embeds plotly.js and runs Play in the browser, so it works
opened from disk in a room with no network and no server.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from featent.cli.common import (
    MODEL_HELP,
    UsageError,
    add_selection_flags,
    model_spec,
    non_negative_int,
    run_with_progress,
    selection_from_args,
)
from featent.errors import UnitError

__all__ = ["register"]


def _unit_from_args(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The unit the story tells and the page title: the paper's toy, a saved array or a model's unit."""
    if args.array:
        path = Path(args.array).expanduser()
        if not path.is_file():
            raise UsageError(f"--array: no file {str(path)!r}")
        try:
            unit = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise UnitError(f"--array {str(path)!r} is not a .npy array ({err})") from err
        return np.asarray(unit), f"Feature entropy, step by step: {path.name}"
    if args.model is None:
        from featent.plots.story import PAPER_TOY

        return PAPER_TOY, "Feature entropy, step by step: the paper's toy (Fig. 2)"
    if args.layer is None or args.class_name is None:
        raise UsageError("--model needs --layer and --class (and --unit, --image) to pick the unit the story tells")
    if not 0 <= args.image < args.images:
        raise UsageError(f"--image {args.image} is out of range: --images {args.images} are sampled")
    from featent.pipeline import unit_activations

    selection = selection_from_args(args)
    layer = args.layer
    maps = run_with_progress(args.quiet, "activations", lambda progress: unit_activations(selection, layer, args.image))
    if not 0 <= args.unit < maps.shape[0]:
        raise UsageError(f"--unit {args.unit} is out of range: layer {layer!r} has {maps.shape[0]} units")
    return np.asarray(maps[args.unit]), f"Feature entropy, step by step: {args.model} {layer} unit {args.unit} image {args.image}"


def _cmd_story(args: argparse.Namespace) -> str:
    from featent.plots.story import story_html

    out = Path(args.story_out).expanduser()
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out must end in .html, got {args.story_out!r}")
    if not out.parent.is_dir():
        raise UsageError(f"--out: folder {str(out.parent)!r} does not exist")
    unit, title = _unit_from_args(args)
    try:
        page = story_html(unit, title=title)
    except ValueError as err:
        raise UnitError(str(err)) from err
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {unit.shape[0]} x {unit.shape[0]} unit)"


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], str]]:
    p = sub.add_parser("story", help="write the nine stages of the method as one HTML page that runs with no server")
    p.add_argument("--out", dest="story_out", required=True, metavar="FILE.html", help="the page to write")
    p.add_argument("--array", metavar="FILE.npy", help="tell the story of this m x m array (default: the paper's toy)")
    p.add_argument("--model", type=model_spec, metavar="M", help=MODEL_HELP + " (with --layer, --class: a real unit)")
    p.add_argument("--weights", metavar="P", help="state_dict / checkpoint file to load into the model")
    p.add_argument("--class", dest="class_name", metavar="C", help="with --model: the class the image is sampled from")
    p.add_argument("--layer", metavar="L", help="with --model: the layer (as listed by 'featent layers')")
    add_selection_flags(p, model="none", data_default="fashion", classes="none", layers="none", cache=False,
                        images_help="with --model: images sampled from the class (default 100)")
    p.add_argument("--unit", type=non_negative_int, default=0, metavar="K", help="with --model: the unit (0-based, default 0)")
    p.add_argument("--image", type=non_negative_int, default=0, metavar="I",
                   help="with --model: the sampled image (0-based, default 0)")
    return {"story": _cmd_story}
