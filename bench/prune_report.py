"""The resnet18 pruning table of docs/experiments.md: FE (H/ε) vs L1 vs random on the Fashion demo data.

resnet18 has 1000 outputs and no Fashion classes, so its head is replaced by a 10-output Linear and the
random-init net is trained briefly on the demo data; that net is pruned by each order through
Torch-Pruning (``featent.experiments.pruning.compare_pruning``), fine-tuned briefly and measured.
Run: ``PYTHONPATH=. python bench/prune_report.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import time

import torch
import torchvision

from featent.data import load_dataset
from featent.experiments.masking import labelled_images
from featent.experiments.pruning import compare_pruning
from featent.experiments.surgery import accuracy, finetune
from featent.nets import from_module
from featent.spec import Selection

SIZE, TRAIN, TEST, SEED = 32, 64, 32, 0


def main() -> None:
    start = time.perf_counter()
    torch.manual_seed(SEED)
    net = torchvision.models.resnet18(weights=None, num_classes=10)
    model = from_module(net, name="resnet18-fashion", input_size=SIZE)
    data = load_dataset("fashion")
    x, y = labelled_images(data, data.classes, TRAIN, SEED, SIZE, split="train")
    finetune(model, model.module, x, y, epochs=3, lr=0.05, seed=SEED)
    tx, ty = labelled_images(data, data.classes, TEST, SEED, SIZE, "test", skip=TRAIN)
    print(f"head trained: accuracy {accuracy(model, model.module, tx, ty):.4f} ({time.perf_counter() - start:.0f} s)")
    model = from_module(model.module, name="resnet18-fashion", input_size=SIZE)
    report = compare_pruning(Selection(model, "fashion", data.classes[0], (), n_images=4, seed=SEED), ratio=0.5,
                             methods=["h_over_eps", "l1_norm", "random"], classes=data.classes[:3], finetune_epochs=2,
                             lr=0.01, train_per_class=TRAIN, test_per_class=TEST)
    print("| order | params | FLOPs | accuracy pruned | accuracy fine-tuned |")
    print("|---|---|---|---|---|")
    for r in report.rows:
        pruned = "" if r.accuracy_pruned is None else f"{r.accuracy_pruned:.2%}"
        print(f"| {r.label} | {r.parameters:,} | {r.flops / 1e6:.1f}M | {pruned} | {r.accuracy:.2%} |")
    print(f"notes: {report.notes}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
