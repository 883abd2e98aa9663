"""The demo training family: per-epoch checkpoints (``demo@epochN``) and corrupted-label models
(``demo-corrupt-X``), trained deterministically on demand and kept under the cache directory.

Why a family: the paper follows FE during training (Fig. 5B) and across models of different
generalization (Fig. 6, model set B: labels corrupted at 0.2/0.4/0.6/0.8, Zhang et al. 2017).
``featent.nets.models.load_model`` consults :func:`resolve_family_spec`, so these specs load anywhere a
model spec is accepted (CLI, app, pipeline); a missing run is trained then, or ahead of time with
``featent train-family`` (with progress).

Runs live in ``<cache dir>/family/<run id>/`` (``epoch_NNN.pt`` state_dicts, ``history.json``); the
run id names every training setting, so a change of recipe never reuses stale weights. A run is
trained in a temporary folder and renamed into place, so a crash or a concurrent build never
leaves a half-written run behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from featent.errors import FeatentError, ModelError
from featent.nets.models import register_spec_resolver

Progress = Callable[[float, str], None]

#: The base family (``demo@epochN``): the shipped demo's own recipe (featent.training.loop defaults).
FAMILY_SEED = 0
#: Corruption levels of model set B (Zhang et al. 2017); 0.0 is the same recipe without noise.
CORRUPT_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)
#: The memorization recipe of the corrupted-label runs. featent.training.loop's demo recipe (default
#: PyTorch init, Adam 2e-3) never leaves the constant-output plateau at 80% noise, so these runs
#: use Kaiming-normal init, Adam 1e-3 with cosine decay, batches of 32 and no augmentation, which
#: fits even 80% random labels to ~100% training accuracy (Zhang et al. 2017's "near-zero
#: training error") in CORRUPT_EPOCHS epochs.
CORRUPT_EPOCHS = 40
CORRUPT_LR = 1e-3
CORRUPT_BATCH = 32

_EPOCH_SPEC = re.compile(r"^demo@epoch(\d{1,4})$")
_CORRUPT_SPEC = re.compile(r"^demo-corrupt-(\d(?:\.\d{1,3})?)$")
_RECIPE_VERSION = "v1"

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
    "build_family",
    "train_memorize",
]


@dataclass(frozen=True)
class FamilyRun:
    """One deterministic training run of the demo CNN (all its epoch checkpoints)."""

    seed: int
    epochs: int
    label_noise: float
    augment: bool
    recipe: str = "demo"  # "demo": featent.training.loop.train_demo; "memorize": the corrupted-label recipe

    @property
    def run_id(self) -> str:
        return (
            f"{_RECIPE_VERSION}-{self.recipe}-seed{self.seed}-epochs{self.epochs}-noise{self.label_noise:.3f}-"
            f"{'aug' if self.augment else 'noaug'}"
        )


def base_run() -> FamilyRun:
    """The run behind ``demo@epochN``: the shipped demo's recipe, so ``demo@epoch15`` is the demo."""
    from featent.training.loop import DEFAULT_EPOCHS

    return FamilyRun(seed=FAMILY_SEED, epochs=DEFAULT_EPOCHS, label_noise=0.0, augment=True)


def corrupt_run(level: float) -> FamilyRun:
    """The run behind ``demo-corrupt-X``: no augmentation (memorization is the point), fixed length."""
    return FamilyRun(seed=FAMILY_SEED, epochs=CORRUPT_EPOCHS, label_noise=float(level), augment=False, recipe="memorize")


def parse_family_spec(spec: object) -> tuple[FamilyRun, int] | None:
    """``demo@epochN`` / ``demo-corrupt-X`` -> (run, epoch); None for any other spec."""
    if not isinstance(spec, str):
        return None
    text = spec.strip()
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
    """The standard family specs: every epoch of the base run, then each corruption level."""
    run = base_run()
    return [f"demo@epoch{e}" for e in range(run.epochs + 1)] + [f"demo-corrupt-{level:.1f}" for level in CORRUPT_LEVELS]


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
    from featent.training.loop import train_demo

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
            if run.recipe == "memorize":
                train_memorize(run, scratch, progress)
            else:
                train_demo(
                    seed=run.seed, epochs=run.epochs, label_noise=run.label_noise,
                    checkpoint_dir=scratch, progress=progress, augment=run.augment,
                )
            history = json.loads((scratch / "history.json").read_text())
            for row in history["epochs"]:  # paths relative to the run folder, valid after the rename
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


def train_memorize(run: FamilyRun, directory: Path, progress: Progress | None = None, epochs: int | None = None) -> list[dict]:
    """Fit (possibly corrupted) digits labels with the memorization recipe; deterministic per seed.

    Writes ``history.json`` (loss and accuracies per epoch, epoch 0 = init) and the state_dicts of
    epoch 0 and the last epoch, in the same layout as ``featent.training.loop.train_demo``.
    """
    import torch
    from torch import nn

    from featent.data import load_dataset
    from featent.nets.models import DEMO_INPUT_SIZE, DemoNet
    from featent.training.loop import _deterministic, _normalize, evaluate, noisy_labels

    n_epochs = run.epochs if epochs is None else int(epochs)
    dataset = load_dataset("digits")
    train_x, train_y = dataset.split_arrays("train", DEMO_INPUT_SIZE)
    test_x, test_y = dataset.split_arrays("test", DEMO_INPUT_SIZE)
    train_x, test_x = _normalize(train_x), _normalize(test_x)
    train_y = noisy_labels(train_y, run.label_noise, run.seed)
    rows: list[dict] = []
    with _deterministic(run.seed):
        model = DemoNet()
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        optimizer = torch.optim.Adam(model.parameters(), lr=CORRUPT_LR)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
        generator = torch.Generator().manual_seed(run.seed)

        def record(epoch: int, loss: float) -> None:
            row = {"epoch": epoch, "loss": loss, "train_accuracy": evaluate(model, train_x, train_y)[1],
                   "test_accuracy": evaluate(model, test_x, test_y)[1], "checkpoint": None}
            if epoch in (0, n_epochs):
                row["checkpoint"] = str(directory / f"epoch_{epoch:03d}.pt")
                torch.save(model.state_dict(), row["checkpoint"])
            rows.append(row)

        record(0, evaluate(model, train_x, train_y)[0])
        n_batches = (len(train_x) + CORRUPT_BATCH - 1) // CORRUPT_BATCH
        for epoch in range(1, n_epochs + 1):
            model.train()
            order = torch.randperm(len(train_x), generator=generator)
            total = 0.0
            for b in range(n_batches):
                index = order[b * CORRUPT_BATCH : (b + 1) * CORRUPT_BATCH]
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(train_x[index]), train_y[index])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
            scheduler.step()
            record(epoch, total / len(train_x))
            if progress is not None:
                progress(epoch / n_epochs, f"epoch {epoch}/{n_epochs}")
        model.eval()
    (directory / "history.json").write_text(json.dumps({"seed": run.seed, "label_noise": run.label_noise, "epochs": rows}, indent=1))
    return rows


def resolve_family_spec(spec: object, build: bool = True) -> tuple[str, str] | None:
    """For ``featent.nets.models.load_model``: a family spec -> ("demo", checkpoint path); else None."""
    parsed = parse_family_spec(spec)
    if parsed is None:
        return None
    run, epoch = parsed
    return "demo", str(ensure_run(run, build=build) / f"epoch_{epoch:03d}.pt")


def run_history(run: FamilyRun, root: str | os.PathLike | None = None, build: bool = True,
                progress: Progress | None = None) -> list[dict]:
    """Per-epoch ``{"epoch", "loss", "train_accuracy", "test_accuracy"}`` of a run (epoch 0 = init)."""
    directory = ensure_run(run, progress=progress, root=root, build=build)
    try:
        rows = json.loads((directory / "history.json").read_text())["epochs"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"The history of family run {run.run_id} cannot be read; delete {str(directory)!r} to rebuild it.") from exc
    return [{k: row[k] for k in ("epoch", "loss", "train_accuracy", "test_accuracy")} for row in rows]


def build_family(
    levels: Sequence[float] = CORRUPT_LEVELS, base: bool = True, progress: Progress | None = None,
    root: str | os.PathLike | None = None,
) -> list[tuple[FamilyRun, Path]]:
    """Train (or find) the base run and the corrupted-label runs ahead of time."""
    runs = ([base_run()] if base else []) + [corrupt_run(level) for level in levels]
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
