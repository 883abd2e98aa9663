"""Loading models: spec or module -> LoadedModel (eval mode, layers found, weights fingerprinted).

``load_model`` reads a spec (``featent.spec.ModelSpec``) and memoizes per (spec, weights file);
``from_module`` wraps any ``nn.Module`` the user brings. Both return the same :class:`LoadedModel`,
which the pipeline, indicators, experiments and plots accept.
"""

from __future__ import annotations

import copy
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import torch
from torch import nn

from featent.errors import ModelError
from featent.nets.checkpoints import load_state, n_classes_in, read_checkpoint
from featent.nets.demo import DEMO, DEMO_INPUT_SIZE, DEMO_MEAN, DEMO_STD, DEMO_WEIGHTS, resolve_demo_variant
from featent.nets.family import resolve_family_spec
from featent.nets.hooks import evaluating
from featent.nets.layers import LayerInfo, discover_layers
from featent.nets.seeding import seeded
from featent.nets.user_code import build_object, source_identity
from featent.nets.zoo import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TORCHVISION_INPUT_SIZE,
    TRANSFORMERS,
    build,
    check_name,
    pretrained_state,
    timm_available,
    torchvision_names,
)
from featent.spec import ModelSpec
from featent.validation import check_int

__all__ = [
    "LoadedModel",
    "list_models",
    "load_model",
    "from_module",
    "pick_device",
    "fingerprint_module",
    "clear_model_cache",
    "forget_model",
    "set_model_cache_limits",
    "model_bytes",
    "random_variant",
    "SPEC_SOURCES",
]


@dataclass(eq=False)  # compared and hashed by identity: one loaded model is one object
class LoadedModel:
    """A model with what featent needs to know about it.

    ``runner`` is what a forward pass calls so that hooks see every layer: the module itself, or a
    traced copy sharing its parameters when a layer is computed by a function (``F.relu``). A traced
    runner keeps the Python control flow of ``forward`` as it ran at trace time (an ``if`` on an
    attribute is frozen); call ``from_module`` again after changing such a switch.

    ``fingerprint`` (the store key's model part) is re-checked on every read: the data pointer and
    version counter of every parameter and buffer are compared with those it was hashed from, and the
    weights are hashed again when they differ, so weights changed in place never serve old births.
    Every featent forward pass runs the module in eval and inference mode and puts each submodule back
    in the caller's mode after. ``runs_code`` is True when the model came from a user's Python file or
    module (loading it executed that code).
    """

    spec: str
    module: nn.Module
    input_size: int
    n_classes: int
    fingerprint: str  # a property (see the end of the class): re-checked against the weights on every read
    layers: list[LayerInfo]
    weights_source: str
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    runner: nn.Module | None = field(default=None, repr=False, compare=False)
    discovery: str = "fx"
    #: Layers requested beyond the default list (any module path), found on first request.
    extra_layers: list[LayerInfo] = field(default_factory=list, repr=False)
    # Held around every forward pass that registers hooks; re-entrant, so a caller holding it may
    # still call featent.extract on the same model.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    runs_code: bool = False
    #: What the fingerprint hashes besides the weights: architecture name and layer list.
    fingerprint_name: str = ""
    fingerprint_layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.runner is None:
            self.runner = self.module
        if not self.fingerprint_name:
            self.fingerprint_name = self.spec

    def __str__(self) -> str:
        return self.spec

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images [n, 3, S, S] -> normalized model input at ``input_size``, on the model's device."""
        x = images.to(self.device, torch.float32)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def layer(self, name: str) -> LayerInfo:
        """The LayerInfo called ``name`` (or aliased so); ModelError listing the valid names otherwise."""
        for info in self.layers:
            if info.name == name:
                return info
        for info in (*self.layers, *self.extra_layers):
            if name == info.name or name in info.aliases:
                return info
        extra = self._extra_layer(name)
        if extra is not None:
            return extra
        raise ModelError(f"Model {self.spec!r} has no layer {name!r}; its layers are: {', '.join(i.name for i in self.layers)}.")

    def _extra_layer(self, name: str) -> LayerInfo | None:
        """Any other module path (``features.7``) or traced node of the model, found on first request."""
        if not isinstance(name, str) or not name.strip():
            return None
        with self.lock:
            try:
                found = discover_layers(self.module, self.input_size, self.spec, [name])
            except ModelError as exc:
                if "has no layer or module" in str(exc):
                    return None
                raise
            if found.runner is not self.module:
                raise ModelError(
                    f"{name!r} of {self.spec} is computed by a function, not a module; load the model with "
                    f"featent.from_module(module, layers=[{name!r}]) to measure it."
                )
            info = found.layers[0]
            self.extra_layers.append(info)
        return info

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of preprocessed inputs (through the runner, so hooks on any layer fire), in eval mode."""
        runner = cast(nn.Module, self.runner)
        with evaluating(runner, self.module):
            return runner(inputs)


def _weights_state(module: nn.Module) -> tuple | None:
    """Where every parameter and buffer lives and how often it was changed in place (None: not trackable)."""
    state = []
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_inference():
            return None  # inference tensors keep no version counter: hash every time
        state.append((tensor.data_ptr(), tensor._version, tuple(tensor.shape), tensor.dtype))
    return tuple(state)


def _get_fingerprint(self: LoadedModel) -> str:
    with self.__dict__.setdefault("_fingerprint_lock", threading.Lock()):
        state = _weights_state(self.module)
        if state is None or state != self.__dict__.get("_weights_state"):
            self.__dict__["_fingerprint"] = fingerprint_module(
                self.module, self.fingerprint_name or self.spec, self.input_size, self.fingerprint_layers
            )
            self.__dict__["_weights_state"] = state
        return self.__dict__["_fingerprint"]


def _set_fingerprint(self: LoadedModel, value: str) -> None:
    self.__dict__["_fingerprint"] = value
    self.__dict__["_weights_state"] = _weights_state(self.module)


LoadedModel.fingerprint = property(_get_fingerprint, _set_fingerprint)  # type: ignore[assignment]


def list_models() -> list[str]:
    """Model names accepted by ``load_model`` (each also as ``NAME:random``); timm models as ``timm/NAME``."""
    return [DEMO, *torchvision_names()]


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


def fingerprint_module(module: nn.Module, name: str, input_size: int, layers: Sequence[str] = ()) -> str:
    """Content hash of architecture name, input size, layer list and every parameter/buffer.

    With no layer list the hash is the one featent has always used for zoo models (so stored
    results stay valid); modules brought by the user hash their layer list too.
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"{name}|{input_size}".encode())
    if layers:
        digest.update(("|layers|" + ",".join(layers)).encode())
    for key, tensor in module.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b"")
    return digest.hexdigest()


#: Specs that name a base model plus a weights file, declared here so every caller of load_model
#: knows them with nothing else imported: spec -> (base spec, weights file) or None when not theirs.
SPEC_SOURCES: tuple[Callable[[str], tuple[str, str] | None], ...] = (resolve_demo_variant, resolve_family_spec)


def _resolve_registered(spec: str) -> tuple[str, str] | None:
    for resolver in SPEC_SOURCES:
        found = resolver(spec)
        if found is not None:
            return found
    return None


_CACHE: OrderedDict[tuple[str, str | None], LoadedModel] = OrderedDict()
_CACHE_LOCK = threading.Lock()
#: Bounds of the memo (least recently used models go first): how many, and their parameter bytes.
_LIMITS = {"count": 8, "bytes": 4 * 2**30}


def set_model_cache_limits(count: int | None = None, n_bytes: int | None = None) -> None:
    """Bound the memo of loaded models by count and by parameter bytes (the app sets its limits here)."""
    with _CACHE_LOCK:
        if count is not None:
            _LIMITS["count"] = check_int("count", count, 1, error=ModelError)
        if n_bytes is not None:
            _LIMITS["bytes"] = check_int("n_bytes", n_bytes, 1, error=ModelError)
        _evict_locked()


def model_bytes(model: LoadedModel) -> int:
    """Bytes held by a loaded model's parameters and buffers."""
    tensors = [*model.module.parameters(), *model.module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors if t.device.type != "meta")


def _evict_locked() -> None:
    """Drop least recently used models until the memo is within its bounds (the newest always stays)."""
    total = sum(model_bytes(m) for m in _CACHE.values())
    evicted = False
    while len(_CACHE) > 1 and (len(_CACHE) > _LIMITS["count"] or total > _LIMITS["bytes"]):
        key, old = _CACHE.popitem(last=False)
        _BUILDING.pop(key, None)
        total -= model_bytes(old)
        del old  # the last reference: freed now, before the heap is trimmed
        evicted = True
    if evicted:
        _return_freed_memory()


def _return_freed_memory() -> None:
    """Hand freed heap pages back to the system (glibc keeps them otherwise, so RSS would not drop)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator decides
        pass
_BUILDING: dict[tuple[str, str | None], threading.Lock] = {}
#: What a model build runs inside, per thread of work (the app's job queue in public mode); None: directly.
_BUILD_GUARD: ContextVar[Callable[[Callable[[], LoadedModel]], LoadedModel] | None] = ContextVar(
    "featent_build_guard", default=None)


@contextmanager
def guarded_builds(guard: Callable[[Callable[[], LoadedModel]], LoadedModel]) -> Iterator[None]:
    """Run the model builds (not the memo hits) of this block through ``guard(build)``: a shared server
    counts a build as a job (jobs at once, compute time) while a hit stays instant."""
    token = _BUILD_GUARD.set(guard)
    try:
        yield
    finally:
        _BUILD_GUARD.reset(token)


def load_model(
    spec: str | ModelSpec | LoadedModel,
    weights: str | os.PathLike | None = None,
    *,
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> LoadedModel:
    """Model spec (+ optional weights file) -> LoadedModel; memoized per (spec, weights).

    A LoadedModel (from :func:`from_module`) is returned as it is, so every caller that takes a spec
    takes a module the user brought as well. A code spec (``net.py:Net``, ``package.module:Net``)
    executes that file or module (see :mod:`featent.nets.user_code`); ``input_size`` / ``mean`` /
    ``std`` then override what the object says, and the loaded model is memoized with them, so later
    calls with the spec alone (as experiments make) get the same model.
    """
    if isinstance(spec, LoadedModel):
        if weights is not None:
            raise ModelError(f"{spec.spec!r} is an in-memory model; load the weights into the module instead of passing a file.")
        return spec
    parsed = ModelSpec.parse(spec)
    text = str(parsed)
    family = _resolve_registered(text)
    if family is not None:
        if weights is not None:
            raise ModelError(f"{text!r} brings its own weights; do not give a weights file too.")
        return replace(load_model(*family), spec=text)
    if parsed.code is not None:
        return _load_code(parsed, weights, input_size, mean, std)
    if parsed.is_random and parsed.base == DEMO and parsed.name != DEMO:
        # A demo variant's random init is the demo architecture's (its native input size, its normalization).
        return replace(load_model(parsed.random(parsed.seed or 0), weights), spec=text)
    if weights is not None and parsed.is_random:
        raise ModelError(f"Give either {text!r} (random init) or a weights file, not both.")
    if parsed.tag is not None:
        raise ModelError(f"{text!r}: checkpoint tags are known for the demo family only (demo@epochN).")
    key = (text, _file_identity(weights) if weights is not None else None)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
        building = _BUILDING.setdefault(key, threading.Lock())
    if hit is not None:
        return hit
    with building:  # one build per key, even when several sessions ask at once
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is None:
            guard = _BUILD_GUARD.get()
            hit = _load_uncached(parsed, weights) if guard is None else guard(lambda: _load_uncached(parsed, weights))
            with _CACHE_LOCK:
                _CACHE[key] = hit
                _evict_locked()
    return hit


def _load_code(
    spec: ModelSpec,
    weights: str | os.PathLike | None,
    input_size: int | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> LoadedModel:
    """A user's model from code, memoized per (spec, file state, weights file); options given replace the entry."""
    assert spec.code is not None
    text = str(spec)
    key = (f"{text}|{source_identity(spec.code)}", _file_identity(weights) if weights is not None else None)
    given = input_size is not None or mean is not None or std is not None
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is not None and not given:
        return hit
    made = build_object(spec.code, spec.name)
    if isinstance(made, LoadedModel):
        module, base = made.module, made
    else:
        module, base = made, None
    size = input_size or spec.size or getattr(base, "input_size", None) or getattr(module, "input_size", None) or 32
    rgb_mean = mean if mean is not None else getattr(base, "mean", None) or getattr(module, "mean", None) or IMAGENET_MEAN
    rgb_std = std if std is not None else getattr(base, "std", None) or getattr(module, "std", None) or IMAGENET_STD
    source = f"code {spec.code}:{spec.name}"
    if weights is not None:
        state = _read_state(weights)
        load_state(module, state, str(weights))
        source += f" with weights {Path(weights).expanduser().resolve()}"
    layers = [info.name for info in base.layers] if base is not None else None
    loaded = from_module(module, input_size=int(size), mean=tuple(rgb_mean), std=tuple(rgb_std), layers=layers,
                         name=text, weights_source=source)
    loaded.runs_code = True
    # Keyed by the class, weights, input size and layers, not by the file's path: the same net moved or
    # built by a factory finds its stored results.
    loaded.fingerprint_name = type(module).__qualname__
    loaded.fingerprint = fingerprint_module(module, loaded.fingerprint_name, loaded.input_size, loaded.fingerprint_layers)
    with _CACHE_LOCK:
        _CACHE[key] = loaded
        _evict_locked()
    return loaded


def _file_identity(path: str | os.PathLike) -> str:
    """Resolved path plus size and mtime: a rewritten weights file is loaded again."""
    if "\x00" in os.fspath(path):
        raise ModelError(f"Cannot use weights file {str(path)[:80]!r}: it contains a NUL character; "
                         "give a .pt/.pth state_dict file.")
    file = Path(path).expanduser().resolve()
    try:
        info = file.stat()
    except OSError:
        return str(file)
    return f"{file}|{info.st_size}|{info.st_mtime_ns}"


def _read_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict from a file; a pickled whole module is refused with how to save a state_dict."""
    try:
        return read_checkpoint(path)
    except ModelError as exc:
        if _holds_pickled_module(path):
            raise ModelError(
                f"{str(path)!r} holds a whole pickled module, which featent does not unpickle (it could run any code); "
                "save its weights instead with torch.save(model.state_dict(), PATH) and pass that file."
            ) from exc
        raise


def _holds_pickled_module(path: str | os.PathLike) -> bool:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(Path(path).expanduser()))
    except Exception:  # noqa: BLE001 - not a torch zip file at all
        return False
    return any(name.startswith(("torch.nn.modules", "torchvision.models", "timm.")) or "Net" in name for name in names)


def _load_uncached(spec: ModelSpec, weights: str | os.PathLike | None) -> LoadedModel:
    name = spec.name
    check_name(name)
    if any(name.startswith(prefix) for prefix in TRANSFORMERS) and spec.size is not None and spec.size != TORCHVISION_INPUT_SIZE:
        raise ModelError(
            f"{name} is a transformer with a fixed input size; drop '@{spec.size}' (only its patch-embedding conv is a layer)."
        )
    if name.startswith("timm/") and not timm_available():
        raise ModelError(f"{name!r} needs the optional package timm; install it with 'pip install timm'.")
    if weights is not None:
        state = _read_state(weights)
        with torch.device("meta"):  # shapes only: no memory, no random init to throw away
            module = build(name, n_classes_in(state, build(name)))
        load_state(module, state, str(weights))
        source = str(Path(weights).expanduser().resolve())
    elif spec.seed is not None:
        with seeded(spec.seed):  # random init under a fixed seed; the caller's RNG untouched
            module = build(name)
        source = f"random init (seed {spec.seed})"
    elif name == DEMO:
        if not DEMO_WEIGHTS.is_file():
            raise ModelError(
                f"The demo weights {str(DEMO_WEIGHTS)!r} are missing; "
                "rebuild them with 'featent train-demo' or use 'demo:random'."
            )
        with torch.device("meta"):
            module = build(name)
        load_state(module, read_checkpoint(DEMO_WEIGHTS), str(DEMO_WEIGHTS))
        source = "shipped demo weights"
    elif name.startswith("timm/"):
        module = build(name, pretrained=True)
        source = "timm pretrained"
    else:
        state, file = pretrained_state(name)
        with torch.device("meta"):
            module = build(name)
        load_state(module, state, file)
        source = "torch cache"
    if name == DEMO and spec.size is not None and spec.size != DEMO_INPUT_SIZE:
        raise ModelError(
            f"The demo model only takes {DEMO_INPUT_SIZE}x{DEMO_INPUT_SIZE} inputs; drop '@{spec.size}' from {str(spec)!r}."
        )
    input_size = spec.size or _default_size(name, module)
    mean, std = (DEMO_MEAN, DEMO_STD) if name == DEMO else _norm_of(module)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return _wrap(module, str(spec), name, input_size, mean, std, source, None, pick_device(), legacy_fingerprint=True)


def _default_size(name: str, module: nn.Module) -> int:
    if name == DEMO:
        return DEMO_INPUT_SIZE
    config = getattr(module, "pretrained_cfg", None) or {}
    size = config.get("input_size") if isinstance(config, dict) else None
    return int(size[-1]) if size else TORCHVISION_INPUT_SIZE


def _norm_of(module: nn.Module) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    config = getattr(module, "pretrained_cfg", None) or {}
    if isinstance(config, dict) and "mean" in config and "std" in config:
        return tuple(config["mean"]), tuple(config["std"])  # type: ignore[return-value]
    return IMAGENET_MEAN, IMAGENET_STD


def _wrap(
    module: nn.Module,
    spec: str,
    name: str,
    input_size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    source: str,
    layers: Sequence[str] | None,
    device: torch.device,
    legacy_fingerprint: bool,
) -> LoadedModel:
    module.to(device)
    with evaluating(module):  # traced in eval mode (a functional dropout is traced as off), the caller's mode kept
        found = discover_layers(module, input_size, spec, layers)
    layer_names = () if legacy_fingerprint else tuple(i.name for i in found.layers)
    fingerprint = fingerprint_module(module, name, input_size, layer_names)
    linear = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return LoadedModel(
        spec=spec,
        module=module,
        input_size=input_size,
        n_classes=int(linear[-1].out_features) if linear else 0,
        fingerprint=fingerprint,
        layers=found.layers,
        weights_source=source,
        mean=tuple(mean),  # type: ignore[arg-type]
        std=tuple(std),  # type: ignore[arg-type]
        device=device,
        runner=found.runner,
        discovery=found.method,
        fingerprint_name=name,
        fingerprint_layers=layer_names,
    )


def from_module(
    module: nn.Module,
    input_size: int = 32,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    layers: Sequence[str] | None = None,
    name: str = "custom",
    weights_source: str = "in-memory module",
) -> LoadedModel:
    """Wrap any ``nn.Module`` (not memoized): layers found as for zoo models, or the named module paths /
    graph nodes in ``layers``; its store key hashes its weights and layer list. The module's train/eval
    mode is left as it is: featent runs it in eval mode and restores the mode after each call. When
    ``forward`` has Python control flow and a layer needs tracing, the trace keeps the branch taken now;
    call ``from_module`` again after changing it."""
    if not isinstance(module, nn.Module):
        raise ModelError(f"from_module needs a torch.nn.Module, not a {type(module).__name__}.")
    input_size = check_int("input_size", input_size, 2, 4096, error=ModelError)
    if len(tuple(mean)) != 3 or len(tuple(std)) != 3 or any(float(s) <= 0 for s in std):
        raise ModelError("mean and std must be three numbers each (RGB), the std positive.")
    if isinstance(layers, str):
        layers = [layers]
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    label = name if name != "custom" else type(module).__name__
    rgb_mean = cast(tuple[float, float, float], tuple(mean))  # checked above: three numbers
    rgb_std = cast(tuple[float, float, float], tuple(std))
    return _wrap(module, label, label, input_size, rgb_mean, rgb_std, weights_source, layers, device, legacy_fingerprint=False)


def random_variant(model: str | ModelSpec | LoadedModel, seed: int) -> str | LoadedModel:
    """The random init of ``model``'s architecture with ``seed``: a spec for a spec; for a loaded module a
    copy with every ``reset_parameters()`` re-run under that seed (same input size, normalization and layers)."""
    if not isinstance(model, LoadedModel):
        return ModelSpec.parse(model).random(seed).format(explicit_seed=True)
    module = copy.deepcopy(model.module)
    with seeded(int(seed)), torch.no_grad():
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()
    return from_module(module, input_size=model.input_size, mean=model.mean, std=model.std,
                       layers=[info.name for info in model.layers], name=f"{model.spec} random init (seed {seed})",
                       weights_source=f"random init (seed {seed})")


def clear_model_cache() -> None:
    """Forget memoized models (frees their memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _BUILDING.clear()


def forget_model(spec: str | ModelSpec, weights: str | os.PathLike | None = None) -> None:
    """Forget one memoized model, so loops over many throw-away models (K random inits of VGG16)
    keep one in memory at a time instead of all K."""
    key = (str(ModelSpec.parse(spec)), _file_identity(weights) if weights is not None else None)
    with _CACHE_LOCK:
        _CACHE.pop(key, None)
        _BUILDING.pop(key, None)
