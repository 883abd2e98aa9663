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

The names (specs, run ids, folders) live in ``featent.nets.family``, so ``featent.nets.load_model``
knows these specs anywhere a model spec is accepted (CLI, app, pipeline) with nothing imported
first; it calls :func:`ensure_run` here when a run is missing, or a run is built ahead of time with
``featent train-family`` (with progress).

The standard runs ship with featent (``featent.nets.family.SHIPPED_DIRECTORY``) and are used first;
other runs live in ``<cache dir>/family/<run id>/`` (``epoch_NNN.pt`` / ``iter_NNNNN.pt`` state_dicts,
``history.json``). ``featent train-family`` retrains into the cache and compares with the shipped run
(:func:`compare_with_shipped`). A run is trained in a temporary folder and renamed into place, so a crash or a
concurrent build never leaves a half-written run behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from featent.errors import FeatentError, ModelError
from featent.nets.family import (
    CORRUPT_EPOCHS,
    CORRUPT_LEVELS,
    FAMILY_RECIPE,
    FAMILY_SEED,
    ITERATION_CHECKPOINTS,
    FamilyRun,
    base_run,
    corrupt_run,
    family_checkpoint,
    family_directory,
    family_specs,
    parse_family_spec,
    resolve_family_spec,
    run_complete,
    run_for,
    shipped_run,
)
from featent.progress import Progress, ProgressLike
from featent.store import write_bytes_atomic
from featent.training.loop import train

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
    "compare_with_shipped",
    "family_checkpoint",
    "corrupt_run",
    "base_run",
    "ITERATION_CHECKPOINTS",
    "FAMILY_RECIPE",
]


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(run: FamilyRun) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(run.run_id, threading.Lock())


def ensure_run(
    run: FamilyRun, progress: ProgressLike = None, root: str | os.PathLike | None = None, build: bool = True,
    shipped: bool = True,
) -> Path:
    """The folder of a finished run: the shipped one (unless ``root`` is given or ``shipped`` is False), else
    the one under ``root`` (default: the cache), training it first if needed (``build=False``: ModelError instead)."""
    progress = Progress.of(progress)
    if root is None and shipped:
        found = shipped_run(run)
        if found is not None:
            return found
    base = Path(root).expanduser() if root is not None else family_directory()
    target = base / run.run_id
    if run_complete(target, run):
        return target
    if not build:
        raise ModelError(f"The demo family run {run.run_id} is not built yet; run 'featent train-family'.")
    with _lock(run):
        if run_complete(target, run):
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
            write_bytes_atomic(scratch / "history.json", json.dumps(history, indent=1).encode())
            try:
                os.replace(scratch, target)
            except OSError:
                if not run_complete(target, run):  # another process won the race with a complete run
                    raise
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
    progress(1.0, f"{run.run_id} ready")
    return target


def run_history(run: FamilyRun, root: str | os.PathLike | None = None, build: bool = True,
                progress: ProgressLike = None) -> list[dict]:
    """Per-epoch ``{"epoch", "loss", "train_accuracy", "test_accuracy"}`` of a run (epoch 0 = init)."""
    directory = ensure_run(run, progress=progress, root=root, build=build)
    try:
        rows = json.loads((directory / "history.json").read_text())["epochs"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"The history of family run {run.run_id} cannot be read; delete {str(directory)!r} to rebuild it."
        ) from exc
    return [{k: row[k] for k in ("epoch", "loss", "train_accuracy", "test_accuracy")} for row in rows]


def iteration_history(run: FamilyRun, root: str | os.PathLike | None = None, build: bool = True,
                      progress: ProgressLike = None) -> list[dict]:
    """``{"iteration", "epoch", "loss", "train_accuracy", "test_accuracy"}`` at every checkpoint of a run,
    early checkpoints included, in training order (loss: on the whole training subset)."""
    directory = ensure_run(run, progress=progress, root=root, build=build)
    try:
        saved = json.loads((directory / "history.json").read_text())
        rows = saved["epochs"] + saved.get("iterations", [])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"The history of family run {run.run_id} cannot be read; delete {str(directory)!r} to rebuild it."
        ) from exc
    keys = ("iteration", "epoch", "loss", "train_accuracy", "test_accuracy")
    return sorted(({k: row.get(k) for k in keys} for row in rows), key=lambda r: (r["iteration"] or 0, r["epoch"]))


def build_family(
    levels: Sequence[float] = CORRUPT_LEVELS, base: bool = True, progress: ProgressLike = None,
    root: str | os.PathLike | None = None, shipped: bool = True,
) -> list[tuple[FamilyRun, Path]]:
    """Train (or find) the base run and the corrupted-label runs ahead of time (``shipped=False``: in the
    cache even where featent ships the run, to rebuild it on this machine)."""
    progress = Progress.of(progress)
    runs = list(dict.fromkeys(([base_run()] if base else []) + [corrupt_run(level) for level in levels]))
    out = []
    for k, run in enumerate(runs):
        part = progress.subrange(k / len(runs), (k + 1) / len(runs))

        def step(fraction: float, message: str, part: Progress = part, run: FamilyRun = run) -> None:
            part(fraction, f"{run.run_id}: {message}")

        out.append((run, ensure_run(run, progress=Progress(step, progress.warn), root=root, shipped=shipped)))
    progress(1.0, "family ready")
    return out


def compare_with_shipped(run: FamilyRun, directory: Path) -> dict | None:
    """How a run built here differs from the shipped one: the largest absolute weight difference of its last
    epoch and its final accuracies beside the shipped ones; None when featent does not ship the run."""
    import torch

    reference = shipped_run(run)
    if reference is None:
        return None
    name = f"epoch_{run.epochs:03d}.pt"
    ours = torch.load(directory / name, map_location="cpu", weights_only=True)
    theirs = torch.load(reference / name, map_location="cpu", weights_only=True)
    difference = max(float((ours[k].float() - theirs[k].float()).abs().max()) for k in theirs)
    shipped_last = json.loads((reference / "history.json").read_text())["epochs"][-1]
    return {"max_weight_difference": difference, "identical": difference == 0.0,
            "shipped_train_accuracy": shipped_last["train_accuracy"], "shipped_test_accuracy": shipped_last["test_accuracy"]}
