"""CLI subcommands for App. A.7 and the unit roles: ``ablate``, ``ablation-summary``, ``prune``, ``roles``.

Why a separate module: ``featent.cli.main`` owns the program and its output helpers; this module only
adds subcommands (``register``) with the selection flags of ``featent entropy``, the same formats
and the same one-line errors. JSON never contains NaN or infinity (they become ``null``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from featent.cli import cached
from featent.cli.common import (
    UsageError,
    add_class_map_flag,
    add_output,
    add_selection_flags,
    finite_float,
    json_safe,
    non_negative_int,
    positive_float,
    positive_int,
    provenance_line,
    ratio,
    render,
    run_with_progress,
    seed,
    selection_from_args,
    stored_or_computed,
    with_provenance,
)
from featent.errors import FeatentError

__all__ = ["register"]


def _table(rows: list[dict]) -> list[dict]:
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]


IMAGES_HELP = "training images per class for the indicators (default {})"


def _selection_flags(p: argparse.ArgumentParser, class_help: str, *, class_many: bool = False,
                     layers: str = "one", images: int = 100, layer_help: str | None = None) -> None:
    """The selection flags of ``featent entropy``, at least two images (the indicators need a spread)."""
    add_selection_flags(p, classes="many" if class_many else "one", layers=layers, min_images=2,
                        images_help=IMAGES_HELP.format(images), class_help=class_help, layer_help=layer_help)
    if images != 100:
        p.set_defaults(images=images)
    add_output(p)


def _first_class(args: argparse.Namespace) -> str:
    """The first --class, or the dataset's first class when none is given."""
    if args.class_name:
        return args.class_name[0]
    from featent.data import load_dataset

    return load_dataset(args.data).classes[0]


def _orders(orders: tuple[str, ...]) -> tuple[str, ...]:
    """Typed orders (``fe-desc``, ``l1``) as the library writes them (``h_over_eps-desc``, ``l1_norm-asc``)."""
    from featent.indicators.registry import canonical_order

    try:
        return tuple(dict.fromkeys(canonical_order(o) for o in orders))
    except FeatentError as exc:
        raise UsageError(str(exc)) from None


def _indicator(name: str) -> str:
    """A typed pruning method (``fe``, ``l1``) as its indicator key, or ``random``."""
    from featent.indicators import REGISTRY

    if name.strip().lower() == "random":
        return "random"
    try:
        indicator = REGISTRY.resolve(name)
    except FeatentError as exc:
        raise UsageError(str(exc)) from None
    if not indicator.ranks:
        raise UsageError(f"{name!r} does not rank units; use one of: {', '.join(i.key for i in REGISTRY.ranking())}")
    return indicator.key


def _cmd_ablate(args: argparse.Namespace) -> str:
    from featent.experiments.ablation import DEFAULT_ORDERS, cumulative_ablation

    orders = tuple(dict.fromkeys(args.order)) if args.order else DEFAULT_ORDERS
    result = run_with_progress(args.quiet, "ablate", lambda progress: stored_or_computed(
        cumulative_ablation, args.no_cache, selection_from_args(args), orders=_orders(orders), test_per_class=args.test_per_class,
        test_classes=args.test_class, random_seed=args.random_seed, class_map=args.class_map,
        progress=progress, cache=not args.no_cache,
    ))
    points = result.records()
    prov = cached.provenance(args.model, args.weights, args.data, result.layer)
    payload = {
        "model": result.model, "data": result.data, "class": result.class_name, "layer": result.layer,
        "train_images": result.n_train_images, "test_images_of_class": result.n_test_target,
        "test_images": result.n_test_total, "seed": result.seed, **prov, "orders": list(result.curves),
        "notes": result.notes, "scores": {k: v for k, v in result.scores.items()}, "points": points,
    }
    header = [f"# {result.model}, layer {result.layer}, class {result.class_name!r}: {result.n_train_images} training "
              f"images rank the units; {result.n_test_target} test images of the class, {result.n_test_total} in all"]
    header += [provenance_line(prov)] + [f"# note: {n}" for n in result.notes]
    return render(_table(json_safe(with_provenance(points, args.format, prov))), args.format, json_safe(payload), header)


def _cmd_summary(args: argparse.Namespace) -> str:
    from featent.experiments.ablation import SUMMARY_ORDERS, enhancement_summary

    orders = tuple(dict.fromkeys(args.order)) if args.order else SUMMARY_ORDERS
    classes = tuple(dict.fromkeys(args.class_name)) if args.class_name else None
    summary = run_with_progress(args.quiet, "ablation-summary", lambda progress: stored_or_computed(
        enhancement_summary, args.no_cache, selection_from_args(args, class_name=_first_class(args)), classes=classes,
        orders=_orders(orders), test_per_class=args.test_per_class, progress=progress, cache=not args.no_cache,
    ))
    records = summary.records()
    n = summary.rows[0].n_classes if summary.rows else 0
    prov = cached.provenance(args.model, args.weights, args.data, args.layer)
    payload = {"model": args.model, "data": args.data, "layer": args.layer, "classes": n, **prov, "rows": records}
    header = [f"# balanced accuracy (one class vs rest) before and at the best ablation step, mean over {n} classes",
              provenance_line(prov)]
    return render(_table(json_safe(with_provenance(records, args.format, prov))), args.format, json_safe(payload), header)


def _cmd_prune(args: argparse.Namespace) -> str:
    from featent.experiments.pruning import PRUNE_METHODS, compare_pruning

    methods = tuple(dict.fromkeys(_indicator(m) for m in args.method)) if args.method else PRUNE_METHODS
    classes = list(dict.fromkeys(args.class_name)) if args.class_name else None
    selection = selection_from_args(args, class_name=_first_class(args))
    report = run_with_progress(args.quiet, "prune", lambda progress: stored_or_computed(
        compare_pruning, args.no_cache, selection, ratio=args.ratio, methods=methods, classes=classes,
        finetune_epochs=args.epochs, lr=args.lr, train_per_class=args.train_per_class,
        test_per_class=args.test_per_class, class_map=args.class_map, progress=progress,
    ))
    records = report.records()
    prov = cached.provenance(args.model, args.weights, args.data)  # many layers pruned: no one unit size
    payload = {
        "model": report.model, "data": report.data, **prov, "ratio": report.ratio, "classes": report.classes,
        "images_per_class": report.n_images, "train_images": report.n_train, "test_images": report.n_test,
        "finetune_epochs": report.finetune_epochs, "notes": report.notes, "rows": records,
    }
    rows = [{k: v for k, v in r.items() if k != "removed"} for r in records]
    header = [f"# {report.model} pruned at {report.ratio:.0%} per layer, units scored on {len(report.classes)} classes x "
              f"{report.n_images} images; fine-tuned {report.finetune_epochs} epochs on {report.n_train} images; "
              f"accuracy on {report.n_test} test images", provenance_line(prov)] + [f"# note: {n}" for n in report.notes]
    return render(_table(json_safe(with_provenance(rows, args.format, prov))), args.format, json_safe(payload), header)


def _cmd_roles(args: argparse.Namespace) -> str:
    from featent.experiments.roles import unit_roles

    table = run_with_progress(args.quiet, "roles", lambda progress: stored_or_computed(
        unit_roles, args.no_cache, selection_from_args(args), train_threshold=args.train_threshold,
        test_threshold=args.test_threshold, progress=progress, cache=not args.no_cache,
    ))
    records = table.records()
    prov = cached.provenance(args.model, args.weights, args.data, table.layer)
    payload = {
        "model": table.model, "data": table.data, "class": table.class_name, "layer": table.layer,
        "images": table.n_images, **prov, "train_threshold": table.train_threshold, "test_threshold": table.test_threshold,
        "counts": table.counts(), "units": records,
    }
    counts = ", ".join(f"{k} {v}" for k, v in table.counts().items())
    header = [f"# {table.layer}, class {table.class_name!r}, {table.n_images} training and test images; effective: "
              f"FE <= {table.train_threshold:.4f} (training), <= {table.test_threshold:.4f} (test); {counts}",
              provenance_line(prov)]
    return render(_table(json_safe(with_provenance(records, args.format, prov, per_unit=True))), args.format,
                  json_safe(payload), header)


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], str]]:
    """Add the ablation, pruning and roles subcommands; returns name -> handler."""
    order_help = ("removal order (repeatable): METHOD-desc / METHOD-asc by the raw value, METHOD an indicator key "
                  "(h_over_eps, l1_norm, apoz, class_selectivity, fpgm, nisp, conditional_fe) "
                  "or its short name (fe, l1, selectivity, conditional), "
                  "or 'random'; a bare METHOD is least-important first "
                  "(h_over_eps-desc, l1_norm-asc, apoz-desc, class_selectivity-asc, fpgm-asc, nisp-asc, conditional_fe-desc)")

    p = sub.add_parser("ablate", help="cumulative unit ablation curves of a layer for one class (paper A.7.1, Fig. 12)")
    _selection_flags(p, "class whose units are ranked and whose test accuracy is tracked")
    p.add_argument("--order", action="append", metavar="O", help=order_help + "; default: all of Fig. 12")
    p.add_argument("--test-per-class", type=positive_int, default=50, metavar="N", help="test images per class (default 50)")
    p.add_argument(
        "--test-class",
        action="append",
        metavar="C",
        help="classes in the test set (repeatable; default every class, at most 100: the class plus a seeded sample)",
    )
    p.add_argument("--random-seed", type=seed, default=0, metavar="S", help="seed of the random order (default 0)")
    add_class_map_flag(p)

    p = sub.add_parser("ablation-summary", help="balanced accuracy gained by ablation, averaged over classes (Table 11)")
    _selection_flags(p, "class to include (repeatable; default every class)", class_many=True)
    p.add_argument("--order", action="append", metavar="O", help=order_help + "; default: each method least-important first")
    p.add_argument("--test-per-class", type=positive_int, default=50, metavar="N", help="test images per class (default 50)")

    p = sub.add_parser("prune", help="layer-by-layer channel pruning + fine-tuning by each method (paper A.7.2, Table 12)")
    _selection_flags(p, "class the units are scored on (repeatable; the paper's K classes; default every class, "
                     "at most 100 sampled)", class_many=True, layers="many", images=50,
                     layer_help="layer to prune (repeatable; default every conv layer)")
    p.add_argument(
        "--ratio", type=ratio, default=0.5, metavar="R", help="share of units pruned per layer, 0 < R < 1 (default 0.5)"
    )
    p.add_argument("--method", action="append", metavar="M",
                   help="h_over_eps (fe), l1_norm (l1), apoz, class_selectivity (selectivity), fpgm, nisp, "
                        "conditional_fe (conditional), random (repeatable; default all but random)")
    p.add_argument("--epochs", type=non_negative_int, default=3, metavar="E", help="fine-tuning epochs, lr /10 each (default 3)")
    p.add_argument(
        "--lr", type=positive_float, default=1e-3, metavar="LR", help="initial fine-tuning learning rate (default 1e-3)"
    )
    p.add_argument(
        "--train-per-class", type=positive_int, default=1000, metavar="N", help="fine-tuning images per class (default 1000)"
    )
    p.add_argument("--test-per-class", type=positive_int, default=1000, metavar="N", help="test images per class (default 1000)")
    add_class_map_flag(p)

    p = sub.add_parser("roles", help="four unit roles from FE on training vs test images of a class")
    _selection_flags(p, "class")
    p.add_argument(
        "--train-threshold",
        type=finite_float,
        metavar="T",
        help="FE at or below which a unit is effective on training images "
        "(default: the median FE of the layer's valid units, selective rate >= p, over both sets)",
    )
    p.add_argument("--test-threshold", type=finite_float, metavar="T", help="the same on test images (default: the same median)")

    return {"ablate": _cmd_ablate, "ablation-summary": _cmd_summary, "prune": _cmd_prune, "roles": _cmd_roles}
