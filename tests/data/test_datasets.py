"""featent.data: digits and image folders, deterministic sampling, skipped files, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from featent.data import DigitsDataset, ImageFolderDataset, ImageSet, clear_dataset_cache, load_dataset
from featent.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_digits_classes_and_sample_format(digits):
    assert digits.classes == [str(i) for i in range(10)]
    assert digits.skipped == 0
    sample = digits.sample("3", n=100, seed=0, size=32)
    assert isinstance(sample, ImageSet)
    assert sample.images.shape == (100, 3, 32, 32) and sample.images.dtype == torch.float32
    assert float(sample.images.min()) >= 0.0 and float(sample.images.max()) <= 1.0
    assert sample.labels == ["3"] * 100
    assert len(set(sample.ids)) == 100 and all(i.startswith("train/") for i in sample.ids)
    # three channels are the same grey image
    assert torch.equal(sample.images[:, 0], sample.images[:, 2])


def test_digits_sampling_is_seeded_and_prefix_stable(digits):
    a = digits.sample("7", n=40, seed=1)
    b = digits.sample("7", n=40, seed=1)
    c = digits.sample("7", n=40, seed=2)
    short = digits.sample("7", n=10, seed=1)
    assert a.ids == b.ids and torch.equal(a.images, b.images)
    assert a.ids != c.ids
    assert short.ids == a.ids[:10]


def test_digits_splits_are_disjoint_and_fixed(digits):
    train = set(digits.sample("5", n=1000, split="train").ids)
    test = set(digits.sample("5", n=1000, split="test").ids)
    assert train and test
    def global_index(ids, split):  # ids are positions inside their split
        return {int(digits._split_index[split][int(i.split("/")[1])]) for i in ids}

    assert not global_index(train, "train") & global_index(test, "test")
    assert DigitsDataset().fingerprint == digits.fingerprint
    x, y = digits.split_arrays("test", 16)
    assert x.shape[1:] == (3, 16, 16) and len(x) == len(y) == 359


def test_digits_size_is_a_resize(digits):
    small = digits.sample("1", n=3, size=8)
    big = digits.sample("1", n=3, size=64)
    assert small.ids == big.ids and small.images.shape[-1] == 8 and big.images.shape[-1] == 64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"class_name": "11"}, r"Class '11' is not in digits"),
        ({"class_name": "1", "n": 0}, r"n must be an integer >= 1"),
        ({"class_name": "1", "n": 2.5}, r"n must be an integer >= 1"),
        ({"class_name": "1", "seed": -1}, r"seed must be an integer >= 0"),
        ({"class_name": "1", "split": "val"}, r"no split 'val'"),
        ({"class_name": "1", "size": 1}, r"size must be an integer from 2 to"),
    ],
)
def test_digits_bad_sample_arguments(digits, kwargs, match):
    with pytest.raises(DataError, match=match):
        digits.sample(**kwargs)


def test_folder_classes_skips_and_sample(image_folder):
    data = ImageFolderDataset(image_folder)
    assert data.classes == ["cat", "dog"]
    assert data.skipped == 1  # notes.txt: not an image suffix
    sample = data.sample("dog", n=10, seed=0, size=12)
    # 4 good images; broken.jpg and truncated.png fail to decode and are skipped, not fatal
    assert sample.images.shape == (4, 3, 12, 12)
    assert sorted(sample.ids) == [os.path.join("dog", f"dog{i}.jpg") for i in range(4)]
    assert data.skipped == 3
    again = data.sample("dog", n=10, seed=0, size=12)
    assert again.ids == sample.ids and data.skipped == 3


def test_folder_sample_is_seeded_and_resizes_to_square(image_folder):
    data = ImageFolderDataset(image_folder)
    a = data.sample("cat", n=3, seed=5, size=16)
    b = data.sample("cat", n=3, seed=5, size=16)
    assert a.ids == b.ids and torch.equal(a.images, b.images)
    assert a.images.shape == (3, 3, 16, 16)
    assert a.labels == ["cat"] * 3


def test_folder_fingerprint_follows_the_files(image_folder):
    before = ImageFolderDataset(image_folder).fingerprint
    assert ImageFolderDataset(image_folder).fingerprint == before
    target = image_folder / "cat" / "cat1.png"
    target.write_bytes(target.read_bytes() + b"\0")
    assert ImageFolderDataset(image_folder).fingerprint != before


def test_load_dataset_memoizes_until_cleared(image_folder):
    clear_dataset_cache()
    first = load_dataset(str(image_folder))
    assert load_dataset(str(image_folder)) is first
    clear_dataset_cache()
    assert load_dataset(str(image_folder)) is not first
    assert load_dataset("digits") is load_dataset("digits")


def test_folder_class_with_one_image_is_an_error_only_when_used(image_folder):
    (image_folder / "bird").mkdir()
    (image_folder / "bird" / "only.png").write_bytes((image_folder / "cat" / "cat0.png").read_bytes())
    data = ImageFolderDataset(image_folder)
    assert data.classes == ["cat", "dog"] and data.empty_classes == {"bird": 1}
    assert any("'bird' has 1 image file(s)" in note for note in data.notes)
    assert data.sample("cat", n=2).images.shape[0] == 2  # the other classes still work
    with pytest.raises(DataError, match=r"Class 'bird' .* has 1 image file\(s\); each class needs at least 2"):
        data.sample("bird", n=5)


def test_folder_class_without_images_does_not_block_the_others(image_folder):
    (image_folder / "empty_class").mkdir()
    (image_folder / "empty_class" / "readme.md").write_text("no images here")
    (image_folder / "txt").mkdir()
    data = ImageFolderDataset(image_folder)
    assert data.classes == ["cat", "dog"]
    assert data.empty_classes == {"empty_class": 0, "txt": 0}
    with pytest.raises(DataError, match=r"Class 'empty_class' .* has 0 image file\(s\)"):
        data.sample("empty_class")


def test_folder_class_with_too_few_decodable_images_is_an_error(image_folder):
    (image_folder / "fish").mkdir()
    (image_folder / "fish" / "good.png").write_bytes((image_folder / "cat" / "cat0.png").read_bytes())
    (image_folder / "fish" / "bad.png").write_bytes(b"garbage")
    data = ImageFolderDataset(image_folder)
    with pytest.raises(DataError, match=r"Class 'fish' .* has 1 readable image\(s\)"):
        data.sample("fish", n=5)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing", r"does not exist"),
        (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", r"is not a folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", r"has no class subfolder with at least 2 images"),
    ],
)
def test_bad_folders(tmp_path, make, match):
    with pytest.raises(DataError, match=match):
        load_dataset(str(make(tmp_path)))


@pytest.mark.parametrize("spec", ["", "   ", None])
def test_empty_data_spec(spec):
    with pytest.raises(DataError, match=r"No data given"):
        load_dataset(spec)


def test_folder_rejects_test_split(image_folder):
    with pytest.raises(DataError, match=r"no split 'test'"):
        ImageFolderDataset(image_folder).sample("cat", split="test")


def test_digits_pixels_match_sklearn(digits):
    from sklearn.datasets import load_digits

    sample = digits.sample("0", n=1, size=8)
    index = int(sample.ids[0].split("/")[1])
    train_index = digits._split_index["train"][index]
    expected = load_digits().images[train_index] / 16.0
    np.testing.assert_allclose(sample.images[0, 0].numpy(), expected, atol=1e-6)


def test_digits_are_read_without_importing_sklearn_and_equal_its_loader():
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from featent.data import load_digits_arrays

    pixels, labels = load_digits_arrays()
    reference = load_digits()
    assert np.array_equal(pixels, reference.images) and np.array_equal(labels, reference.target)
    probe = "import sys; from featent.data import load_dataset; load_dataset('digits'); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
