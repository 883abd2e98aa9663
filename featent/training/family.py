"""The demo training family: checkpoints across training (``demo@epochN``, ``demo@iterK``) and
corrupted-label models (``demo-corrupt-X``), trained deterministically on demand and kept under the
cache directory.

Why a family: the paper follows FE during training (Fig. 5B) and across models of different
generalization (Fig. 6, model set B: labels corrupted at 0.2/0.4/0.6/0.8, Zhang et al. 2017). Every
member comes from ONE recipe on one fixed subset of Fashion-MNIST (the first 300 training images of
each class, shipped with featent, so the family is the same with or without the full set), trained
until even 80% random labels are fitted to >= 97% training accuracy: clean and corrupted models are
compared at matched training accuracy. ``demo-corrupt-0.0`` is the last epoch of the clean run that
also gives ``demo@epochN`` and the early checkpoints ``demo@iterK`` (optimizer steps; FE makes its
big move as the net leaves its initialisation).

``featent.nets.load_model`` consults :func:`resolve_family_spec`, so these specs load anywhere a
model spec is accepted (CLI, app, pipeline); a missing run is trained then, or ahead of time with
``featent train-family`` (with progress).

Runs live in ``<cache dir>/family/<run id>/`` (``epoch_NNN.pt`` / ``iter_NNNNN.pt`` state_dicts,
``history.json``); the run id names every training setting, so a change of recipe never reuses stale
weights. A run is trained in a temporary folder and renamed into place, so a crash or a concurrent
build never leaves a half-written run behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from featent.errors import FeatentError, ModelError
from featent.nets import register_spec_resolver
from featent.training.loop import Recipe

Progress = Callable[[float, str], None]

FAMILY_SEED = 0
#: Corruption levels of model set B (Zhang et al. 2017); 0.0 is the clean run.
CORRUPT_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)
#: Epochs of every family run (read when a run is made, so tests may shorten it).
CORRUPT_EPOCHS = 35
#: Early checkpoints of the clean run, in optimizer steps.
ITERATION_CHECKPOINTS = (25, 50, 100, 200)
#: The one family recipe: Kaiming-normal init, Adam 1e-3 with cosine decay, batches of 32, no
#: augmentation (memorization is the point), 300 images per class of the shipped subset.
FAMILY_RECIPE = Recipe(
    data="fashion-subset", epochs=CORRUPT_EPOCHS, batch_size=32, learning_rate=1e-3, augment=False,
    init="kaiming", train_per_class=300, full_data=False,
)

_EPOCH_SPEC = re.compile(r"^demo@epoch(\d{1,4})$")
_ITER_SPEC = re.compile(r"^demo@iter(\d{1,6})$")
_CORRUPT_SPEC = re.compile(r"^demo-corrupt-(\d(?:\.\d{1,3})?)$")
_RECIPE_VERSION = "v2"

__all__ = [
    "FAMILY_SEED",
    "CORRUPT_LEVELS",
    "CORRUPT_EPOCHS",
    "FamilyRun",
    "parse_family_spec",
    "resolve_family_spec",
    "family_specs",
    "family_directory",
    "run_for",
    "ensure_run",
    "run_history",
    "iteration_history",
    "build_family",
    "family_checkpoint",
    "corrupt_run",
    "base_run",
    "ITERATION_CHECKPOINTS",
    "FAMILY_RECIPE",
]


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


def parse_family_spec(spec: object) -> tuple[FamilyRun, int] | None:
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
    from featent.store import default_directory

    return default_directory() / "family"


def run_for(spec: str) -> FamilyRun:
    """The run a family spec belongs to (ModelError if it is not a family spec)."""
    parsed = parse_family_spec(spec)
    if parsed is None:
        raise ModelError(f"{spec!r} is not a demo family model; use demo@epochN or demo-corrupt-X.")
    return parsed[0]


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(run: FamilyRun) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(run.run_id, threading.Lock())


def _complete(directory: Path, run: FamilyRun) -> bool:
    return (directory / "history.json").is_file() and (directory / f"epoch_{run.epochs:03d}.pt").is_file()


def ensure_run(
    run: FamilyRun, progress: Progress | None = None, root: str | os.PathLike | None = None, build: bool = True
) -> Path:
    """The folder of a finished run, training it first if needed (``build=False``: ModelError instead)."""
    from featent.training.loop import train

    base = Path(root).expanduser() if root is not None else family_directory()
    target = base / run.run_id
    if _complete(target, run):
        return target
    if not build:
        raise ModelError(f"The demo family run {run.run_id} is not built yet; run 'featent train-family'.")
    with _lock(run):
        if _complete(target, run):
            return target
        try:
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{run.run_id}-", dir=base))
        except OSError as exc:
            raise FeatentError(f"Cannot create the family folder {str(base)!r}: {exc.strerror or exc}.") from exc
        try:
            train(
                run.training_recipe(), seed=run.seed, label_noise=run.label_noise, checkpoint_dir=scratch,
                progress=progress, checkpoint_iters=ITERATION_CHECKPOINTS if run.clean else (),
                checkpoint_epochs=None if run.clean else (0, run.epochs),
            )
            history = json.loads((scratch / "history.json").read_text())
            for row in history["epochs"] + history.get("iterations", []):  # relative to the run folder
                if row.get("checkpoint"):
                    row["checkpoint"] = Path(row["checkpoint"]).name
            history["run"] = run.run_id
            (scratch / "history.json").write_text(json.dumps(history, indent=1))
            try:
                os.replace(scratch, target)
            except OSError:
                if not _complete(target, run):  # another process won the race with a complete run
                    raise
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
    if progress is not None:
        progress(1.0, f"{run.run_id} ready")
    return target


def resolve_family_spec(spec: object, build: bool = True) -> tuple[str, str] | None:
    """For ``featent.nets.load_model``: a family spec -> ("demo", checkpoint path); else None."""
    found = family_checkpoint(spec)
    if found is None:
        return None
    run, name = found
    path = ensure_run(run, build=build) / name
    if not path.is_file():
        raise ModelError(f"{str(spec).strip()!r} is not a checkpoint of the demo family run {run.run_id}.")
    return "demo", str(path)


def run_history(run: FamilyRun, root: str | os.PathLike | None = None, build: bool = True,
                progress: Progress | None = None) -> list[dict]:
    """Per-epoch ``{"epoch", "loss", "train_accuracy", "test_accuracy"}`` of a run (epoch 0 = init)."""
    directory = ensure_run(run, progress=progress, root=root, build=build)
    try:
        rows = json.loads((directory / "history.json").read_text())["epochs"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"The history of family run {run.run_id} cannot be read; delete {str(directory)!r} to rebuild it.") from exc
    return [{k: row[k] for k in ("epoch", "loss", "train_accuracy", "test_accuracy")} for row in rows]


def iteration_history(run: FamilyRun, root: str | os.PathLike | None = None, build: bool = True,
                      progress: Progress | None = None) -> list[dict]:
    """``{"iteration", "epoch", "loss", "train_accuracy", "test_accuracy"}`` at every checkpoint of a run,
    early checkpoints included, in training order (loss: on the whole training subset)."""
    directory = ensure_run(run, progress=progress, root=root, build=build)
    try:
        saved = json.loads((directory / "history.json").read_text())
        rows = saved["epochs"] + saved.get("iterations", [])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"The history of family run {run.run_id} cannot be read; delete {str(directory)!r} to rebuild it.") from exc
    keys = ("iteration", "epoch", "loss", "train_accuracy", "test_accuracy")
    return sorted(({k: row.get(k) for k in keys} for row in rows), key=lambda r: (r["iteration"] or 0, r["epoch"]))


def build_family(
    levels: Sequence[float] = CORRUPT_LEVELS, base: bool = True, progress: Progress | None = None,
    root: str | os.PathLike | None = None,
) -> list[tuple[FamilyRun, Path]]:
    """Train (or find) the base run and the corrupted-label runs ahead of time."""
    runs = list(dict.fromkeys(([base_run()] if base else []) + [corrupt_run(level) for level in levels]))
    out = []
    for k, run in enumerate(runs):
        def step(fraction: float, message: str, k: int = k, run: FamilyRun = run) -> None:
            if progress is not None:
                progress((k + fraction) / len(runs), f"{run.run_id}: {message}")

        out.append((run, ensure_run(run, progress=step, root=root)))
    if progress is not None:
        progress(1.0, "family ready")
    return out


register_spec_resolver(resolve_family_spec)
