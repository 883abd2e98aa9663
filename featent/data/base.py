"""What every data source hands out: ``ImageSet`` batches, the ``Dataset`` protocol, and the
seeded per-class order that makes ``sample(c, n=50)`` a prefix of ``sample(c, n=100)``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from featent.errors import DataError
from featent.validation import check_class, check_int

MIN_IMAGES_PER_CLASS = 2
#: Largest side an image is resized to: larger requests would only exhaust memory.
MAX_IMAGE_SIZE = 4096

@dataclass
class ImageSet:
    """A batch of images of one class, in the order they were sampled."""

    images: torch.Tensor  # float32 [n, 3, S, S] in [0, 1]
    labels: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)


@runtime_checkable
class Dataset(Protocol):
    """What the pipeline, CLI and app need from a data source."""

    name: str
    classes: list[str]
    fingerprint: str
    splits: tuple[str, ...]

    @property
    def skipped(self) -> int:
        """Files that were found but could not be used (0 for the built-in datasets)."""

    def sample(
        self, class_name: str, n: int = 100, seed: int = 0, split: str = "train", size: int = 32
    ) -> ImageSet: ...


@runtime_checkable
class WholeSplits(Protocol):
    """A data source that hands out a whole split as tensors (the built-in sets): what training needs."""

    def split_arrays(self, split: str = "train", size: int = 32) -> tuple[torch.Tensor, torch.Tensor]: ...


def check_sample_args(dataset: Dataset, class_name: str, n: int, seed: int, split: str, size: int) -> None:
    empty = getattr(dataset, "empty_classes", {})
    if class_name in empty:
        raise DataError(
            f"Class {class_name!r} in {dataset.name} has {empty[class_name]} image file(s); "
            f"each class needs at least {MIN_IMAGES_PER_CLASS}."
        )
    check_class(class_name, dataset.classes, dataset.name)
    check_int("n", n, 1)
    check_int("seed", seed, 0)
    if split not in dataset.splits:
        raise DataError(f"{dataset.name} has no split {split!r}; use one of: {', '.join(dataset.splits)}.")
    check_int("size", size, 2, MAX_IMAGE_SIZE)


def permutation(seed: int, class_name: str, count: int) -> np.ndarray:
    """Seeded order of a class's images; the class name is mixed in so classes differ."""
    salt = int.from_bytes(hashlib.sha256(class_name.encode()).digest()[:4], "little")
    return np.random.default_rng([int(seed), salt]).permutation(count)

