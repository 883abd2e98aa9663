"""Redo the paper's experiments (Sec. 4.2-4.4, A.5-A.6) on the demo model and print the README's
markdown tables: rescaling, randomness, layer trend, training dynamics, model set B.

    .venv/bin/python bench/experiments_report.py            # full run (~15 min on 2 CPU cores, once)
    .venv/bin/python bench/experiments_report.py --quick    # 20 images, 2 classes, 5 random models

Birth times are cached in the result store and the family in ``<cache>/family``, so a second run
only recomputes the indicators. Nothing here is random beyond the fixed seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featent.experiments import studies as ex  # noqa: E402
from featent.training import family as fam  # noqa: E402
from featent.core.entropy import DEFAULT_P  # noqa: E402
from featent.indicators import INDICATOR_LABELS, compute_indicators  # noqa: E402
from featent.pipeline import Selection  # noqa: E402

LAST = "block3_conv2"
SHOWN = ("accuracy", "l1_norm", "apoz", "class_selectivity", "class_selectivity_max", "fpgm", "nisp",
         "feature_entropy", "selective_rate")


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "inf" if value > 0 else "n/a"
        return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def say(text: str = "") -> None:
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class", dest="class_name", default="3")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--random-models", type=int, default=100)
    parser.add_argument("--trend-random", type=int, default=3)
    parser.add_argument("--profile-classes", type=int, default=10, help="classes averaged in layer profiles")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.images, args.random_models, args.trend_random, args.profile_classes = 20, 5, 1, 2
    classes = [str(c) for c in range(10)]
    profile_classes = classes[: args.profile_classes]
    started = time.monotonic()
    log = lambda f, m: None  # noqa: E731

    fam.build_family()
    sel = Selection("demo", "digits", args.class_name, (LAST,), args.images, 0)
    units = compute_indicators(sel)
    fe, eps, score = (units.values[k] for k in ("feature_entropy", "selective_rate", "h_over_eps"))
    candidates = np.flatnonzero(eps >= DEFAULT_P)
    unit = int(candidates[np.argmin(score[candidates])])
    say(f"<!-- bench/experiments_report.py: demo, digits class {args.class_name!r}, {args.images} images, seed 0 -->")
    say(f"Unit: {LAST} #{unit} (lowest H/ε on class {args.class_name}: FE {fe[unit]:.3f}, ε {eps[unit]:.2f}); "
        f"layer: {int((eps == 0).sum())} of {eps.size} units never give a birth on this class.")
    say()

    resc = ex.rescale_experiment(sel, LAST, progress=log)
    pixels = ex.rescale_experiment(sel, LAST, progress=log, image_space="pixels")
    header = ["images", "filters"] + [INDICATOR_LABELS[k] if k in INDICATOR_LABELS else k for k in SHOWN]
    for title, rows in ((f"unit {unit}", resc.rows(unit)), ("layer mean", resc.rows()),
                        (f"unit {unit}, images x0.5 as raw pixels (before normalization)", pixels.rows(unit))):
        say(f"**Rescaling, {title}** (cf. Tables 1 and 9)")
        say()
        say(table(header, [["x0.5" if r["images"] != 1 else "×", "x0.5" if r["filters"] != 1 else "×"]
                           + [r[k] for k in SHOWN] for r in rows]))
        say()

    rand = ex.randomness_experiment(sel, LAST, args.random_models, progress=log)
    say(f"**Randomness: unit {unit} trained vs in {args.random_models} random-init models** (cf. Tables 2 and 10)")
    say()
    say(table(["indicator", "trained", "random mean (std)", "share of random models rated better"],
              [[INDICATOR_LABELS[r["indicator"]], r["trained"], f"{fmt(r['random_mean'])} ({fmt(r['random_std'])})",
                r["random_better_share"]] for r in rand.rows(unit)]))
    say()

    trend = ex.layer_trend("demo", "digits", profile_classes, args.trend_random, args.images, progress=log)
    layers = list(dict.fromkeys(r["layer"] for r in trend))
    rows = []
    for layer in layers:
        row = [layer]
        for group in ("trained", "random init"):
            part = [r for r in trend if r["layer"] == layer and r["group"] == group]
            row += [float(np.mean([r["mean_feature_entropy"] for r in part])),
                    float(np.mean([r["mean_selective_rate"] for r in part]))]
        rows.append(row)
    say(f"**Layer trend over {len(profile_classes)} classes: demo vs {args.trend_random} random inits** (cf. Fig. 5A)")
    say()
    say(table(["layer", "FE trained", "ε trained", "FE random", "ε random"], rows))
    say()

    dyn = ex.training_dynamics("digits", None, LAST, args.images, progress=log)
    one = ex.training_dynamics("digits", [args.class_name], LAST, args.images, progress=log)
    one_rows = {r["epoch"]: r for r in one.rows()}
    say(f"**Training dynamics of {LAST}** (cf. Fig. 5B): Pearson r(loss, FE) = {dyn.correlation():.3f} "
        f"averaged over 10 classes, {one.correlation():.3f} on class {args.class_name}")
    say()
    say(table(["epoch", "training loss", "test acc", "FE (10 classes)", "ε (10 classes)", f"FE class {args.class_name}"],
              [[r["epoch"], r["loss"], r["test_accuracy"], r["mean_feature_entropy"], r["mean_selective_rate"],
                one_rows[r["epoch"]]["mean_feature_entropy"]] for r in dyn.rows()]))
    say()

    specs = ex.model_set("corrupt")
    setb = ex.compare_models(specs, "digits", profile_classes, None, args.images, progress=log)
    last = ex.compare_models(specs, "digits", classes, [LAST], args.images, progress=log, with_accuracy=False)
    rows = []
    for acc in setb.accuracy:
        spec = acc["model"]
        prof = [r for r in setb.profile if r["model"] == spec]
        lr = [r for r in last.profile if r["model"] == spec]
        first_layer = [r["mean_feature_entropy"] for r in prof if r["layer"] == setb.layers[0]]
        rows.append([spec, acc["label_noise"], acc["train_accuracy"], acc["test_accuracy"], float(np.mean(first_layer)),
                     float(np.mean([r["mean_feature_entropy"] for r in lr])),
                     float(np.mean([r["mean_selective_rate"] for r in lr]))])
    say("**Model set B: corrupted labels** (cf. Table 4, Fig. 6B); FE and ε of the last conv layer averaged over 10 classes")
    say()
    say(table(["model", "label noise", "train acc", "test acc", f"FE {setb.layers[0]}", f"FE {LAST}", f"ε {LAST}"], rows))
    say()
    say(f"<!-- {time.monotonic() - started:.0f} s -->")


if __name__ == "__main__":
    main()
