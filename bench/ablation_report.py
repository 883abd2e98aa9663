"""Ablation and pruning on the demo, printed as the README's Markdown tables (paper App. A.7).

    .venv/bin/python bench/ablation_report.py            # everything (~10 min on 2 busy CPU cores)
    .venv/bin/python bench/ablation_report.py --quick    # fewer classes/methods, for a smoke run

Sections: (1) Fig. 12-style cumulative ablation curves of the last conv layer for one class,
sampled at a few points; (2) Table 11: balanced accuracy before and at the best ablation step,
mean over the classes; (3) Table 12: pruning + fine-tuning by each method; (4) optionally
(--vgg16) the parameter and FLOP counts of VGG16 pruned at 40/50/60%, structure only, to check
the cost accounting against the paper's Table 12.

Two models on Fashion-MNIST, the data the demo is trained on: the shipped ``demo`` and ``demo``
trained for only 3 epochs of the same recipe (weaker, more room for ablation to help), trained here
deterministically into a temporary file. Torch runs on one thread: on a
shared machine that is several times faster for these small tensors than two contending threads.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from featent.data import load_dataset  # noqa: E402
from featent.experiments.ablation import DEFAULT_ORDERS, SUMMARY_ORDERS, cumulative_ablation, enhancement_summary  # noqa: E402
from featent.experiments.pruning import PRUNE_METHODS, compare_pruning  # noqa: E402
from featent.pipeline import Selection  # noqa: E402

LAYER = "block3_conv2"
POINTS = (0, 8, 16, 32, 48, 56, 60, 62, 63, 64)


WEAK_EPOCHS = 3
#: The data the shipped demo was trained on.
DATA = "fashion"


def _weak_weights(folder: Path) -> str:
    """Demo weights after a 3-epoch run of the shipped recipe (deterministic)."""
    from featent.training.loop import save_weights, train_demo

    history = train_demo(seed=0, epochs=WEAK_EPOCHS)
    return str(save_weights(history.model, folder / f"demo_{WEAK_EPOCHS}epochs.pt"))


def _pick_class(weights: str | None, n_images: int) -> str:
    """The class the model gets most wrong on test images (most room for ablation to help)."""
    import torch

    from featent.pipeline import load_model

    model, data = load_model("demo", weights), load_dataset(DATA)
    x, y = data.split_arrays("test", 32)
    with torch.inference_mode():
        pred = model.module(model.preprocess(x)).argmax(1)
    recall = [float((pred[y == c] == c).float().mean()) for c in range(len(data.classes))]
    return data.classes[int(np.argmin(recall))]


def curves_section(name: str, weights: str | None, class_name: str, n_images: int) -> dict:
    sel = Selection("demo", DATA, class_name, (LAYER,), n_images, 0, weights)
    t0 = time.perf_counter()
    result = cumulative_ablation(sel, orders=DEFAULT_ORDERS)
    took = time.perf_counter() - t0
    print(f"\n#### {name}: {LAYER}, class '{class_name}' ({result.n_test_target} test images of the class, "
          f"{result.n_test_total} in all; {n_images} training images rank the units; {took:.0f} s)\n")
    print("Class accuracy after k units removed:\n")
    print("| order | " + " | ".join(f"k={k}" for k in POINTS) + " | peak acc (k) | peak loss (k) |")
    print("|---|" + "---|" * (len(POINTS) + 2))
    out = {}
    for order, c in result.curves.items():
        peak = int(np.argmax(c.accuracy[:-1]))
        lpeak = int(np.argmax(c.loss))
        zero = np.flatnonzero(c.accuracy == 0)
        print(f"| {order} | " + " | ".join(f"{c.accuracy[k]:.2f}" for k in POINTS)
              + f" | {c.accuracy[peak]:.2f} ({peak}) | {c.loss[lpeak]:.2f} ({lpeak}) |")
        out[order] = {"accuracy": c.accuracy.tolist(), "loss": c.loss.tolist(),
                      "balanced_accuracy": c.balanced_accuracy.tolist(),
                      "first_zero": int(zero[0]) if zero.size else None}
    print(f"\nLoss with every unit removed: {next(iter(result.curves.values())).loss[-1]:.2f}.")
    return out


def summary_section(name: str, weights: str | None, classes: list[str], n_images: int) -> list[dict]:
    sel = Selection("demo", DATA, classes[0], (LAYER,), n_images, 0, weights)
    t0 = time.perf_counter()
    summary = enhancement_summary(sel, classes=classes, orders=SUMMARY_ORDERS)
    rows = summary.rows
    took = time.perf_counter() - t0
    print(f"\n#### {name}: Table 11 ({LAYER}, mean over {len(classes)} classes, balanced accuracy class-vs-rest; {took:.0f} s)\n")
    print("| method | unchanged | ablated (best step) | enhanced | mean units removed at best |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.method} | {r.unchanged:.3f} | {r.ablated:.3f} | {r.enhanced:+.3f} | {r.mean_units_removed:.1f} |")
    return summary.records()


def pruning_section(methods: list[str], extra_ratios: list[float], n_images: int, epochs: int, lr: float) -> list[dict]:
    t0 = time.perf_counter()
    sel = Selection("demo", DATA, load_dataset(DATA).classes[0], (), n_images, 0)
    report = compare_pruning(sel, ratio=0.5, methods=methods, finetune_epochs=epochs, lr=lr)
    rows = list(report.rows)
    for ratio in extra_ratios:
        rows += compare_pruning(sel, ratio=ratio, methods=["h_over_eps"], finetune_epochs=epochs, lr=lr).rows[1:]
    took = time.perf_counter() - t0
    print(f"\n#### Table 12 on demo (all 6 conv layers pruned; units scored on {len(report.classes)} classes x {n_images} "
          f"training images; SGD fine-tuning {epochs} epochs from lr {lr:g}, /10 per epoch, on {report.n_train} images; "
          f"accuracy on {report.n_test} test images; {took:.0f} s)\n")
    print("| method | ratio | accuracy before fine-tuning | accuracy fine-tuned | drop | #params | conv FLOPs | img/s (CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        before = "-" if r.accuracy_pruned is None else f"{r.accuracy_pruned:.2%}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.0%}"
        print(f"| {r.label} | {ratio} | {before} | {r.accuracy:.2%} | {r.accuracy_drop:+.2%} | {r.parameters:,} | "
              f"{r.flops / 1e6:.2f}M | {r.images_per_second:,.0f} |")
    return [dataclasses.asdict(r) for r in rows]


def vgg16_section(ratios: list[float]) -> list[dict]:
    from featent.experiments.surgery import conv_flops, count_parameters, prunable_layers, prune_channels
    from featent.nets import from_module, load_model

    model = load_model("vgg16:random")
    rows = [{"ratio": 0.0, "parameters": count_parameters(model.module), "flops": conv_flops(model.module, 224)}]
    for ratio in ratios:
        current = model
        for layer in prunable_layers(model):
            n = current.layer(layer).n_units
            module = prune_channels(current, layer, list(range(round(ratio * n))), check=False)
            current = from_module(module, name="vgg16-pruned", input_size=224, mean=model.mean, std=model.std)
        rows.append({"ratio": ratio, "parameters": count_parameters(current.module), "flops": conv_flops(current.module, 224)})
    paper = {0.0: ("138M", "30.96B"), 0.4: ("87.8M", "11.15B"), 0.5: ("75.9M", "7.87B"), 0.6: ("64.2M", "5.02B")}
    print("\n#### VGG16 at 224x224, every conv layer pruned (structure only)\n")
    print("| pruned ratio | #params (featent) | #params (paper) | conv FLOPs (featent) | FLOPs (paper) |")
    print("|---|---|---|---|---|")
    for r in rows:
        p = paper.get(r["ratio"], ("?", "?"))
        print(f"| {r['ratio']:.0%} | {r['parameters'] / 1e6:.1f}M | {p[0]} | {r['flops'] / 1e9:.2f}B | {p[1]} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 classes, 2 pruning methods, 1 epoch")
    parser.add_argument("--images", type=int, default=100, help="training images per class for the ranking (default 100)")
    parser.add_argument("--vgg16", action="store_true", help="also count VGG16 params/FLOPs pruned at 40/50/60%%")
    parser.add_argument("--skip-pruning", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    every = list(load_dataset(DATA).classes)
    classes = every[:3] if args.quick else every
    results: dict = {"layer": LAYER, "images": args.images}
    with tempfile.TemporaryDirectory() as tmp:
        weak = _weak_weights(Path(tmp))
        for name, weights in (("demo (shipped)", None), (f"demo after {WEAK_EPOCHS} epochs", weak)):
            class_name = _pick_class(weights, args.images)
            results[name] = {
                "class": class_name,
                "curves": curves_section(name, weights, class_name, args.images),
                "table11": summary_section(name, weights, classes, args.images),
            }
            sys.stdout.flush()
    if not args.skip_pruning:
        methods = ["h_over_eps", "l1_norm"] if args.quick else list(PRUNE_METHODS)
        results["table12"] = pruning_section(methods, [] if args.quick else [0.4, 0.6], 50, 1 if args.quick else 3, 1e-3)
    if args.vgg16:
        results["vgg16"] = vgg16_section([0.4, 0.5, 0.6])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
