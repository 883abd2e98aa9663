"""Image folders with one subfolder per class (ImageNet-style ``train/`` works as it is)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import torch

from featent.data.base import MIN_IMAGES_PER_CLASS, ImageSet, check_sample_args, permutation
from featent.errors import DataError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


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
        check_sample_args(self, class_name, n, seed, split, size)
        files = self._files[class_name]
        images: list[torch.Tensor] = []
        ids: list[str] = []
        for position in permutation(seed, class_name, len(files)):
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

