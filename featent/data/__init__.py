"""Datasets and deterministic per-class sampling.

Built-in sources: ``fashion`` (Fashion-MNIST, full when installed, else the subset shipped with the
package, named ``fashion-subset``) and ``digits`` (scikit-learn's handwritten digits); and image
folders (one subfolder per class, ImageNet-style). All hand out
``ImageSet`` objects: float32 images in [0, 1] of a requested square size, *not* normalized —
normalization belongs to the model (``LoadedModel.preprocess``).

Sampling is a seeded permutation of a class's images, so ``sample(c, n=50)`` is a prefix of
``sample(c, n=100)`` with the same seed. A class with fewer than ``n`` images gives all of them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from featent.data.base import MIN_IMAGES_PER_CLASS, Dataset, ImageSet, WholeSplits
from featent.data.digits import DIGITS, DigitsDataset, load_digits_arrays
from featent.data.fashion import FASHION, FASHION_CLASSES, FASHION_SUBSET, FashionDataset
from featent.data.folder import IMAGE_SUFFIXES, ImageFolderDataset
from featent.errors import DataError

__all__ = [
    "DIGITS",
    "FASHION",
    "FASHION_SUBSET",
    "FASHION_CLASSES",
    "FashionDataset",
    "IMAGE_SUFFIXES",
    "MIN_IMAGES_PER_CLASS",
    "ImageSet",
    "Dataset",
    "WholeSplits",
    "DigitsDataset",
    "ImageFolderDataset",
    "load_digits_arrays",
    "load_dataset",
    "clear_dataset_cache",
]


_CACHE: dict[str, Dataset] = {}
_CACHE_LOCK = threading.Lock()


def load_dataset(spec: str) -> Dataset:
    """``"fashion"``, ``"fashion-subset"``, ``"digits"`` or a folder path -> a dataset; memoized per spec in this process.

    A changed folder is only re-read after ``clear_dataset_cache()`` (or in a new process).
    """
    if not isinstance(spec, (str, os.PathLike)) or not str(spec).strip():
        raise DataError("No data given; use 'fashion', 'digits' or a folder with one subfolder per class.")
    text = str(spec).strip()
    builtin: dict[str, Callable[[], Dataset]] = {
        DIGITS: DigitsDataset, FASHION: FashionDataset, FASHION_SUBSET: lambda: FashionDataset(subset=True),
    }
    try:
        key = text if text in builtin else str(Path(text).expanduser().resolve())
    except (ValueError, OSError):  # a NUL or an unresolvable path: the folder check below says which, in a sentence
        key = text
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    dataset: Dataset = builtin[key]() if key in builtin else ImageFolderDataset(text)
    with _CACHE_LOCK:
        return _CACHE.setdefault(key, dataset)


def clear_dataset_cache() -> None:
    """Forget memoized datasets (e.g. after files in a folder changed)."""
    with _CACHE_LOCK:
        _CACHE.clear()
