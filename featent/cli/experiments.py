"""CLI subcommands for the paper's experiments: ``indicators``, ``rescale``, ``randomness``,
``dynamics``, ``compare-models`` and ``train-family``.

Why a separate module: ``featent.cli.main`` owns the program and its shared output helpers; this module
only adds subcommands (``register``) with the same selection flags, formats and error handling.
JSON output never contains NaN or infinity (they become ``null``); the schemas are in docs/cli.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from featent.cli import cached
from featent.cli.common import (
    UsageError,
    add_class_map_flag,
    add_offline_flag,
    add_output,
    add_selection_flags,
    fraction,
    json_safe,
    non_negative_int,
    positive_float,
    positive_int,
    provenance_line,
    render,
    run_with_progress,
    seed,
    selection_from_args,
    stored_or_computed,
    with_provenance,
)

if TYPE_CHECKING:
    from featent.progress import Progress

__all__ = ["register"]


def _table_rows(rows: Any) -> list[dict]:
    """Rows for table/CSV: None shown as empty, inf kept readable."""
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]


def _comparison_flags(p: argparse.ArgumentParser) -> None:
    """The classes class selectivity compares with (indicators, rescale, randomness)."""
    p.add_argument("--compare-classes", action="append", metavar="C",
                   help="classes for class selectivity (repeatable; default: every class)")
    p.add_argument("--images-per-class", type=positive_int, default=None, metavar="N",
                   help="images per other class for class selectivity (default: --images)")


def _one_unit_flags(p: argparse.ArgumentParser) -> None:
    """One layer of one model on one class, one unit or the layer mean (rescale, randomness)."""
    add_selection_flags(p)
    p.add_argument("--unit", type=non_negative_int, metavar="U", help="unit (channel) index; default: the layer mean")
    _comparison_flags(p)
    add_output(p)


def _unit_header(result, unit: int | None) -> str:
    who = f"unit {unit}" if unit is not None else "layer mean over units"
    sel = result.selection
    return f"# {sel.model}, layer {result.layer}, {who}, class {sel.class_name!r}, {result.n_images} images"


# --------------------------------------------------------------------------- commands


def _cmd_indicators(args: argparse.Namespace) -> str:
    from featent.experiments.indicator_table import indicator_table
    from featent.pipeline import load_model

    if args.all_layers:
        model = load_model(args.model, args.weights)
        selection = selection_from_args(args, layers=tuple(i.name for i in model.layers))
    else:
        selection = selection_from_args(args)
    layers = selection.layers

    def work(progress: Progress) -> list:
        return [
            stored_or_computed(
                indicator_table, args.no_cache, selection, layer=layer, classes=args.compare_classes,
                images_per_class=args.images_per_class, class_map=args.class_map, cache=not args.no_cache,
                progress=progress.subrange(k / len(layers), (k + 1) / len(layers)),
            )
            for k, layer in enumerate(layers)
        ]

    tables = run_with_progress(args.quiet, "indicators", work)
    records = [
        {"model": t.model, "data": t.data, "class": t.class_name, "layer": t.layer, "images": t.n_images,
         "seed": t.seed, **cached.provenance(args.model, args.weights, args.data, t.layer), "accuracy": t.accuracy,
         "notes": t.notes, "units": t.records()}
        for t in tables
    ]
    payload = records[0] if len(records) == 1 and not args.all_layers else records
    rows = [row for rec in records for row in with_provenance(
        [{"layer": rec["layer"], **unit} for unit in rec["units"]], args.format, rec, per_unit=True)]
    header = [f"# {rec['layer']}: class {rec['class']!r}, {rec['images']} images, class accuracy {rec['accuracy']:.3f}"
              + (f" ({'; '.join(rec['notes'])})" if rec["notes"] else "") for rec in records]
    header += [provenance_line(records[0])] if records else []
    return render(_table_rows(rows), args.format, json_safe(payload), header)


def _cmd_rescale(args: argparse.Namespace) -> str:
    from featent.experiments.rescale import rescale_experiment

    selection = selection_from_args(args)
    result = run_with_progress(args.quiet, "rescale", lambda progress: stored_or_computed(
        rescale_experiment, args.no_cache, selection, scale=args.scale, classes=args.compare_classes,
        images_per_class=args.images_per_class, image_space=args.image_space, class_map=args.class_map,
        progress=progress))
    rows = json_safe(result.to_frame(args.unit).to_dict(orient="records"))
    prov = cached.provenance(args.model, args.weights, args.data, result.layer)
    payload = {"model": selection.model, "data": selection.data, "class": selection.class_name, "layer": result.layer,
               "unit": args.unit, "images": result.n_images, "seed": args.seed, **prov, "scale": result.scale,
               "image_space": result.image_space, "notes": result.notes, "rows": rows}
    return render(_table_rows(with_provenance(rows, args.format, prov)), args.format, payload,
                  [_unit_header(result, args.unit), provenance_line(prov), *(f"# note: {n}" for n in result.notes)])


def _cmd_randomness(args: argparse.Namespace) -> str:
    from featent.experiments.randomness import randomness_experiment

    selection = selection_from_args(args)
    result = run_with_progress(args.quiet, "randomness", lambda progress: stored_or_computed(
        randomness_experiment, args.no_cache, selection, n_models=args.random_models, first_seed=args.first_seed,
        classes=args.compare_classes, images_per_class=args.images_per_class, cache=not args.no_cache,
        progress=progress))
    rows = json_safe(result.to_frame(args.unit).to_dict(orient="records"))
    prov = cached.provenance(args.model, args.weights, args.data, result.layer)
    payload = {"model": selection.model, "data": selection.data, "class": selection.class_name, "layer": result.layer,
               "unit": args.unit, "images": result.n_images, "seed": args.seed, **prov, "random_seeds": result.seeds,
               "rows": rows}
    header = [_unit_header(result, args.unit) + f"; {len(result.seeds)} random-init models", provenance_line(prov)]
    return render(_table_rows(with_provenance(rows, args.format, prov)), args.format, payload, header)


def _cmd_dynamics(args: argparse.Namespace) -> str:
    from featent.experiments.dynamics import training_dynamics

    result = run_with_progress(args.quiet, "dynamics", lambda progress: stored_or_computed(
        training_dynamics, args.no_cache, args.data, classes=args.class_name, layer=args.layer, n_images=args.images,
        seed=args.seed, cache=not args.no_cache, progress=progress))
    # each epoch is its own model (demo@epochN): its fingerprint goes on its rows
    fingerprints = {int(e): cached.provenance(f"demo@epoch{int(e)}", None, None)["model_fingerprint"]
                    for e in result.to_frame(average=True)["epoch"]}
    epochs = [{**row, "model_fingerprint": fingerprints[int(row["epoch"])]}
              for row in result.to_frame(average=True).to_dict(orient="records")]
    per_class = [{**row, "model_fingerprint": fingerprints[int(row["epoch"])]}
                 for row in result.to_frame(average=False).to_dict(orient="records")]
    prov = {k: v for k, v in cached.provenance("demo", None, result.data, result.layer).items() if k != "model_fingerprint"}
    rows = per_class if args.per_class else epochs
    payload = {"data": result.data, "layer": result.layer, "classes": result.classes, "images": result.n_images,
               "seed": args.seed, **prov, "loss_fe_correlation": result.correlation(), "epochs": epochs,
               **({"per_class": per_class} if args.per_class else {})}
    header = [f"# demo family, layer {result.layer}, {len(result.classes)} class(es), {result.n_images} images; "
              f"Pearson r(loss, FE) = {result.correlation():.3f}", provenance_line(prov)]
    if args.format == "table":
        rows = [{k: v for k, v in row.items() if k != "model_fingerprint"} for row in rows]
    return render(_table_rows(json_safe(with_provenance(rows, args.format, prov))), args.format, json_safe(payload), header)


def _cmd_compare_models(args: argparse.Namespace) -> str:
    from featent.experiments.model_sets import MODEL_SETS, compare_models, model_set

    if args.set is not None and args.set not in MODEL_SETS:
        raise UsageError(f"unknown model set {args.set!r}; choose one of: {', '.join(MODEL_SETS)}")
    specs = list(args.model or []) + (model_set(args.set) if args.set else [])
    if not specs:
        raise UsageError("give --model (repeatable) or --set " + "|".join(MODEL_SETS))
    result = run_with_progress(args.quiet, "compare-models", lambda progress: stored_or_computed(
        compare_models, args.no_cache, specs, args.data, classes=args.class_name, layers=args.layer, n_images=args.images,
        seed=args.seed, cache=not args.no_cache, progress=progress))
    provs = {(model, layer): cached.provenance(model, None, result.data, layer)
             for model in result.models for layer in result.layers}
    run_prov = next(iter(provs.values()))
    profile = [{**row, **{k: provs[row["model"], row["layer"]][k] for k in ("unit_size", "hole_possible",
                                                                             "model_fingerprint")}}
               for row in result.to_frame().to_dict(orient="records")]
    payload = {"models": result.models, "data": result.data, "classes": result.classes, "layers": result.layers,
               "images": result.n_images, "seed": args.seed, "featent_version": run_prov["featent_version"],
               "data_fingerprint": run_prov["data_fingerprint"], "accuracy": result.accuracy, "notes": result.notes,
               "profile": profile}
    rows = ([{**row, "featent_version": run_prov["featent_version"], "data_fingerprint": run_prov["data_fingerprint"]}
             for row in profile] if args.format == "csv" else profile)
    if args.format == "table":  # one line per (model, layer): mean and std over classes
        rows = []
        for model in result.models:
            for layer in result.layers:
                part = [r for r in profile if r["model"] == model and r["layer"] == layer]
                if part:
                    fe = np.array([r["mean_feature_entropy"] for r in part])
                    rate = np.array([r["mean_selective_rate"] for r in part])
                    rows.append({"model": model, "layer": layer, "classes": len(part), "mean_feature_entropy": float(fe.mean()),
                                 "fe_std_over_classes": float(fe.std()), "mean_selective_rate": float(rate.mean()),
                                 "unit_size": part[0]["unit_size"], "hole_possible": part[0]["hole_possible"]})
    shown = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    header = [f"# {a['model']}: train accuracy {shown(a['train_accuracy'])}, test accuracy {shown(a['test_accuracy'])}, "
              f"label noise {shown(a['label_noise'])}" for a in result.accuracy] + [f"# note: {n}" for n in result.notes]
    header.append(f"# featent {run_prov['featent_version']}, data {run_prov['data_fingerprint']}")
    return render(_table_rows(json_safe(rows)), args.format, json_safe(payload), header)


def _cmd_train_family(args: argparse.Namespace) -> str:
    from featent.training.family import build_family, compare_with_shipped, run_history

    kwargs = {"levels": args.levels} if args.levels is not None else {}
    runs = run_with_progress(args.quiet, "train-family",
                             lambda progress: build_family(base=not args.no_base, progress=progress, shipped=False, **kwargs))
    rows, notes = [], []
    for run, path in runs:
        last = run_history(run, root=path.parent, build=False)[-1]
        compared = compare_with_shipped(run, path)
        # the run's final weights and the data it was trained on
        prov = cached.provenance("demo", str(path / f"epoch_{run.epochs:03d}.pt"), run.training_recipe().data)
        rows.append({"run": run.run_id, "label_noise": run.label_noise, "epochs": run.epochs,
                     "final_loss": last["loss"], "train_accuracy": last["train_accuracy"],
                     "test_accuracy": last["test_accuracy"],
                     "shipped_test_accuracy": None if compared is None else compared["shipped_test_accuracy"],
                     "max_weight_difference": None if compared is None else compared["max_weight_difference"],
                     "folder": str(path), **prov})
        if compared is not None and not compared["identical"]:
            notes.append(f"{run.run_id}: weights differ from the shipped run by up to {compared['max_weight_difference']:.3g} "
                         f"(test accuracy {last['test_accuracy']:.3f} here, {compared['shipped_test_accuracy']:.3f} shipped); "
                         "training floats differ across CPUs. demo@epochN and demo-corrupt-X keep using the shipped run.")
    header = [f"# note: {n}" for n in notes]
    table = rows if args.format == "csv" else [{k: v for k, v in row.items() if k not in prov} for row in rows]
    if rows and args.format == "table":
        header.insert(0, f"# featent {prov['featent_version']}, data {prov['data_fingerprint']}; model fingerprints in csv/json")
    return render(table, args.format, json_safe({"runs": rows, "notes": notes}), header)


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], str]]:
    """Add the experiment subcommands to ``featent``'s subparsers; returns name -> handler."""
    p = sub.add_parser("indicators", help="L1, APoZ, class selectivity, FPGM, NISP, FE, selective rate, H/eps per unit")
    add_selection_flags(p, layers="one-or-all")
    _comparison_flags(p)
    add_output(p)
    add_class_map_flag(p)

    p = sub.add_parser("rescale", help="indicators with images and/or the layer's filters x0.5 (paper Table 1, 9)")
    _one_unit_flags(p)
    p.add_argument("--scale", type=positive_float, default=0.5, metavar="F", help="rescaling factor (default 0.5)")
    p.add_argument("--image-space", choices=("input", "pixels"), default="input",
                   help="scale the network's input tensor (default) or the raw [0, 1] pixels before normalization")
    add_class_map_flag(p)

    p = sub.add_parser("randomness", help="trained unit vs the same unit in K random-init models (paper Table 2, 10)")
    _one_unit_flags(p)
    p.add_argument("--random-models", type=positive_int, default=20, metavar="K", help="random-init models (default 20)")
    p.add_argument("--first-seed", type=seed, default=0, metavar="S", help="seed of the first random model (default 0)")

    p = sub.add_parser("dynamics", help="FE of a layer vs training loss over the demo family's epochs (paper Fig. 5B)")
    add_selection_flags(p, model="none", data_default="fashion", classes="many", layers="none")
    p.add_argument("--layer", metavar="L", help="layer (default: the last conv layer)")
    p.add_argument("--per-class", action="store_true", help="one row per epoch and class instead of the class mean")
    add_output(p)

    p = sub.add_parser("compare-models", help="per-layer FE and selective rate of several models (paper Fig. 6)")
    add_selection_flags(p, model="many", classes="many", layers="many")
    p.add_argument("--set", metavar="NAME", help="a predefined model set: corrupt (demo-corrupt-0.0..0.8), "
                   "training (demo@epoch0..15), trained-vs-random")
    add_output(p)

    p = sub.add_parser("train-family",
                       help="retrain the demo family here (featent ships it trained) and compare with the shipped runs")
    p.add_argument("--levels", type=fraction, nargs="*", metavar="F", help="label-noise levels (default 0 0.2 0.4 0.6 0.8)")
    p.add_argument("--no-base", action="store_true", help="skip the per-epoch base run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_offline_flag(p)
    add_output(p)

    return {
        "indicators": _cmd_indicators,
        "rescale": _cmd_rescale,
        "randomness": _cmd_randomness,
        "dynamics": _cmd_dynamics,
        "compare-models": _cmd_compare_models,
        "train-family": _cmd_train_family,
    }
