"""Channel pruning guided by unit indicators (paper App. A.7.2, Table 12).

Layer by layer from shallow to deep, the units of each conv layer are scored on training images of
K classes (H/epsilon averaged over the classes as in Eq. 15, or L1-norm, APoZ, class selectivity,
FPGM, NISP), the least important ``ratio`` of them are removed for real
(``featent.experiments.surgery``), and the pruned network is fine-tuned. Scores of a layer are
computed on the network with the shallower layers already pruned, as the layer-by-layer strategy
implies. The report compares every method's accuracy and costs with the unpruned network.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from featent.data import load_dataset
from featent.errors import DataError, FeatentError
from featent.experiments.class_map import resolve_class_map
from featent.experiments.contract import ExperimentResult, SelectionFields, experiment
from featent.experiments.masking import labelled_images, rank_units
from featent.experiments.surgery import (
    FINETUNE_EPOCHS,
    FINETUNE_LR,
    accuracy,
    count_flops,
    count_parameters,
    finetune,
    is_plain,
    prunable_layers,
    prune_channels,
    throughputs,
)
from featent.indicators import RANKING, default_compare_classes, unit_scores
from featent.indicators.registry import RANDOM, REGISTRY, canonical_order, method_label
from featent.nets import from_module, load_model
from featent.progress import Progress, ProgressLike
from featent.prune import ScoreImportance, conv_layers, prune_groups, trainable_copy
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, NoneOr, Options, check, check_class, check_int, validate_params

#: The indicators pruning compares (every ranking indicator of the registry, H/epsilon first).
PRUNE_METHODS: tuple[str, ...] = RANKING
_METHOD = Options((*PRUNE_METHODS, RANDOM))
_RATIO = Interval(float, 0.0, 1.0, closed="neither")
DEFAULT_RATIO = 0.5

__all__ = [
    "PRUNE_METHODS",
    "DEFAULT_RATIO",
    "PruneRow",
    "PruneReport",
    "prune_network",
    "compare_pruning",
]


def _method_key(name: object) -> object:
    """A method as the registry writes it (``fe`` -> ``h_over_eps``); anything unknown is left for the check."""
    try:
        return REGISTRY.resolve(name).key if isinstance(name, str) else name
    except FeatentError:
        return name


# --------------------------------------------------------------------------- the layer-by-layer strategy


def prune_network(
    model,
    method: str,
    ratio: float,
    images_by_class: dict[str, torch.Tensor],
    layers: Sequence[str] | None = None,
    progress: ProgressLike = None,
) -> tuple[nn.Module, dict[str, list[int]]]:
    """Prune ``ratio`` of the units of each layer, shallow to deep, least important first by ``method``
    (an indicator key of ``PRUNE_METHODS``, or ``random``).

    Scores of each layer are averaged over the classes of ``images_by_class`` (training images).
    Plain VGG-style nets are pruned layer by layer, each layer scored on the network pruned so far,
    and the removed units per layer are returned. Every other conv net goes through Torch-Pruning
    (``featent.prune``): all layers are scored once on the unpruned net, each coupled channel group
    loses ``ratio`` of its channels ranked by the mean removal position of its scored convs, and no
    per-layer unit list is returned (coupled channels span several layers).
    """
    progress = Progress.of(progress)
    method = check("method", method, _METHOD, FeatentError)
    ratio = check("ratio", ratio, _RATIO, FeatentError)
    all_layers = prunable_layers(model)
    chosen = all_layers if layers is None else list(layers)
    for name in chosen:
        model.layer(name)
    chosen = sorted(dict.fromkeys(chosen), key=all_layers.index)
    if not is_plain(model.module):
        return _prune_any(model, method, ratio, images_by_class, chosen, progress), {}
    current, removed = model, {}
    targets = list(images_by_class)
    for i, layer in enumerate(chosen):
        part = progress.subrange(i / len(chosen), (i + 1) / len(chosen))
        scores = None if method == RANDOM else unit_scores(current, layer, images_by_class, targets, [method],
                                                           progress=part)
        n_units = current.layer(layer).n_units
        n_remove = min(n_units - 1, round(float(ratio) * n_units))
        order = rank_units(scores, canonical_order(method), n_units, seed=i)
        drop = sorted(int(u) for u in order[:n_remove])
        removed[layer] = drop
        module = prune_channels(current, layer, drop)
        current = from_module(module, name=f"{model.spec}-pruned", input_size=model.input_size, mean=model.mean,
                              std=model.std, weights_source="pruned")
    progress(1.0, f"{method_label(method)}: {len(chosen)} layers pruned")
    return current.module, removed


def _prune_any(model, method: str, ratio: float, images_by_class: dict[str, torch.Tensor], layers: list[str],
               progress: Progress) -> nn.Module:
    """Torch-Pruning on a copy: each conv's channels get their removal position as importance
    (first removed = lowest), so every order (H/epsilon, L1, random, ...) ranks the same way."""
    convs = conv_layers(model, layers)
    targets = list(images_by_class)
    scores: dict[str, np.ndarray] = {}
    for i, (conv, layer) in enumerate(convs.items()):
        part = progress.subrange(i / max(1, len(convs)), (i + 1) / max(1, len(convs)))
        n_units = model.layer(layer).n_units
        found = None if method == RANDOM else unit_scores(model, layer, images_by_class, targets, [method], progress=part)
        order = rank_units(found, canonical_order(method), n_units, seed=i)
        position = np.empty(n_units)
        position[order] = np.arange(n_units)
        scores[conv] = position
    with model.lock:
        module = trainable_copy(model.module)
    prune_groups(module, ScoreImportance(scores), ratio, model.input_size)
    progress(1.0, f"{method_label(method)}: {len(convs)} layers scored, pruned with Torch-Pruning")
    return module


# --------------------------------------------------------------------------- Table 12


@dataclass
class PruneRow:
    """One row of Table 12: a method's fine-tuned accuracy and the cost of its network."""

    method: str
    label: str
    ratio: float | None
    accuracy_pruned: float | None  # before fine-tuning
    accuracy: float  # after fine-tuning (the unpruned row: as it is)
    accuracy_drop: float
    parameters: int
    flops: int
    images_per_second: float
    removed: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class PruneReport(SelectionFields, ExperimentResult):
    """Every method's pruning result on the same data, with the unpruned network first."""

    selection: Selection  # model, data, images per class, seed; its layers (if any) are the pruned ones
    ratio: float
    classes: list[str]
    n_train: int
    n_test: int
    finetune_epochs: int
    rows: list[PruneRow]
    notes: list[str] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return self.selection.n_images

    def to_frame(self) -> pd.DataFrame:
        """One row per network: method, label, ratio, accuracies, costs, removed units per layer."""
        columns = ["method", "label", "ratio", "accuracy_pruned", "accuracy", "accuracy_drop", "parameters", "flops",
                   "images_per_second", "removed"]
        return pd.DataFrame([[getattr(r, c) for c in columns] for r in self.rows], columns=columns).astype(
            {"ratio": object, "accuracy_pruned": object})


@experiment("pruning", version=2)
@validate_params({
    "selection": InstanceOf(Selection),
    "ratio": _RATIO,
    "methods": InstanceOf((list, tuple), "a list of indicator keys"),
    "classes": NoneOr(InstanceOf((list, tuple), "a list of classes")),
    "finetune_epochs": Interval(int, 0, None),
    "lr": Interval(float, 0.0, None, closed="neither"),
    "train_per_class": Interval(int, 1, None),
    "test_per_class": Interval(int, 1, None),
    "class_map": NoneOr(InstanceOf((dict, str), "a dict or a JSON file path")),
}, FeatentError)
def compare_pruning(
    selection: Selection,
    *,
    ratio: float = DEFAULT_RATIO,
    methods: Sequence[str] = PRUNE_METHODS,
    classes: Sequence[str] | None = None,
    finetune_epochs: int = FINETUNE_EPOCHS,
    lr: float = FINETUNE_LR,
    train_per_class: int = 1000,
    test_per_class: int = 1000,
    class_map: dict | str | None = None,
    progress: ProgressLike = None,
) -> PruneReport:
    """Table 12 on any VGG-style model: prune by each method at ``ratio``, fine-tune, measure.

    The selection gives the model, its weights, the data, the seed and ``n_images``: the training
    images of each of ``classes`` (K; default every class, at most 100: the selection's class plus a
    seeded sample) the indicators use; its layers, when given, are the layers pruned (default every
    conv layer). Fine-tuning uses up to ``train_per_class`` training images of every class and
    accuracy up to ``test_per_class`` test images of every class (held-out training images for a folder).
    Classes map to outputs as ``featent.experiments.class_map`` decides (``class_map``: a dict or JSON
    file of class -> output index or name); the mapping in use is in the report's notes.
    """
    progress = Progress.of(progress)
    methods = [check("method", _method_key(m), _METHOD, FeatentError) for m in dict.fromkeys(methods)]
    n_images = check_int("n_images", selection.n_images, 2, None)
    seed = selection.seed
    shared = load_model(selection.model, selection.weights)
    prunable_layers(shared)
    # Everything below runs on a private copy: the loaded model may be shared (the app caches it),
    # and counting FLOPs or timing it must not race with other users' hooks.
    with shared.lock:
        private = copy.deepcopy(shared.module)
    model = from_module(private, name=shared.spec, input_size=shared.input_size, mean=shared.mean, std=shared.std,
                        weights_source=shared.weights_source)
    dataset = load_dataset(selection.data)
    mapping = resolve_class_map(model, dataset, class_map)
    if classes is None:  # every class, at most 100 (a seeded sample; the paper found K = 100 enough)
        classes = default_compare_classes(dataset.classes, selection.class_name, seed)
    chosen = list(classes)
    for name in chosen:
        check_class(name, dataset.classes, dataset.name)
    if not chosen:
        raise DataError("Choose at least one class to score units on.")

    progress(0.0, "loading images")
    scoring = {name: dataset.sample(name, n_images, seed, "train", model.input_size).images for name in chosen}
    train_x, train_y = labelled_images(dataset, dataset.classes, train_per_class, seed, model.input_size, split="train")
    # A folder has no test split: its test images are the ones after the first train_per_class.
    test_x, test_y = labelled_images(dataset, dataset.classes, test_per_class, seed, model.input_size, "test",
                                     skip=train_per_class)
    train_y, test_y = mapping.labels(train_y), mapping.labels(test_y)
    base_accuracy = accuracy(model, model.module, test_x, test_y)
    rows = [PruneRow("unpruned", "Unchanged network", None, None, base_accuracy, 0.0, count_parameters(model.module),
                     count_flops(model.module, model.input_size), 0.0)]
    modules = [model.module]
    layers = list(selection.layers) or None
    for k, method in enumerate(methods):
        label = method_label(method)
        span = progress.subrange(k / len(methods), (k + 1) / len(methods)).prefixed(label)
        module, removed = prune_network(model, method, ratio, scoring, layers, progress=span.subrange(0.0, 0.7))
        before = accuracy(model, module, test_x, test_y)
        finetune(model, module, train_x, train_y, finetune_epochs, lr, seed, progress=span.subrange(0.7, 1.0))
        after = accuracy(model, module, test_x, test_y)
        rows.append(PruneRow(method, label, float(ratio), before, after, base_accuracy - after,
                             count_parameters(module), count_flops(module, model.input_size), 0.0, removed))
        modules.append(module)
    progress(0.99, "measuring images/s")
    for row, speed in zip(rows, throughputs(modules, model.input_size, rounds=3, min_seconds=0.3)):
        row.images_per_second = speed
    progress(1.0, "pruning done")
    return PruneReport(selection=selection, ratio=float(ratio), classes=chosen, n_train=int(train_x.shape[0]),
                       n_test=int(test_x.shape[0]), finetune_epochs=finetune_epochs, rows=rows,
                       notes=[mapping.note] if mapping.note else [])
