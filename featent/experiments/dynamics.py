"""Training dynamics (paper Fig. 5B): FE of one layer at every epoch checkpoint of the demo family,
beside the training loss. If FE measures what training builds, it falls as the loss falls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from featent.data import load_dataset
from featent.errors import FeatentError, ModelError
from featent.experiments.contract import ExperimentResult, experiment
from featent.nets import load_model
from featent.pipeline import layer_results
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.training.family import base_run, run_history
from featent.validation import InstanceOf, Interval, NoneOr, check_class, validate_params

__all__ = ["DynamicsResult", "training_dynamics"]

COLUMNS = ("epoch", "loss", "train_accuracy", "test_accuracy", "class_name", "mean_feature_entropy",
           "mean_selective_rate")


@dataclass
class DynamicsResult(ExperimentResult):
    """FE of one layer at every checkpoint of the demo family, beside the training loss."""

    data: str
    layer: str
    classes: list[str]
    n_images: int
    seed: int
    rows_per_class: list[dict]  # COLUMNS: epoch, loss, train/test accuracy, class_name, FE, selective rate

    def to_frame(self, average: bool = True) -> pd.DataFrame:
        """One row per epoch with FE and rate averaged over classes (Eq. 15), or (not ``average``) one
        row per epoch and class."""
        return pd.DataFrame(self._rows(average), columns=list(COLUMNS))

    def _rows(self, average: bool) -> list[dict]:
        if not average:
            return list(self.rows_per_class)
        out = []
        for epoch in sorted({r["epoch"] for r in self.rows_per_class}):
            part = [r for r in self.rows_per_class if r["epoch"] == epoch]
            out.append({
                "epoch": epoch, "loss": part[0]["loss"], "train_accuracy": part[0]["train_accuracy"],
                "test_accuracy": part[0]["test_accuracy"], "class_name": "mean" if len(part) > 1 else part[0]["class_name"],
                "mean_feature_entropy": float(np.mean([r["mean_feature_entropy"] for r in part])),
                "mean_selective_rate": float(np.mean([r["mean_selective_rate"] for r in part])),
            })
        return out

    def correlation(self) -> float:
        """Pearson correlation between the training loss and the class-averaged FE over epochs."""
        rows = self._rows(average=True)
        loss = np.array([r["loss"] for r in rows])
        fe = np.array([r["mean_feature_entropy"] for r in rows])
        if len(rows) < 3 or loss.std() == 0 or fe.std() == 0:
            return float("nan")
        return float(np.corrcoef(loss, fe)[0, 1])


@experiment("dynamics", version=1)
@validate_params({
    "data": [InstanceOf(str, "a dataset name or folder")],
    "layer": [NoneOr(InstanceOf(str, "a layer name"))],
    "n_images": [Interval(int, 1, None)],
    "seed": [Interval(int, 0, None)],
}, error=FeatentError)
def training_dynamics(
    data: str = "fashion",
    *,
    classes: Sequence[str] | None = None,
    layer: str | None = None,
    n_images: int = 100,
    seed: int = 0,
    epochs: Sequence[int] | None = None,
    cache: bool = True,
    progress: ProgressLike = None,
) -> DynamicsResult:
    """Fig. 5B: mean FE and selective rate of ``layer`` (default: the last conv layer) at each epoch
    checkpoint of the demo family (trained on demand), with the training loss per epoch."""
    progress = Progress.of(progress)
    run = base_run()
    training = progress.subrange(0.0, 0.3)
    training(0.0, "training the demo family")
    history = {h["epoch"]: h for h in run_history(run, progress=training)}
    chosen_epochs = sorted(set(history if epochs is None else epochs))
    for e in chosen_epochs:
        if e not in history:
            raise ModelError(f"The demo family has epochs 0 to {run.epochs}; {e!r} is not one of them.")
    dataset = load_dataset(data)
    chosen = list(classes if classes else dataset.classes)
    for name in chosen:
        check_class(name, dataset.classes, dataset.name)
    layer = layer or load_model("demo@epoch0").layers[-1].name
    rows = []
    jobs = len(chosen_epochs) * len(chosen)
    for i, epoch in enumerate(chosen_epochs):
        spec = f"demo@epoch{epoch}"
        for j, class_name in enumerate(chosen):
            k = i * len(chosen) + j
            step = progress.subrange(0.3 + 0.7 * k / jobs, 0.3 + 0.7 * (k + 1) / jobs)
            step(0.0, f"epoch {epoch}, class {class_name}")
            result = layer_results(Selection(spec, data, class_name, (layer,), n_images, seed), progress=step,
                                   cache=cache)[layer]
            h = history[epoch]
            rows.append({
                "epoch": epoch, "loss": h["loss"], "train_accuracy": h["train_accuracy"], "test_accuracy": h["test_accuracy"],
                "class_name": class_name, "mean_feature_entropy": result.mean_feature_entropy,
                "mean_selective_rate": result.mean_selective_rate,
            })
    progress(1.0, "done")
    return DynamicsResult(data=data, layer=layer, classes=chosen, n_images=n_images, seed=seed, rows_per_class=rows)
