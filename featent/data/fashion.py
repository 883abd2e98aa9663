"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; (c) 2017 Zalando SE, MIT/Expat licence).

The default data of featent: 28x28 grey clothing images, zero-padded to 32x32 and copied to three
channels, in [0, 1] (normalization belongs to the model). Two sources, told apart by ``name`` and
``fingerprint`` so every result and store key says which one it used:

- ``fashion``: the full 60k train + 10k test set when the original IDX files are found
  (``FEATENT_FASHION_DIR``, else Debian's ``dataset-fashion-mnist`` under
  /usr/share/datasets/fashion-mnist); otherwise the shipped subset below, named ``fashion-subset``.
- ``fashion-subset``: shipped inside the package (the first 500 train and 100 test images of each
  class, in file order, with their original indices), so a pip-only install works offline anywhere.

Image ids are ``train/<index>`` / ``test/<index>`` with the index into the original file, so the same
id names the same picture in both sources.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from featent.data.base import ImageSet, check_sample_args, permutation
from featent.errors import DataError

FASHION = "fashion"
FASHION_SUBSET = "fashion-subset"
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
FASHION_DIR_ENV = "FEATENT_FASHION_DIR"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SUBSET_FILE = Path(__file__).resolve().parent / "fashion_subset" / "fashion-mnist-subset.npz"
SUBSET_PER_CLASS = {"train": 500, "test": 100}
NATIVE_SIZE = 28
PADDED_SIZE = 32

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

__all__ = [
    "FASHION",
    "FASHION_SUBSET",
    "FASHION_CLASSES",
    "FashionDataset",
    "fashion_directory",
    "read_idx",
    "load_fashion_arrays",
    "subset_arrays",
]


def read_idx(path: Path) -> np.ndarray:
    """One (optionally gzipped) IDX file as a uint8 array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"Cannot read Fashion-MNIST file {str(path)!r}: {getattr(exc, 'strerror', None) or exc}.") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{str(path)!r} is not an unsigned-byte IDX file.")
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    shape = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(n_dims))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(f"{str(path)!r} is truncated: its header promises {shape} bytes of data.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def fashion_directory() -> Path | None:
    """The folder with the four original IDX files: FEATENT_FASHION_DIR, then Debian's; None if neither has them."""
    forced = os.environ.get(FASHION_DIR_ENV)
    candidates = [Path(forced).expanduser()] if forced else [DEBIAN_FASHION_DIR]
    for folder in candidates:
        if all((folder / name).is_file() for pair in _IDX_FILES.values() for name in pair):
            return folder
    return None


def load_fashion_arrays(directory: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """split -> (images uint8 [n, 28, 28], labels int64 [n], original indices int64 [n]) from the IDX files."""
    out = {}
    for split, (images_name, labels_name) in _IDX_FILES.items():
        images, labels = read_idx(directory / images_name), read_idx(directory / labels_name)
        if images.ndim != 3 or images.shape[1:] != (NATIVE_SIZE, NATIVE_SIZE) or labels.shape != (len(images),):
            raise DataError(f"The Fashion-MNIST files in {str(directory)!r} do not hold 28x28 images with one label each.")
        out[split] = (images, labels.astype(np.int64), np.arange(len(images), dtype=np.int64))
    return out


def subset_arrays() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The shipped per-class subset, in the same layout as :func:`load_fashion_arrays`."""
    try:
        with np.load(SUBSET_FILE, allow_pickle=False) as data:
            return {s: (data[f"{s}_images"], data[f"{s}_labels"].astype(np.int64), data[f"{s}_index"].astype(np.int64))
                    for s in _IDX_FILES}
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"The shipped Fashion-MNIST subset {str(SUBSET_FILE)!r} cannot be read; reinstall featent.") from exc


def make_subset(full: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of the shipped subset: the first SUBSET_PER_CLASS images of each class, in file order."""
    arrays = {}
    for split, (images, labels, index) in full.items():
        keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[: SUBSET_PER_CLASS[split]] for c in range(10)]))
        arrays[f"{split}_images"] = images[keep]
        arrays[f"{split}_labels"] = labels[keep].astype(np.uint8)
        arrays[f"{split}_index"] = index[keep].astype(np.int32)
    return arrays


class FashionDataset:
    """Fashion-MNIST with its fixed train/test split, full (``fashion``) or the shipped subset (``fashion-subset``)."""

    splits: tuple[str, ...] = ("train", "test")
    skipped = 0

    def __init__(self, subset: bool = False) -> None:
        self.classes = list(FASHION_CLASSES)
        directory = None if subset else fashion_directory()
        self._arrays = subset_arrays() if directory is None else load_fashion_arrays(directory)
        self.full = directory is not None
        self.name = FASHION if self.full else FASHION_SUBSET
        self.source = str(directory) if directory is not None else str(SUBSET_FILE)
        digest = hashlib.sha256(self.name.encode())
        for split in self.splits:
            images, labels, index = self._arrays[split]
            digest.update(split.encode())
            digest.update(np.ascontiguousarray(images).tobytes())
            digest.update(labels.astype(np.int64).tobytes())
            digest.update(index.astype(np.int64).tobytes())
        self.fingerprint = f"{self.name}-{digest.hexdigest()[:16]}"

    def __len__(self) -> int:
        return sum(len(self._arrays[s][1]) for s in self.splits)

    def split_arrays(self, split: str = "train", size: int = PADDED_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
        """All images [n, 3, S, S] and integer labels [n] of a split (used for training)."""
        if split not in self.splits:
            raise DataError(f"{self.name} has no split {split!r}; use one of: {', '.join(self.splits)}.")
        images, labels, _ = self._arrays[split]
        return render(images, size), torch.from_numpy(labels.copy())

    def original_index(self, split: str) -> np.ndarray:
        """Index of each image of a split in the original IDX file."""
        return self._arrays[split][2]

    def sample(
        self, class_name: str, n: int = 100, seed: int = 0, split: str = "train", size: int = PADDED_SIZE
    ) -> ImageSet:
        """Up to ``n`` images of one class from a split, in a seeded order."""
        check_sample_args(self, class_name, n, seed, split, size)
        images, labels, index = self._arrays[split]
        positions = np.flatnonzero(labels == self.classes.index(class_name))
        chosen = positions[permutation(seed, class_name, len(positions))[: int(n)]]
        return ImageSet(
            images=render(images[chosen], int(size)),
            labels=[class_name] * len(chosen),
            ids=[f"{split}/{int(i)}" for i in index[chosen]],
        )


def render(images: np.ndarray, size: int = PADDED_SIZE) -> torch.Tensor:
    """uint8 [n, 28, 28] -> float32 [n, 3, size, size] in [0, 1]: zero-padded to 32, resized if asked, grey to RGB."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).to(torch.float32).div_(255.0).unsqueeze(1)
    pad = (PADDED_SIZE - NATIVE_SIZE) // 2
    x = F.pad(x, (pad, pad, pad, pad))
    if size != PADDED_SIZE:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    return x.expand(-1, 3, -1, -1).contiguous()
