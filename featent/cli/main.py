"""The ``featent`` command line: list models, layers and classes; measure feature entropy; train the demo.

Every problem with the user's input (a FeatentError or a bad argument) ends the command with a
non-zero exit code and exactly one readable line on stderr, never a traceback. Progress goes to
stderr through tqdm (shown on a terminal only), results to stdout or ``--out``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from featent.cli import cached
from featent.cli.common import (
    DATA_HELP,
    EXIT_ERROR,
    EXIT_USAGE,
    MODEL_HELP,
    Parser,
    UsageError,
    add_code_model_flags,
    add_offline_flag,
    add_output,
    add_selection_flags,
    close_bar_ahead,
    emit,
    featent_version,
    fraction,
    global_flags_after_command,
    json_safe,
    load_code_models,
    model_spec,
    open_bar_ahead,
    positive_int,
    progress_bar,
    provenance_line,
    render,
    seed,
    selection_from_args,
    warnings_as_lines,
    with_provenance,
)
from featent.cli.first import INSTANT, announce, invoked_as_command
from featent.errors import FeatentError
from featent.spec import Selection

__all__ = ["main", "build_parser", "entropy_records", "json_safe", "UsageError"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = Parser(prog="featent", description="Topological feature entropy of CNN units (Zhao & Zhang, ICLR 2022).")
    add_offline_flag(parser, top=True)
    version = featent_version()
    parser.add_argument("--version", action="version", version=f"featent {version}", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("models", help="list the models featent can load")
    add_offline_flag(p)
    add_output(p)

    p = sub.add_parser("layers", help="list a model's layers with their unit count and unit size")
    p.add_argument("--model", type=model_spec, required=True, metavar="M", help=MODEL_HELP)
    p.add_argument("--weights", metavar="P", help="state_dict / checkpoint file to load into the model")
    add_code_model_flags(p)
    add_offline_flag(p)
    add_output(p)

    p = sub.add_parser("classes", help="list a dataset's classes")
    p.add_argument("--data", required=True, metavar="D", help=DATA_HELP)
    add_offline_flag(p)
    add_output(p)

    p = sub.add_parser("entropy", help="feature entropy and selective rate of every unit of a layer")
    add_selection_flags(p, layers="one-or-all")
    p.add_argument("--no-baselines", action="store_true", help="skip null FE (shuffled maps) and the size reference")
    add_output(p)

    p = sub.add_parser("cache", help="show, check, repair or clear the result store of cached birth times")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--clear", action="store_true",
                        help="remove every cached result, orphan value files and damaged index copies older than a week")
    action.add_argument("--check", action="store_true",
                        help="report entries, bytes, the index check, orphan value files and damaged index copies")
    action.add_argument("--repair", action="store_true",
                        help="rebuild a damaged index and remove orphan value files and old damaged copies")
    add_offline_flag(p)
    add_output(p)

    p = sub.add_parser("train-demo", help="train the demo CNN on Fashion-MNIST deterministically and save its weights")
    p.add_argument(
        "--data",
        default="fashion",
        choices=("fashion", "fashion-subset", "digits"),
        help="fashion (full set, the shipped demo), fashion-subset (the subset shipped with featent) or digits (demo-digits)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        metavar="E",
        help="training epochs (default: the recipe's, see featent.training.loop)",
    )
    p.add_argument("--seed", type=seed, default=0, metavar="S", help="training seed (default 0)")
    p.add_argument(
        "--label-noise", type=fraction, default=0.0, metavar="F", help="fraction of training labels replaced at random"
    )
    p.add_argument("--checkpoint-dir", metavar="DIR", help="save a checkpoint and the loss after every epoch here")
    p.add_argument(
        "--weights-out",
        metavar="FILE",
        help="where to save the final state_dict (default: the shipped demo weights, default recipe only)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_offline_flag(p)
    add_output(p)

    from featent.cli.experiments import register

    _COMMANDS.update(register(sub))

    from featent.cli.ablation import register as register_ablation

    _COMMANDS.update(register_ablation(sub))
    from featent.cli.sweep import register as register_sweep

    _COMMANDS.update(register_sweep(sub))
    from featent.cli.app import register as register_app

    _COMMANDS.update(register_app(sub))
    from featent.cli.story import register as register_story

    _COMMANDS.update(register_story(sub))
    for p in sub.choices.values():  # --quiet is global: every command takes it, before or after its name
        if not any("--quiet" in a.option_strings for a in p._actions):
            p.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def _cmd_models(args: argparse.Namespace) -> str:
    from featent.nets import list_models
    from featent.nets.demo import DEMO, DEMO_INPUT_SIZE
    from featent.nets.zoo import TORCHVISION_INPUT_SIZE

    rows = [
        {
            "model": name,
            "input_size": DEMO_INPUT_SIZE if name == DEMO else TORCHVISION_INPUT_SIZE,
            "specs": f"{name}, {name}:random" + ("" if name == DEMO else f", {name}:random@SIZE"),
        }
        for name in list_models()
    ]
    from featent.nets.family import family_specs

    family = family_specs()
    epochs = [spec for spec in family if "@epoch" in spec]
    early = [spec for spec in family if "@iter" in spec]
    corrupt = [spec for spec in family if "-corrupt-" in spec]
    rows.insert(1, {
        "model": "demo family (shipped trained)",
        "input_size": DEMO_INPUT_SIZE,
        "specs": f"{epochs[0]} .. {epochs[-1]}, {', '.join(early)}, {corrupt[0]} .. {corrupt[-1]}",
    })
    rows.insert(2, {"model": "demo-digits (the demo trained on digits)", "input_size": DEMO_INPUT_SIZE, "specs": "demo-digits"})
    return render(rows, args.format)


def _cmd_layers(args: argparse.Namespace) -> str:
    from featent.nets import load_model

    model = load_model(args.model, args.weights)
    rows = [{"layer": i.name, "units": i.n_units, "unit_size": i.unit_size} for i in model.layers]
    payload = {"model": model.spec, "weights": model.weights_source, "input_size": model.input_size, "layers": rows}
    header = [f"# {model.spec} ({model.weights_source}), input {model.input_size}x{model.input_size}"]
    return render(rows, args.format, payload, header)


def _cmd_classes(args: argparse.Namespace) -> str:
    from featent.data import load_dataset

    dataset = load_dataset(args.data)
    rows = [{"class": name} for name in dataset.classes]
    payload = {"data": dataset.name, "classes": list(dataset.classes), "skipped": dataset.skipped}
    header = [f"# {dataset.name}: {len(dataset.classes)} classes, {dataset.skipped} unreadable file(s) skipped"]
    notes = list(getattr(dataset, "notes", []))
    header += [f"# note: {note}" for note in notes]
    if notes:
        payload["notes"] = notes
    return render(rows, args.format, payload, header)


#: Per-layer figures and provenance that CSV rows of ``featent entropy`` repeat on every unit row.
LAYER_COLUMNS = (
    "silent_share", "mean_live_feature_entropy", "mean_null_feature_entropy", "mean_live_conditional_feature_entropy",
    "mean_live_null_conditional_feature_entropy", "unit_size", "hole_possible", "featent_version",
    "model_fingerprint", "data_fingerprint",
)


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def entropy_records(selection, results: dict, dataset_name: str, data_fingerprint: str,
                    model_fingerprint: str | None = None) -> list[dict]:
    """The documented JSON records (one per layer) of ``layer_results`` output (or of the same
    results read from the store, ``featent.cli.cached``).

    Beside FE each layer carries its baselines (``featent.core.baselines``): the share of silent units
    (epsilon < p), FE over the live units, the mean null FE (each map's entries shuffled) and the FE of
    iid units of the same size (None where not computed or, for live FE, when every unit is silent);
    and what each FE is made of: its conditional FE H(x | born) (stability, frequency divided out;
    None at epsilon = 0), the null's and the iid reference's, and whether the unit had few births.
    Each record says what produced it: the unit size m, whether a hole can be born at all (m >= 4),
    the featent version and the model's and data's fingerprints.
    """
    records = []
    for layer, r in results.items():
        null = r.null_feature_entropy
        cond, null_cond, gap = r.conditional_feature_entropy, r.null_conditional_feature_entropy, r.stability_gap
        records.append(
            {
                "model": selection.model,
                "data": selection.data,
                "dataset": dataset_name,
                "data_fingerprint": data_fingerprint,
                "class": selection.class_name,
                "layer": layer,
                "images": int(r.births.shape[0]),
                "seed": selection.seed,
                "unit_size": None if r.unit_size is None else int(r.unit_size),
                "hole_possible": r.hole_possible,
                "featent_version": featent_version(),
                "model_fingerprint": model_fingerprint,
                "mean_feature_entropy": r.mean_feature_entropy,
                "mean_selective_rate": r.mean_selective_rate,
                "silent_share": r.silent_share,
                "mean_live_feature_entropy": _finite_or_none(r.mean_live_feature_entropy),
                "mean_null_feature_entropy": r.mean_null_feature_entropy,
                "size_reference_feature_entropy": r.size_reference,
                "mean_live_conditional_feature_entropy": _finite_or_none(r.mean_live_conditional_feature_entropy),
                "mean_live_null_conditional_feature_entropy": _finite_or_none(
                    r.mean_live_null_conditional_feature_entropy),
                "size_reference_conditional_feature_entropy": _finite_or_none(r.size_reference_conditional),
                "units": [
                    {
                        "unit": u,
                        "feature_entropy": float(r.feature_entropy[u]),
                        "null_feature_entropy": None if null is None else float(null[u]),
                        "selective_rate": float(r.selective_rate[u]),
                        "conditional_feature_entropy": _finite_or_none(cond[u]),
                        "null_conditional_feature_entropy": None if null_cond is None else _finite_or_none(null_cond[u]),
                        "stability_gap": None if gap is None else _finite_or_none(gap[u]),
                        "few_births": bool(r.few_births[u]),
                        "births": [int(b) for b in r.births[:, u]],
                    }
                    for u in range(r.births.shape[1])
                ],
            }
        )
    return records


def _compute_entropy(args: argparse.Namespace) -> tuple[Selection, dict, str, str, str, str]:
    """(selection, layer results, dataset name, data fingerprint, weights source), computed (births from
    the store where there); the model's and dataset's manifests are kept for a torch-free answer next time."""
    progress, close = progress_bar(args.quiet, "entropy")  # before torch is imported: loading is a phase
    try:
        progress(0.0, f"loading: model {args.model} (torch, weights) and tracing its layers")
        from featent.data import load_dataset
        from featent.nets import load_model
        from featent.pipeline import layer_results

        model = load_model(args.model, args.weights)
        selection = selection_from_args(args, layers=tuple(i.name for i in model.layers) if args.all_layers else None)
        progress(0.0, f"tracing: {len(model.layers)} layers of {model.spec} found, {len(selection.layers)} measured")
        results = layer_results(selection, progress=progress, cache=not args.no_cache, baselines=not args.no_baselines)
    finally:
        close()
    dataset = load_dataset(selection.data)
    if not args.no_cache:
        store = cached.open_store()
        cached.record_model(store, args.model, args.weights, model, cached.weights_file(args.weights, model))
        cached.record_data(store, args.data, dataset, cached.data_sources(dataset))
        if store is not None:
            store.close()
    return selection, results, dataset.name, dataset.fingerprint, model.weights_source, model.fingerprint


def _cmd_entropy(args: argparse.Namespace) -> str:
    stored = None if args.no_cache else cached.recall_layers(
        args.model, args.weights, args.data, args.class_name, None if args.all_layers else args.layer,
        args.images, args.seed, baselines=not args.no_baselines,
    )
    if stored is not None:
        selection, results = stored.selection, stored.results
        dataset_name, data_fingerprint, weights_source = stored.dataset_name, stored.data_fingerprint, stored.weights_source
        model_fingerprint = stored.model_fingerprint
    else:
        selection, results, dataset_name, data_fingerprint, weights_source, model_fingerprint = _compute_entropy(args)
    records = entropy_records(selection, results, dataset_name, data_fingerprint, model_fingerprint)
    payload = records[0] if len(records) == 1 and not args.all_layers else records
    # The table gives each layer's own figures once, in its header line; CSV rows stand alone, so
    # they repeat them (and the provenance) on every unit row.
    per_layer = () if args.format == "table" else LAYER_COLUMNS
    rows = [
        {
            "layer": rec["layer"],
            "unit": unit["unit"],
            "unit_size": rec["unit_size"],
            "hole_possible": rec["hole_possible"],
            "feature_entropy": unit["feature_entropy"],
            "null_feature_entropy": unit["null_feature_entropy"],
            "selective_rate": unit["selective_rate"],
            "conditional_feature_entropy": unit["conditional_feature_entropy"],
            "null_conditional_feature_entropy": unit["null_conditional_feature_entropy"],
            "stability_gap": unit["stability_gap"],
            "few_births": unit["few_births"],
            **{column: rec[column] for column in per_layer},
            **({"births": unit["births"]} if args.format == "csv" else {}),
        }
        for rec in records
        for unit in rec["units"]
    ]
    shown = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    header = [
        f"# {rec['layer']}: mean feature entropy {rec['mean_feature_entropy']:.4f}, "
        f"mean selective rate {rec['mean_selective_rate']:.4f}, silent share {rec['silent_share']:.3f}, "
        f"live FE {shown(rec['mean_live_feature_entropy'])}, null FE {shown(rec['mean_null_feature_entropy'])}, "
        f"iid FE at this size {shown(rec['size_reference_feature_entropy'])}, "
        f"live conditional FE {shown(rec['mean_live_conditional_feature_entropy'])} "
        f"(null {shown(rec['mean_live_null_conditional_feature_entropy'])}, "
        f"iid {shown(rec['size_reference_conditional_feature_entropy'])}) "
        f"({rec['images']} images of class {rec['class']!r} from {rec['dataset']}, {weights_source}; "
        f"unit size {rec['unit_size']}, featent {rec['featent_version']})"
        for rec in records
    ]
    if args.format == "csv":
        for row in rows:
            row["births"] = " ".join(str(b) for b in row["births"])
    return render(rows, args.format, payload, header)


def _cmd_train_demo(args: argparse.Namespace) -> str:
    from dataclasses import replace

    from featent.nets.demo import DEMO_DIGITS_WEIGHTS, DEMO_WEIGHTS
    from featent.training.loop import DEMO_RECIPE, DIGITS_RECIPE, save_weights, train_demo

    recipe = DIGITS_RECIPE if args.data == "digits" else replace(DEMO_RECIPE, data=args.data)
    epochs = recipe.epochs if args.epochs is None else args.epochs
    default_recipe = epochs == recipe.epochs and args.seed == 0 and args.label_noise == 0.0 and args.data != "fashion-subset"
    if args.weights_out is None and not default_recipe:
        raise UsageError(
            "give --weights-out FILE: the shipped demo weights are only rebuilt with the default recipe "
            f"(--data fashion or digits, --epochs {recipe.epochs} --seed 0 --label-noise 0)"
        )
    shipped = DEMO_DIGITS_WEIGHTS if args.data == "digits" else DEMO_WEIGHTS
    progress, close = progress_bar(args.quiet, "train-demo")
    try:
        history = train_demo(
            seed=args.seed, epochs=epochs, label_noise=args.label_noise,
            checkpoint_dir=args.checkpoint_dir, progress=progress, recipe=recipe,
        )
    finally:
        close()
    target = save_weights(history.model, args.weights_out if args.weights_out is not None else shipped)
    rows = [
        {"epoch": e.epoch, "loss": e.loss, "train_accuracy": e.train_accuracy, "test_accuracy": e.test_accuracy}
        for e in history.epochs
    ]
    prov = cached.provenance("demo", str(target), recipe.data)  # the weights just saved, the data trained on
    payload = {"weights": str(target), "recipe": recipe.describe(), **prov, "epochs": rows}
    return render(with_provenance(rows, args.format, prov), args.format, payload,
                  [f"# weights saved to {target} ({recipe.describe()})", provenance_line(prov)])


def _cmd_cache(args: argparse.Namespace) -> str:
    from featent.store import ResultStore

    store = ResultStore()
    if args.check or args.repair:
        found = store.repair() if args.repair else store.check()
        return render([found], args.format, found)
    removed = store.clear() if args.clear else {}
    stats = {**store.stats(), **removed}
    return render([stats], args.format, stats)


_COMMANDS = {
    "models": _cmd_models,
    "layers": _cmd_layers,
    "classes": _cmd_classes,
    "entropy": _cmd_entropy,
    "cache": _cmd_cache,
    "train-demo": _cmd_train_demo,
}


def exit_without_collecting() -> None:
    """Let the command's process exit without the interpreter's shutdown collections walking the heap.

    Python's finalisation runs full garbage collections over every object left (torch's, numba's,
    the model's): about a second between a command's last line of output and its exit. Frozen
    objects are skipped; the process's memory goes back to the system when it exits either way."""
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``featent`` console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    announce(argv)
    try:
        with warnings_as_lines():
            parser = build_parser()
            args, unknown = parser.parse_known_args(global_flags_after_command(argv, list(_COMMANDS)))
            if unknown and args.command != "app":  # only featent app passes options on (to Streamlit)
                parser.error(f"unrecognized arguments: {' '.join(unknown)}")
            if unknown:
                args.passthrough = unknown
            if getattr(args, "offline", False):
                os.environ["FEATENT_OFFLINE"] = "1"
            if args.command not in INSTANT and not args.quiet:
                open_bar_ahead(args.quiet, args.command)
            try:
                load_code_models(args)
                emit(_COMMANDS[args.command](args), getattr(args, "out", None))
            finally:
                close_bar_ahead()
    except UsageError as exc:
        print(f"featent: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FeatentError as exc:
        print(f"featent: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERROR
    except MemoryError:
        print("featent: error: out of memory; use fewer --images or a smaller model input (@SIZE).", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("featent: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `featent ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if invoked_as_command():
            exit_without_collecting()
    return 0


if __name__ == "__main__":
    sys.exit(main())
