"""scikit-learn's handwritten digits, shipped with scikit-learn: no download, no network."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from featent.data.base import ImageSet, check_sample_args, permutation
from featent.errors import DataError

DIGITS = "digits"
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


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

    splits: tuple[str, ...] = ("train", "test")
    skipped = 0

    def __init__(self) -> None:
        raw_pixels, targets = load_digits_arrays()
        pixels = raw_pixels.astype(np.float32) / 16.0  # [1797, 8, 8] in [0, 1]
        order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(targets))
        n_test = round(len(targets) * DIGITS_TEST_FRACTION)
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
        check_sample_args(self, class_name, n, seed, split, size)
        split_index = self._split_index[split]
        positions = np.flatnonzero(self._targets[split_index] == int(class_name))
        chosen = positions[permutation(seed, class_name, len(positions))[: int(n)]]
        images = self._render(split_index[chosen], int(size))
        return ImageSet(images=images, labels=[class_name] * len(chosen), ids=[f"{split}/{int(i)}" for i in chosen])

