"""Browse the units of a layer: mean activation maps, per-image scores, top-activating images.

Why here: the unit gallery and the inspector show the same numbers, and a notebook user wants
them too, so they are computed by the library from a ``Selection`` (one streamed pass over the
sampled images) and the app only lays them out. Activations are not kept: the mean map and a
score per (image, unit) are, and the maps of the few top images are recomputed on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from featent.data import load_dataset
from featent.errors import DataError, FeatentError
from featent.extract import iter_activations
from featent.nets import load_model
from featent.pipeline import sample_images
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import Options, check

__all__ = ["UNIT_ORDERS", "LayerMaps", "TopImage", "layer_maps", "top_images", "maps_of", "top_images_across_classes",
           "sort_units"]

#: The orders ``sort_units`` knows.
UNIT_ORDERS = ("fe", "h_over_eps", "conditional_fe", "eps", "unit")

#: How a unit's response to one image is scored when ranking images: the mean of its map.
SCORE = "mean activation"


@dataclass(frozen=True)
class LayerMaps:
    """Per-unit mean maps over the sampled images and per-image scores of one layer."""

    layer: str
    mean_maps: np.ndarray  # float32 [units, m, m], mean over the sampled images
    scores: np.ndarray  # float32 [n_images, units], mean activation of each unit's map on each image
    ids: list[str]  # the sampled images' ids, in sampling order

    @property
    def n_units(self) -> int:
        return int(self.mean_maps.shape[0])

    @property
    def n_images(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True)
class TopImage:
    """One image that activates a unit strongly: where it comes from and how strongly."""

    class_name: str
    index: int  # position in that class's sample (same seed and count as the selection)
    image_id: str
    score: float


def layer_maps(selection: Selection, layer: str, progress: ProgressLike = None) -> LayerMaps:
    """Mean map per unit and every (image, unit) score, in one pass over the selection's images."""
    progress = Progress.of(progress)
    one = selection.one_layer(layer)
    model = load_model(one.model, one.weights)
    images = sample_images(one)
    total: np.ndarray | None = None
    scores: list[np.ndarray] = []
    for _, chunk in iter_activations(model, images.images, [layer], ids=images.ids, progress=progress):
        acts = chunk[layer].astype(np.float64)
        total = acts.sum(axis=0) if total is None else total + acts.sum(axis=0)
        scores.append(acts.mean(axis=(2, 3)).astype(np.float32))
    if total is None:
        raise DataError(f"Class {selection.class_name!r} has no images to show.")
    n = len(images)
    return LayerMaps(layer=layer, mean_maps=(total / n).astype(np.float32), scores=np.concatenate(scores, axis=0),
                     ids=list(images.ids))


def top_images(scores: np.ndarray, unit: int, k: int = 8) -> np.ndarray:
    """Indices of the ``k`` images with the highest score for ``unit``, highest first (ties: lower index)."""
    column = np.asarray(scores)[:, unit]
    order = np.lexsort((np.arange(column.size), -column))
    return order[: max(0, int(k))]


def maps_of(selection: Selection, layer: str, unit: int, indices: Sequence[int]) -> np.ndarray:
    """float32 [len(indices), m, m]: the unit's maps on some of the selection's sampled images."""
    one = selection.one_layer(layer)
    model = load_model(one.model, one.weights)
    images = sample_images(one)
    index = np.asarray(list(indices), dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= len(images)):
        raise DataError(f"Image indices must be in 0..{len(images) - 1}.")
    if not index.size:
        info = model.layer(layer)
        return np.zeros((0, info.unit_size, info.unit_size), dtype=np.float32)
    ids = [images.ids[i] for i in index]
    parts = [chunk[layer][:, unit] for _, chunk in iter_activations(model, images.images[index], [layer], ids=ids)]
    return np.concatenate(parts, axis=0).astype(np.float32)


def top_images_across_classes(
    selection: Selection, layer: str, unit: int, k: int = 8, per_class: int = 20,
    classes: Sequence[str] | None = None, progress: ProgressLike = None,
) -> list[TopImage]:
    """The ``k`` images (of ``per_class`` sampled per class, same seed) that activate ``unit`` most."""
    progress = Progress.of(progress)
    dataset = load_dataset(selection.data)
    chosen = list(classes) if classes is not None else list(dataset.classes)
    found: list[TopImage] = []
    for c, class_name in enumerate(chosen):
        part = selection.with_class(class_name, per_class).one_layer(layer)
        maps = layer_maps(part, layer)
        column = maps.scores[:, unit]
        for i in top_images(maps.scores, unit, k):
            found.append(TopImage(class_name, int(i), maps.ids[int(i)], float(column[int(i)])))
        progress((c + 1) / len(chosen), f"class {class_name}: {c + 1}/{len(chosen)} classes")
    found.sort(key=lambda t: (-t.score, chosen.index(t.class_name), t.index))
    return found[:k]


def sort_units(
    feature_entropy: np.ndarray, selective_rate: np.ndarray, by: str = "fe", p: float = 0.1,
    hide_silent: bool = False, conditional_feature_entropy: np.ndarray | None = None,
) -> np.ndarray:
    """Unit indices in gallery order: ``by`` = 'fe' (lowest first), 'h_over_eps' (lowest first,
    ε = 0 last), 'conditional_fe' (the conditional FE H(x | born) given as
    ``conditional_feature_entropy``, lowest first, undefined last: how steady the births are whatever
    ε) or 'eps' (highest first); ``hide_silent`` drops units with ε < p. Ties keep index order."""
    fe = np.asarray(feature_entropy, dtype=np.float64)
    eps = np.asarray(selective_rate, dtype=np.float64)
    units = np.arange(fe.size)
    by = check("by", by, Options(UNIT_ORDERS), FeatentError)
    if by == "fe":
        key = fe
    elif by == "h_over_eps":
        key = np.where(eps > 0, fe / np.where(eps > 0, eps, 1.0), np.inf)
    elif by == "conditional_fe":
        if conditional_feature_entropy is None:
            raise FeatentError("Sorting by conditional FE needs conditional_feature_entropy (one value per unit).")
        cond = np.asarray(conditional_feature_entropy, dtype=np.float64)
        if cond.shape != fe.shape:
            raise FeatentError(f"conditional_feature_entropy needs one value per unit, got {cond.shape} for {fe.shape}.")
        key = np.where(np.isnan(cond), np.inf, cond)
    elif by == "eps":
        key = -eps
    else:
        key = units.astype(np.float64)
    order = np.lexsort((units, key))
    if hide_silent:
        order = order[eps[order] >= p]
    return order
