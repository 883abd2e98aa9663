"""Image folders that lie: looping links, links to the root or another class, duplicates, empty and
non-image subfolders, unreadable entries. Each real file is counted once and nothing hangs."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from featent.data import ImageFolderDataset, clear_dataset_cache, load_dataset
from featent.errors import DataError


def _png(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def two_classes(tmp_path):
    root = tmp_path / "data"
    for k, name in enumerate(["a", "b"]):
        (root / name).mkdir(parents=True)
        for i in range(3):
            _png(root / name / f"{i}.png", 10 * k + i)
    return root


def test_two_links_back_to_the_class_do_not_loop(two_classes):
    os.symlink(".", two_classes / "a" / "self")
    os.symlink("..", two_classes / "a" / "up")
    os.symlink(two_classes / "a", two_classes / "a" / "deeper")
    data = ImageFolderDataset(two_classes)
    assert data.classes == ["a", "b"]
    assert data.count("a") == 3 and data.count("b") == 3
    assert data.skipped == 3  # the three links, each reported once


def test_a_one_image_class_is_not_inflated_by_a_self_link(two_classes):
    (two_classes / "solo").mkdir()
    _png(two_classes / "solo" / "x.png", 99)
    os.symlink(".", two_classes / "solo" / "again")
    data = ImageFolderDataset(two_classes)
    assert data.empty_classes == {"solo": 1}  # still one real file: below the 2-image minimum
    with pytest.raises(DataError, match=r"Class 'solo' .* has 1 image file\(s\); each class needs at least 2"):
        data.sample("solo", n=10)


def test_a_class_folder_linked_to_the_root_adds_nothing(two_classes):
    os.symlink(two_classes, two_classes / "0root")  # sorts first: it must not claim the others' files
    data = ImageFolderDataset(two_classes)
    assert data.classes == ["a", "b"]
    assert data.empty_classes == {"0root": 0}
    assert any("'0root' is a link to the data folder" in note for note in data.notes)
    assert data.count("a") == 3 and data.count("b") == 3


def test_a_class_folder_linked_to_another_class_adds_nothing(two_classes):
    os.symlink(two_classes / "b", two_classes / "0copy")
    data = ImageFolderDataset(two_classes)
    assert data.classes == ["a", "b"] and data.count("b") == 3 and "0copy" in data.empty_classes


def test_file_links_and_hard_links_count_once(two_classes):
    os.symlink(two_classes / "a" / "0.png", two_classes / "b" / "link.png")
    os.link(two_classes / "a" / "1.png", two_classes / "b" / "hard.png")
    data = ImageFolderDataset(two_classes)
    assert data.count("a") == 3 and data.count("b") == 3
    assert data.skipped == 2
    ids = data.sample("b", n=10).ids
    assert not any(i.endswith(("link.png", "hard.png")) for i in ids)


def test_a_link_to_a_folder_outside_is_followed_once(two_classes, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(2):
        _png(outside / f"o{i}.png", 50 + i)
    os.symlink(outside, two_classes / "a" / "ext1")
    os.symlink(outside, two_classes / "a" / "ext2")
    data = ImageFolderDataset(two_classes)
    assert data.count("a") == 5 and data.skipped == 1


def test_link_cycle_between_classes_ends(two_classes):
    os.symlink(two_classes / "b", two_classes / "a" / "to_b")
    os.symlink(two_classes / "a", two_classes / "b" / "to_a")
    data = ImageFolderDataset(two_classes)
    assert data.count("a") == 3 and data.count("b") == 3 and data.skipped == 2


def test_a_deep_tree_is_bounded(two_classes):
    from featent.data.folder import MAX_DEPTH

    folder = two_classes / "a"
    for _ in range(MAX_DEPTH + 3):
        folder = folder / "d"
        folder.mkdir()
    _png(folder / "deep.png", 7)
    data = ImageFolderDataset(two_classes)
    assert data.count("a") == 3 and data.skipped == 1


def test_empty_and_non_image_subfolders_do_not_block_the_others(two_classes):
    (two_classes / "empty").mkdir()
    (two_classes / "txt").mkdir()
    (two_classes / "txt" / "notes.txt").write_text("x")
    data = load_dataset(str(two_classes))
    try:
        assert data.classes == ["a", "b"]
        assert data.empty_classes == {"empty": 0, "txt": 0}
        assert data.sample("a", n=2).images.shape[0] == 2
        with pytest.raises(DataError, match=r"Class 'txt' .* has 0 image file\(s\)"):
            data.sample("txt")
    finally:
        clear_dataset_cache()


def test_only_empty_subfolders_is_one_sentence(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"has no class subfolder with at least 2 images"):
        ImageFolderDataset(tmp_path)


def test_a_dangling_link_and_an_unreadable_class_are_skipped(two_classes):
    os.symlink(two_classes / "nowhere", two_classes / "a" / "dangling.png")
    os.symlink(two_classes / "nowhere", two_classes / "ghost")
    data = ImageFolderDataset(two_classes)
    assert data.classes == ["a", "b"] and data.count("a") == 3
    assert data.skipped == 1


def test_the_classes_command_lists_the_notes(two_classes, capsys):
    from featent.cli.main import main

    (two_classes / "empty").mkdir()
    assert main(["classes", "--data", str(two_classes)]) == 0
    out = capsys.readouterr().out
    assert "# note: class 'empty' has 0 image file(s)" in out
    clear_dataset_cache()


def test_pipes_and_devices_named_like_images_are_skipped_not_read(two_classes):
    os.mkfifo(two_classes / "a" / "pipe.png")  # opening it for reading would block forever
    os.symlink("/dev/zero", two_classes / "a" / "zero.png")  # reading it would never end
    data = ImageFolderDataset(two_classes)
    assert data.count("a") == 3 and data.skipped == 2
    assert len(data.sample("a", n=10)) == 3


@pytest.mark.parametrize("size", [1, 4097, 10**9, True, 2.0])
def test_absurd_image_sizes_are_refused_before_decoding(two_classes, size):
    with pytest.raises(DataError, match=r"size must be an integer from 2 to 4096"):
        ImageFolderDataset(two_classes).sample("a", size=size)
