"""Deterministic training of the demo CNN (the shipped default, and the family studied across training).

Same recipe and seed -> same weights, bit for bit, on the same machine and torch build: the RNG is
forked and seeded, deterministic algorithms are switched on, the intra-op thread count is fixed for
the run, and batches are shuffled by a seeded generator. Global torch settings are restored afterwards.

A :class:`Recipe` names everything that shapes the weights (data, subset, epochs, batch, learning
rate, init, augmentation). ``label_noise`` replaces that fraction of the training labels by a
different, random class (seeded), for generalization studies; a checkpoint and the loss are saved
after every epoch (epoch 0 = init) and after the optimizer steps listed in ``checkpoint_iters``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from featent.data import WholeSplits, load_dataset
from featent.errors import FeatentError
from featent.nets.demo import DEMO_INPUT_SIZE, DEMO_MEAN, DEMO_STD, DEMO_WEIGHTS, DemoNet
from featent.nets.family import Recipe
from featent.nets.seeding import seeded
from featent.progress import Progress, ProgressLike, counted
from featent.store import write_atomic, write_bytes_atomic
from featent.validation import check_int, check_number

TRAIN_THREADS = 1
MAX_SHIFT = 2  # pixels of random translation (augmentation) at 32x32


#: The shipped ``demo``: DemoNet on the full Fashion-MNIST train set.
DEMO_RECIPE = Recipe()
#: The shipped ``demo-digits`` (kept as it was trained): scikit-learn digits, shifts, 15 epochs.
DIGITS_RECIPE = Recipe(data="digits", epochs=15, batch_size=64, learning_rate=2e-3, augment=True, full_data=False)
DEFAULT_EPOCHS = DEMO_RECIPE.epochs
BATCH_SIZE = DEMO_RECIPE.batch_size
LEARNING_RATE = DEMO_RECIPE.learning_rate

__all__ = [
    "DEFAULT_EPOCHS",
    "DEMO_RECIPE",
    "DIGITS_RECIPE",
    "Recipe",
    "EpochStats",
    "TrainHistory",
    "train",
    "train_demo",
    "save_weights",
    "evaluate",
    "noisy_labels",
    "training_arrays",
]
@dataclass
class EpochStats:
    """Loss and accuracies after an epoch (epoch 0: before training)."""

    epoch: int
    loss: float  # mean cross-entropy on the (possibly noisy) training labels
    train_accuracy: float  # on the labels trained on
    test_accuracy: float
    checkpoint: str | None = None
    iteration: int = 0  # optimizer steps taken when these were measured


@dataclass
class TrainHistory:
    """The trained model and one EpochStats per epoch, epoch 0 first."""

    model: nn.Module
    epochs: list[EpochStats] = field(default_factory=list)
    seed: int = 0
    label_noise: float = 0.0
    iterations: list[EpochStats] = field(default_factory=list)  # the extra checkpoints within epochs
    recipe: Recipe = DEMO_RECIPE


#: One training at a time per process: the deterministic-kernel switch and the thread count are global,
#: and two overlapping runs would restore each other's settings in the wrong order (leaving
#: deterministic kernels on, which makes some CUDA ops raise, for every later job of the server).
_TRAINING = threading.Lock()


@contextmanager
def _deterministic(seed: int):
    """Seeded RNG, deterministic kernels and a fixed thread count, restored on exit."""
    with _TRAINING:
        threads = torch.get_num_threads()
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            torch.set_num_threads(TRAIN_THREADS)
            torch.use_deterministic_algorithms(True)
            try:
                yield
            finally:
                torch.use_deterministic_algorithms(was_deterministic)
                torch.set_num_threads(threads)


def noisy_labels(labels: torch.Tensor, fraction: float, seed: int, n_classes: int = 10) -> torch.Tensor:
    """Labels with ``round(fraction * n)`` of them moved to a different random class (seeded)."""
    check_number("label_noise", fraction, 0.0, 1.0, error=FeatentError)
    generator = torch.Generator().manual_seed(10_000 + seed)
    n_noisy = round(fraction * len(labels))
    picked = torch.randperm(len(labels), generator=generator)[:n_noisy]
    shift = torch.randint(1, n_classes, (n_noisy,), generator=generator)
    out = labels.clone()
    out[picked] = (labels[picked] + shift) % n_classes
    return out


def _shifted(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image translated by up to MAX_SHIFT pixels (seeded); the border fills with background."""
    n, _, h, w = images.shape
    padded = nn.functional.pad(images, (MAX_SHIFT,) * 4, value=float(images.min()))
    offsets = torch.randint(0, 2 * MAX_SHIFT + 1, (n, 2), generator=generator)
    return torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def _normalize(images: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(DEMO_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(DEMO_STD).view(1, 3, 1, 1)
    return (images - mean) / std


@torch.no_grad()
def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of a model on normalized inputs."""
    was_training = model.training
    model.eval()
    logits = torch.cat([model(inputs[i : i + 512]) for i in range(0, len(inputs), 512)])
    model.train(was_training)
    loss = nn.functional.cross_entropy(logits, labels).item()
    return loss, (logits.argmax(1) == labels).float().mean().item()


def training_arrays(recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """(train x, train y, test x, test y, data fingerprint) for a recipe, inputs already normalized."""
    dataset = load_dataset(recipe.data)
    if recipe.full_data and recipe.data == "fashion" and dataset.name != "fashion":
        raise FeatentError(
            "This recipe trains on the full Fashion-MNIST, which is not installed; install the Debian package "
            "dataset-fashion-mnist or set FEATENT_FASHION_DIR to a folder with the four original IDX files."
        )
    if not isinstance(dataset, WholeSplits):
        raise FeatentError(f"Training needs a built-in dataset with whole splits; {dataset.name!r} has none.")
    train_x, train_y = dataset.split_arrays("train", DEMO_INPUT_SIZE)
    test_x, test_y = dataset.split_arrays("test", DEMO_INPUT_SIZE)
    if recipe.train_per_class is not None:
        keep = torch.cat([torch.nonzero(train_y == c).flatten()[: recipe.train_per_class] for c in range(10)]).sort().values
        train_x, train_y = train_x[keep], train_y[keep]
    return _normalize(train_x), train_y, _normalize(test_x), test_y, dataset.fingerprint


def _initialize(model: nn.Module, init: str) -> None:
    if init == "default":
        return
    if init != "kaiming":
        raise FeatentError(f"Unknown initialization {init!r}; use 'default' or 'kaiming'.")
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def train(
    recipe: Recipe = DEMO_RECIPE,
    seed: int = 0,
    label_noise: float = 0.0,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: ProgressLike = None,
    checkpoint_iters: Sequence[int] = (),
    checkpoint_epochs: Sequence[int] | None = None,
) -> TrainHistory:
    """Train DemoNet with a recipe; deterministic for a given (recipe, seed, label noise).

    With ``checkpoint_dir``, ``epoch_000.pt`` ... ``epoch_NNN.pt`` and ``iter_NNNNN.pt`` (state_dicts)
    and ``history.json`` (loss and accuracies per checkpoint) are written as training goes;
    ``checkpoint_epochs`` limits the saved epoch state_dicts (default: every epoch).
    """
    progress = Progress.of(progress)
    seed = check_int("seed", seed, 0, error=FeatentError)
    epochs = check_int("epochs", recipe.epochs, 1, error=FeatentError)
    directory = Path(checkpoint_dir).expanduser() if checkpoint_dir is not None else None
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeatentError(f"Cannot create checkpoint folder {str(directory)!r}: {exc.strerror or exc}.") from exc
    train_x, clean_y, test_x, test_y, data_fingerprint = training_arrays(recipe)
    train_y = noisy_labels(clean_y, label_noise, seed)
    extra_iters = sorted({int(i) for i in checkpoint_iters})

    history = TrainHistory(model=nn.Module(), seed=seed, label_noise=label_noise, recipe=recipe)
    with _deterministic(seed):
        with seeded(seed):  # the other threads' inits draw elsewhere meanwhile
            model = DemoNet()
        _initialize(model, recipe.init)
        history.model = model
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        generator = torch.Generator().manual_seed(seed)
        n_batches = (len(train_x) + recipe.batch_size - 1) // recipe.batch_size

        def measure(epoch: int, iteration: int, loss: float | None, name: str, save: bool = True) -> EpochStats:
            train_loss, train_acc = evaluate(model, train_x, train_y)
            stats = EpochStats(epoch, train_loss if loss is None else loss, train_acc, evaluate(model, test_x, test_y)[1],
                               iteration=iteration)
            if directory is not None and save:
                stats.checkpoint = str(directory / name)
                state = model.state_dict()
                write_atomic(stats.checkpoint, lambda temporary: torch.save(state, temporary))
            return stats

        def write_history() -> None:
            if directory is not None:
                payload = {"seed": seed, "label_noise": label_noise, "recipe": asdict(recipe), "data": data_fingerprint,
                           "epochs": [asdict(e) for e in history.epochs],
                           "iterations": [asdict(e) for e in history.iterations]}
                write_bytes_atomic(directory / "history.json", json.dumps(payload, indent=1).encode())

        history.epochs.append(measure(0, 0, None, "epoch_000.pt", checkpoint_epochs is None or 0 in checkpoint_epochs))
        write_history()
        step = 0
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(train_x), generator=generator)
            total = 0.0
            for b in range(n_batches):
                index = order[b * recipe.batch_size : (b + 1) * recipe.batch_size]
                optimizer.zero_grad(set_to_none=True)
                batch = _shifted(train_x[index], generator) if recipe.augment else train_x[index]
                loss = nn.functional.cross_entropy(model(batch), train_y[index])
                loss.backward()
                optimizer.step()
                step += 1
                total += loss.item() * len(index)
                if step in extra_iters:
                    history.iterations.append(measure(epoch - 1, step, None, f"iter_{step:05d}.pt"))
                    model.train()
                    write_history()
                if not progress.silent:
                    done, planned = (epoch - 1) * n_batches + b + 1, epochs * n_batches
                    progress(done / planned, counted(f"training ({epochs} epoch{'s' * (epochs != 1)})", done, planned, "batches"))
            scheduler.step()
            keep = checkpoint_epochs is None or epoch in checkpoint_epochs
            history.epochs.append(measure(epoch, step, total / len(train_x), f"epoch_{epoch:03d}.pt", keep))
            write_history()
        model.eval()
    return history


def train_demo(
    seed: int = 0,
    epochs: int | None = None,
    label_noise: float = 0.0,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: ProgressLike = None,
    augment: bool | None = None,
    recipe: Recipe = DEMO_RECIPE,
) -> TrainHistory:
    """:func:`train` with the shipped demo's recipe (``epochs`` / ``augment`` override it when given)."""
    changes: dict = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if augment is not None:
        changes["augment"] = augment
    return train(replace(recipe, **changes), seed=seed, label_noise=label_noise, checkpoint_dir=checkpoint_dir,
                 progress=progress)


def save_weights(model: nn.Module, path: str | os.PathLike | None = None) -> Path:
    """Save a state_dict (float32) to ``path`` (default: the shipped ``featent/weights/demo.pt``)."""
    target = Path(path).expanduser() if path is not None else DEMO_WEIGHTS
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        write_atomic(target, lambda temporary: torch.save(state, temporary))
    except OSError as exc:
        raise FeatentError(f"Cannot save weights to {str(target)!r}: {exc.strerror or exc}.") from exc
    return target
