"""Randomness (paper Table 2 / 7 / 10): a layer's units in the trained model beside the same units in
K seeded random-init models, on the same sampled images. An indicator that cannot tell trained from
random units says little about what training put there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from featent import indicators as ind
from featent.errors import FeatentError
from featent.experiments.contract import ExperimentResult, experiment
from featent.experiments.rescale import finite_mean
from featent.indicators.registry import LOWER_IS_BETTER
from featent.nets import forget_model, load_model, random_variant
from featent.pipeline import compute_births
from featent.progress import Progress, ProgressLike
from featent.spec import SEED_LIMIT, Selection
from featent.validation import InstanceOf, Interval, NoneOr, check_int, validate_params

__all__ = ["DEFAULT_RANDOM_MODELS", "RandomnessResult", "randomness_experiment"]

#: Random-init models per randomness run unless told otherwise (the paper samples 100).
DEFAULT_RANDOM_MODELS = 20

COLUMNS = ("indicator", "trained", "random_mean", "random_std", "random_better_share", "lower_is_better")


@dataclass
class RandomnessResult(ExperimentResult):
    """Indicators of a layer in the trained model and in K seeded random-init models."""

    selection: Selection  # one layer: the layer compared
    n_images: int
    seeds: list[int]
    trained: dict[str, np.ndarray]  # indicator -> [n_units]
    random: dict[str, np.ndarray]  # indicator -> [K, n_units]

    @property
    def layer(self) -> str:
        return self.selection.layers[0]

    def to_frame(self, unit: int | None = None) -> pd.DataFrame:
        """One row per indicator: trained value, random mean and std (ddof 0) over the K models, and
        the share of random models that look *better* than the trained unit by that indicator.
        ``unit=None`` uses the layer mean (finite values) of each model."""
        out = []
        for name in ind.INDICATOR_COLUMNS:
            trained = self.trained[name]
            random = self.random[name]
            if unit is not None:
                unit = check_int("unit", unit, 0, trained.size - 1, FeatentError)
                t, r = float(trained[unit]), random[:, unit].astype(np.float64)
            else:
                t = finite_mean(trained)
                r = np.array([finite_mean(row) for row in random])
            finite = r[np.isfinite(r)]
            lower = LOWER_IS_BETTER.get(name, False)
            better = (finite < t) if lower else (finite > t)
            out.append({
                "indicator": name,
                "trained": t,
                "random_mean": float(finite.mean()) if finite.size else float("nan"),
                "random_std": float(finite.std()) if finite.size else float("nan"),
                "random_better_share": float(better.mean()) if finite.size and math.isfinite(t) else float("nan"),
                "lower_is_better": lower,
            })
        return pd.DataFrame(out, columns=list(COLUMNS))


@experiment("randomness", version=1)
@validate_params({
    "selection": [InstanceOf(Selection, "a Selection")],
    "layer": [NoneOr(InstanceOf(str, "a layer name"))],
    "n_models": [Interval(int, 1, None)],
    "first_seed": [Interval(int, 0, SEED_LIMIT - 1)],
    "images_per_class": [NoneOr(Interval(int, 1, None))],
}, error=FeatentError)
def randomness_experiment(
    selection: Selection,
    *,
    layer: str | None = None,
    n_models: int = DEFAULT_RANDOM_MODELS,
    first_seed: int = 0,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    cache: bool = True,
    progress: ProgressLike = None,
) -> RandomnessResult:
    """Table 2 / 7 / 10: the units of ``layer`` (default: the selection's first) in the trained model
    vs the same units in ``n_models`` random-init models (seeds ``first_seed`` ...), on the same images."""
    progress = Progress.of(progress)
    one = selection.one_layer(layer)
    layer = one.layers[0]
    model = load_model(one.model, one.weights)
    model.layer(layer)
    images, all_classes = ind.class_images(one, classes, images_per_class)
    class_index = all_classes.index(one.class_name)
    seeds = [first_seed + k for k in range(n_models)]
    total = len(seeds) + 1

    def measure(measured: Selection, k: int, label: str) -> dict[str, np.ndarray]:
        loaded = load_model(measured.model, measured.weights)
        births_step = progress.subrange(k / total, (k + 0.5) / total)
        births_step(0.0, label)
        births = compute_births(measured, progress=births_step, cache=cache)[layer]
        values, _, _, _ = ind.model_indicators(
            loaded, images, one.class_name, layer, class_index=class_index, births=births,
            progress=progress.subrange((k + 0.5) / total, (k + 1) / total),
        )
        return values

    trained = measure(one, 0, "trained")
    per_seed = []
    for k, s in enumerate(seeds):
        spec = random_variant(one.model, s)
        per_seed.append(measure(one.replace(model=spec, weights=None), k + 1, f"random seed {s}"))
        if isinstance(spec, str):
            forget_model(spec)  # one random model in memory at a time, whatever K is
    random = {name: np.stack([v[name] for v in per_seed]) for name in ind.INDICATOR_COLUMNS}
    progress(1.0, "done")
    return RandomnessResult(selection=one, n_images=len(images[one.class_name]), seeds=seeds, trained=trained,
                            random=random)
