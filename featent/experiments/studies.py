"""The paper's experiments on any model: rescaling (Table 1/6/9), randomness (Table 2/7/10),
training dynamics (Fig. 5B), model sets (Fig. 6) and the layer trend (Fig. 5A/9).

Why here and not in the pages: a user redoes each experiment from the CLI, the app or a script,
and they must give the same numbers. Every function takes plain arguments (specs, class names,
layer names), reports progress through a ``Progress`` callback and returns a small result object
with ``rows()`` ready for a table, a CSV or JSON.

Models are never modified: rescaling works on a deep copy (``scaled_copy``), so the model held by
the caller (and by the app's shared cache) stays bit-identical.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from featent import indicators as ind
from featent.errors import DataError, FeatentError, ModelError
from featent.spec import ModelSpec
from featent.indicators.registry import LOWER_IS_BETTER
from featent.training.family import CORRUPT_LEVELS, base_run, iteration_history, parse_family_spec, run_history
from featent.nets import fingerprint_module, forget_model, from_module, load_model
from featent.data import load_dataset
from featent.pipeline import Selection, compute_births, layer_results

Progress = Callable[[float, str], None]

#: The paper's rescaling factor (Sec. 4.3): images and/or the layer's filters at half scale.
HALF = 0.5
#: Random-init models per randomness run unless told otherwise (the paper samples 100).
DEFAULT_RANDOM_MODELS = 20

#: Predefined model sets for ``compare_models`` (demo family; see featent.training.family):
#: corrupt = model set B (labels corrupted at 0..0.8), training = checkpoints of the base run.
MODEL_SETS = ("corrupt", "training", "trained-vs-random")


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

#: Which way is "better" for each indicator (the unit looks more important / more effective).
#: FE, APoZ and H/eps: lower is better; the others: higher is better.

__all__ = [
    "HALF",
    "MODEL_SETS",
    "model_set",
    "scaled_copy",
    "scaled_images",
    "IMAGE_SPACES",
    "RescaleResult",
    "rescale_experiment",
    "random_spec",
    "RandomnessResult",
    "randomness_experiment",
    "DynamicsResult",
    "training_dynamics",
    "ModelSetResult",
    "compare_models",
    "layer_trend",
]


def _part(progress: Progress | None, lo: float, hi: float, prefix: str = "") -> Progress | None:
    if progress is None:
        return None
    return lambda f, m: progress(lo + (hi - lo) * max(0.0, min(1.0, f)), f"{prefix}{m}")


def _finite_mean(values: np.ndarray) -> float:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def _clean(value: float) -> float | None:
    """JSON-safe float: NaN and infinities become None."""
    value = float(value)
    return value if math.isfinite(value) else None


def _check_factor(factor: float) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor <= 0:
        raise FeatentError(f"The rescaling factor must be a positive number, got {factor!r}.")
    return float(factor)


# --------------------------------------------------------------------------- rescaling


def scaled_copy(model, layer: str, factor: float):
    """A deep copy of ``model`` whose filters producing ``layer`` (weight and bias) are x ``factor``.

    With a BatchNorm between the conv and the ReLU, its affine weight and bias are scaled instead
    (scaling the conv would be undone by the normalization); for a ResNet block that is the last
    BN of the residual branch, so the shortcut is not scaled. The original is never touched.
    """

    factor = _check_factor(factor)
    model.layer(layer)
    with model.lock:
        module = copy.deepcopy(model.module)
    name = f"{model.spec}|{layer} filters x{factor:g}"
    copied = from_module(module, name=name, input_size=model.input_size, mean=model.mean, std=model.std,
                         weights_source=f"{model.weights_source}, {layer} filters x{factor:g}")
    conv, bn = ind.layer_filter(copied, layer)
    target = bn if bn is not None else conv
    with torch.no_grad():
        target.weight.mul_(factor)
        if target.bias is not None:
            target.bias.mul_(factor)
    copied.fingerprint = fingerprint_module(module, name, model.input_size)
    copied.spec = model.spec
    return copied


#: Where "images x0.5" is applied: to the network's input tensor (after normalization: every
#: activation of a bias-free ReLU net halves, as the paper intends), or to the raw [0, 1] pixels
#: (before the mean subtraction, which then shifts the input instead of scaling it).
IMAGE_SPACES = ("input", "pixels")


def scaled_images(factor: float, model=None, space: str = "input") -> Callable[[torch.Tensor], torch.Tensor]:
    """The image transform of the rescaling experiment, on the model's normalized input tensor.

    ``space="input"``: the input tensor x ``factor``. ``space="pixels"``: the [0, 1] pixels x
    ``factor`` before normalization, i.e. ((x * std + mean) * factor - mean) / std (needs ``model``).
    """
    factor = _check_factor(factor)
    if space == "input":
        return lambda inputs: inputs * factor
    if space != "pixels":
        raise FeatentError(f"Unknown image space {space!r}; use one of: {', '.join(IMAGE_SPACES)}.")
    if model is None:
        raise FeatentError("Scaling the pixels needs the model (its normalization mean and std).")

    def pixels(inputs: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(model.mean, device=inputs.device).view(1, 3, 1, 1)
        std = torch.tensor(model.std, device=inputs.device).view(1, 3, 1, 1)
        return ((inputs * std + mean) * factor - mean) / std

    return pixels


@dataclass
class RescaleResult:
    """Indicators of one layer under the four combinations of image and filter scaling."""

    model: str
    data: str
    class_name: str
    layer: str
    n_images: int
    scale: float
    conditions: list[tuple[float, float]]  # (image factor, filter factor), first = unchanged
    values: list[dict[str, np.ndarray]]  # per condition: indicator -> per-unit array
    accuracy: list[float]
    notes: list[str] = field(default_factory=list)
    image_space: str = "input"

    def rows(self, unit: int | None = None) -> list[dict]:
        """One row per condition: scales, class accuracy and each indicator (one unit or layer mean)."""
        n_units = len(next(iter(self.values[0].values())))
        if unit is not None and (isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < n_units):
            raise FeatentError(f"Unit {unit!r} is out of range; layer {self.layer} has {n_units} units.")
        out = []
        for (images, filters), values, accuracy in zip(self.conditions, self.values, self.accuracy):
            row: dict = {"images": images, "filters": filters, "accuracy": accuracy}
            for name in ind.INDICATOR_COLUMNS:
                row[name] = float(values[name][unit]) if unit is not None else _finite_mean(values[name])
            out.append(row)
        return out


def _accuracy_images(dataset, class_name: str, input_size: int, fallback: torch.Tensor) -> torch.Tensor:
    """All test images of the class when the dataset has a test split, else the sampled images."""
    if "test" in getattr(dataset, "splits", ()):
        return dataset.sample(class_name, 10**9, 0, "test", input_size).images
    return fallback


def rescale_experiment(
    selection,
    layer: str | None = None,
    scale: float = HALF,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    progress: Progress | None = None,
    image_space: str = "input",
) -> RescaleResult:
    """Table 1 / 6 / 9: every indicator with images and/or the layer's filters x ``scale``.

    ``image_space`` says what "images x scale" means (see ``IMAGE_SPACES``; default: the network's
    input tensor).

    Class accuracy is measured on the class's test images when the dataset has a test split (the
    sampled training images otherwise). The selection's model is left bit-identical.
    """

    scale = _check_factor(scale)
    if image_space not in IMAGE_SPACES:
        raise FeatentError(f"Unknown image space {image_space!r}; use one of: {', '.join(IMAGE_SPACES)}.")
    layer = layer or (selection.layers[0] if selection.layers else "")
    model = load_model(selection.model, selection.weights)
    model.layer(layer)
    dataset = load_dataset(selection.data)
    one = _single_layer(selection, layer)
    images, all_classes = ind.class_images(one, classes, images_per_class)
    class_index = all_classes.index(selection.class_name)
    accuracy_images = _accuracy_images(dataset, selection.class_name, model.input_size, images[selection.class_name])
    conditions = [(1.0, 1.0), (scale, 1.0), (1.0, scale), (scale, scale)]
    values, accuracy, notes = [], [], []
    for k, (image_factor, filter_factor) in enumerate(conditions):
        label = f"images x{image_factor:g}, filters x{filter_factor:g}: "
        target = model if filter_factor == 1.0 else scaled_copy(model, layer, filter_factor)
        transform = None if image_factor == 1.0 else scaled_images(image_factor, model, image_space)
        v, acc, _, n = ind.model_indicators(
            target, images, selection.class_name, layer, transform=transform, class_index=class_index,
            accuracy_images=accuracy_images, progress=_part(progress, k / 4, (k + 1) / 4, label),
        )
        values.append(v)
        accuracy.append(acc)
        notes.extend(x for x in n if x not in notes)
    return RescaleResult(
        model=selection.model, data=selection.data, class_name=selection.class_name, layer=layer,
        n_images=len(images[selection.class_name]), scale=scale, conditions=conditions, values=values,
        accuracy=accuracy, notes=notes, image_space=image_space,
    )


def _single_layer(selection, layer: str):
    if not isinstance(selection, Selection):
        raise FeatentError(f"Expected a Selection, got {type(selection).__name__}.")
    return Selection(selection.model, selection.data, selection.class_name, (layer,), selection.n_images,
                     selection.seed, selection.weights, selection.split)


# --------------------------------------------------------------------------- randomness


def random_spec(spec: str, seed: int) -> str:
    """The seeded random-init spec of the same architecture: ``vgg16@64`` -> ``vgg16:random:3@64``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FeatentError(f"Random-init seeds must be non-negative integers, got {seed!r}.")
    return ModelSpec.parse(str(spec)).random(int(seed)).format(explicit_seed=True)


@dataclass
class RandomnessResult:
    """Indicators of a layer in the trained model and in K seeded random-init models."""

    model: str
    data: str
    class_name: str
    layer: str
    n_images: int
    seeds: list[int]
    trained: dict[str, np.ndarray]  # indicator -> [n_units]
    random: dict[str, np.ndarray]  # indicator -> [K, n_units]

    def rows(self, unit: int | None = None) -> list[dict]:
        """One row per indicator: trained value, random mean and std (ddof 0) over the K models,
        and the share of random models that look *better* than the trained unit by that indicator.
        ``unit=None`` uses the layer mean (finite values) of each model."""
        out = []
        for name in ind.INDICATOR_COLUMNS:
            trained = self.trained[name]
            random = self.random[name]
            if unit is not None:
                if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < trained.size:
                    raise FeatentError(f"Unit {unit!r} is out of range; layer {self.layer} has {trained.size} units.")
                t, r = float(trained[unit]), random[:, unit].astype(np.float64)
            else:
                t = _finite_mean(trained)
                r = np.array([_finite_mean(row) for row in random])
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
        return out


def randomness_experiment(
    selection,
    layer: str | None = None,
    n_models: int = DEFAULT_RANDOM_MODELS,
    first_seed: int = 0,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    progress: Progress | None = None,
    *,
    cache: bool = True,
) -> RandomnessResult:
    """Table 2 / 7 / 10: the layer's units in the trained model vs the same units in ``n_models``
    random-init models (seeds ``first_seed`` ...), on the same sampled images."""

    if isinstance(n_models, bool) or not isinstance(n_models, (int, np.integer)) or n_models < 1:
        raise FeatentError(f"The number of random models must be a positive integer, got {n_models!r}.")
    layer = layer or (selection.layers[0] if selection.layers else "")
    one = _single_layer(selection, layer)
    model = load_model(one.model, one.weights)
    model.layer(layer)
    images, all_classes = ind.class_images(one, classes, images_per_class)
    class_index = all_classes.index(one.class_name)
    seeds = [int(first_seed) + k for k in range(int(n_models))]
    total = len(seeds) + 1

    def measure(spec: str, weights: str | None, k: int, label: str) -> dict[str, np.ndarray]:
        loaded = load_model(spec, weights)
        sel = Selection(spec, one.data, one.class_name, (layer,), one.n_images, one.seed, weights, one.split)
        births = compute_births(sel, progress=_part(progress, k / total, (k + 0.5) / total, label), cache=cache)[layer]
        values, _, _, _ = ind.model_indicators(
            loaded, images, one.class_name, layer, class_index=class_index, births=births,
            progress=_part(progress, (k + 0.5) / total, (k + 1) / total, label),
        )
        return values

    trained = measure(one.model, one.weights, 0, "trained: ")
    per_seed = []
    for k, s in enumerate(seeds):
        spec = random_spec(one.model, s)
        per_seed.append(measure(spec, None, k + 1, f"random seed {s}: "))
        forget_model(spec)  # one random model in memory at a time, whatever K is
    random = {name: np.stack([v[name] for v in per_seed]) for name in ind.INDICATOR_COLUMNS}
    if progress is not None:
        progress(1.0, "done")
    return RandomnessResult(
        model=one.model, data=one.data, class_name=one.class_name, layer=layer,
        n_images=len(images[one.class_name]), seeds=seeds, trained=trained, random=random,
    )


# --------------------------------------------------------------------------- model sets, layer trend


@dataclass
class ModelSetResult:
    """Mean FE and selective rate per (model, class, layer), and each model's accuracy."""

    models: list[str]
    data: str
    classes: list[str]
    layers: list[str]
    n_images: int
    profile: list[dict]  # rows with featent.plots.unit.PROFILE_COLUMNS
    accuracy: list[dict]  # per model: model, train_accuracy, test_accuracy, label_noise (None if unknown)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[dict]:
        return list(self.profile)

    def last_layer_rows(self) -> list[dict]:
        """The rows of the deepest compared layer: Fig. 6(3), one point per (model, class)."""
        return [r for r in self.profile if r["layer"] == self.layers[-1]]


def _model_accuracy(spec: str, data: str, weights: str | None) -> dict:
    """Train/test accuracy from the family history when known, else evaluated on a built-in dataset's splits."""

    parsed = parse_family_spec(spec) if weights is None else None
    row: dict = {"model": spec, "train_accuracy": None, "test_accuracy": None, "label_noise": None}
    if parsed is not None:
        run, epoch = parsed
        if epoch is None:  # an early checkpoint, demo@iterK
            step = int(spec.strip().rsplit("@iter", 1)[1])
            history = {h["iteration"]: h for h in iteration_history(run)}
            epoch = "iteration"
            history = {"iteration": history[step]} if step in history else {}
        else:
            history = {h["epoch"]: h for h in run_history(run)}
        if epoch in history:
            row.update(train_accuracy=history[epoch]["train_accuracy"], test_accuracy=history[epoch]["test_accuracy"],
                       label_noise=run.label_noise)
        return row
    if data in ("digits", "fashion", "fashion-subset"):

        model = load_model(spec, weights)
        dataset = load_dataset(data)
        for split in ("train", "test"):
            x, y = dataset.split_arrays(split, model.input_size)
            logits = torch.cat([_logits(model, x[i : i + 512]) for i in range(0, len(x), 512)])
            row[f"{split}_accuracy"] = float((logits.argmax(1) == y).float().mean())
    return row


def _logits(model, images: torch.Tensor) -> torch.Tensor:
    with model.lock, torch.inference_mode():
        return model.forward(model.preprocess(images)).to("cpu")


def compare_models(
    specs: Sequence[str],
    data: str,
    classes: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    n_images: int = 100,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    weights: Sequence[str | None] | None = None,
    cache: bool = True,
    with_accuracy: bool = True,
) -> ModelSetResult:
    """Fig. 6: per-layer mean FE and selective rate of each model on each class (cached births).

    ``layers`` default to every layer of the first model; a model lacking one is reported in
    ``notes``. ``classes`` default to every class of the dataset. ``with_accuracy``: also each
    model's train/test accuracy (family history, or evaluated on digits).
    """

    specs = [s.strip() for s in specs if isinstance(s, str) and s.strip()]
    if not specs:
        raise ModelError("Give at least one model to compare.")
    weights = list(weights) if weights is not None else [None] * len(specs)
    if len(weights) != len(specs):
        raise FeatentError("Give one weights entry (or None) per model.")
    dataset = load_dataset(data)
    chosen = list(dataset.classes if not classes else classes)
    for name in chosen:
        if name not in dataset.classes:
            raise DataError(f"Class {name!r} is not in {dataset.name}.")
    first = load_model(specs[0], weights[0])
    wanted = list(layers) if layers else [i.name for i in first.layers]
    profile, accuracy, notes = [], [], []
    jobs = len(specs) * len(chosen)
    for i, (spec, w) in enumerate(zip(specs, weights)):
        model = load_model(spec, w)
        names = {info.name for info in model.layers}
        present = [layer for layer in wanted if layer in names]
        if len(present) < len(wanted):
            notes.append(f"{spec} has no layer(s) {', '.join(sorted(set(wanted) - set(present)))}")
        if not present:
            continue
        for j, class_name in enumerate(chosen):
            k = i * len(chosen) + j
            sel = Selection(spec, data, class_name, tuple(present), n_images, seed, w)
            results = layer_results(sel, progress=_part(progress, k / jobs, (k + 1) / jobs, f"{spec}, class {class_name}: "),
                                    cache=cache)
            for layer in present:
                r = results[layer]
                profile.append({
                    "model": spec, "layer": layer, "class_name": class_name,
                    "mean_feature_entropy": r.mean_feature_entropy, "mean_selective_rate": r.mean_selective_rate,
                })
        if with_accuracy:
            accuracy.append(_model_accuracy(spec, data, w))
    if progress is not None:
        progress(1.0, "done")
    return ModelSetResult(models=specs, data=data, classes=chosen, layers=wanted, n_images=n_images,
                          profile=profile, accuracy=accuracy, notes=notes)


def layer_trend(
    spec: str,
    data: str,
    classes: Sequence[str] | None = None,
    n_random: int = 3,
    n_images: int = 100,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    weights: str | None = None,
    cache: bool = True,
) -> list[dict]:
    """Fig. 5A / 9: per-layer mean FE and selective rate of the trained model and of ``n_random``
    random-init models (seeds 0..n_random-1). Rows: PROFILE_COLUMNS plus ``group`` ("trained" or
    "random init") and ``seed`` (None for the trained model)."""
    if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or n_random < 1:
        raise FeatentError(f"The number of random models must be a positive integer, got {n_random!r}.")
    randoms = [random_spec(spec, s) for s in range(int(n_random))]
    result = compare_models([spec, *randoms], data, classes, None, n_images, seed, progress,
                            weights=[weights] + [None] * len(randoms), cache=cache, with_accuracy=False)
    rows = []
    for row in result.profile:
        trained = row["model"] == spec
        rows.append({**row, "group": "trained" if trained else "random init",
                     "seed": None if trained else ModelSpec.parse(row["model"]).seed})
    return rows


# --------------------------------------------------------------------------- training dynamics


@dataclass
class DynamicsResult:
    """FE of one layer at every checkpoint of the demo family, beside the training loss."""

    data: str
    layer: str
    classes: list[str]
    n_images: int
    rows_per_class: list[dict]  # epoch, loss, train/test accuracy, class_name, FE, selective rate

    def rows(self, average: bool = True) -> list[dict]:
        """Per-class rows, or (``average``) one row per epoch with FE and rate averaged over classes (Eq. 15)."""
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
        rows = self.rows(average=True)
        loss = np.array([r["loss"] for r in rows])
        fe = np.array([r["mean_feature_entropy"] for r in rows])
        if len(rows) < 3 or loss.std() == 0 or fe.std() == 0:
            return float("nan")
        return float(np.corrcoef(loss, fe)[0, 1])


def training_dynamics(
    data: str = "fashion",
    classes: Sequence[str] | None = None,
    layer: str | None = None,
    n_images: int = 100,
    seed: int = 0,
    epochs: Sequence[int] | None = None,
    progress: Progress | None = None,
    *,
    cache: bool = True,
) -> DynamicsResult:
    """Fig. 5B: mean FE and selective rate of ``layer`` (default: the last conv layer) at each
    epoch checkpoint of the demo family (trained on demand), with the training loss per epoch."""

    run = base_run()
    history = {h["epoch"]: h for h in run_history(run, progress=_part(progress, 0.0, 0.3, "training the demo family: "))}
    chosen_epochs = sorted(set(history if epochs is None else epochs))
    for e in chosen_epochs:
        if e not in history:
            raise ModelError(f"The demo family has epochs 0 to {run.epochs}; {e!r} is not one of them.")
    dataset = load_dataset(data)
    chosen = list(dataset.classes if not classes else classes)
    for name in chosen:
        if name not in dataset.classes:
            raise DataError(f"Class {name!r} is not in {dataset.name}.")
    layer = layer or load_model("demo@epoch0").layers[-1].name
    rows = []
    jobs = len(chosen_epochs) * len(chosen)
    for i, epoch in enumerate(chosen_epochs):
        spec = f"demo@epoch{epoch}"
        for j, class_name in enumerate(chosen):
            k = i * len(chosen) + j
            result = layer_results(
                Selection(spec, data, class_name, (layer,), n_images, seed),
                progress=_part(progress, 0.3 + 0.7 * k / jobs, 0.3 + 0.7 * (k + 1) / jobs, f"epoch {epoch}, class {class_name}: "),
                cache=cache,
            )[layer]
            h = history[epoch]
            rows.append({
                "epoch": epoch, "loss": h["loss"], "train_accuracy": h["train_accuracy"], "test_accuracy": h["test_accuracy"],
                "class_name": class_name, "mean_feature_entropy": result.mean_feature_entropy,
                "mean_selective_rate": result.mean_selective_rate,
            })
    if progress is not None:
        progress(1.0, "done")
    return DynamicsResult(data=data, layer=layer, classes=chosen, n_images=n_images, rows_per_class=rows)
