"""``featent sweep``: a model's FE atlas over classes x layers, written to .parquet or .csv.

Why a separate module: ``featent.cli.main`` owns the program, its errors and output helpers; this
module only adds the subcommand. The atlas goes to ``--out`` (a file, required); stdout gets one
summary line. Numeric flags and the output suffix are checked before any model is loaded, and a
local sweep whose every (class, layer) is stored is answered from the store without torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from featent.cli import cached
from featent.cli.common import UsageError, add_selection_flags, run_with_progress
from featent.core.entropy import MIN_HOLE_SIZE

__all__ = ["register"]


def _cmd_sweep(args: argparse.Namespace) -> str:
    out = Path(args.atlas_out).expanduser()
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise UsageError(f"--out must end in .parquet or .csv, got {args.atlas_out!r}")
    if not out.parent.is_dir():
        raise UsageError(f"--out: folder {str(out.parent)!r} does not exist")
    if args.executor == "dask" and not args.scheduler:
        raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.1:8786)")
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler is only used with --executor dask")
    atlas = None
    if args.executor == "local":
        atlas = cached.recall_atlas(args.model, args.weights, args.data, args.classes, args.layers, args.images,
                                    args.seed, args.units)
    if atlas is None:
        from featent.experiments.sweep import sweep

        atlas = run_with_progress(args.quiet, "sweep", lambda progress: sweep(
            args.model, args.data, classes=args.classes, layers=args.layers, images=args.images, seed=args.seed,
            executor=args.executor, scheduler=args.scheduler, device=args.device, units=args.units, progress=progress,
            weights=args.weights))
        _keep_manifests(args)
    atlas = _with_provenance(atlas, args)
    atlas.save(out, units=args.units)
    frame = atlas.to_frame()
    return (f"{out}: {frame['class'].nunique()} classes x {frame['layer'].nunique()} layers"
            f"{' (one row per unit)' if args.units else ''}; {atlas.computed} (class, layer) pairs computed, "
            f"{len(frame) - atlas.computed} from the store\n")


def _with_provenance(atlas, args: argparse.Namespace):
    """The atlas with what produced it on every row: hole_possible (m >= 4), the featent version and
    the model's and data's fingerprints (from the manifests the store keeps of both)."""
    from featent.experiments.atlas import Atlas

    found = cached.provenance(args.model, args.weights, args.data)
    fingerprints = (found["model_fingerprint"], found["data_fingerprint"])

    def stamped(frame):
        frame = frame.copy()
        if "hole_possible" not in frame.columns:
            frame["hole_possible"] = frame["unit_size"] >= MIN_HOLE_SIZE
        frame["featent_version"] = found["featent_version"]
        frame["model_fingerprint"], frame["data_fingerprint"] = fingerprints
        return frame

    return Atlas(stamped(atlas.to_frame()), stamped(atlas.units_frame()) if atlas.has_units else None,
                 computed=atlas.computed)


def _keep_manifests(args: argparse.Namespace) -> None:
    """Record the model's and dataset's manifests, so the same sweep answers from the store without torch."""
    from featent.data import load_dataset
    from featent.nets import load_model

    model, dataset = load_model(args.model, args.weights), load_dataset(args.data)  # both memoized by the sweep
    store = cached.open_store()
    cached.record_model(store, args.model, args.weights, model, cached.weights_file(args.weights, model))
    cached.record_data(store, args.data, dataset, cached.data_sources(dataset))
    if store is not None:
        store.close()


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], str]]:
    """Add the ``sweep`` subcommand; returns name -> handler."""
    p = sub.add_parser("sweep", help="FE atlas of a model: every (class, layer), resumable, local or on Dask")
    add_selection_flags(p, classes="list", layers="list", images_help="images sampled per class (default 100)",
                        cache=False)
    p.add_argument("--executor", choices=("local", "dask"), default="local", help="where to run (default local)")
    p.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address for --executor dask")
    p.add_argument("--device", metavar="cpu|cuda|cuda:N", help="device of the forward pass (default: the model's; "
                   "Dask workers default to their own GPU when they have one)")
    p.add_argument("--out", dest="atlas_out", required=True, metavar="FILE", help="atlas file, .parquet or .csv")
    p.add_argument("--units", action="store_true", help="one row per (class, layer, unit) instead of per (class, layer)")
    return {"sweep": _cmd_sweep}
