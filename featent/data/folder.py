"""Image folders with one subfolder per class (ImageNet-style ``train/`` works as it is)."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from featent.data.base import MIN_IMAGES_PER_CLASS, ImageSet, check_sample_args, permutation
from featent.errors import DataError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})

#: Folders nested deeper than this below a class folder are not searched (a bound on any tree).
MAX_DEPTH = 32
#: What to give instead of a folder that cannot be used.
_GIVE = "give 'fashion', 'fashion-subset', 'digits' or a folder with one subfolder per class."

_8BIT_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"})


def shown_path(path: str | os.PathLike) -> str:
    """A path for a one-line message: quoted, and shortened in the middle when very long."""
    text = str(path)
    if len(text) > 120:
        text = f"{text[:60]}...{text[-40:]}"
    return repr(text)


def path_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be looked at, as a clause ("a name in it is too long"), or None when it
    can (it may still not exist: ``os.stat``'s "no such file" is left to the caller's wording)."""
    import errno

    try:
        os.stat(path)
    except ValueError:
        return "it contains a NUL character"
    except FileNotFoundError:
        return None
    except OSError as exc:
        reasons = {
            errno.ENAMETOOLONG: "a name in it is too long for the file system",
            errno.ENOTDIR: "a part of it is a file, not a folder",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.ELOOP: "it has too many levels of symbolic links",
        }
        return reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return None


class ImageFolderDataset:
    """A folder whose subfolders are classes (ImageNet-style ``train/`` works as it is).

    Every real file is counted once: paths are identified by device and inode, so a directory
    link is followed at most once, a link back to the root or into another class adds nothing,
    and a loop ends. Files without an image suffix and repeated files are skipped at load; files
    that fail to decode (or would be decompression bombs) are skipped when a sample reaches them.
    All of these are counted in ``skipped``. Subfolders with fewer than two images are listed in
    ``empty_classes`` with a note instead of blocking the other classes; using one is an error.
    Images are resized to a square without cropping, as in the paper.
    """

    splits: tuple[str, ...] = ("train",)

    def __init__(self, root: str | os.PathLike) -> None:
        path = Path(root).expanduser()
        problem = path_problem(path)
        if problem is not None:
            raise DataError(f"Cannot use data folder {shown_path(path)}: {problem}; {_GIVE}")
        if not path.exists():
            raise DataError(f"Data folder {shown_path(path)} does not exist; {_GIVE}")
        if not path.is_dir():
            raise DataError(f"{shown_path(path)} is not a folder; {_GIVE}")
        self.root = path.resolve()
        self.name = str(path)
        self._lock = threading.Lock()
        self._bad: set[str] = set()
        self._files: dict[str, list[str]] = {}
        digest = hashlib.sha256(b"imagefolder-v1")
        try:
            class_dirs = [e for e in os.scandir(self.root) if not e.name.startswith(".") and _is_dir(e)]
        except OSError as exc:
            raise DataError(f"Cannot read data folder {shown_path(self.name)}: {exc.strerror or exc}.") from exc
        class_dirs = sorted(class_dirs, key=lambda e: e.name)
        # The root and every class folder are claimed up front: a class never walks into another
        # class (or back to the root) through a link, whatever the names sort like.
        claimed = {_identity(self.root)}
        linked: set[str] = set()
        for entry in sorted(class_dirs, key=lambda e: (e.is_symlink(), e.name)):  # real folders first
            ident = _identity(entry.path)
            if ident in claimed:
                linked.add(entry.name)
            elif ident is not None:
                claimed.add(ident)
        scan = _Scan(claimed)
        self.notes: list[str] = []
        all_counts: dict[str, int] = {}
        for entry in class_dirs:
            if entry.name in linked:
                scan.skipped += 1
                self.notes.append(
                    f"class folder {entry.name!r} is a link to the data folder or to another class; it was not read")
                all_counts[entry.name] = 0
                continue
            found = scan.images(entry.path, entry.name)
            for rel, size, mtime in found:
                digest.update(f"{rel}\0{size}\0{mtime}\n".encode())
            self._files[entry.name] = [rel for rel, _, _ in found]
            all_counts[entry.name] = len(found)
        #: classes too small to sample from: name -> number of image files found
        self.empty_classes = {
            name: count for name, count in all_counts.items() if count < MIN_IMAGES_PER_CLASS
        }
        for name, count in self.empty_classes.items():
            if name in self._files:
                self.notes.append(
                    f"class {name!r} has {count} image file(s) and is left out (each class needs {MIN_IMAGES_PER_CLASS})")
            self._files.pop(name, None)
        if not self._files:
            raise DataError(
                f"Data folder {self.name!r} has no class subfolder with at least {MIN_IMAGES_PER_CLASS} images; "
                "put each class's images in its own subfolder."
            )
        self.classes = sorted(self._files)
        self._skipped_at_load = scan.skipped
        self.fingerprint = "folder-" + digest.hexdigest()[:16]

    @property
    def skipped(self) -> int:
        """Non-image and repeated files found at load plus images that failed to decode so far."""
        return self._skipped_at_load + len(self._bad)

    def count(self, class_name: str) -> int:
        """Number of candidate image files of a class (some may still fail to decode)."""
        if class_name in self.empty_classes:
            return self.empty_classes[class_name]
        return len(self._files[class_name])

    def _decode(self, rel: str, size: int) -> torch.Tensor | None:
        array = decode_image(self.root / rel, size)
        if array is None:
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


def decode_image(path: str | os.PathLike, size: int) -> np.ndarray | None:
    """float32 [size, size, 3] in [0, 1], or None for a file that cannot (or should not) be decoded.

    Every PIL mode is scaled by its own range: 8-bit modes through PIL's RGB conversion, 16-bit
    greyscale (``I;16*``, and ``I`` holding 16-bit values) by 65535, ``F`` by its evident range.
    Any PIL warning is swallowed; a decompression-bomb warning skips the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return image_array(im, size)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, TypeError, MemoryError,
            EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


def image_array(im, size: int) -> np.ndarray | None:
    """An open PIL image as float32 [size, size, 3] in [0, 1], each mode scaled by its own range."""
    from PIL import Image

    if im.mode in _8BIT_MODES:
        channels = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    else:
        grey = _scaled_grey(im)
        if grey is None:
            return None
        channels = np.repeat(grey.astype(np.float32)[:, :, None], 3, axis=2)
    # Resized in floating point after scaling, never as 8-bit integers: the same picture gives the
    # same array whatever its bit depth, and no rounding is added by the resize.
    planes = [
        np.asarray(Image.fromarray(np.ascontiguousarray(channels[:, :, c])).resize((size, size), Image.Resampling.BILINEAR),
                   dtype=np.float32)
        for c in range(3)
    ]
    return np.clip(np.stack(planes, axis=2), 0.0, 1.0)


def _scaled_grey(im) -> np.ndarray | None:
    """A single-channel high-bit image as float32 in [0, 1] (None: a mode we cannot read)."""
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im, dtype=np.float32) / 65535.0
    if mode == "I":
        values = np.asarray(im, dtype=np.int64)
        if values.size and values.min() >= 0 and values.max() <= 65535:
            return (values / 65535.0).astype(np.float32)  # 16-bit PNG/TIFF data, PIL's usual "I"
        return _stretch(values.astype(np.float64))
    if mode == "F":
        values = np.asarray(im, dtype=np.float64)
        if not np.isfinite(values).all():
            return None
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        for top in (1.0, 255.0, 65535.0):
            if lo >= 0.0 and hi <= top:
                return (values / top).astype(np.float32)
        return _stretch(values)
    try:
        return np.asarray(im.convert("RGB"), dtype=np.float32).mean(axis=2) / 255.0
    except (ValueError, OSError):
        return None


def _stretch(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of what a path finally points to; None if it cannot be read."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


class _Scan:
    """One pass over the class folders, remembering every directory and file already seen."""

    def __init__(self, claimed: set) -> None:
        self.claimed = claimed  # root and class folders: entered only as their own class
        self.dirs: set = set()
        self.files: set = set()
        self.skipped = 0

    def images(self, directory: str, prefix: str) -> list[tuple[str, int, int]]:
        """Sorted [(relative path, size, mtime_ns)] of the image files under one class folder."""
        found: list[tuple[str, int, int]] = []
        start = _identity(directory)
        if start is None or start in self.dirs:
            self.skipped += 1
            return found
        self.dirs.add(start)
        pending = [(directory, prefix, 0)]
        while pending:
            folder, rel_folder, depth = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                self.skipped += 1
                continue
            for item in entries:
                if item.name.startswith("."):
                    continue
                rel = f"{rel_folder}{os.sep}{item.name}"
                try:
                    if item.is_dir():
                        ident = _identity(item.path)
                        if ident is None or ident in self.dirs or ident in self.claimed or depth >= MAX_DEPTH:
                            self.skipped += 1  # a loop, a second way into a folder, or too deep
                            continue
                        self.dirs.add(ident)
                        pending.append((item.path, rel, depth + 1))
                        continue
                    if os.path.splitext(item.name)[1].lower() not in IMAGE_SUFFIXES:
                        self.skipped += 1
                        continue
                    info = item.stat()
                except OSError:
                    self.skipped += 1
                    continue
                if not stat.S_ISREG(info.st_mode):
                    self.skipped += 1  # a pipe, socket or device (e.g. a link to /dev/zero): reading it could block
                    continue
                ident = (info.st_dev, info.st_ino)
                if ident in self.files:
                    self.skipped += 1  # the same file reached twice (a link or a hard link)
                    continue
                self.files.add(ident)
                found.append((rel, info.st_size, info.st_mtime_ns))
        found.sort()
        return found
