"""Every indicator of the registry for each unit of one layer on one class: the indicator table.

``model_indicators`` does it for any loaded model (e.g. a rescaled copy) and image transform, which
the experiments reuse; ``compute_indicators`` for a ``Selection``, with its cached birth times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from featent.core import entropy
from featent.data import load_dataset
from featent.errors import FeatentError
from featent.indicators.capture import ImageTransform, forward_capture
from featent.indicators.registry import INDICATOR_COLUMNS
from featent.indicators.scoring import score_layer
from featent.nets import load_model
from featent.pipeline import compute_births, sample_images
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, check, check_class

__all__ = [
    "IndicatorTable", "MAX_DEFAULT_CLASSES", "default_compare_classes", "class_images", "model_indicators",
    "compute_indicators",
]


@dataclass
class IndicatorTable:
    """Every indicator for each unit of one layer on one class (arrays of length n_units)."""

    model: str
    data: str
    class_name: str
    layer: str
    n_images: int
    seed: int
    values: dict[str, np.ndarray]
    accuracy: float
    births: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def n_units(self) -> int:
        return int(self.births.shape[1])

    def unit(self, index: int) -> dict[str, float]:
        """One unit's indicators as plain floats."""
        index = check("unit", index, Interval(int, 0, self.n_units - 1), FeatentError)
        return {name: float(self.values[name][index]) for name in INDICATOR_COLUMNS}

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: ``unit`` and one column per indicator key."""
        return pd.DataFrame({"unit": np.arange(self.n_units), **{k: self.values[k] for k in INDICATOR_COLUMNS}})

    def records(self) -> list[dict[str, float | int | None]]:
        """One dict per unit: ``{"unit": u, <indicator>: value, ...}`` (JSON-ready, inf as None)."""
        rows = []
        for u in range(self.n_units):
            row: dict[str, float | int | None] = {"unit": u}
            for name in INDICATOR_COLUMNS:
                value = float(self.values[name][u])
                row[name] = value if np.isfinite(value) else None
            rows.append(row)
        return rows


def model_indicators(
    model,
    images_by_class: dict[str, torch.Tensor],
    class_name: str,
    layer: str,
    transform: ImageTransform | None = None,
    class_index: int | None = None,
    births: np.ndarray | None = None,
    accuracy_images: torch.Tensor | None = None,
    progress: ProgressLike = None,
    p: float = entropy.DEFAULT_P,
) -> tuple[dict[str, np.ndarray], float, np.ndarray, list[str]]:
    """Every registry indicator of one layer of ``model`` on ``class_name``.

    ``images_by_class`` maps every class used for class selectivity to its [0, 1] images; the
    ``class_name`` entry is the image set FE is measured on. ``class_index`` is the model's output
    index of the class (for accuracy; default: its position in ``images_by_class``). ``transform``
    acts on the model's (normalized) input tensor, for every class alike.
    ``accuracy_images`` (default: the class's own images) are the images accuracy is measured on.
    Returns (values by indicator key, class accuracy, births, notes).
    """
    progress = Progress.of(progress)
    if class_name not in images_by_class:
        raise FeatentError(f"Class {class_name!r} has no images among {sorted(images_by_class)}.")
    model.layer(layer)
    names = list(images_by_class)
    index = names.index(class_name) if class_index is None else int(class_index)
    values, notes, evidence = score_layer(
        model, layer, images_by_class, [class_name], INDICATOR_COLUMNS,
        births=None if births is None else {class_name: births}, transform=transform, p=p,
        progress=progress.subrange(0.0, 0.95),
    )
    if accuracy_images is not None:
        _, _, eval_logits = forward_capture(model, accuracy_images, layer, transform)
    else:
        eval_logits = np.concatenate(evidence.stats[class_name].logits)
    accuracy = float(np.mean(eval_logits.argmax(axis=1) == index)) if eval_logits.shape[1] > index else float("nan")
    progress(1.0, f"{layer}: done")
    return values, accuracy, evidence.births[class_name], notes


#: Without an explicit list, class selectivity compares with at most this many classes (the
#: class itself plus others drawn with the selection's seed), so a 1000-class folder stays cheap.
MAX_DEFAULT_CLASSES = 100


def default_compare_classes(classes: Sequence[str], target: str, seed: int) -> list[str]:
    """Every class when there are at most MAX_DEFAULT_CLASSES, else the target plus a seeded sample."""
    classes = list(classes)
    if len(classes) <= MAX_DEFAULT_CLASSES:
        return classes
    others = [c for c in classes if c != target]
    picked = np.random.default_rng([int(seed), 5]).choice(len(others), MAX_DEFAULT_CLASSES - 1, replace=False)
    chosen = {target, *(others[i] for i in picked)}
    return [c for c in classes if c in chosen]


def class_images(
    selection: Selection, classes: Sequence[str] | None = None, images_per_class: int | None = None
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """[0, 1] images per class for class selectivity: the selection's own sample for its class,
    ``images_per_class`` (default: the selection's count) seeded images for each other class.
    ``classes=None``: ``default_compare_classes``. Returns (images by class, all dataset classes)."""
    dataset = load_dataset(selection.data)
    model = load_model(selection.model, selection.weights)
    if classes is None:
        chosen = default_compare_classes(dataset.classes, selection.class_name, selection.seed)
    else:
        chosen = list(classes)
    if selection.class_name not in chosen:
        chosen.append(selection.class_name)
    for name in chosen:
        check_class(name, dataset.classes, dataset.name)
    per_class = selection.n_images if images_per_class is None else check("images_per_class", images_per_class,
                                                                          Interval(int, 1, None))
    out: dict[str, torch.Tensor] = {}
    for name in sorted(set(chosen), key=dataset.classes.index):
        if name == selection.class_name:
            out[name] = sample_images(selection).images
        else:
            out[name] = dataset.sample(name, per_class, selection.seed, selection.split, model.input_size).images
    return out, list(dataset.classes)


def compute_indicators(
    selection: Selection,
    layer: str | None = None,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    progress: ProgressLike = None,
    *,
    cache: bool = True,
    class_index: int | None = None,
) -> IndicatorTable:
    """Every indicator for each unit of ``layer`` (default: the selection's first) on its class.

    FE, selective rate and H/epsilon use the cached birth times of ``featent.pipeline``; the other
    indicators use the same sampled images. Class selectivity compares with ``classes`` (default:
    all classes of the dataset, at most MAX_DEFAULT_CLASSES), ``images_per_class`` images each.
    ``class_index`` is the model output scoring the class (default: the class's dataset index).
    """
    progress = Progress.of(progress)
    check("selection", selection, InstanceOf(Selection), FeatentError)
    one = selection.one_layer(layer)
    layer = one.layers[0]
    model = load_model(one.model, one.weights)
    model.layer(layer)
    births = compute_births(one, progress=progress.subrange(0.0, 0.4), cache=cache)[layer]
    images, all_classes = class_images(one, classes, images_per_class)
    values, accuracy, births, notes = model_indicators(
        model, images, one.class_name, layer,
        class_index=all_classes.index(one.class_name) if class_index is None else class_index,
        births=births, progress=progress.subrange(0.4, 1.0),
    )
    if classes is None and len(images) < len(all_classes):
        notes.append(f"class selectivity compares with {len(images) - 1} other classes drawn with seed {one.seed} "
                     f"(of {len(all_classes) - 1}); pass the classes to choose them")
    return IndicatorTable(
        model=one.model, data=one.data, class_name=one.class_name, layer=layer,
        n_images=int(births.shape[0]), seed=one.seed, values=values, accuracy=accuracy,
        births=births, notes=notes,
    )
