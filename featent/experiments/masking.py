"""Removing units of a layer without touching the model, and scoring the network after each removal.

A unit is removed by forcing its output channel to zero: either on activations cached at the layer
and replayed through the rest of the network (VGG-like nets, fast: the layers before it run once)
or by a forward hook that lives only inside the model's lock and is removed in ``finally``. Both
ways leave the model's weights and hooks as they were, so a shared (cached) model stays usable.

Units are removed in an order given by an indicator (``rank_units``, orders written
``KEY-DIRECTION`` as in ``featent.indicators.registry``) or a seeded random order. After each
removal the network is scored on labelled images (``labelled_images``): ``accuracy`` = recall of
the target class, ``loss`` = mean cross-entropy on its images, ``balanced_accuracy`` = Brodersen et
al. (2010) balanced accuracy of the one-vs-rest task "is it the target class?" (with 1000 ImageNet
classes a plain accuracy would be dominated by the rest), ``overall_accuracy`` = plain accuracy
over all images (what the other classes pay).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from featent.data import load_dataset
from featent.errors import DataError, FeatentError
from featent.indicators import RANDOM
from featent.indicators.registry import method_label, order_label, parse_order
from featent.nets import load_model
from featent.nets.hooks import attach
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import Interval, check, check_class

__all__ = [
    "AblationCurve",
    "ablation_curve",
    "balanced_accuracy",
    "labelled_images",
    "one_layer_context",
    "rank_units",
    "units_removed",
]


# --------------------------------------------------------------------------- metrics and orders


def balanced_accuracy(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (Brodersen et al. 2010)."""
    t = np.asarray(y_true).reshape(-1)
    p = np.asarray(y_pred).reshape(-1)
    if t.size == 0 or t.shape != p.shape:
        raise FeatentError(f"Balanced accuracy needs equally long, non-empty label arrays; got {t.shape} and {p.shape}.")
    recalls = [float(np.mean(p[t == c] == c)) for c in np.unique(t)]
    return float(np.mean(recalls))


def rank_units(scores: Mapping[str, np.ndarray] | None, order: str, n_units: int, seed: int = 0) -> np.ndarray:
    """Unit indices in removal order; ties keep the lower unit first (stable), +inf sorts as largest."""
    key, direction = parse_order(order)
    if key == RANDOM:
        return np.random.default_rng([int(seed), 7919]).permutation(int(n_units))
    label = method_label(key)
    if scores is None or key not in scores:
        raise FeatentError(f"No {label} scores to rank by.")
    values = np.asarray(scores[key], dtype=np.float64)
    if values.shape != (int(n_units),):
        raise FeatentError(f"{label} has {values.size} scores for {n_units} units.")
    if np.isnan(values).any():
        raise FeatentError(f"{label} is not available for this model and layer (its scores are NaN).")
    ranked = -values if direction == "desc" else values
    return np.argsort(ranked, kind="stable")


def _chunks(images: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    for start in range(0, images.shape[0], size):
        yield images[start : start + size]


# --------------------------------------------------------------------------- removing units


def _mask_hook(units: Sequence[int], n_units: int):
    keep = torch.ones(n_units)
    keep[list(units)] = 0.0

    def hook(output: torch.Tensor) -> torch.Tensor:
        return output * keep.to(output.device, output.dtype).view(1, -1, *([1] * (output.ndim - 2)))

    return hook


@contextmanager
def units_removed(model, layer: str, units: Sequence[int]) -> Iterator[None]:
    """Inside the block, the given units (channels) of ``layer`` output zeros; restored on exit.

    A forward hook on the layer's module, removed in ``finally``. The hook is visible to every
    caller of the module while the block runs: on a shared model, hold ``model.lock`` around it.
    """
    info = model.layer(layer)
    units = [check("unit", u, Interval(int, 0, info.n_units - 1), FeatentError) for u in units]
    with attach(model.runner, {info.site: _mask_hook(units, info.n_units)}):
        yield


class _Replay:
    """Runs a VGG-like net from a layer's activations on: ``features[i+1:]`` then the net's own
    forward after ``features``. Built on a shallow copy sharing every parameter (the model is
    not touched); checked against the full forward before use, else ``None``."""

    @staticmethod
    def build(model, layer: str, probe: torch.Tensor) -> tuple[nn.Module, nn.Module] | None:
        module = model.module
        features = getattr(module, "features", None)
        site = model.layer(layer).site
        if not isinstance(features, nn.Sequential) or model.runner is not module or site.call != 0:
            return None
        target = module.get_submodule(site.path)
        children = list(features)
        index = next((i for i, child in enumerate(children) if child is target), None)
        if index is None:
            return None
        head = nn.Sequential(*children[: index + 1])
        tail = copy.copy(module)
        tail._modules = dict(module._modules)
        tail._modules["features"] = nn.Sequential(*children[index + 1 :])
        try:
            with torch.inference_mode():
                x = model.preprocess(probe)
                full = module(x)
                replayed = tail(head(x))
        except Exception:  # noqa: BLE001 - any failure means the shortcut does not apply
            return None
        if replayed.shape != full.shape or not torch.allclose(replayed, full, rtol=1e-4, atol=1e-5):
            return None
        return head, tail


@dataclass
class AblationCurve:
    """Metrics after removing 0, 1, ..., n_units units of a layer in ``removed`` order."""

    order: str
    removed: np.ndarray  # int [n_units]: the unit removed at step k+1
    accuracy: np.ndarray  # float [n_units + 1]; index k = after k removals
    loss: np.ndarray
    balanced_accuracy: np.ndarray
    overall_accuracy: np.ndarray

    @property
    def label(self) -> str:
        return order_label(self.order)

    def best(self) -> tuple[int, float]:
        """(removals, balanced accuracy) at the best point with 1..n-1 units removed (0 if n < 2)."""
        n = len(self.removed)
        if n < 2:
            return 0, float(self.balanced_accuracy[0])
        k = 1 + int(np.argmax(self.balanced_accuracy[1:n]))
        return k, float(self.balanced_accuracy[k])


def _metrics(logits: torch.Tensor, labels: torch.Tensor, target: int) -> tuple[float, float, float, float]:
    predictions = logits.argmax(1)
    mine = labels == target
    accuracy = float((predictions[mine] == target).float().mean()) if mine.any() else float("nan")
    loss = float(nn.functional.cross_entropy(logits[mine], labels[mine])) if mine.any() else float("nan")
    balanced = balanced_accuracy(mine.numpy(), (predictions == target).numpy())
    overall = float((predictions == labels).float().mean())
    return accuracy, loss, balanced, overall


def ablation_curve(
    model,
    layer: str,
    removal: Sequence[int] | np.ndarray,
    images: torch.Tensor,
    labels: torch.Tensor,
    target: int,
    order: str = "custom",
    batch_size: int = 256,
    progress: ProgressLike = None,
) -> AblationCurve:
    """Remove ``removal`` units of ``layer`` one by one; score ``images`` ([0, 1]) after each step.

    ``labels`` are the model's output indices, ``target`` the class under study. The model is
    never modified: VGG-like nets replay cached activations through the rest of the network with
    a channel mask; other nets run fully under ``model.lock`` with a temporary masking hook.
    """
    progress = Progress.of(progress)
    info = model.layer(layer)
    removal = [int(u) for u in removal]
    if len(set(removal)) != len(removal) or any(not 0 <= u < info.n_units for u in removal):
        raise FeatentError(f"The removal order must list distinct units of 0..{info.n_units - 1}.")
    labels = torch.as_tensor(labels, dtype=torch.long).cpu()
    if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise DataError("Ablation needs test images with one label each.")
    steps = len(removal) + 1
    results = np.zeros((4, steps))
    # Held for the whole curve: the replayed tail shares its modules with the model, and a hook
    # another caller registers under the lock (featent.extract) must never see these passes.
    with model.lock:
        replay = _Replay.build(model, layer, images[: min(4, images.shape[0])])
        cached: list[torch.Tensor] = []
        if replay is not None:
            head, tail = replay
            with torch.inference_mode():
                cached = [head(model.preprocess(b)).clone() for b in _chunks(images, batch_size)]
        mask = torch.ones(info.n_units)
        for k in range(steps):
            if k > 0:
                mask[removal[k - 1]] = 0.0
            with torch.inference_mode():
                if replay is not None:
                    view = mask.to(cached[0].device, cached[0].dtype).view(1, -1, 1, 1)
                    logits = torch.cat([tail(a * view) for a in cached])
                else:
                    with units_removed(model, layer, removal[:k]):
                        logits = torch.cat([model.forward(model.preprocess(b)) for b in _chunks(images, batch_size)])
            results[:, k] = _metrics(logits.float().cpu(), labels, int(target))
            progress((k + 1) / steps, f"{order}: {k}/{len(removal)} units removed")
    return AblationCurve(
        order=order,
        removed=np.asarray(removal, dtype=np.int64),
        accuracy=results[0],
        loss=results[1],
        balanced_accuracy=results[2],
        overall_accuracy=results[3],
    )


# --------------------------------------------------------------------------- inputs of a per-layer experiment


def labelled_images(
    dataset,
    classes: Sequence[str],
    n_per_class: int,
    seed: int,
    size: int,
    split: str = "test",
    skip: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """[0, 1] images of several classes and their labels (index in ``dataset.classes``).

    A dataset without the split (an image folder has only 'train') gives held-out images instead:
    the images after the first ``skip`` of each class's seeded order, which are never the ones
    the indicators were computed on (a sample is a prefix of a longer sample with the same seed).
    """
    n_per_class = check("n_per_class", n_per_class, Interval(int, 1, None))
    xs, ys = [], []
    for name in classes:
        if split in dataset.splits:
            part = dataset.sample(name, int(n_per_class), seed, split, size).images
        else:
            part = dataset.sample(name, int(skip + n_per_class), seed, "train", size).images[skip:]
        if part.shape[0] == 0:
            raise DataError(f"Class {name!r} has no held-out images beyond the {skip} used for ranking; lower the image count.")
        xs.append(part)
        ys.append(torch.full((part.shape[0],), dataset.classes.index(name), dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)


def one_layer_context(selection: Selection, layer: str | None):
    """(layer, the one-layer selection, its model, its dataset), with the layer and the class checked:
    what every per-layer experiment needs before its first forward pass."""
    one = selection.one_layer(layer)
    model = load_model(one.model, one.weights)
    model.layer(one.layers[0])
    dataset = load_dataset(one.data)
    check_class(one.class_name, dataset.classes, dataset.name)
    return one.layers[0], one, model, dataset
