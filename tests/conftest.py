"""Shared fixtures: toy units (here), a tiny CNN and a temporary image folder (pipeline tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

# Property tests run a fixed number of generated cases everywhere (CI included): no deadline,
# since the first call of a compiled kernel includes its compilation.
settings.register_profile("featent", deadline=None, print_blob=True)
settings.load_profile("featent")


@pytest.fixture
def fig2_unit() -> np.ndarray:
    """A 4x4 unit in the spirit of the paper's Fig. 2.

    Its four largest entries sit at (1,2), (4,3), (2,4), (3,1) (1-based, as in the paper), so
    the graph after four steps is the 4-cycle 1-2-4-3-1 with no chord: the birth time is 4.
    """
    unit = np.array(
        [
            [1.0, 16.0, 5.0, 2.0],
            [6.0, 3.0, 7.0, 14.0],
            [13.0, 8.0, 4.0, 9.0],
            [10.0, 11.0, 15.0, 12.0],
        ]
    )
    return unit


@pytest.fixture
def smooth_unit() -> np.ndarray:
    """A realistic post-ReLU unit: smoothed noise with about half of it zeroed."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(7)
    field = gaussian_filter(rng.normal(size=(14, 14)), sigma=1.0)
    return np.maximum(field - np.median(field), 0.0).astype(np.float32)


# --- pipeline fixtures: a tiny CNN, an image folder with corrupt files, a private cache ---


@pytest.fixture
def tiny_cnn():
    """A LoadedModel around a seeded 2-block VGG-like CNN on 16x16 inputs (in-place ReLUs)."""
    import torch
    from torch import nn

    from featent.nets import from_module

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = nn.Sequential()
        module.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        module.classifier = nn.Sequential(nn.Flatten(), nn.Linear(6 * 4 * 4, 3))
    return from_module(module, name="tiny", input_size=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


@pytest.fixture
def image_folder(tmp_path):
    """Classes 'cat' (6 PNGs), 'dog' (4 JPEGs, 1 corrupt .jpg, 1 truncated .png) plus a notes.txt."""
    from PIL import Image

    root = tmp_path / "images"
    rng = np.random.default_rng(0)
    for name, count, suffix in (("cat", 6, ".png"), ("dog", 4, ".jpg")):
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(20 + i, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}{i}{suffix}")
    (root / "dog" / "broken.jpg").write_bytes(b"this is not a jpeg")
    good = (root / "cat" / "cat0.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(good[: len(good) // 3])
    (root / "dog" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private result store directory, made the default through FEATENT_CACHE_DIR."""
    directory = tmp_path / "featent-cache"
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(scope="session")
def session_store_dir(tmp_path_factory):
    """One result store for a whole test session: tests that run the same computation (every output
    format of one command) compute it once and read it back after."""
    return tmp_path_factory.mktemp("session-store")


@pytest.fixture
def session_store(session_store_dir, monkeypatch):
    """The session's result store made the default (FEATENT_CACHE_DIR), offline (no weights fetched)."""
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(session_store_dir))
    monkeypatch.setenv("FEATENT_OFFLINE", "1")
    return session_store_dir


class StartedServers:
    """The Streamlit servers ``featent.app.launch`` started: (command, environment) each; every one
    stops at once with exit status ``status``."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict]] = []
        self.status = 0

    def popen(self, command, env=None):
        self.calls.append((list(command), dict(env or {})))
        servers = self

        class Stopped:
            def wait(self, timeout=None) -> int:
                return servers.status

        return Stopped()


@pytest.fixture
def started(monkeypatch) -> StartedServers:
    """Record the servers ``featent app`` / ``featent.app.launch`` would start instead of starting them."""
    import subprocess

    servers = StartedServers()
    monkeypatch.setattr(subprocess, "Popen", servers.popen)
    monkeypatch.delenv("FEATENT_PUBLIC", raising=False)
    return servers
