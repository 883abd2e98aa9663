"""The demo training family's names: which spec is which checkpoint of which run, and where it lives.

Why here, under ``featent.nets``: ``load_model("demo@epoch3")`` must find the checkpoint wherever
models are loaded, with nothing else imported first. Naming and lookup are torch-free and sit with
the loader; training a missing run is ``featent.training``'s job, declared below as
:data:`TRAINER_MODULE` and imported only when a run has to be built (training sits above nets
because it trains them).

The family (see ``featent.training.family`` for why it exists): checkpoints of one clean run
(``demo@epochN``, early ``demo@iterK`` optimizer steps) and corrupted-label runs (``demo-corrupt-X``),
all from one :class:`Recipe`. The standard runs ship with featent (``featent/weights/family/<run id>/``,
float32 state_dicts): training gives slightly different floats on another CPU, and the published
tables must reproduce everywhere. Any other run (another recipe, level or length) is trained on first
use into ``<cache dir>/family/<run id>/``; the run id names every training setting, so a change of
recipe never reuses stale weights.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from featent.errors import ModelError
from featent.store import default_directory

__all__ = [
    "Recipe",
    "FAMILY_SEED",
    "CORRUPT_LEVELS",
    "CORRUPT_EPOCHS",
    "ITERATION_CHECKPOINTS",
    "FAMILY_RECIPE",
    "TRAINER_MODULE",
    "FamilyRun",
    "base_run",
    "corrupt_run",
    "family_checkpoint",
    "parse_family_spec",
    "family_specs",
    "family_directory",
    "SHIPPED_DIRECTORY",
    "shipped_run",
    "run_for",
    "run_complete",
    "resolve_family_spec",
]


@dataclass(frozen=True)
class Recipe:
    """Everything besides seed and label noise that decides the trained weights of the demo CNN."""

    data: str = "fashion"
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 2e-3
    augment: bool = False
    init: str = "default"  # "default" (PyTorch's) or "kaiming" (Kaiming-normal weights, zero biases)
    train_per_class: int | None = None  # the first N training images of each class (file order); None = all
    full_data: bool = True  # refuse to run on the shipped subset when the recipe asks for the full set

    def describe(self) -> str:
        subset = "all" if self.train_per_class is None else f"{self.train_per_class}/class"
        return (f"{self.data} ({subset}), {self.epochs} epochs, batch {self.batch_size}, Adam {self.learning_rate:g} "
                f"cosine, {self.init} init, {'shift augmentation' if self.augment else 'no augmentation'}")


FAMILY_SEED = 0
#: Corruption levels of model set B (Zhang et al. 2017); 0.0 is the clean run.
CORRUPT_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)
#: Epochs of every family run (read when a run is named, so tests may shorten it).
CORRUPT_EPOCHS = 35
#: Early checkpoints of the clean run, in optimizer steps.
ITERATION_CHECKPOINTS = (25, 50, 100, 200)
#: The one family recipe: Kaiming-normal init, Adam 1e-3 with cosine decay, batches of 32, no
#: augmentation (memorization is the point), 300 images per class of the shipped subset.
FAMILY_RECIPE = Recipe(
    data="fashion-subset", epochs=CORRUPT_EPOCHS, batch_size=32, learning_rate=1e-3, augment=False,
    init="kaiming", train_per_class=300, full_data=False,
)
#: The module whose ``ensure_run(run)`` trains a missing run (imported only then).
TRAINER_MODULE = "featent.training.family"

_EPOCH_SPEC = re.compile(r"^demo@epoch(\d{1,4})$")
_ITER_SPEC = re.compile(r"^demo@iter(\d{1,6})$")
_CORRUPT_SPEC = re.compile(r"^demo-corrupt-(\d(?:\.\d{1,3})?)$")
_RECIPE_VERSION = "v2"


@dataclass(frozen=True)
class FamilyRun:
    """One deterministic training run of the demo family (its epoch, and for the clean run its early, checkpoints)."""

    seed: int
    epochs: int
    label_noise: float
    augment: bool = False
    recipe: str = "family"

    def training_recipe(self) -> Recipe:
        if self.recipe != "family":
            raise ModelError(f"Unknown family recipe {self.recipe!r}.")
        return replace(FAMILY_RECIPE, epochs=self.epochs, augment=self.augment)

    @property
    def clean(self) -> bool:
        return self.label_noise == 0.0

    @property
    def run_id(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self.training_recipe()), sort_keys=True).encode()).hexdigest()[:8]
        return f"{_RECIPE_VERSION}-{self.recipe}-{digest}-seed{self.seed}-epochs{self.epochs}-noise{self.label_noise:.3f}"


def base_run() -> FamilyRun:
    """The clean run behind ``demo@epochN``, ``demo@iterK`` and ``demo-corrupt-0.0``."""
    return FamilyRun(seed=FAMILY_SEED, epochs=CORRUPT_EPOCHS, label_noise=0.0)


def corrupt_run(level: float) -> FamilyRun:
    """The run behind ``demo-corrupt-X``: the same recipe with that fraction of labels corrupted."""
    return FamilyRun(seed=FAMILY_SEED, epochs=CORRUPT_EPOCHS, label_noise=float(level))


def family_checkpoint(spec: object) -> tuple[FamilyRun, str] | None:
    """A family spec -> (run, checkpoint file name in the run folder); None for any other spec."""
    if not isinstance(spec, str):
        return None
    text = spec.strip()
    match = _ITER_SPEC.match(text)
    if match:
        run, step = base_run(), int(match.group(1))
        if step not in ITERATION_CHECKPOINTS:
            shown = ", ".join(f"demo@iter{k}" for k in ITERATION_CHECKPOINTS)
            raise ModelError(f"{text!r}: the demo family keeps the early checkpoints {shown}.")
        return run, f"iter_{step:05d}.pt"
    parsed = parse_family_spec(text)
    if parsed is None:
        return None
    return parsed[0], f"epoch_{parsed[1]:03d}.pt"


def parse_family_spec(spec: object) -> tuple[FamilyRun, int | None] | None:
    """``demo@epochN`` / ``demo-corrupt-X`` -> (run, epoch); ``demo@iterK`` -> (run, None); else None."""
    if not isinstance(spec, str):
        return None
    text = spec.strip()
    if _ITER_SPEC.match(text):
        family_checkpoint(text)  # checks the step
        return base_run(), None
    match = _EPOCH_SPEC.match(text)
    if match:
        run = base_run()
        epoch = int(match.group(1))
        if epoch > run.epochs:
            raise ModelError(f"{text!r}: the demo family has epochs 0 to {run.epochs}.")
        return run, epoch
    match = _CORRUPT_SPEC.match(text)
    if match:
        level = float(match.group(1))
        if not 0.0 <= level < 1.0:
            raise ModelError(f"{text!r}: the corruption level must be a fraction from 0 to below 1, e.g. demo-corrupt-0.4.")
        run = corrupt_run(level)
        return run, run.epochs
    return None


def family_specs() -> list[str]:
    """The standard family specs: the early checkpoints and every epoch of the clean run, then each corruption level."""
    run = base_run()
    return ([f"demo@iter{k}" for k in ITERATION_CHECKPOINTS] + [f"demo@epoch{e}" for e in range(run.epochs + 1)]
            + [f"demo-corrupt-{level:.1f}" for level in CORRUPT_LEVELS])


def family_directory() -> Path:
    """``<cache dir>/family`` (the result store's directory, FEATENT_CACHE_DIR overrides)."""
    return default_directory() / "family"


#: The trained standard runs that ship inside the package (used before anything in the cache).
SHIPPED_DIRECTORY = Path(__file__).resolve().parent.parent / "weights" / "family"


def shipped_run(run: FamilyRun) -> Path | None:
    """The shipped folder of ``run`` when featent ships it complete, else None."""
    directory = SHIPPED_DIRECTORY / run.run_id
    return directory if run_complete(directory, run) else None


def run_for(spec: str) -> FamilyRun:
    """The run a family spec belongs to (ModelError if it is not a family spec)."""
    parsed = parse_family_spec(spec)
    if parsed is None:
        raise ModelError(f"{spec!r} is not a demo family model; use demo@epochN or demo-corrupt-X.")
    return parsed[0]


def run_complete(directory: Path, run: FamilyRun) -> bool:
    """True when ``directory`` holds a finished run (its history and its last epoch)."""
    return (directory / "history.json").is_file() and (directory / f"epoch_{run.epochs:03d}.pt").is_file()


def resolve_family_spec(spec: object, build: bool = True) -> tuple[str, str] | None:
    """A family spec -> ("demo", checkpoint path): the shipped run, else the cached one, training it first
    when missing; None for any other spec."""
    found = family_checkpoint(spec)
    if found is None:
        return None
    run, name = found
    directory = shipped_run(run) or family_directory() / run.run_id
    if not run_complete(directory, run):
        if not build:
            raise ModelError(f"The demo family run {run.run_id} is not built yet; run 'featent train-family'.")
        directory = importlib.import_module(TRAINER_MODULE).ensure_run(run)
    path = directory / name
    if not path.is_file():
        raise ModelError(f"{str(spec).strip()!r} is not a checkpoint of the demo family run {run.run_id}.")
    return "demo", str(path)
