"""Model specs: the one place a model string is read, written and edited.

Grammar: ``NAME[:random[:SEED]][@SIZE]``. ``NAME`` is a zoo name (``demo``, ``vgg11``,
``timm/resnet18``, ``demo-corrupt-0.4``); ``:random`` asks for a random init (seed 0 unless
``:SEED`` follows, ``0 <= SEED < 2**32``); ``@SIZE`` is the input side in pixels (16..1024). A
family checkpoint of the demo is tagged after the ``@`` instead of a size: ``demo@epoch3``,
``demo@iter25``. ``@SIZE`` may also be written before ``:random`` (``vgg11@64:random``), as older
typed selections did; ``str()`` writes the canonical order, and ``ModelSpec.parse(str(spec)) ==
spec`` always holds.

A spec may also name user code: ``path/to/file.py:NAME`` or ``package.module:NAME`` (optionally
``@SIZE``), where ``NAME`` is an ``nn.Module`` subclass, a zero-argument factory or a
``featent.from_module`` result. Such a spec keeps the file or module in ``code`` and ``NAME`` in
``name``; loading it executes that code (``ModelSpec.runs_code``).

Which names exist is decided where models are loaded (``featent.nets``); here only the shape of
the string is checked, so the same parse serves the CLI, the app and the experiments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from featent.errors import DataError, FeatentError, ModelError
from featent.validation import Interval, check

__all__ = ["ModelSpec", "Selection", "SPLITS", "SEED_LIMIT", "MIN_SIZE", "MAX_SIZE", "DEFAULT_RANDOM_SEED"]

#: Random-init seeds must lie in [0, SEED_LIMIT): torch.manual_seed and numpy take 32-bit seeds here.
SEED_LIMIT = 2**32
MIN_SIZE = 16
MAX_SIZE = 1024
DEFAULT_RANDOM_SEED = 0

_NAME = re.compile(r"^(?:timm/)?[a-z0-9][a-z0-9_.\-]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_TAG = re.compile(r"^(epoch|iter)(\d{1,6})$")
_GRAMMAR = "NAME, NAME:random, NAME:random:SEED, each optionally with @SIZE (e.g. 'vgg11:random:3@64')"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec.

    ``seed`` is None for the model's own weights (pretrained, shipped or given by a file) and an
    integer for a random init with that seed; ``size`` is None for the model's default input side;
    ``tag`` names a checkpoint of a training family (``epoch3``, ``iter25``), None otherwise.
    ``code`` is the Python file or module of a user's model (``name`` is then the object in it).
    """

    name: str
    seed: int | None = None
    size: int | None = None
    tag: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.code is not None:
            _check_code(self)
            return
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ModelError(f"{self.name!r} is not a model name; a spec reads {_GRAMMAR}.")
        if self.seed is not None:
            _check_seed(self.seed, self.name)
        if self.size is not None:
            _check_size(self.size, self.name)
        if self.tag is not None:
            if not isinstance(self.tag, str) or not _TAG.match(self.tag):
                raise ModelError(f"{self.tag!r} is not a checkpoint tag; use epochN or iterN, as in 'demo@epoch3'.")
            if self.size is not None:
                raise ModelError(f"{self.name}@{self.tag} is a checkpoint tag and cannot also take an input size.")
            if self.seed is not None:
                raise ModelError(f"{self.name}@{self.tag} names trained weights and cannot also be a random init.")

    # -- reading -----------------------------------------------------------------------------

    @classmethod
    def parse(cls, spec: str | ModelSpec) -> ModelSpec:
        """Read a spec string (a ModelSpec is returned as is); ModelError with the grammar otherwise."""
        if isinstance(spec, ModelSpec):
            return spec
        if not isinstance(spec, str) or not spec.strip():
            raise ModelError(f"No model given; a spec reads {_GRAMMAR}.")
        text = spec.strip()
        code = _parse_code(text)
        if code is not None:
            return code
        if text.count("@") > 1:
            raise ModelError(f"Cannot read model spec {text!r}: more than one '@'; a spec reads {_GRAMMAR}.")
        body, at, after = text.partition("@")
        suffix = ""
        if at:
            # '@SIZE' may sit at the end or before ':random'.
            suffix, colon, rest = after.partition(":")
            body = body + colon + rest
            if not suffix:
                raise ModelError(f"Cannot read model spec {text!r}: nothing after '@'; give a size as in 'vgg11@64'.")
        parts = body.split(":")
        name = parts[0].strip().lower()
        if not name:
            raise ModelError(f"Cannot read model spec {text!r}: no model name; a spec reads {_GRAMMAR}.")
        if not _NAME.match(name):
            raise ModelError(f"Cannot read model spec {text!r}: {parts[0]!r} is not a model name; a spec reads {_GRAMMAR}.")
        seed: int | None = None
        if len(parts) > 1:
            if parts[1] != "random" or len(parts) > 3:
                raise ModelError(f"Cannot read model spec {text!r}; a spec reads {_GRAMMAR}.")
            seed = DEFAULT_RANDOM_SEED
            if len(parts) == 3:
                seed = _read_seed(parts[2], text)
        size: int | None = None
        tag: str | None = None
        if suffix:
            if suffix.isdigit():
                size = int(suffix) if len(suffix) <= 6 else MAX_SIZE + 1
                if not MIN_SIZE <= size <= MAX_SIZE:
                    raise ModelError(
                        f"The input size in {text!r} must be an integer from {MIN_SIZE} to {MAX_SIZE} (as in 'vgg11:random@64')."
                    )
            elif _TAG.match(suffix):
                tag = suffix
            else:
                raise ModelError(
                    f"The input size in {text!r} must be an integer from {MIN_SIZE} to {MAX_SIZE} (as in 'vgg11:random@64'), "
                    "or a checkpoint tag such as 'demo@epoch3'."
                )
        return cls(name=name, seed=seed, size=size, tag=tag)

    # -- writing -----------------------------------------------------------------------------

    def __str__(self) -> str:
        return self.format()

    def format(self, explicit_seed: bool = False) -> str:
        """The spec as text; seed 0 is written as plain ``:random`` unless ``explicit_seed``."""
        if self.code is not None:
            return f"{self.code}:{self.name}" + (f"@{self.size}" if self.size is not None else "")
        text = self.name
        if self.seed is not None:
            text += ":random" if self.seed == DEFAULT_RANDOM_SEED and not explicit_seed else f":random:{self.seed}"
        if self.size is not None:
            text += f"@{self.size}"
        if self.tag is not None:
            text += f"@{self.tag}"
        return text

    # -- editing -----------------------------------------------------------------------------

    @property
    def runs_code(self) -> bool:
        """True when loading this spec imports and runs a user's Python file or module."""
        return self.code is not None

    @property
    def is_random(self) -> bool:
        return self.seed is not None

    @property
    def base(self) -> str:
        """The architecture behind a demo variant: ``demo-corrupt-0.4``, ``demo-digits`` -> ``demo``; others unchanged."""
        return "demo" if self.name.startswith("demo-") else self.name

    @property
    def source(self) -> str | None:
        """``timm`` for ``timm/NAME``; None for the built-in zoo."""
        return self.name.split("/", 1)[0] if "/" in self.name else None

    def random(self, seed: int = DEFAULT_RANDOM_SEED) -> ModelSpec:
        """The same architecture and input size, randomly initialized with ``seed``."""
        return ModelSpec(name=self.base, seed=_check_seed(seed, self.name), size=self.size)

    def pretrained(self) -> ModelSpec:
        """The same architecture and input size with the model's own weights."""
        return replace(self, seed=None)

    def with_size(self, size: int | None) -> ModelSpec:
        """The same spec at another input side (None: the model's default)."""
        if size is not None:
            _check_size(size, self.name)
        return replace(self, size=None if size is None else int(size))


def _parse_code(text: str) -> ModelSpec | None:
    """``FILE.py:NAME[@SIZE]`` or ``package.module:NAME[@SIZE]`` as a code spec; None for a zoo spec."""
    body, at, suffix = text.rpartition("@") if "@" in text else (text, "", "")
    source, colon, name = body.rpartition(":")
    if not colon or not source or name in ("random", "") or name.isdigit():
        return None
    is_path = source.endswith(".py") or (("/" in source or "\\" in source) and not source.startswith("timm/"))
    if not is_path and not ("." in source and _MODULE_PATH.match(source)):
        return None
    size: int | None = None
    if at:
        if not suffix.isdigit():
            raise ModelError(
                f"The input size in {text!r} must be an integer from {MIN_SIZE} to {MAX_SIZE} (as in 'net.py:Net@32')."
            )
        size = int(suffix) if len(suffix) <= 6 else MAX_SIZE + 1
    return ModelSpec(name=name.strip(), size=size, code=source.strip())


def _check_code(spec: ModelSpec) -> None:
    if not isinstance(spec.code, str) or not spec.code.strip():
        raise ModelError("A code spec needs a Python file or module, as in 'net.py:Net' or 'mypackage.nets:Net'.")
    if not spec.code.endswith(".py") and "/" not in spec.code and "\\" not in spec.code and not _MODULE_PATH.match(spec.code):
        raise ModelError(f"{spec.code!r} is neither a .py file nor a module path; write 'net.py:Net' or 'mypackage.nets:Net'.")
    if not isinstance(spec.name, str) or not _IDENT.match(spec.name):
        raise ModelError(
            f"{spec.name!r} is not a Python name; after the ':' comes the class, factory or object in {spec.code!r}."
        )
    if spec.seed is not None or spec.tag is not None:
        raise ModelError(f"{spec.code}:{spec.name} is the user's own model and takes neither ':random' nor a checkpoint tag.")
    if spec.size is not None:
        _check_size(spec.size, spec.name)


def _read_seed(text: str, spec: str) -> int:
    if not text.isdigit():
        raise ModelError(f"The seed in {spec!r} must be an integer from 0 to {SEED_LIMIT - 1}.")
    if len(text) > 12 or int(text) >= SEED_LIMIT:
        raise ModelError(f"The seed in {spec!r} is too large; seeds run from 0 to {SEED_LIMIT - 1}.")
    return int(text)


def _check_seed(seed: object, name: str) -> int:
    return int(check(f"The random-init seed of {name!r}", seed, Interval(int, 0, SEED_LIMIT - 1), ModelError))


def _check_size(size: object, name: str) -> int:
    return int(check(f"The input size of {name!r}", size, Interval(int, MIN_SIZE, MAX_SIZE), ModelError))


#: The dataset splits a selection may sample from.
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Selection:
    """What to measure: a model, a dataset, one class, some layers, N images, a seed, a split.

    ``model`` is a spec string, a ``ModelSpec`` (kept as its canonical string) or a ``LoadedModel``
    (a module brought with ``featent.from_module``; its store key hashes its weights and layer
    list). The fields are checked here, once, so every experiment receives a valid selection;
    that the class and layers exist is checked where the dataset and model are loaded.
    """

    model: Any
    data: str
    class_name: str
    layers: tuple[str, ...]
    n_images: int = 100
    seed: int = 0
    weights: str | None = None
    split: str = "train"

    def __post_init__(self) -> None:
        if isinstance(self.model, ModelSpec):
            object.__setattr__(self, "model", str(self.model))
        elif isinstance(self.model, str):
            if not self.model.strip():
                ModelSpec.parse(self.model)  # raises the grammar's "No model given" message
        elif not hasattr(self.model, "fingerprint") or not hasattr(self.model, "layers"):
            raise FeatentError(f"A selection's model is a spec string, a ModelSpec or a loaded model, "
                               f"not {type(self.model).__name__}.")
        layers = (self.layers,) if isinstance(self.layers, str) else tuple(self.layers)
        if not all(isinstance(layer, str) for layer in layers):
            raise ModelError(f"Layers are given by name, got {layers!r}.")
        object.__setattr__(self, "layers", layers)
        if not isinstance(self.data, str) or not self.data.strip():
            raise DataError(f"data must be a dataset name or a folder, got {self.data!r}.")
        if not isinstance(self.class_name, str):
            raise DataError(f"class_name must be a class name, got {self.class_name!r}.")
        object.__setattr__(self, "n_images", check("n_images", self.n_images, Interval(int, 1, None)))
        object.__setattr__(self, "seed", check("seed", self.seed, Interval(int, 0, None)))
        if self.weights is not None and not isinstance(self.weights, str):
            object.__setattr__(self, "weights", str(self.weights))
        if self.split not in SPLITS:
            raise DataError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {self.split!r}.")

    def one_layer(self, layer: str | None = None) -> Selection:
        """The same selection restricted to ``layer`` (its first selected layer when None)."""
        chosen = layer or (self.layers[0] if self.layers else "")
        if not chosen:
            raise ModelError("No layer given; a one-layer experiment needs a layer.")
        return replace(self, layers=(chosen,))

    def with_class(self, class_name: str, n_images: int | None = None) -> Selection:
        """The same selection on another class (and optionally another image count)."""
        return replace(self, class_name=class_name, n_images=self.n_images if n_images is None else n_images)

    def replace(self, **changes: Any) -> Selection:
        """A copy with some fields changed (checked like a new selection)."""
        return replace(self, **changes)
