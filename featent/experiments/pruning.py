"""Channel pruning guided by unit indicators (paper App. A.7.2, Table 12).

Layer by layer from shallow to deep, the units of each conv layer are scored on training images of
K classes (H/epsilon averaged over the classes as in Eq. 15, or L1-norm, APoZ, class selectivity,
FPGM, NISP), the least important ``ratio`` of them are removed for real, and the pruned network is
fine-tuned. Removing a unit means a smaller network: the conv's filters (and its BatchNorm
channels) go, and so do the matching input channels of the next conv, or the matching input
columns of the first Linear after the flatten. Scores of a layer are computed on the network with
the shallower layers already pruned, as the layer-by-layer strategy implies.

Only plain feed-forward (VGG-style) nets with a ``features`` Sequential are supported: in a ResNet
a channel also flows through the skip connection, which this surgery does not follow.
Costs are reported as the paper does: parameter count, FLOPs of the convolutions (2 x
multiply-accumulates, so VGG16 at 224 has 30.9 GFLOPs as in Table 12) and measured images/s.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import pandas as pd
import torch
from torch import nn

from featent.data import load_dataset
from featent.errors import DataError, FeatentError, ModelError
from featent.experiments.ablation import labelled_images, prefixed, rank_units, units_removed
from featent.experiments.contract import ExperimentResult, experiment
from featent.indicators import RANKING, default_compare_classes, layer_filter, unit_scores
from featent.indicators.registry import REGISTRY, canonical_order, method_label
from featent.nets import from_module, load_model
from featent.nets.hooks import probe_modules
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, NoneOr, Options, check, check_class, check_int, validate_params

#: The indicators pruning compares (every ranking indicator of the registry, H/epsilon first).
PRUNE_METHODS: tuple[str, ...] = RANKING
_METHOD = Options(PRUNE_METHODS)


def _method_key(name: object) -> object:
    """A method as the registry writes it (``fe`` -> ``h_over_eps``); anything unknown is left for the check."""
    try:
        return REGISTRY.resolve(name).key if isinstance(name, str) else name
    except FeatentError:
        return name
_RATIO = Interval(float, 0.0, 1.0, closed="neither")

DEFAULT_RATIO = 0.5
#: Fine-tuning as in A.7.2: SGD, learning rate divided by 10 after every epoch (1e-3 -> 1e-5: 3 epochs).
FINETUNE_EPOCHS = 3
FINETUNE_LR = 1e-3
FINETUNE_MOMENTUM = 0.9
FINETUNE_BATCH = 64

__all__ = [
    "PRUNE_METHODS",
    "DEFAULT_RATIO",
    "PruneRow",
    "PruneReport",
    "count_parameters",
    "conv_flops",
    "images_per_second",
    "prunable_layers",
    "prune_channels",
    "prune_network",
    "finetune",
    "accuracy",
    "compare_pruning",
]


# --------------------------------------------------------------------------- costs


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (weights and biases; BatchNorm running statistics are buffers, not counted)."""
    return int(sum(p.numel() for p in module.parameters()))


def conv_flops(module: nn.Module, input_size: int) -> int:
    """FLOPs of every Conv2d for one image: 2 x out_h x out_w x out_ch x (in_ch / groups) x kh x kw."""
    total = 0
    for seen in probe_modules(module, _zero_image(module, input_size), select=lambda _p, m: isinstance(m, nn.Conv2d)):
        conv, shape = cast(nn.Conv2d, seen.module), seen.shape  # selected: a Conv2d
        if shape is None:
            raise ModelError("Internal error: a convolution reported no output shape.")
        kh, kw = conv.kernel_size
        per_output = (conv.in_channels // conv.groups) * kh * kw
        total += 2 * int(shape[1]) * int(shape[2]) * int(shape[3]) * per_output
    return total


def _zero_image(module: nn.Module, input_size: int) -> torch.Tensor:
    device = next(module.parameters()).device
    return torch.zeros(1, 3, input_size, input_size, device=device)


def images_per_second(module: nn.Module, input_size: int, batch_size: int = 64, min_seconds: float = 0.5) -> float:
    """Measured inference throughput on random inputs on the module's device.

    Batches run for at least ``min_seconds`` (and at least 5 batches) after two warm-up ones; the
    fastest batch counts, which is the least disturbed by other processes on a shared machine.
    """
    return _throughputs([module], input_size, batch_size, min_seconds)[0]


def _throughputs(modules: Sequence[nn.Module], input_size: int, batch_size: int = 64, min_seconds: float = 0.5,
                 rounds: int = 1) -> list[float]:
    """Images/s of several modules measured in interleaved rounds (fair on a busy machine)."""
    best = [0.0] * len(modules)
    for _ in range(rounds):
        for i, module in enumerate(modules):
            device = next(module.parameters()).device
            x = torch.rand(batch_size, 3, input_size, input_size, device=device)
            was_training = module.training
            module.eval()
            times: list[float] = []
            try:
                with torch.inference_mode():
                    module(x)
                    module(x)
                    start = time.perf_counter()
                    while len(times) < 5 or time.perf_counter() - start < min_seconds:
                        t0 = time.perf_counter()
                        module(x)
                        if device.type == "cuda":
                            torch.cuda.synchronize(device)
                        times.append(time.perf_counter() - t0)
            finally:
                module.train(was_training)
            best[i] = max(best[i], batch_size / min(times))
    return best


# --------------------------------------------------------------------------- surgery


def _check_plain(module: nn.Module) -> None:
    for sub in module.modules():
        if hasattr(sub, "downsample") or (hasattr(sub, "conv1") and hasattr(sub, "bn2")) or type(sub).__name__ in (
            "BasicBlock", "Bottleneck",
        ):
            raise ModelError(
                "Pruning is implemented for plain VGG-style nets (demo, VGG, AlexNet); residual nets such as ResNet "
                "are not supported, because a pruned channel also flows through the skip connection."
            )
    if not isinstance(getattr(module, "features", None), nn.Sequential):
        raise ModelError("Pruning needs a VGG-style net whose conv layers sit in a 'features' Sequential.")


def prunable_layers(model) -> list[str]:
    """The layers pruning visits, shallow to deep: every conv layer of a VGG-style net whose units
    are at least 2x2 at the model's input size (smaller ones have no FE; e.g. VGG at 32x32)."""
    _check_plain(model.module)
    return [info.name for info in model.layers]


def _execution_order(module: nn.Module, input_size: int) -> list[nn.Module]:
    """Conv2d, Linear and BatchNorm modules in the order one forward pass runs them."""
    kinds = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d)
    calls = probe_modules(module, _zero_image(module, input_size), select=lambda _p, m: isinstance(m, kinds), pre=True)
    return [seen.module for seen in calls]


def _replace(root: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for name, sub in root.named_modules():
        if sub is old:
            parent_name, _, child = name.rpartition(".")
            setattr(root.get_submodule(parent_name) if parent_name else root, child, new)
            return
    raise ModelError("Internal error: a module to prune is not part of the network.")


def _present(tensor: torch.Tensor | None) -> torch.Tensor:
    """A parameter or buffer that the module's own settings guarantee (bias=True, affine, running stats)."""
    if tensor is None:
        raise ModelError("Internal error: a pruned module lacks a parameter its settings promise.")
    return tensor


def _conv_like(conv: nn.Conv2d, in_channels: int, out_channels: int) -> nn.Conv2d:
    # Conv2d stores its 2-d sizes as tuples of two; the stubs type them as tuple[int, ...]
    return nn.Conv2d(
        in_channels,
        out_channels,
        cast(tuple[int, int], conv.kernel_size),
        stride=cast(tuple[int, int], conv.stride),
        padding=cast("str | tuple[int, int]", conv.padding),
        dilation=cast(tuple[int, int], conv.dilation),
        groups=1, bias=conv.bias is not None, padding_mode=conv.padding_mode,
        device=conv.weight.device, dtype=conv.weight.dtype,
    )


def prune_channels(model, layer: str, remove: Sequence[int], check: bool = True) -> nn.Module:
    """A smaller copy of ``model.module`` without the given units of ``layer`` (the model is untouched).

    The conv producing the layer loses those filters (and its BatchNorm those channels); the next
    conv loses those input channels, or the first Linear after the flatten those input columns.
    With ``check``, the copy's outputs are compared with the masked original on a random batch.
    """

    _check_plain(model.module)
    info = model.layer(layer)
    remove = sorted({int(u) for u in remove})
    if any(not 0 <= u < info.n_units for u in remove):
        raise FeatentError(f"Units to prune must lie in 0..{info.n_units - 1}.")
    if len(remove) >= info.n_units:
        raise FeatentError(f"Cannot prune all {info.n_units} units of {layer}; keep at least one.")
    keep = [u for u in range(info.n_units) if u not in set(remove)]
    with model.lock:  # both trace the model with temporary hooks
        conv, bn = layer_filter(model, layer)
        order = _execution_order(model.module, model.input_size)
    after = order[order.index(conv) + 1 :]
    consumer = next((m for m in after if isinstance(m, (nn.Conv2d, nn.Linear))), None)
    if consumer is None:
        raise ModelError(f"Nothing reads layer {layer!r}; cannot prune it.")
    if conv.groups != 1 or (isinstance(consumer, nn.Conv2d) and consumer.groups != 1):
        raise ModelError("Pruning is implemented for ungrouped convolutions only.")
    if isinstance(consumer, nn.Linear) and consumer.in_features % info.n_units:
        raise ModelError(
            f"The Linear after {layer!r} has {consumer.in_features} inputs, not a multiple of {info.n_units} channels."
        )

    pruned = copy.deepcopy(model.module)
    names = {id(m): n for n, m in model.module.named_modules()}
    new_conv_old = pruned.get_submodule(names[id(conv)])
    new_consumer_old = pruned.get_submodule(names[id(consumer)])
    index = torch.tensor(keep, device=conv.weight.device)
    with torch.no_grad():
        new_conv = _conv_like(conv, conv.in_channels, len(keep))
        new_conv.weight.copy_(conv.weight[index])
        if conv.bias is not None:
            _present(new_conv.bias).copy_(conv.bias[index])
        _replace(pruned, new_conv_old, new_conv)
        if bn is not None:
            new_bn = nn.BatchNorm2d(len(keep), eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                                    track_running_stats=bn.track_running_stats, device=conv.weight.device)
            if bn.affine:
                _present(new_bn.weight).copy_(_present(bn.weight)[index])
                _present(new_bn.bias).copy_(_present(bn.bias)[index])
            if bn.track_running_stats:
                _present(new_bn.running_mean).copy_(_present(bn.running_mean)[index])
                _present(new_bn.running_var).copy_(_present(bn.running_var)[index])
                _present(new_bn.num_batches_tracked).copy_(_present(bn.num_batches_tracked))
            _replace(pruned, pruned.get_submodule(names[id(bn)]), new_bn)
        if isinstance(consumer, nn.Conv2d):
            new_conv_next = _conv_like(consumer, len(keep), consumer.out_channels)
            new_next: nn.Module = new_conv_next
            new_conv_next.weight.copy_(consumer.weight[:, index])
            if consumer.bias is not None:
                _present(new_conv_next.bias).copy_(consumer.bias)
        else:
            spatial = consumer.in_features // info.n_units
            new_linear = nn.Linear(len(keep) * spatial, consumer.out_features, bias=consumer.bias is not None,
                                   device=consumer.weight.device, dtype=consumer.weight.dtype)
            new_next = new_linear
            w = consumer.weight.view(consumer.out_features, info.n_units, spatial)[:, index]
            new_linear.weight.copy_(w.reshape(consumer.out_features, -1))
            if consumer.bias is not None:
                _present(new_linear.bias).copy_(consumer.bias)
        _replace(pruned, new_consumer_old, new_next)
    pruned.eval()
    for p in pruned.parameters():
        p.requires_grad_(False)
    if check:
        _check_equivalent(model, layer, remove, pruned)
    return pruned


def _check_equivalent(model, layer: str, remove: Sequence[int], pruned: nn.Module) -> None:
    """The pruned net must compute what the original computes with those units zeroed."""
    device = next(pruned.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        x = torch.rand(2, 3, model.input_size, model.input_size)
    x = model.preprocess(x).to(device)
    with model.lock, units_removed(model, layer, list(remove)), torch.inference_mode():
        expected = model.module(x)
    with torch.inference_mode():
        got = pruned(x)
    scale = float(expected.abs().max()) or 1.0
    if got.shape != expected.shape or float((got - expected).abs().max()) > 1e-3 * scale:
        raise ModelError(f"Pruning {layer!r} changed more than the removed units in this architecture; it is not supported.")


# --------------------------------------------------------------------------- training and scoring


def _preprocess(model, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = images.to(device, torch.float32)
    if x.shape[-1] != model.input_size:
        x = nn.functional.interpolate(x, size=(model.input_size, model.input_size), mode="bilinear", align_corners=False)
    mean = torch.tensor(model.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.std, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def accuracy(model, module: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``module`` on [0, 1] images, normalised as ``model`` expects."""
    device = next(module.parameters()).device
    correct = 0
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch_size):
            logits = module(_preprocess(model, images[start : start + batch_size], device))
            correct += int((logits.argmax(1).cpu() == labels[start : start + batch_size]).sum())
    return correct / max(1, images.shape[0])


def finetune(
    model,
    module: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = FINETUNE_EPOCHS,
    lr: float = FINETUNE_LR,
    seed: int = 0,
    batch_size: int = FINETUNE_BATCH,
    progress: ProgressLike = None,
) -> nn.Module:
    """Fine-tune in place with SGD (momentum 0.9), the learning rate divided by 10 after each epoch
    (A.7.2); seeded batch order; the module is returned in eval mode with gradients off."""
    progress = Progress.of(progress)
    epochs = check_int("epochs", epochs, 0, None, FeatentError)
    if epochs == 0:
        return module
    device = next(module.parameters()).device
    for p in module.parameters():
        p.requires_grad_(True)
    optimizer = torch.optim.SGD(module.parameters(), lr=lr, momentum=FINETUNE_MOMENTUM)
    generator = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    module.train()
    try:
        for epoch in range(epochs):
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.1**epoch
            order = torch.randperm(n, generator=generator)
            for b in range(n_batches):
                index = order[b * batch_size : (b + 1) * batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(module(_preprocess(model, images[index], device)), labels[index].to(device))
                loss.backward()
                optimizer.step()
                progress((epoch * n_batches + b + 1) / (epochs * n_batches), f"fine-tuning epoch {epoch + 1}/{epochs}")
    finally:
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
    return module


def prune_network(
    model,
    method: str,
    ratio: float,
    images_by_class: dict[str, torch.Tensor],
    layers: Sequence[str] | None = None,
    progress: ProgressLike = None,
) -> tuple[nn.Module, dict[str, list[int]]]:
    """Prune ``ratio`` of the units of each layer, shallow to deep, least important first by ``method``
    (an indicator key of ``PRUNE_METHODS``).

    Scores of each layer are averaged over the classes of ``images_by_class`` (training images) and
    computed on the network pruned so far. Returns the smaller module and the removed units per layer.
    """
    progress = Progress.of(progress)
    method = check("method", method, _METHOD, FeatentError)
    ratio = check("ratio", ratio, _RATIO, FeatentError)
    all_layers = prunable_layers(model)
    chosen = all_layers if layers is None else list(layers)
    for name in chosen:
        model.layer(name)
    chosen = sorted(dict.fromkeys(chosen), key=all_layers.index)
    current, removed = model, {}
    targets = list(images_by_class)
    for i, layer in enumerate(chosen):
        part = progress.subrange(i / len(chosen), (i + 1) / len(chosen))
        scores = unit_scores(current, layer, images_by_class, targets, [method], progress=part)
        n_units = current.layer(layer).n_units
        n_remove = min(n_units - 1, round(float(ratio) * n_units))
        order = rank_units(scores, canonical_order(method), n_units)
        drop = sorted(int(u) for u in order[:n_remove])
        removed[layer] = drop
        module = prune_channels(current, layer, drop)
        current = from_module(module, name=f"{model.spec}-pruned", input_size=model.input_size, mean=model.mean,
                              std=model.std, weights_source="pruned")
    progress(1.0, f"{method_label(method)}: {len(chosen)} layers pruned")
    return current.module, removed


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
class PruneReport(ExperimentResult):
    """Every method's pruning result on the same data, with the unpruned network first."""

    selection: Selection  # model, data, images per class, seed; its layers (if any) are the pruned ones
    ratio: float
    classes: list[str]
    n_train: int
    n_test: int
    finetune_epochs: int
    rows: list[PruneRow]

    @property
    def model(self) -> str:
        return str(self.selection.model)

    @property
    def data(self) -> str:
        return self.selection.data

    @property
    def n_images(self) -> int:
        return self.selection.n_images

    def to_frame(self) -> pd.DataFrame:
        """One row per network: method, label, ratio, accuracies, costs, removed units per layer."""
        columns = ["method", "label", "ratio", "accuracy_pruned", "accuracy", "accuracy_drop", "parameters", "flops",
                   "images_per_second", "removed"]
        return pd.DataFrame([[getattr(r, c) for c in columns] for r in self.rows], columns=columns).astype(
            {"ratio": object, "accuracy_pruned": object})


@experiment("pruning", version=1)
@validate_params({
    "selection": InstanceOf(Selection),
    "ratio": _RATIO,
    "methods": InstanceOf((list, tuple), "a list of indicator keys"),
    "classes": NoneOr(InstanceOf((list, tuple), "a list of classes")),
    "finetune_epochs": Interval(int, 0, None),
    "lr": Interval(float, 0.0, None, closed="neither"),
    "train_per_class": Interval(int, 1, None),
    "test_per_class": Interval(int, 1, None),
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
    progress: ProgressLike = None,
) -> PruneReport:
    """Table 12 on any VGG-style model: prune by each method at ``ratio``, fine-tune, measure.

    The selection gives the model, its weights, the data, the seed and ``n_images``: the training
    images of each of ``classes`` (K; default every class, at most 100: the selection's class plus a
    seeded sample) the indicators use; its layers, when given, are the layers pruned (default every
    conv layer). Fine-tuning uses up to ``train_per_class`` training images of every class and
    accuracy up to ``test_per_class`` test images of every class (held-out training images for a folder).
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
    base_accuracy = accuracy(model, model.module, test_x, test_y)
    rows = [PruneRow("unpruned", "Unchanged network", None, None, base_accuracy, 0.0, count_parameters(model.module),
                     conv_flops(model.module, model.input_size), 0.0)]
    modules = [model.module]
    layers = list(selection.layers) or None
    for k, method in enumerate(methods):
        label = method_label(method)
        span = prefixed(progress.subrange(k / len(methods), (k + 1) / len(methods)), label)
        module, removed = prune_network(model, method, ratio, scoring, layers, progress=span.subrange(0.0, 0.7))
        before = accuracy(model, module, test_x, test_y)
        finetune(model, module, train_x, train_y, finetune_epochs, lr, seed, progress=span.subrange(0.7, 1.0))
        after = accuracy(model, module, test_x, test_y)
        rows.append(PruneRow(method, label, float(ratio), before, after, base_accuracy - after,
                             count_parameters(module), conv_flops(module, model.input_size), 0.0, removed))
        modules.append(module)
    progress(0.99, "measuring images/s")
    for row, speed in zip(rows, _throughputs(modules, model.input_size, rounds=3, min_seconds=0.3)):
        row.images_per_second = speed
    progress(1.0, "pruning done")
    return PruneReport(selection=selection, ratio=float(ratio), classes=chosen, n_train=int(train_x.shape[0]),
                       n_test=int(test_x.shape[0]), finetune_epochs=finetune_epochs, rows=rows)
