"""Layer profiles (paper Fig. 5A) with the baselines: for some models (by default a model and its random
init), over classes, per layer the mean FE beside the mean null FE (maps shuffled), live FE (epsilon >= p),
silent share and the FE of iid units of the same size — the numbers that say whether a fall of FE with
depth is structure, size or silence — the conditional FE H(x | born) over the live units with its null and
size reference (stability, the frequency epsilon divided out), and the per-unit FE and selective rate
behind each layer mean.

One library call, so the app page, the CLI and the experiments report lay out the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from featent.core.entropy import DEFAULT_P, hole_possible
from featent.data import load_dataset
from featent.errors import DataError
from featent.experiments.contract import ExperimentResult, experiment
from featent.nets import LoadedModel, load_model, random_variant
from featent.pipeline import layer_results
from featent.progress import Progress, ProgressLike
from featent.spec import SEED_LIMIT, ModelSpec, Selection
from featent.store import ResultStore
from featent.validation import InstanceOf, Interval, NoneOr, check_class, validate_params

#: The per-layer numbers of one (model, class, layer) row, in column order.
PROFILE_VALUES = (
    "mean_feature_entropy",
    "mean_null_feature_entropy",
    "structure_gap",
    "mean_live_feature_entropy",
    "silent_share",
    "mean_selective_rate",
    "size_reference",
    "mean_live_conditional_feature_entropy",
    "mean_live_null_conditional_feature_entropy",
    "size_reference_conditional",
)
PROFILE_COLUMNS = ("model", "kind", "class_name", "layer", "depth", "unit_size", "hole_possible", *PROFILE_VALUES)

#: Classes profiled unless told otherwise: enough for a spread over classes, quick to compute.
DEFAULT_CLASSES = 3

__all__ = ["DEFAULT_CLASSES", "PROFILE_COLUMNS", "PROFILE_VALUES", "ProfileResult", "layer_profiles"]


@dataclass
class ProfileResult(ExperimentResult):
    """Rows per (model, class, layer), their means over classes (Eq. 15) and the units behind them."""

    selection: Selection  # data, images, seed, weights and layers (none: every layer) of the profile
    dataset: str  # the dataset's name as loaded, e.g. "fashion" or "fashion-subset"
    models: list[str]
    classes: list[str]
    rows_per_class: list[dict] = field(default_factory=list)
    #: model -> layer -> {"feature_entropy", "selective_rate", "conditional_feature_entropy"}: [units, classes],
    #: classes in ``classes`` order
    units: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per (model, class, layer) with PROFILE_COLUMNS (long form, as ``plots.layer_profile`` takes)."""
        return pd.DataFrame(self.rows_per_class, columns=list(PROFILE_COLUMNS))

    def layer_means(self) -> pd.DataFrame:
        """One row per (model, layer): each value averaged over classes (finite values) and its spread ``sd_*``."""
        out = []
        keys = list(dict.fromkeys((r["model"], r["layer"]) for r in self.rows_per_class))
        for model, layer in keys:
            part = [r for r in self.rows_per_class if r["model"] == model and r["layer"] == layer]
            row = {k: part[0][k] for k in ("model", "kind", "layer", "depth", "unit_size")}
            row["hole_possible"] = hole_possible(int(row["unit_size"]))
            row["classes"] = len(part)
            for key in PROFILE_VALUES:
                values = np.array([np.nan if r[key] is None else r[key] for r in part], dtype=np.float64)
                finite = values[np.isfinite(values)]
                row[key] = float(finite.mean()) if finite.size else float("nan")
                row[f"sd_{key}"] = float(finite.std()) if finite.size > 1 else 0.0
            out.append(row)
        return pd.DataFrame(out)

    def too_small(self, model: str) -> set[str]:
        """Layers of ``model`` whose maps are smaller than 4x4: no hole can be born there, so FE is no finding."""
        return {r["layer"] for r in self.rows_per_class if r["model"] == model and not hole_possible(int(r["unit_size"]))}

    def layers_of(self, model: str) -> list[str]:
        """The layers profiled for ``model``, in network order."""
        return list(self.units.get(model, {}))

    def unit_values(self, model: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """FE and selective rate of each unit of ``layer`` in ``model`` per class: two float [units, classes]."""
        values = self.units[model][layer]
        return values["feature_entropy"], values["selective_rate"]

    def unit_frame(self, model: str, layer: str, p: float = DEFAULT_P) -> pd.DataFrame:
        """One row per unit: FE and ε averaged over classes, FE / ε (inf for ε = 0), the conditional FE
        H(x | born) averaged over the classes where it is defined (NaN: never born), silent (ε < p), FE per class."""
        fe, rate = self.unit_values(model, layer)
        mean_fe, mean_rate = fe.mean(axis=1), rate.mean(axis=1)
        score = np.where(mean_rate > 0, mean_fe / np.where(mean_rate > 0, mean_rate, 1.0), np.inf)
        cond = self.units[model][layer].get("conditional_feature_entropy")
        frame = pd.DataFrame({"unit": np.arange(fe.shape[0]), "feature_entropy": mean_fe, "selective_rate": mean_rate,
                              "fe_over_rate": score, "silent": mean_rate < p})
        if cond is not None:
            defined = np.isfinite(cond)
            total = np.where(defined, cond, 0.0).sum(axis=1)
            count = defined.sum(axis=1)
            frame["conditional_feature_entropy"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        for j, class_name in enumerate(self.classes):
            frame[f"FE class {class_name}"] = fe[:, j]
        return frame


def _default_classes(classes: Sequence[str], first: str) -> list[str]:
    start = classes.index(first) if first in classes else 0
    return [classes[(start + k) % len(classes)] for k in range(min(DEFAULT_CLASSES, len(classes)))]


def _kind(spec: object) -> str:
    if isinstance(spec, LoadedModel):
        return "random init" if spec.weights_source.startswith("random init") else "model"
    return "random init" if isinstance(spec, str) and ModelSpec.parse(spec).is_random else "model"


@experiment("layer_profiles", version=2, models=("models",))
@validate_params({
    "selection": [InstanceOf(Selection, "a Selection")],
    "random_seed": [NoneOr(Interval(int, 0, SEED_LIMIT - 1))],
}, error=DataError)
def layer_profiles(
    selection: Selection,
    *,
    models: Sequence[str] = (),
    classes: Sequence[str] | None = None,
    random_seed: int | None = 0,
    baselines: bool = True,
    cache: bool = True,
    store: ResultStore | None = None,
    progress: ProgressLike = None,
) -> ProfileResult:
    """Profile ``models`` over ``classes`` on the selection's layers (none selected: every layer).

    ``models`` default to the selection's model and, unless ``random_seed`` is None or the model
    is a random init already, its random init with that seed; the selection's weights apply to
    its own model. ``classes`` default to three classes from the selection's class on. Data,
    image count and sampling seed are the selection's.
    """
    progress = Progress.of(progress)
    dataset = load_dataset(selection.data)
    chosen = list(classes) if classes else _default_classes(list(dataset.classes), selection.class_name)
    for name in chosen:
        check_class(name, dataset.classes, dataset.name)
    specs: list[Any] = list(models)
    if not specs:
        specs = [selection.model]
        if random_seed is not None and _kind(selection.model) == "model":
            specs.append(random_variant(selection.model, random_seed))
    result = ProfileResult(selection=selection, dataset=dataset.name, models=[str(s) for s in specs], classes=chosen)
    jobs = [(spec, class_name) for spec in specs for class_name in chosen]
    per_unit: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {}
    for k, (spec, class_name) in enumerate(jobs):
        weights = selection.weights if spec == selection.model else None
        loaded = load_model(spec, weights)
        names = selection.layers or tuple(i.name for i in loaded.layers)
        depth = {info.name: d for d, info in enumerate(loaded.layers)}
        step = progress.subrange(k / len(jobs), (k + 1) / len(jobs))
        step(0.0, f"{spec}, class {class_name}")
        job = selection.replace(model=spec, weights=weights, class_name=class_name, layers=names)
        for layer, r in layer_results(job, store=store, progress=step, cache=cache, baselines=baselines).items():
            gap = r.structure_gap
            result.rows_per_class.append({
                "model": str(spec), "kind": _kind(spec), "class_name": class_name, "layer": layer, "depth": depth[layer],
                "unit_size": loaded.layer(layer).unit_size, "hole_possible": hole_possible(loaded.layer(layer).unit_size),
                "mean_feature_entropy": r.mean_feature_entropy,
                "mean_null_feature_entropy": r.mean_null_feature_entropy,
                "structure_gap": None if gap is None else float(gap.mean()),
                "mean_live_feature_entropy": r.mean_live_feature_entropy,
                "silent_share": r.silent_share,
                "mean_selective_rate": r.mean_selective_rate,
                "size_reference": r.size_reference,
                "mean_live_conditional_feature_entropy": r.mean_live_conditional_feature_entropy,
                "mean_live_null_conditional_feature_entropy": r.mean_live_null_conditional_feature_entropy,
                "size_reference_conditional": r.size_reference_conditional,
            })
            values = per_unit.setdefault(str(spec), {}).setdefault(
                layer, {"feature_entropy": [], "selective_rate": [], "conditional_feature_entropy": []})
            values["feature_entropy"].append(np.asarray(r.feature_entropy))
            values["selective_rate"].append(np.asarray(r.selective_rate))
            values["conditional_feature_entropy"].append(np.asarray(r.conditional_feature_entropy))
    result.units = {spec: {layer: {name: np.stack(arrays, axis=1) for name, arrays in values.items()}
                           for layer, values in layers.items()} for spec, layers in per_unit.items()}
    progress(1.0, "done")
    return result
