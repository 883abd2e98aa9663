"""Every PIL mode decodes to the same picture as its 8-bit RGB version, with the right scaling;
PIL warnings never reach the user and decompression bombs are skipped and counted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from featent.data import ImageFolderDataset
from featent.data.folder import decode_image, image_array

SIZE = 16


def _grey8() -> np.ndarray:
    y, x = np.mgrid[0:40, 0:40]
    return ((x * 6 + y * 3) % 256).astype(np.uint8)


def _colour8() -> np.ndarray:
    g = _grey8()
    return np.stack([g, 255 - g, (g // 2 + 60).astype(np.uint8)], axis=2)


def _reference(rgb8: np.ndarray) -> np.ndarray:
    return image_array(Image.fromarray(rgb8), SIZE)


def _grey_rgb() -> np.ndarray:
    g = _grey8()
    return np.stack([g, g, g], axis=2)


# (mode label, builder of the image, reference 8-bit RGB picture, allowed mean / max difference)
CASES = {
    "L": (lambda: Image.fromarray(_grey8()), _grey_rgb, 0.0, 0.0),
    "LA": (lambda: Image.fromarray(_grey8()).convert("LA"), _grey_rgb, 0.0, 0.0),
    "RGB": (lambda: Image.fromarray(_colour8()), _colour8, 0.0, 0.0),
    "RGBA": (lambda: Image.fromarray(_colour8()).convert("RGBA"), _colour8, 0.0, 0.0),
    "P": (lambda: Image.fromarray(_grey_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=256), _grey_rgb, 0.01, 0.05),
    "PA": (lambda: Image.fromarray(_grey_rgb()).convert("PA"), _grey_rgb, 0.02, 0.05),
    "CMYK": (lambda: Image.fromarray(_colour8()).convert("CMYK"), _colour8, 0.0, 0.0),
    "YCbCr": (lambda: Image.fromarray(_colour8()).convert("YCbCr"), _colour8, 0.01, 0.03),
    "I;16": (lambda: Image.fromarray(_grey8().astype(np.uint16) * 257), _grey_rgb, 0.003, 0.005),
    "I;16B": (
        lambda: Image.frombytes("I;16B", (40, 40), (_grey8().astype(np.uint16) * 257).astype(">u2").tobytes()),
        _grey_rgb,
        0.003,
        0.005,
    ),
    "I;16L": (
        lambda: Image.frombytes("I;16L", (40, 40), (_grey8().astype(np.uint16) * 257).astype("<u2").tobytes()),
        _grey_rgb,
        0.003,
        0.005,
    ),
    "I": (lambda: Image.fromarray(_grey8().astype(np.int32) * 257), _grey_rgb, 0.003, 0.005),
    "F": (lambda: Image.fromarray(_grey8().astype(np.float32) / 255.0), _grey_rgb, 0.003, 0.005),
    "F-0..255": (lambda: Image.fromarray(_grey8().astype(np.float32)), _grey_rgb, 0.003, 0.005),
}


@pytest.mark.parametrize("label", sorted(CASES))
def test_mode_decodes_like_8bit_rgb(label):
    build, reference, mean_tol, max_tol = CASES[label]
    image = build()
    assert image.mode == label.split("-")[0]
    got = image_array(image, SIZE)
    want = _reference(reference())
    assert got.shape == (SIZE, SIZE, 3) and got.dtype == np.float32
    assert got.min() >= 0.0 and got.max() <= 1.0
    diff = np.abs(got - want)
    assert diff.mean() <= mean_tol and diff.max() <= max_tol


def test_mode_1_is_the_same_black_and_white_picture():
    bw = Image.fromarray(_grey8()).convert("1")
    rgb = np.asarray(bw.convert("RGB"))
    assert np.array_equal(image_array(bw, SIZE), _reference(rgb))


def test_16bit_png_file_is_not_white(tmp_path):
    """The bug this guards: I;16 clipped to 255 decoded as nearly white (mean 0.98 vs 0.50)."""
    Image.fromarray(_grey8().astype(np.uint16) * 257).save(tmp_path / "g16.png")
    Image.fromarray(_grey8()).save(tmp_path / "g8.png")
    a = decode_image(tmp_path / "g16.png", SIZE)
    b = decode_image(tmp_path / "g8.png", SIZE)
    assert abs(float(a.mean()) - float(b.mean())) < 0.003


def test_16bit_folder_samples_like_its_8bit_copy(tmp_path):
    for name, make in (("c16", lambda g: g.astype(np.uint16) * 257), ("c8", lambda g: g)):
        (tmp_path / "d" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(make(np.roll(_grey8(), 5 * i, axis=1))).save(tmp_path / "d" / name / f"{i}.png")
    data = ImageFolderDataset(tmp_path / "d")
    s16 = data.sample("c16", n=3, size=SIZE)
    s8 = data.sample("c8", n=3, size=SIZE)
    order16 = [i.split("/")[-1] for i in s16.ids]
    order8 = [i.split("/")[-1] for i in s8.ids]
    by16 = dict(zip(order16, s16.images))
    by8 = dict(zip(order8, s8.images))
    for name in by16:
        assert float((by16[name] - by8[name]).abs().mean()) < 0.003


def test_decompression_bomb_is_skipped_silently(tmp_path, recwarn):
    Image.new("L", (10000, 10000)).save(tmp_path / "big.png")  # > PIL's MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping would fail here
        assert decode_image(tmp_path / "big.png", SIZE) is None
    assert len(recwarn) == 0


def test_a_bomb_in_a_folder_counts_as_skipped(tmp_path, capfd):
    root = tmp_path / "d"
    (root / "c").mkdir(parents=True)
    for i in range(2):
        Image.fromarray(_grey8()).save(root / "c" / f"{i}.png")
    Image.new("L", (10000, 10000)).save(root / "c" / "big.png")
    data = ImageFolderDataset(root)
    sample = data.sample("c", n=5, size=SIZE)
    assert len(sample) == 2 and data.skipped == 1
    assert capfd.readouterr().err == ""


def test_palette_transparency_warning_is_not_printed(tmp_path, capfd):
    image = Image.fromarray(_grey_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.info["transparency"] = bytes(range(16))
    image.save(tmp_path / "p.png", transparency=bytes(range(16)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decode_image(tmp_path / "p.png", SIZE) is not None
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a" + b"\xff" * 20, b"not an image"])
def test_broken_files_are_none(tmp_path, content):
    (tmp_path / "x.png").write_bytes(content)
    assert decode_image(tmp_path / "x.png", SIZE) is None


def test_float_image_with_nan_is_skipped():
    values = np.full((8, 8), np.nan, np.float32)
    assert image_array(Image.fromarray(values), SIZE) is None


def test_negative_int_image_is_stretched_into_range():
    values = (_grey8().astype(np.int32) - 128) * 1000
    got = image_array(Image.fromarray(values), SIZE)
    assert got.min() >= 0.0 and got.max() <= 1.0 and got.max() - got.min() > 0.9


@pytest.mark.parametrize("size", [16, 32, 57])
def test_sixteen_bit_and_eight_bit_copies_decode_to_identical_arrays(tmp_path, size):
    """The resize runs on the scaled floats, so bit depth cannot change a single value (an 8-bit
    resize would round to 1/255 steps and shift ties in the activations)."""
    grey = _grey8()
    Image.fromarray(grey).save(tmp_path / "eight.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    eight = decode_image(tmp_path / "eight.png", size)
    sixteen = decode_image(tmp_path / "sixteen.png", size)
    assert eight.shape == (size, size, 3) and eight.dtype == np.float32
    np.testing.assert_array_equal(sixteen, eight)
