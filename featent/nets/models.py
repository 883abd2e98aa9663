"""Model zoo: the embedded ``demo`` CNN and torchvision classifiers, their weights and layers.

A *layer* is the activated output of a conv layer (the paper's unit = one channel of it): VGG-like
nets name them ``block{b}_conv{c}`` (post-ReLU), ResNets ``conv1`` (stem, post-ReLU) and
``conv{stage}_{block}_out`` (output of a residual block, post-ReLU), stage 2..5 as in the ResNet
paper. Nothing here downloads: torchvision weights come from the local torch cache only.

Specs: ``demo``, ``demo:random``, ``vgg16``, ``vgg16:random``, ``vgg16:random:SEED``, each with an
optional ``@SIZE`` input side for torchvision nets (default 224; e.g. ``vgg11:random@64``); a
separate ``weights`` path loads a state_dict or checkpoint (``weights_only=True``) instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from featent.errors import ModelError
from featent.nets.checkpoints import load_state, n_classes_in, read_checkpoint
from featent.nets.demo import DEMO, DEMO_INPUT_SIZE, DEMO_MEAN, DEMO_STD, DEMO_WEIGHTS, DemoNet, resolve_demo_variant

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_INPUT_SIZE = 224
DEFAULT_RANDOM_SEED = 0

_VGG_LIKE = (
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
)
_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
TORCHVISION_MODELS = _VGG_LIKE + _RESNETS

__all__ = [
    "DemoNet",
    "LayerInfo",
    "LoadedModel",
    "list_models",
    "load_model",
    "layer_modules",
    "pick_device",
    "from_module",
    "clear_model_cache",
    "register_spec_resolver",
]


@dataclass
class LayerInfo:
    """One hookable layer: its name, number of units (channels) and unit side m."""

    name: str
    n_units: int
    unit_size: int


@dataclass
class LoadedModel:
    """A model in eval mode, with what featent needs to know about it."""

    spec: str
    module: nn.Module
    input_size: int
    n_classes: int
    fingerprint: str
    layers: list[LayerInfo]
    weights_source: str
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # Held around every forward pass that registers hooks; re-entrant, so a caller holding it may
    # still call featent.extract on the same model.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images [n, 3, S, S] -> normalized model input at ``input_size``, on the model's device."""
        x = images.to(self.device, torch.float32)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def layer(self, name: str) -> LayerInfo:
        """The LayerInfo called ``name``; ModelError listing the valid names otherwise."""
        for info in self.layers:
            if info.name == name:
                return info
        raise ModelError(f"Model {self.spec!r} has no layer {name!r}; its layers are: {', '.join(i.name for i in self.layers)}.")


def list_models() -> list[str]:
    """Model names accepted by ``load_model`` (each also as ``NAME:random``)."""
    return [DEMO, *TORCHVISION_MODELS]


def pick_device() -> torch.device:
    """CUDA when present, then MPS, then CPU (``FEATENT_DEVICE`` overrides)."""
    forced = os.environ.get("FEATENT_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def layer_modules(module: nn.Module) -> dict[str, nn.Module]:
    """Layer name -> the module whose forward output is that layer's activated feature map.

    VGG-like: the ReLU after each conv (after BN for ``_bn`` nets); ResNet: the stem ReLU and each
    residual block. Ordered as the forward pass visits them.
    """
    if hasattr(module, "layer1") and hasattr(module, "conv1") and hasattr(module, "relu"):
        named: dict[str, nn.Module] = {"conv1": module.relu}
        for stage in range(1, 5):
            for index, block in enumerate(getattr(module, f"layer{stage}"), start=1):
                named[f"conv{stage + 1}_{index}_out"] = block
        return named
    features = getattr(module, "features", None)
    if not isinstance(features, nn.Sequential):
        raise ModelError(f"Cannot find conv layers in a {type(module).__name__}: expected a VGG-like 'features' or a ResNet.")
    named = {}
    block, conv, pending_conv = 1, 0, False
    for child in features:
        if isinstance(child, nn.Conv2d):
            conv += 1
            pending_conv = True
        elif isinstance(child, nn.ReLU) and pending_conv:
            named[f"block{block}_conv{conv}"] = child
            pending_conv = False
        elif isinstance(child, (nn.MaxPool2d, nn.AvgPool2d)):
            if conv:
                block += 1
            conv = 0
    return named


def _parse_spec(spec: str) -> tuple[str, int | None, int | None]:
    """'vgg16' -> ('vgg16', None, None); 'vgg16:random' -> seed 0; 'vgg16:random:3@64' -> seed 3, input 64."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelError(f"No model given; choose one of: {', '.join(list_models())}.")
    body, size_text = spec.strip(), ""
    found = re.search(r"@([^:]*)", body)  # '@SIZE' may sit before or after ':random'
    if found:
        size_text = found.group(1) or "?"
        body = body[: found.start()] + body[found.end() :]
    size: int | None = None
    if size_text:
        if not size_text.isdigit() or not 16 <= int(size_text) <= 1024:
            raise ModelError(f"The input size in {spec!r} must be an integer from 16 to 1024 (as in 'vgg11:random@64').")
        size = int(size_text)
    parts = body.split(":")
    name = parts[0].lower()
    if name not in list_models():
        raise ModelError(f"Unknown model {parts[0]!r}; choose one of: {', '.join(list_models())} (or NAME:random).")
    if name == DEMO and size is not None and size != DEMO_INPUT_SIZE:
        raise ModelError(f"The demo model only takes {DEMO_INPUT_SIZE}x{DEMO_INPUT_SIZE} inputs; drop '@{size}' from {spec!r}.")
    if len(parts) == 1:
        return name, None, size
    if parts[1] != "random" or len(parts) > 3:
        raise ModelError(f"Cannot read model spec {spec!r}; use NAME, NAME:random or NAME:random:SEED, optionally with @SIZE.")
    if len(parts) == 2:
        return name, DEFAULT_RANDOM_SEED, size
    try:
        seed = int(parts[2])
    except ValueError:
        seed = -1
    if seed < 0:
        raise ModelError(f"The seed in {spec!r} must be a non-negative integer.")
    return name, seed, size


def _build(name: str, n_classes: int | None = None) -> nn.Module:
    if name == DEMO:
        return DemoNet(n_classes=n_classes or 10)
    import torchvision.models as tvm

    return getattr(tvm, name)(weights=None, num_classes=n_classes or 1000)


def _seeded_build(name: str, seed: int) -> nn.Module:
    """Random init under a fixed seed, without disturbing the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _build(name)


def _cached_torchvision_file(name: str) -> Path | None:
    """Path of the pretrained weights in the local torch cache, or None (never downloads)."""
    import torchvision.models as tvm

    weights = tvm.get_model_weights(name).DEFAULT
    file = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    return file if file.is_file() else None


def fingerprint_module(module: nn.Module, name: str, input_size: int) -> str:
    """Content hash of architecture name, input size and every parameter/buffer."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"{name}|{input_size}".encode())
    for key, tensor in module.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b"")
    return digest.hexdigest()


def _layer_infos(module: nn.Module, input_size: int) -> list[LayerInfo]:
    """Units and unit size per layer, from one zero forward pass at the input size."""
    named = layer_modules(module)
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            shapes.setdefault(name, tuple(output.shape))

        return hook

    probe_forward(module, input_size, [mod.register_forward_hook(record(lname)) for lname, mod in named.items()])
    # Units smaller than 2x2 have no graph topology: such layers are not offered.
    return [LayerInfo(name=n, n_units=shapes[n][1], unit_size=shapes[n][-1]) for n in named if shapes[n][-1] >= 2]


def probe_forward(module: nn.Module, input_size: int, handles: list) -> None:
    """Run one zero image through ``module`` so the hooks behind ``handles`` can observe shapes or
    order, then remove those hooks whatever happens."""
    try:
        device = next(module.parameters()).device
        with torch.inference_mode():
            module(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        for handle in handles:
            handle.remove()


#: Spec resolvers registered by higher layers (the demo family trains its checkpoints on demand):
#: spec -> (base spec, weights file) or None when the spec is not theirs.
_SPEC_RESOLVERS: list[Callable[[str], tuple[str, str] | None]] = [resolve_demo_variant]


def register_spec_resolver(resolver: Callable[[str], tuple[str, str] | None]) -> None:
    """Let a higher layer map its own specs onto a base spec plus a weights file."""
    if resolver not in _SPEC_RESOLVERS:
        _SPEC_RESOLVERS.append(resolver)


def _resolve_registered(spec: str) -> tuple[str, str] | None:
    for resolver in _SPEC_RESOLVERS:
        found = resolver(spec)
        if found is not None:
            return found
    return None


_CACHE: dict[tuple[str, str | None], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()
_BUILDING: dict[tuple[str, str | None], threading.Lock] = {}


def load_model(spec: str, weights: str | os.PathLike | None = None) -> LoadedModel:
    """Model spec (+ optional weights file) -> LoadedModel in eval mode; memoized per (spec, weights)."""
    family = _resolve_registered(spec)
    if family is not None:
        if weights is not None:
            raise ModelError(f"{spec!r} brings its own weights; do not give a weights file too.")
        return replace(load_model(*family), spec=spec.strip())
    name, seed, size = _parse_spec(spec)
    if weights is not None and seed is not None:
        raise ModelError(f"Give either {spec!r} (random init) or a weights file, not both.")
    key = (spec.strip(), _file_identity(weights) if weights is not None else None)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        building = _BUILDING.setdefault(key, threading.Lock())
    if hit is not None:
        return hit
    with building:  # one build per key, even when several sessions ask at once
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is None:
            hit = _load_uncached(spec.strip(), name, seed, size, weights)
            with _CACHE_LOCK:
                _CACHE[key] = hit
    return hit


def _file_identity(path: str | os.PathLike) -> str:
    """Resolved path plus size and mtime: a rewritten weights file is loaded again."""
    file = Path(path).expanduser().resolve()
    try:
        info = file.stat()
    except OSError:
        return str(file)
    return f"{file}|{info.st_size}|{info.st_mtime_ns}"


def _load_uncached(
    spec: str, name: str, seed: int | None, size: int | None, weights: str | os.PathLike | None
) -> LoadedModel:
    if weights is not None:
        state = read_checkpoint(weights)
        with torch.device("meta"):  # shapes only: no memory, no random init to throw away
            module = _build(name, n_classes_in(state, _build(name)))
        load_state(module, state, str(weights))
        source = str(Path(weights).expanduser().resolve())
    elif seed is not None:
        module = _seeded_build(name, seed)
        source = f"random init (seed {seed})"
    elif name == DEMO:
        if not DEMO_WEIGHTS.is_file():
            raise ModelError(
                f"The demo weights {str(DEMO_WEIGHTS)!r} are missing; rebuild them with 'featent train-demo' or use 'demo:random'."
            )
        with torch.device("meta"):
            module = _build(name)
        load_state(module, read_checkpoint(DEMO_WEIGHTS), str(DEMO_WEIGHTS))
        source = "shipped demo weights"
    else:
        file = _cached_torchvision_file(name)
        if file is None:
            raise ModelError(
                f"Pretrained weights for {name} are not in the local torch cache ({torch.hub.get_dir()}) and featent never "
                f"downloads; use '{name}:random' for a random init or --weights PATH for your own checkpoint."
            )
        with torch.device("meta"):
            module = _build(name)
        load_state(module, read_checkpoint(file), str(file))
        source = "torch cache"
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    input_size = size or (DEMO_INPUT_SIZE if name == DEMO else TORCHVISION_INPUT_SIZE)
    mean, std = (DEMO_MEAN, DEMO_STD) if name == DEMO else (IMAGENET_MEAN, IMAGENET_STD)
    fingerprint = fingerprint_module(module, name, input_size)
    device = pick_device()
    module.to(device)
    last_linear = [m for m in module.modules() if isinstance(m, nn.Linear)]
    n_classes = int(last_linear[-1].out_features) if last_linear else 0
    try:
        layers = _layer_infos(module, input_size)
    except RuntimeError as exc:
        raise ModelError(f"{name} cannot run on {input_size}x{input_size} inputs; use a larger @SIZE.") from exc
    return LoadedModel(
        spec=spec,
        module=module,
        input_size=input_size,
        n_classes=n_classes,
        fingerprint=fingerprint,
        layers=layers,
        weights_source=source,
        mean=mean,
        std=std,
        device=device,
    )


def from_module(
    module: nn.Module,
    name: str = "custom",
    input_size: int = 32,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    weights_source: str = "in-memory module",
) -> LoadedModel:
    """Wrap an existing VGG-like or ResNet module (not memoized; the module is put in eval mode)."""
    module.eval()
    fingerprint = fingerprint_module(module, name, input_size)
    try:
        layers = _layer_infos(module, input_size)
    except RuntimeError as exc:
        raise ModelError(f"{name} cannot run on {input_size}x{input_size} inputs.") from exc
    device = next(module.parameters()).device
    last_linear = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return LoadedModel(
        spec=name,
        module=module,
        input_size=input_size,
        n_classes=int(last_linear[-1].out_features) if last_linear else 0,
        fingerprint=fingerprint,
        layers=layers,
        weights_source=weights_source,
        mean=mean,
        std=std,
        device=device,
    )


def clear_model_cache() -> None:
    """Forget memoized models (frees their memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _BUILDING.clear()


def forget_model(spec: str, weights: str | os.PathLike | None = None) -> None:
    """Forget one memoized model, so loops over many throw-away models (K random inits of VGG16)
    keep one in memory at a time instead of all K."""
    key = (spec.strip(), _file_identity(weights) if weights is not None else None)
    with _CACHE_LOCK:
        _CACHE.pop(key, None)
        _BUILDING.pop(key, None)
