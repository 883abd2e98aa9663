"""Channel surgery on plain feed-forward nets, and what a network costs and scores.

Removing a unit here means a smaller network: the conv producing the layer loses those filters
(and its BatchNorm those channels), and the next conv loses those input channels, or the first
Linear after the flatten those input columns. Each pruned copy is checked against the original
with the same units zeroed (``featent.experiments.masking.units_removed``); the original is never
touched.

This surgery handles plain feed-forward (VGG-style) nets with a ``features`` Sequential only; every
other conv net (residual, depthwise, grouped, concatenating) is pruned through Torch-Pruning's
DependencyGraph (``featent.prune``), which removes the same channels with identical outputs on plain nets.
Costs: parameter count, FLOPs of one image from ``torch.utils.flop_counter`` (a multiply-add counts as
2 FLOPs; VGG16 at 224 has 30.95 G, Table 12's 30.96 B) and measured images/s.
Fine-tuning follows A.7.2: SGD with momentum, the learning rate divided by 10 after every epoch.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from featent.errors import FeatentError, ModelError
from featent.experiments.masking import units_removed
from featent.indicators import layer_filter
from featent.nets.hooks import probe_modules
from featent.progress import Progress, ProgressLike
from featent.validation import check_int

#: Fine-tuning as in A.7.2: SGD, learning rate divided by 10 after every epoch (1e-3 -> 1e-5: 3 epochs).
FINETUNE_EPOCHS = 3
FINETUNE_LR = 1e-3
FINETUNE_MOMENTUM = 0.9
FINETUNE_BATCH = 64

__all__ = [
    "FINETUNE_EPOCHS",
    "FINETUNE_LR",
    "FINETUNE_MOMENTUM",
    "FINETUNE_BATCH",
    "count_parameters",
    "conv_flops",
    "count_flops",
    "is_plain",
    "images_per_second",
    "throughputs",
    "prunable_layers",
    "prune_channels",
    "finetune",
    "accuracy",
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


def count_flops(module: nn.Module, input_size: int) -> int:
    """FLOPs of one forward pass on one image, every op, as ``torch.utils.flop_counter`` counts them
    (a multiply-add is 2 FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = module.training
    module.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            module(_zero_image(module, input_size))
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())


def _zero_image(module: nn.Module, input_size: int) -> torch.Tensor:
    device = next(module.parameters()).device
    return torch.zeros(1, 3, input_size, input_size, device=device)


def images_per_second(module: nn.Module, input_size: int, batch_size: int = 64, min_seconds: float = 0.5) -> float:
    """Measured inference throughput on random inputs on the module's device.

    Batches run for at least ``min_seconds`` (and at least 5 batches) after two warm-up ones; the
    fastest batch counts, which is the least disturbed by other processes on a shared machine.
    """
    return throughputs([module], input_size, batch_size, min_seconds)[0]


def throughputs(modules: Sequence[nn.Module], input_size: int, batch_size: int = 64, min_seconds: float = 0.5,
                 rounds: int = 1) -> list[float]:
    """Images/s of several modules measured in interleaved rounds (fair on a busy machine); the
    best of ``rounds`` for each."""
    best = [0.0] * len(modules)
    for _ in range(rounds):
        for i, module in enumerate(modules):
            device = next(module.parameters()).device
            x = torch.rand(batch_size, 3, input_size, input_size, generator=torch.Generator().manual_seed(0)).to(device)
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


def is_plain(module: nn.Module) -> bool:
    """Whether this surgery can prune the net (VGG-style, ungrouped); others need Torch-Pruning."""
    try:
        _check_plain(module)
    except ModelError:
        return False
    return not any(isinstance(m, nn.Conv2d) and m.groups != 1 for m in module.modules())


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
    """The layers pruning visits, shallow to deep: every layer whose units are at least 2x2 at the
    model's input size (smaller ones have no FE; e.g. VGG at 32x32). A net this surgery cannot
    prune needs Torch-Pruning; without it, one sentence names the extra."""
    if not is_plain(model.module):
        from featent.prune import require_torch_pruning

        require_torch_pruning()
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
    x = torch.rand(2, 3, model.input_size, model.input_size, generator=torch.Generator().manual_seed(0))
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
                progress((epoch * n_batches + b + 1) / (epochs * n_batches), f"fine-tuning epoch {epoch + 1}/{epochs}: "
                         f"{b + 1}/{n_batches} batches")
    finally:
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
    return module
