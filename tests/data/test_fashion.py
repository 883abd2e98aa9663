"""featent.data.fashion: the IDX reader, the full set and the shipped subset, and running without the Debian files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from featent.data import clear_dataset_cache, load_dataset
from featent.data.fashion import (
    DEBIAN_FASHION_DIR,
    FASHION_CLASSES,
    SUBSET_PER_CLASS,
    FashionDataset,
    fashion_directory,
    read_idx,
)
from featent.errors import DataError

PUBLISHED = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
HAVE_FULL = (DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").is_file()


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    """As on a machine without the Debian package: FEATENT_FASHION_DIR points at an empty folder."""
    monkeypatch.setenv("FEATENT_FASHION_DIR", str(tmp_path))
    clear_dataset_cache()
    yield
    clear_dataset_cache()


def test_subset_shapes_labels_names_and_split(no_debian):
    assert fashion_directory() is None
    data = load_dataset("fashion")
    assert data.name == "fashion-subset" and data.fingerprint.startswith("fashion-subset-")
    assert data.classes == PUBLISHED == FASHION_CLASSES
    assert data.splits == ("train", "test")
    x, y = data.split_arrays("train")
    assert x.shape == (10 * SUBSET_PER_CLASS["train"], 3, 32, 32) and x.dtype == torch.float32
    assert torch.bincount(y).tolist() == [SUBSET_PER_CLASS["train"]] * 10
    assert float(x.min()) == 0.0 and 0.99 < float(x.max()) <= 1.0
    # zero padding: 2 pixels of background around the 28x28 picture, grey copied to three channels
    assert float(x[:, :, :2].abs().max()) == 0.0 and float(x[:, :, :, -2:].abs().max()) == 0.0
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    tx, ty = data.split_arrays("test")
    assert tx.shape[0] == 10 * SUBSET_PER_CLASS["test"] and torch.bincount(ty).tolist() == [SUBSET_PER_CLASS["test"]] * 10
    batch = data.sample("Ankle boot", n=7, seed=1, split="test")
    assert batch.images.shape == (7, 3, 32, 32) and batch.labels == ["Ankle boot"] * 7
    assert all(i.startswith("test/") for i in batch.ids)
    assert data.sample("Ankle boot", n=3, seed=1, split="test").ids == batch.ids[:3]
    with pytest.raises(DataError, match=r"Class 'Sock' is not in fashion-subset"):
        data.sample("Sock")


def test_subset_is_the_first_images_of_each_class_in_file_order(no_debian):
    data = load_dataset("fashion-subset")
    index = data.original_index("train")
    _, y = data.split_arrays("train")
    for c in range(10):
        picked = index[y.numpy() == c]
        assert np.all(np.diff(picked) > 0)


@pytest.mark.skipif(not HAVE_FULL, reason="needs Debian's dataset-fashion-mnist (make setup installs it)")
def test_full_and_subset_agree_on_shared_images(monkeypatch):
    monkeypatch.delenv("FEATENT_FASHION_DIR", raising=False)
    full, subset = FashionDataset(), FashionDataset(subset=True)
    assert full.name == "fashion" and subset.name == "fashion-subset" and full.fingerprint != subset.fingerprint
    assert len(full) == 70_000
    for split in ("train", "test"):
        fx, fy = full.split_arrays(split)
        sx, sy = subset.split_arrays(split)
        index = subset.original_index(split)
        assert torch.equal(fx[index], sx) and torch.equal(fy[index], sy)
    # the same id names the same picture in both
    one = subset.sample("Bag", n=5, seed=0)
    by_id = {f"train/{i}": k for k, i in enumerate(full.original_index("train"))}
    fx, _ = full.split_arrays("train")
    for image, image_id in zip(one.images, one.ids):
        assert torch.equal(image, fx[by_id[image_id]])


def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_dir_with_own_idx_files(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    monkeypatch.setenv("FEATENT_FASHION_DIR", str(tmp_path))
    data = FashionDataset()
    assert data.name == "fashion" and data.source == str(tmp_path) and len(data) == 60
    images = read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    x, _ = data.split_arrays("train")
    assert torch.equal(x[:, 0, 2:30, 2:30], torch.from_numpy(images).float() / 255.0)
    (tmp_path / "broken.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 3, 0, 0, 0, 5])))
    with pytest.raises(DataError, match=r"truncated"):
        read_idx(tmp_path / "broken.gz")
