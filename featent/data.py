"""Datasets and deterministic per-class sampling.

Two sources: the built-in ``digits`` (scikit-learn's handwritten digits, shipped with the package,
no download) and image folders (one subfolder per class, ImageNet-style). Both hand out
``ImageSet`` objects: float32 images in [0, 1] of a requested square size, *not* normalized —
normalization belongs to the model (``LoadedModel.preprocess``).

Sampling is a seeded permutation of a class's images, so ``sample(c, n=50)`` is a prefix of
``sample(c, n=100)`` with the same seed. A class with fewer than ``n`` images gives all of them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from featent.errors import DataError

DIGITS = "digits"
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
MIN_IMAGES_PER_CLASS = 2

__all__ = [
    "ImageSet",
    "Dataset",
    "DigitsDataset",
    "ImageFolderDataset",
    "load_dataset",
    "clear_dataset_cache",
]


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
    skipped: int
    splits: tuple[str, ...]

    def sample(
        self, class_name: str, n: int = 100, seed: int = 0, split: str = "train", size: int = 32
    ) -> ImageSet: ...


def _check_sample_args(dataset: Dataset, class_name: str, n: int, seed: int, split: str, size: int) -> None:
    if class_name not in dataset.classes:
        shown = ", ".join(dataset.classes[:12]) + (", ..." if len(dataset.classes) > 12 else "")
        raise DataError(f"Class {class_name!r} is not in {dataset.name}; its classes are: {shown}.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"The number of images must be a positive integer, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"The seed must be a non-negative integer, got {seed!r}.")
    if split not in dataset.splits:
        raise DataError(f"{dataset.name} has no split {split!r}; use one of: {', '.join(dataset.splits)}.")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise DataError(f"The image size must be an integer >= 2, got {size!r}.")


def _permutation(seed: int, class_name: str, count: int) -> np.ndarray:
    """Seeded order of a class's images; the class name is mixed in so classes differ."""
    salt = int.from_bytes(hashlib.sha256(class_name.encode()).digest()[:4], "little")
    return np.random.default_rng([int(seed), salt]).permutation(count)


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (pixels [1797, 8, 8] in 0..16, labels [1797]).

    Read straight from the CSV that ships inside scikit-learn, found without importing it:
    importing scikit-learn costs about a second of every cold app start.
    """
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as handle:
                table = np.loadtxt(handle, delimiter=",")
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # a layout we do not know: let scikit-learn find it

    bunch = load_digits()
    return np.asarray(bunch.images, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


class DigitsDataset:
    """scikit-learn's 8x8 digits, upsampled to a square and replicated to 3 channels."""

    splits = ("train", "test")
    skipped = 0

    def __init__(self) -> None:
        raw_pixels, targets = load_digits_arrays()
        pixels = raw_pixels.astype(np.float32) / 16.0  # [1797, 8, 8] in [0, 1]
        order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(targets))
        n_test = int(round(len(targets) * DIGITS_TEST_FRACTION))
        self._split_index = {"test": np.sort(order[:n_test]), "train": np.sort(order[n_test:])}
        self._pixels = pixels
        self._targets = targets
        self.name = DIGITS
        self.classes = [str(c) for c in range(10)]
        digest = hashlib.sha256(pixels.tobytes() + targets.tobytes())
        digest.update(f"split={DIGITS_SPLIT_SEED}/{DIGITS_TEST_FRACTION}".encode())
        self.fingerprint = "digits-" + digest.hexdigest()[:16]

    def split_arrays(self, split: str = "train", size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
        """All images [n, 3, S, S] and integer labels [n] of a split (used for training)."""
        if split not in self.splits:
            raise DataError(f"digits has no split {split!r}; use one of: {', '.join(self.splits)}.")
        index = self._split_index[split]
        return self._render(index, size), torch.from_numpy(self._targets[index].copy())

    def _render(self, index: np.ndarray, size: int) -> torch.Tensor:
        small = torch.from_numpy(self._pixels[index]).unsqueeze(1)  # [n, 1, 8, 8]
        if size != small.shape[-1]:
            small = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
        return small.clamp_(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()

    def sample(
        self, class_name: str, n: int = 100, seed: int = 0, split: str = "train", size: int = 32
    ) -> ImageSet:
        """Up to ``n`` images of one digit from a split, in a seeded order."""
        _check_sample_args(self, class_name, n, seed, split, size)
        split_index = self._split_index[split]
        positions = np.flatnonzero(self._targets[split_index] == int(class_name))
        chosen = positions[_permutation(seed, class_name, len(positions))[: int(n)]]
        images = self._render(split_index[chosen], int(size))
        return ImageSet(images=images, labels=[class_name] * len(chosen), ids=[f"{split}/{int(i)}" for i in chosen])


class ImageFolderDataset:
    """A folder whose subfolders are classes (ImageNet-style ``train/`` works as it is).

    Files without an image suffix are skipped at load; files that fail to decode are skipped when
    a sample reaches them (the next image in the seeded order takes their place). Both are
    counted in ``skipped``. Images are resized to a square without cropping, as in the paper.
    """

    splits = ("train",)

    def __init__(self, root: str | os.PathLike) -> None:
        path = Path(root).expanduser()
        if not path.exists():
            raise DataError(f"Data folder {str(path)!r} does not exist; give 'digits' or a folder with one subfolder per class.")
        if not path.is_dir():
            raise DataError(f"{str(path)!r} is not a folder; give 'digits' or a folder with one subfolder per class.")
        self.root = path.resolve()
        self.name = str(path)
        self._lock = threading.Lock()
        self._bad: set[str] = set()
        self._files: dict[str, list[str]] = {}
        digest = hashlib.sha256(b"imagefolder-v1")
        skipped = 0
        try:
            class_dirs = [e for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith(".")]
        except OSError as exc:
            raise DataError(f"Cannot read data folder {self.name!r}: {exc.strerror or exc}.") from exc
        class_dirs = sorted(class_dirs, key=lambda e: e.name)
        for entry in class_dirs:
            found, bad = _scan_images(entry.path, entry.name)
            skipped += bad
            for rel, size, mtime in found:
                digest.update(f"{rel}\0{size}\0{mtime}\n".encode())
            self._files[entry.name] = [rel for rel, _, _ in found]
        if not any(self._files.values()):
            raise DataError(
                f"Data folder {self.name!r} has no class subfolders with images; put each class's images in its own subfolder."
            )
        self.classes = sorted(self._files)
        for name in self.classes:
            if len(self._files[name]) < MIN_IMAGES_PER_CLASS:
                raise DataError(
                    f"Class {name!r} in {self.name!r} has {len(self._files[name])} readable image(s); "
                    f"each class needs at least {MIN_IMAGES_PER_CLASS}."
                )
        self._skipped_at_load = skipped
        self.fingerprint = "folder-" + digest.hexdigest()[:16]

    @property
    def skipped(self) -> int:
        """Non-image files found at load plus images that failed to decode so far."""
        return self._skipped_at_load + len(self._bad)

    def count(self, class_name: str) -> int:
        """Number of candidate image files of a class (some may still fail to decode)."""
        return len(self._files[class_name])

    def _decode(self, rel: str, size: int) -> torch.Tensor | None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(self.root / rel) as im:
                im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
                array = np.asarray(im, dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
            with self._lock:
                self._bad.add(rel)
            return None
        return torch.from_numpy(array.transpose(2, 0, 1).copy())

    def sample(
        self, class_name: str, n: int = 100, seed: int = 0, split: str = "train", size: int = 32
    ) -> ImageSet:
        """Up to ``n`` decodable images of a class, in a seeded order."""
        _check_sample_args(self, class_name, n, seed, split, size)
        files = self._files[class_name]
        images: list[torch.Tensor] = []
        ids: list[str] = []
        for position in _permutation(seed, class_name, len(files)):
            rel = files[position]
            if rel in self._bad:
                continue
            image = self._decode(rel, int(size))
            if image is None:
                continue
            images.append(image)
            ids.append(rel)
            if len(images) == n:
                break
        if len(images) < MIN_IMAGES_PER_CLASS:
            raise DataError(
                f"Class {class_name!r} in {self.name!r} has {len(images)} readable image(s); "
                f"each class needs at least {MIN_IMAGES_PER_CLASS}."
            )
        return ImageSet(images=torch.stack(images), labels=[class_name] * len(ids), ids=ids)


def _scan_images(directory: str, prefix: str) -> tuple[list[tuple[str, int, int]], int]:
    """(sorted [(relative path, size, mtime_ns)] of image files under directory, non-image count).

    Hidden entries are ignored; subfolders are searched too. One scandir pass, no per-file
    path normalization: this runs over every file of an ImageNet-sized folder.
    """
    found: list[tuple[str, int, int]] = []
    skipped = 0
    pending = [(directory, prefix)]
    while pending:
        folder, rel_folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            skipped += 1
            continue
        for item in entries:
            if item.name.startswith("."):
                continue
            rel = f"{rel_folder}{os.sep}{item.name}"
            try:
                if item.is_dir():
                    pending.append((item.path, rel))
                    continue
                if os.path.splitext(item.name)[1].lower() not in IMAGE_SUFFIXES:
                    skipped += 1
                    continue
                info = item.stat()
            except OSError:
                skipped += 1
                continue
            found.append((rel, info.st_size, info.st_mtime_ns))
    found.sort()
    return found, skipped


_CACHE: dict[str, Dataset] = {}
_CACHE_LOCK = threading.Lock()


def load_dataset(spec: str) -> Dataset:
    """``"digits"`` or a folder path -> a dataset; memoized per spec in this process.

    A changed folder is only re-read after ``clear_dataset_cache()`` (or in a new process).
    """
    if not isinstance(spec, (str, os.PathLike)) or not str(spec).strip():
        raise DataError("No data given; use 'digits' or a folder with one subfolder per class.")
    text = str(spec).strip()
    key = DIGITS if text == DIGITS else str(Path(text).expanduser().resolve())
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    dataset: Dataset = DigitsDataset() if key == DIGITS else ImageFolderDataset(text)
    with _CACHE_LOCK:
        return _CACHE.setdefault(key, dataset)


def clear_dataset_cache() -> None:
    """Forget memoized datasets (e.g. after files in a folder changed)."""
    with _CACHE_LOCK:
        _CACHE.clear()
