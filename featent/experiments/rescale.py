"""Rescaling (paper Table 1 / 6 / 9): every indicator of one layer with the images and/or the layer's
filters x 0.5. FE depends only on the order of activations, so it must not move; magnitude-based
indicators (L1, FPGM) do.

Models are never modified: the filters are scaled on a deep copy (``scaled_copy``), so the model held
by the caller (and by the app's shared cache) stays bit-identical.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from featent import indicators as ind
from featent.data import load_dataset
from featent.errors import DataError, FeatentError
from featent.experiments.class_map import resolve_class_map
from featent.experiments.contract import ExperimentResult, experiment
from featent.nets import fingerprint_module, from_module, load_model
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, NoneOr, Options, check, check_int, validate_params

__all__ = ["HALF", "IMAGE_SPACES", "RescaleResult", "rescale_experiment", "scaled_copy", "scaled_images"]

#: The paper's rescaling factor (Sec. 4.3): images and/or the layer's filters at half scale.
HALF = 0.5

#: Where "images x0.5" is applied: to the network's input tensor (after normalization: every
#: activation of a bias-free ReLU net halves, as the paper intends), or to the raw [0, 1] pixels
#: (before the mean subtraction, which then shifts the input instead of scaling it).
IMAGE_SPACES = ("input", "pixels")

#: A rescaling factor: a finite number above 0.
FACTOR = Interval(float, 0, None, closed="neither")

def _factor(factor: float) -> float:
    return float(check("factor", factor, FACTOR, FeatentError))

def finite_mean(values: np.ndarray) -> float:
    """Mean of the finite entries (NaN when there are none): a layer's mean over units."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")

def scaled_copy(model, layer: str, factor: float):
    """A deep copy of ``model`` whose filters producing ``layer`` (weight and bias) are x ``factor``.

    With a BatchNorm between the conv and the ReLU, its affine weight and bias are scaled instead
    (scaling the conv would be undone by the normalization); for a ResNet block that is the last
    BN of the residual branch, so the shortcut is not scaled. The original is never touched.
    """
    factor = _factor(factor)
    model.layer(layer)
    with model.lock:
        module = copy.deepcopy(model.module)
    name = f"{model.spec}|{layer} filters x{factor:g}"
    copied = from_module(module, name=name, input_size=model.input_size, mean=model.mean, std=model.std,
                         weights_source=f"{model.weights_source}, {layer} filters x{factor:g}")
    conv, bn = ind.layer_filter(copied, layer)
    target: Any = bn if bn is not None else conv
    with torch.no_grad():
        target.weight.mul_(factor)
        if target.bias is not None:
            target.bias.mul_(factor)
    copied.fingerprint = fingerprint_module(module, name, model.input_size)
    copied.spec = model.spec
    return copied

def scaled_images(factor: float, model=None, space: str = "input") -> Callable[[torch.Tensor], torch.Tensor]:
    """The image transform of the rescaling experiment, on the model's normalized input tensor.

    ``space="input"``: the input tensor x ``factor``. ``space="pixels"``: the [0, 1] pixels x
    ``factor`` before normalization, i.e. ((x * std + mean) * factor - mean) / std (needs ``model``).
    """
    factor = _factor(factor)
    space = check("space", space, Options(IMAGE_SPACES), FeatentError)
    if space == "input":
        return lambda inputs: inputs * factor
    if model is None:
        raise FeatentError("Scaling the pixels needs the model (its normalization mean and std).")

    def pixels(inputs: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(model.mean, device=inputs.device).view(1, 3, 1, 1)
        std = torch.tensor(model.std, device=inputs.device).view(1, 3, 1, 1)
        return ((inputs * std + mean) * factor - mean) / std

    return pixels

@dataclass
class RescaleResult(ExperimentResult):
    """Indicators of one layer under the four combinations of image and filter scaling."""

    selection: Selection  # one layer: the layer rescaled
    n_images: int
    scale: float
    conditions: list[tuple[float, float]]  # (image factor, filter factor), first = unchanged
    values: list[dict[str, np.ndarray]]  # per condition: indicator -> per-unit array
    accuracy: list[float]
    notes: list[str] = field(default_factory=list)
    image_space: str = "input"

    @property
    def layer(self) -> str:
        return self.selection.layers[0]

    @property
    def n_units(self) -> int:
        return len(next(iter(self.values[0].values())))

    def to_frame(self, unit: int | None = None) -> pd.DataFrame:
        """One row per condition: scales, class accuracy and each indicator (``unit``'s value, or the
        layer mean over units when None)."""
        if unit is not None:
            unit = check_int("unit", unit, 0, self.n_units - 1, FeatentError)
        out = []
        for (images, filters), values, accuracy in zip(self.conditions, self.values, self.accuracy):
            row: dict = {"images": images, "filters": filters, "accuracy": accuracy}
            for name in ind.INDICATOR_COLUMNS:
                row[name] = float(values[name][unit]) if unit is not None else finite_mean(values[name])
            out.append(row)
        return pd.DataFrame(out, columns=["images", "filters", "accuracy", *ind.INDICATOR_COLUMNS])

def _accuracy_images(dataset, class_name: str, input_size: int, fallback: torch.Tensor) -> torch.Tensor:
    """All test images of the class when the dataset has a test split, else the sampled images."""
    if "test" in dataset.splits:
        return dataset.sample(class_name, 10**9, 0, "test", input_size).images
    return fallback

@experiment("rescale", version=2)
@validate_params({
    "selection": [InstanceOf(Selection, "a Selection")],
    "layer": [NoneOr(InstanceOf(str, "a layer name"))],
    "scale": [FACTOR],
    "images_per_class": [NoneOr(Interval(int, 1, None))],
    "image_space": [Options(IMAGE_SPACES)],
    "class_map": [NoneOr(InstanceOf((dict, str), "a dict or a JSON file path"))],
}, error=FeatentError)
def rescale_experiment(
    selection: Selection,
    *,
    layer: str | None = None,
    scale: float = HALF,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    image_space: str = "input",
    class_map: dict | str | None = None,
    progress: ProgressLike = None,
) -> RescaleResult:
    """Table 1 / 6 / 9: every indicator of ``layer`` (default: the selection's first) with images
    and/or the layer's filters x ``scale``.

    ``image_space`` says what "images x scale" means (see ``IMAGE_SPACES``). ``classes`` and
    ``images_per_class`` choose the images of class selectivity. Class accuracy is measured on the
    class's test images when the dataset has a test split (the sampled images otherwise). The
    selection's model is left bit-identical. The class's model output is found as
    ``featent.experiments.class_map`` decides (``class_map``: a dict or JSON file of class -> output);
    when no mapping is known the accuracy is NaN and the notes say how to give one (the indicators
    do not need it), while a ``class_map`` that does not fit is an error.
    """
    progress = Progress.of(progress)
    one = selection.one_layer(layer)
    layer = one.layers[0]
    model = load_model(one.model, one.weights)
    model.layer(layer)
    dataset = load_dataset(one.data)
    images, all_classes = ind.class_images(one, classes, images_per_class)
    notes: list[str] = []
    try:
        mapping = resolve_class_map(model, dataset, class_map)
    except DataError as exc:
        if class_map is not None:
            raise
        class_index = None
        notes.append(f"Class accuracy is not reported: {exc}")
    else:
        class_index = mapping.outputs[dataset.classes.index(one.class_name)]
        if mapping.note:
            notes.append(mapping.note)
    accuracy_images = _accuracy_images(dataset, one.class_name, model.input_size, images[one.class_name])
    conditions = [(1.0, 1.0), (scale, 1.0), (1.0, scale), (scale, scale)]
    values: list[dict[str, np.ndarray]] = []
    accuracy: list[float] = []
    for k, (image_factor, filter_factor) in enumerate(conditions):
        step = progress.subrange(k / 4, (k + 1) / 4)
        step(0.0, f"images x{image_factor:g}, filters x{filter_factor:g}")
        target = model if filter_factor == 1.0 else scaled_copy(model, layer, filter_factor)
        transform = None if image_factor == 1.0 else scaled_images(image_factor, model, image_space)
        v, acc, _, n = ind.model_indicators(
            target, images, one.class_name, layer, transform=transform,
            class_index=all_classes.index(one.class_name) if class_index is None else class_index,
            accuracy_images=accuracy_images, progress=step,
        )
        values.append(v)
        accuracy.append(float("nan") if class_index is None else acc)
        notes.extend(x for x in n if x not in notes)
    return RescaleResult(selection=one, n_images=len(images[one.class_name]), scale=scale, conditions=conditions,
                         values=values, accuracy=accuracy, notes=notes, image_space=image_space)
