"""Model sets (paper Fig. 6) and the layer trend (Fig. 5A / 9): per-layer mean FE and selective rate of
several models on the same classes and images, so models trained differently (label noise, epochs,
random init) can be compared layer by layer. Births come from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch

from featent.data import load_dataset
from featent.errors import DataError, FeatentError, ModelError
from featent.experiments.class_map import resolve_class_map
from featent.experiments.contract import ExperimentResult, experiment
from featent.nets import LoadedModel, load_model, random_variant
from featent.pipeline import layer_results
from featent.progress import Progress, ProgressLike
from featent.spec import ModelSpec, Selection
from featent.training.family import CORRUPT_LEVELS, base_run, iteration_history, parse_family_spec, run_history
from featent.validation import InstanceOf, Interval, NoneOr, check_class, validate_params

__all__ = ["MODEL_SETS", "LayerTrendResult", "ModelSetResult", "compare_models", "layer_trend", "model_set"]

#: Predefined model sets for ``compare_models`` (demo family; see featent.training.family):
#: corrupt = model set B (labels corrupted at 0..0.8), training = checkpoints of the base run.
MODEL_SETS = ("corrupt", "training", "trained-vs-random")

#: Columns of a model-set profile: one row per (model, layer, class).
PROFILE_COLUMNS = ("model", "layer", "class_name", "mean_feature_entropy", "mean_selective_rate")


def model_set(name: str) -> list[str]:
    """The specs of a predefined model set."""
    if name == "corrupt":
        return [f"demo-corrupt-{level:.1f}" for level in CORRUPT_LEVELS]
    if name == "training":
        last = base_run().epochs
        return [f"demo@epoch{e}" for e in sorted({0, 1, last // 4, last // 2, last})]
    if name == "trained-vs-random":
        return ["demo", "demo:random"]
    raise FeatentError(f"Unknown model set {name!r}; choose one of: {', '.join(MODEL_SETS)}.")


@dataclass
class ModelSetResult(ExperimentResult):
    """Mean FE and selective rate per (model, class, layer), and each model's accuracy."""

    models: list[str]
    data: str
    classes: list[str]
    layers: list[str]
    n_images: int
    seed: int
    profile: list[dict]  # rows with PROFILE_COLUMNS
    accuracy: list[dict]  # per model: model, train_accuracy, test_accuracy, label_noise (None if unknown)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The profile: one row per (model, layer, class)."""
        return pd.DataFrame(self.profile, columns=list(PROFILE_COLUMNS))

    def last_layer_rows(self) -> list[dict]:
        """The rows of the deepest compared layer: Fig. 6(3), one point per (model, class)."""
        return [r for r in self.profile if r["layer"] == self.layers[-1]]


def _label(model: str | ModelSpec | LoadedModel) -> str:
    """How a compared model is named in the rows: its spec (a loaded module's own label)."""
    return model.spec if isinstance(model, LoadedModel) else str(model).strip()


def _models(models: Sequence[str | ModelSpec | LoadedModel]) -> list[str | LoadedModel]:
    """Specs (blank strings skipped) and loaded modules as given; anything else is an error, never dropped."""
    out: list[str | LoadedModel] = []
    for model in models:
        if isinstance(model, LoadedModel):
            out.append(model)
        elif isinstance(model, (str, ModelSpec)):
            if str(model).strip():
                out.append(str(model).strip())
        else:
            raise ModelError(f"{model!r} is neither a model spec nor a LoadedModel (from featent.from_module).")
    return out


def _model_accuracy(spec: str | LoadedModel, data: str, weights: str | None, notes: list[str]) -> dict:
    """Train/test accuracy from the family history when known, else evaluated on a built-in dataset's splits
    with the classes mapped to outputs as ``featent.experiments.class_map`` decides (None, with a note, when
    no mapping is known)."""
    parsed = parse_family_spec(spec) if weights is None and isinstance(spec, str) else None
    row: dict = {"model": _label(spec), "train_accuracy": None, "test_accuracy": None, "label_noise": None}
    if parsed is not None:
        run, epoch = parsed
        if epoch is None:  # an early checkpoint, demo@iterK
            tag = ModelSpec.parse(_label(spec)).tag or ""
            by_iteration = {h["iteration"]: h for h in iteration_history(run)}
            entry = by_iteration.get(int(tag.removeprefix("iter"))) if tag.startswith("iter") else None
        else:
            entry = {h["epoch"]: h for h in run_history(run)}.get(epoch)
        if entry is not None:
            row.update(train_accuracy=entry["train_accuracy"], test_accuracy=entry["test_accuracy"],
                       label_noise=run.label_noise)
        return row
    if data in ("digits", "fashion", "fashion-subset"):
        model = load_model(spec, weights)
        dataset = load_dataset(data)
        try:
            mapping = resolve_class_map(model, dataset)
        except DataError as exc:
            notes.append(f"{_label(spec)}: accuracy not reported: {exc}")
            return row
        if mapping.note:
            notes.append(f"{_label(spec)}: {mapping.note}")
        for split in ("train", "test"):
            x, y = dataset.split_arrays(split, model.input_size)  # type: ignore[attr-defined]  # built-in sets only
            y = mapping.labels(y)
            logits = torch.cat([_logits(model, x[i : i + 512]) for i in range(0, len(x), 512)])
            row[f"{split}_accuracy"] = float((logits.argmax(1) == y).float().mean())
    return row


def _logits(model, images: torch.Tensor) -> torch.Tensor:
    with model.lock, torch.inference_mode():
        return model.forward(model.preprocess(images)).to("cpu")


@experiment("model_set", version=2, models=("models",))
@validate_params({
    "data": [InstanceOf(str, "a dataset name or folder")],
    "n_images": [Interval(int, 1, None)],
    "seed": [Interval(int, 0, None)],
}, error=FeatentError)
def compare_models(
    models: Sequence[str | ModelSpec | LoadedModel],
    data: str,
    *,
    classes: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    n_images: int = 100,
    seed: int = 0,
    weights: Sequence[str | None] | None = None,
    with_accuracy: bool = True,
    cache: bool = True,
    progress: ProgressLike = None,
) -> ModelSetResult:
    """Fig. 6: per-layer mean FE and selective rate of each of ``models`` on each class (cached births).

    ``layers`` default to every layer of the first model; a model lacking one is reported in
    ``notes``. ``classes`` default to every class of the dataset. ``models`` are specs or
    ``LoadedModel`` objects (named by their spec in the rows). ``weights``: one entry (or None)
    per model. ``with_accuracy``: also each model's train/test accuracy (family history, or
    evaluated on a built-in dataset).
    """
    progress = Progress.of(progress)
    specs = _models(models)
    if not specs:
        raise ModelError("Give at least one model to compare.")
    chosen_weights = list(weights) if weights is not None else [None] * len(specs)
    if len(chosen_weights) != len(specs):
        raise FeatentError("Give one weights entry (or None) per model.")
    dataset = load_dataset(data)
    chosen = list(classes if classes else dataset.classes)
    for name in chosen:
        check_class(name, dataset.classes, dataset.name)
    first = load_model(specs[0], chosen_weights[0])
    wanted = list(layers) if layers else [i.name for i in first.layers]
    profile, accuracy, notes = [], [], []
    jobs = len(specs) * len(chosen)
    for i, (spec, w) in enumerate(zip(specs, chosen_weights)):
        model = load_model(spec, w)
        names = {info.name for info in model.layers}
        present = [layer for layer in wanted if layer in names]
        if len(present) < len(wanted):
            notes.append(f"{_label(spec)} has no layer(s) {', '.join(sorted(set(wanted) - set(present)))}")
        if not present:
            continue
        for j, class_name in enumerate(chosen):
            k = i * len(chosen) + j
            step = progress.subrange(k / jobs, (k + 1) / jobs)
            step(0.0, f"{_label(spec)}, class {class_name}")
            results = layer_results(Selection(spec, data, class_name, tuple(present), n_images, seed, w),
                                    progress=step, cache=cache)
            for layer in present:
                r = results[layer]
                profile.append({
                    "model": _label(spec), "layer": layer, "class_name": class_name,
                    "mean_feature_entropy": r.mean_feature_entropy, "mean_selective_rate": r.mean_selective_rate,
                })
        if with_accuracy:
            accuracy.append(_model_accuracy(spec, data, w, notes))
    progress(1.0, "done")
    return ModelSetResult(models=[_label(s) for s in specs], data=data, classes=chosen, layers=wanted,
                          n_images=n_images, seed=seed, profile=profile, accuracy=accuracy, notes=notes)


@dataclass
class LayerTrendResult(ExperimentResult):
    """Per-layer mean FE and selective rate of a trained model and of its random inits."""

    models: list[str]  # the trained model first, then its random inits
    data: str
    classes: list[str]
    n_images: int
    seed: int
    profile: list[dict]  # PROFILE_COLUMNS plus group ("trained" / "random init") and seed (None when trained)

    def to_frame(self) -> pd.DataFrame:
        """The profile: one row per (model, layer, class) with its group and random-init seed."""
        return pd.DataFrame(self.profile, columns=[*PROFILE_COLUMNS, "group", "seed"])


@experiment("layer_trend", version=1, models=("model",))
@validate_params({
    "model": [InstanceOf((str, ModelSpec, LoadedModel), "a model spec or a LoadedModel")],
    "n_random": [Interval(int, 1, None)],
    "n_images": [Interval(int, 1, None)],
    "seed": [Interval(int, 0, None)],
    "weights": [NoneOr(InstanceOf(str, "a weights file"))],
}, error=FeatentError)
def layer_trend(
    model: str | ModelSpec | LoadedModel,
    data: str,
    *,
    classes: Sequence[str] | None = None,
    n_random: int = 3,
    n_images: int = 100,
    seed: int = 0,
    weights: str | None = None,
    cache: bool = True,
    progress: ProgressLike = None,
) -> LayerTrendResult:
    """Fig. 5A / 9: per-layer mean FE and selective rate of the trained ``model`` and of ``n_random``
    random-init models of its architecture (seeds 0..n_random-1), on every layer. A ``LoadedModel``'s
    random inits are copies with every parameter reset under each seed (``featent.nets.random_variant``)."""
    if isinstance(model, ModelSpec):
        model = str(model)
    randoms = [random_variant(model, s) for s in range(n_random)]
    seeds = {_label(r): s for s, r in enumerate(randoms)}
    trained_label = _label(model)
    result = compare_models([model, *randoms], data, classes=classes, n_images=n_images, seed=seed,
                            weights=[weights] + [None] * len(randoms), cache=cache, with_accuracy=False,
                            progress=progress)
    rows = []
    for row in result.profile:
        trained = row["model"] == trained_label
        rows.append({**row, "group": "trained" if trained else "random init",
                     "seed": None if trained else seeds[row["model"]]})
    return LayerTrendResult(models=result.models, data=data, classes=result.classes, n_images=n_images, seed=seed,
                            profile=rows)
