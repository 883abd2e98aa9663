"""Deterministic training of the demo CNN on digits (also used to study FE across training).

Same seed -> same weights, bit for bit, on the same machine and torch build: the RNG is forked and
seeded, deterministic algorithms are switched on, the intra-op thread count is fixed for the run,
and batches are shuffled by a seeded generator. Global torch settings are restored afterwards.

``label_noise`` replaces that fraction of the training labels by a different, random class (seeded),
for generalization studies; a checkpoint and the loss are saved after every epoch (epoch 0 = init).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from featent.data import DigitsDataset, load_dataset
from featent.errors import FeatentError
from featent.nets.models import DEMO_INPUT_SIZE, DEMO_MEAN, DEMO_STD, DEMO_WEIGHTS, DemoNet

Progress = Callable[[float, str], None]

DEFAULT_EPOCHS = 15
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
TRAIN_THREADS = 1
MAX_SHIFT = 2  # pixels of random translation (augmentation) at 32x32

__all__ = ["DEFAULT_EPOCHS", "EpochStats", "TrainHistory", "train_demo", "save_weights", "evaluate", "noisy_labels"]


@dataclass
class EpochStats:
    """Loss and accuracies after an epoch (epoch 0: before training)."""

    epoch: int
    loss: float  # mean cross-entropy on the (possibly noisy) training labels
    train_accuracy: float  # on the labels trained on
    test_accuracy: float
    checkpoint: str | None = None


@dataclass
class TrainHistory:
    """The trained model and one EpochStats per epoch, epoch 0 first."""

    model: nn.Module
    epochs: list[EpochStats] = field(default_factory=list)
    seed: int = 0
    label_noise: float = 0.0


@contextmanager
def _deterministic(seed: int):
    """Seeded RNG, deterministic kernels and a fixed thread count, restored on exit."""
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
    if not 0.0 <= fraction <= 1.0:
        raise FeatentError(f"Label noise must be a fraction between 0 and 1, got {fraction!r}.")
    generator = torch.Generator().manual_seed(10_000 + seed)
    n_noisy = int(round(fraction * len(labels)))
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


def _save_checkpoint(model: nn.Module, directory: Path, epoch: int) -> str:
    path = directory / f"epoch_{epoch:03d}.pt"
    torch.save(model.state_dict(), path)
    return str(path)


def train_demo(
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    label_noise: float = 0.0,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    augment: bool = True,
) -> TrainHistory:
    """Train DemoNet on the digits train split; deterministic for a given seed.

    With ``checkpoint_dir``, ``epoch_000.pt`` ... ``epoch_NNN.pt`` (state_dicts) and
    ``history.json`` (loss and accuracies per epoch) are written after every epoch. ``augment``
    adds small random translations (turn it off to study memorization of noisy labels).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise FeatentError(f"The training seed must be a non-negative integer, got {seed!r}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise FeatentError(f"The number of epochs must be a positive integer, got {epochs!r}.")
    directory = Path(checkpoint_dir).expanduser() if checkpoint_dir is not None else None
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeatentError(f"Cannot create checkpoint folder {str(directory)!r}: {exc.strerror or exc}.") from exc
    dataset = load_dataset("digits")
    assert isinstance(dataset, DigitsDataset)
    train_x, train_y = dataset.split_arrays("train", DEMO_INPUT_SIZE)
    test_x, test_y = dataset.split_arrays("test", DEMO_INPUT_SIZE)
    train_x, test_x = _normalize(train_x), _normalize(test_x)
    train_y = noisy_labels(train_y, label_noise, seed)

    history = TrainHistory(model=nn.Module(), seed=seed, label_noise=label_noise)
    with _deterministic(seed):
        model = DemoNet()
        history.model = model
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        generator = torch.Generator().manual_seed(seed)
        n_batches = (len(train_x) + BATCH_SIZE - 1) // BATCH_SIZE

        def record(epoch: int, loss: float) -> None:
            train_acc = evaluate(model, train_x, train_y)[1]
            test_acc = evaluate(model, test_x, test_y)[1]
            stats = EpochStats(epoch, loss, train_acc, test_acc)
            if directory is not None:
                stats.checkpoint = _save_checkpoint(model, directory, epoch)
            history.epochs.append(stats)
            if directory is not None:
                rows = [asdict(e) for e in history.epochs]
                (directory / "history.json").write_text(json.dumps({"seed": seed, "label_noise": label_noise, "epochs": rows}, indent=1))

        record(0, evaluate(model, train_x, train_y)[0])
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(train_x), generator=generator)
            total = 0.0
            for b in range(n_batches):
                index = order[b * BATCH_SIZE : (b + 1) * BATCH_SIZE]
                optimizer.zero_grad(set_to_none=True)
                batch = _shifted(train_x[index], generator) if augment else train_x[index]
                loss = nn.functional.cross_entropy(model(batch), train_y[index])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
                if progress is not None:
                    progress(((epoch - 1) * n_batches + b + 1) / (epochs * n_batches), f"epoch {epoch}/{epochs}")
            scheduler.step()
            record(epoch, total / len(train_x))
        model.eval()
    return history


def save_weights(model: nn.Module, path: str | os.PathLike | None = None) -> Path:
    """Save a state_dict (float32) to ``path`` (default: the shipped ``featent/weights/demo.pt``)."""
    target = Path(path).expanduser() if path is not None else DEMO_WEIGHTS
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, target)
    except OSError as exc:
        raise FeatentError(f"Cannot save weights to {str(target)!r}: {exc.strerror or exc}.") from exc
    return target
