"""The paper's claims on the default (``demo`` on Fashion-MNIST), each with and without featent's baselines.

Prints markdown tables for docs/experiments.md:

1. trained units have lower FE than random-init units at the last conv layer (``demo`` vs ``demo:random:S``);
2. FE falls with depth (per layer, trained and random init);
3. FE follows the training loss (the family's clean run: init, early steps, epochs);
4. label corruption raises FE (``demo-corrupt-0.0 ... 0.8``, matched training accuracy).

Beside FE: null FE (each map's entries shuffled), the structure gap (null FE - FE), live FE (units with
epsilon >= p), the silent share (epsilon < p), the FE of iid units of the same size over the same |Omega|,
the live conditional FE H(x | born) (stability, the frequency epsilon divided out) and its gap to its null.
A fifth table gives the Pearson correlation of FE, and of the conditional FE, with epsilon over the live
units of every layer and class, trained and random init: how much of FE is how often a unit is born.
Every number is a mean over units, then over classes (Eq. 15); spreads are over classes or seeds as said.

    .venv/bin/python bench/experiments_report.py                 # 3 classes x 100 images, 3 seeds
    .venv/bin/python bench/experiments_report.py --images 30      # quicker

Birth times, null births and the family are cached (FEATENT_CACHE_DIR), so a second run is fast.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featent.data import load_dataset
from featent.experiments.profiles import layer_profiles
from featent.spec import Selection
from featent.training import family as fam

LAST = "block3_conv2"
VALUES = ("fe", "null", "gap", "live", "silent", "iid", "cond", "cgap")
HEADER = ["FE", "null FE", "gap", "live FE", "silent", "iid FE", "cond FE", "cond gap"]


def fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (float, np.floating)):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def say(text: str = "") -> None:
    print(text, flush=True)


#: The report's short names for the layer-profile values.
PROFILE_NAMES = {"fe": "mean_feature_entropy", "null": "mean_null_feature_entropy", "gap": "structure_gap",
                 "live": "mean_live_feature_entropy", "silent": "silent_share", "iid": "size_reference",
                 "cond": "mean_live_conditional_feature_entropy", "cnull": "mean_live_null_conditional_feature_entropy"}
#: Per (layer, class): Pearson r of FE and of H(x | born) with epsilon over live units, filled by ``measure``.
CORRELATIONS: dict[tuple[str, str, str], tuple[float, float]] = {}


def measure(model: str, data: str, classes: list[str], layers: tuple[str, ...], n: int, seed: int = 0) -> dict[str, dict]:
    """layer -> the numbers, averaged over classes (and their spread over classes, ``sd_*``); the stability
    gap ``cgap`` = live null conditional FE - live conditional FE."""
    selection = Selection(model, data, classes[0], layers, n, seed)
    result = layer_profiles(selection, models=[model], classes=classes)
    means = result.layer_means()
    out = {}
    for row in means.to_dict(orient="records"):
        out[row["layer"]] = {key: row[name] for key, name in PROFILE_NAMES.items()}
        out[row["layer"]].update({f"sd_{key}": row[f"sd_{name}"] for key, name in PROFILE_NAMES.items()})
        out[row["layer"]]["cgap"] = out[row["layer"]]["cnull"] - out[row["layer"]]["cond"]
    if seed == 0:
        for layer in result.layers_of(model):
            fe, rate = result.unit_values(model, layer)
            cond = result.units[model][layer]["conditional_feature_entropy"]
            for j, class_name in enumerate(classes):
                live = rate[:, j] >= 0.1
                CORRELATIONS[model, layer, class_name] = (pearson(fe[live, j], rate[live, j]),
                                                          pearson(cond[live, j], rate[live, j]))
    return out


def training_loss(spec: str) -> float:
    """Cross-entropy of a family checkpoint on the family's (clean) training subset, evaluated in eval mode."""
    from featent.nets import load_model
    from featent.training.loop import evaluate, training_arrays

    x, y, _, _, _ = training_arrays(fam.FAMILY_RECIPE)
    model = load_model(spec)
    with model.lock:
        return evaluate(model.module, x, y)[0]


def spearman(x: list[float], y: list[float]) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:  # a constant has no rank order
        return float("nan")
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def pearson(x: list[float], y: list[float]) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion")
    parser.add_argument("--classes", nargs="+", default=["T-shirt/top", "Trouser", "Sneaker"])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3, help="random-init seeds and image-sampling seeds")
    parser.add_argument("--skip", nargs="*", default=[], choices=["random", "depth", "training", "corrupt", "correlation"])
    args = parser.parse_args()
    start = time.perf_counter()
    dataset = load_dataset(args.data)
    from featent.nets import load_model

    layers = tuple(i.name for i in load_model("demo").layers)
    n, classes, seeds = args.images, args.classes, list(range(args.seeds))
    say(f"# Claims on demo / {dataset.name} ({dataset.fingerprint}); classes {', '.join(classes)}; {n} images each; "
        f"p = 0.1\n")

    trained = [measure("demo", args.data, classes, layers, n, seed=s) for s in seeds]
    random_runs = [measure(f"demo:random:{s}", args.data, classes, layers, n) for s in seeds]

    def mean_over(runs: list[dict], layer: str, key: str) -> tuple[float, float]:
        xs = np.array([r[layer][key] for r in runs])
        return float(xs.mean()), float(xs.std())

    if "random" not in args.skip:
        say(f"## 1. Trained vs random init at the last conv layer ({LAST})\n")
        say(f"Trained: `demo` over image-sampling seeds {seeds}; random: `demo:random:S` for S in {seeds} (sampling seed 0). "
            "Each cell: mean over the seeds (± spread over seeds).\n")
        rows = []
        for name, runs in (("demo (trained)", trained), ("demo:random:S", random_runs)):
            rows.append([name] + [f"{mean_over(runs, LAST, k)[0]:.2f} ± {mean_over(runs, LAST, k)[1]:.2f}" for k in VALUES])
        say(table(["model", *HEADER], rows))
        say()

    if "depth" not in args.skip:
        say("## 2. FE with depth\n")
        say("Mean over sampling seeds (trained) or init seeds (random). m = unit side.\n")
        rows = []
        for name, runs in (("demo", trained), ("demo:random:S", random_runs)):
            for layer in layers:
                rows.append([name, layer, load_model("demo").layer(layer).unit_size]
                            + [mean_over(runs, layer, k)[0] for k in VALUES])
        say(table(["model", "layer", "m", *HEADER], rows))
        say()
        rows = []
        for name, runs in (("demo", trained), ("demo:random:S", random_runs)):
            per_seed = {k: [spearman(list(range(len(layers))), [r[layer][k] for layer in layers]) for r in runs] for k in VALUES}
            rows.append([name] + [f"{np.mean(per_seed[k]):+.2f}" for k in VALUES])
        say("Spearman rank correlation of each value with depth (negative = falls with depth), mean over seeds:\n")
        say(table(["model", *HEADER], rows))
        say()

    if "training" not in args.skip:
        say("## 3. FE across training (the family's clean run, last conv layer)\n")
        run = fam.base_run()
        history = fam.iteration_history(run)
        rows, losses, series = [], [], {k: [] for k in VALUES}
        epochs = [e for e in (1, 2, 3, 6, 12, 24) if e < run.epochs] + [run.epochs]
        steps = next(r["iteration"] for r in history if r["epoch"] == 1 and r["iteration"] not in fam.ITERATION_CHECKPOINTS)
        specs = [("demo@epoch0", 0, None)] + [(f"demo@iter{k}", None, k) for k in fam.ITERATION_CHECKPOINTS]
        specs += [(f"demo@epoch{e}", e, None) for e in epochs]
        for spec, epoch, step in specs:
            if step is not None:
                h = next(r for r in history if r["iteration"] == step)
            else:  # the end-of-epoch row (early checkpoints sit inside epochs)
                h = min((r for r in history if r["epoch"] == epoch), key=lambda r: abs(r["iteration"] - epoch * steps))
            values = measure(spec, args.data, classes, (LAST,), n)[LAST]
            loss = training_loss(spec)
            losses.append(loss)
            for k in VALUES:
                series[k].append(values[k])
            rows.append([spec, h["iteration"], loss, h["train_accuracy"], h["test_accuracy"]] + [values[k] for k in VALUES])
        say(table(["checkpoint", "step", "train loss", "train acc", "test acc", *HEADER], rows))
        say()
        after = [i for i, r in enumerate(rows) if r[1] >= 200]
        say("Pearson correlation with the training loss — all checkpoints / from step 200 on:\n")
        say(table(["over", *HEADER], [
            ["all checkpoints"] + [pearson(losses, series[k]) for k in VALUES],
            ["step >= 200"] + [pearson([losses[i] for i in after], [series[k][i] for i in after]) for k in VALUES],
        ]))
        say()

    if "corrupt" not in args.skip:
        say("## 4. Label corruption (same recipe and subset; last conv layer)\n")
        rows, levels, series = [], [], {k: [] for k in VALUES}
        for level in fam.CORRUPT_LEVELS:
            spec = f"demo-corrupt-{level:.1f}"
            h = fam.run_history(fam.corrupt_run(level))[-1]
            per_seed = [measure(spec, args.data, classes, (LAST,), n, seed=s)[LAST] for s in seeds]
            values = {k: float(np.mean([p[k] for p in per_seed])) for k in VALUES}
            levels.append(level)
            for k in VALUES:
                series[k].append(values[k])
            rows.append([spec, h["train_accuracy"], h["test_accuracy"]] + [values[k] for k in VALUES])
        say(f"Mean over image-sampling seeds {seeds}.\n")
        say(table(["model", "train acc", "test acc", *HEADER], rows))
        say()
        say("Spearman rank correlation with the corruption level:\n")
        say(table(["", *HEADER], [["rho"] + [spearman(levels, series[k]) for k in VALUES]]))
        say()
    if "correlation" not in args.skip:
        say("## 5. How much of FE is frequency: correlation with ε over live units (ε ≥ p)\n")
        say("Pearson r across the live units of one layer and class (sampling seed 0), of FE with ε and of the "
            "conditional FE H(x | born) with ε; random init: `demo:random:S`.\n")
        rows = []
        for model in ["demo", *(f"demo:random:{s}" for s in seeds)]:
            for layer in layers:
                cells = [CORRELATIONS.get((model, layer, c), (float("nan"), float("nan"))) for c in classes]
                rows.append([model, layer] + [f"{fmt(a)} / {fmt(b)}" for a, b in cells])
        say(table(["model", "layer", *(f"{c}: FE / cond FE" for c in classes)], rows))
        say()
    say(f"_report took {time.perf_counter() - start:.0f} s_")


if __name__ == "__main__":
    main()
