"""Odd paths to data folders and weights files: one sentence (DataError/ModelError), exit 1, no traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from featent.data import load_dataset
from featent.errors import DataError, ModelError
from featent.nets.checkpoints import read_checkpoint

LONG = "/" + "e" * 300


def _denied(monkeypatch):
    """Root ignores permission bits, so the refusal is made where the path is first looked at."""
    real = os.stat

    def stat(path, *args, **kwargs):
        if "locked" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)


@pytest.mark.parametrize(("path", "words"), [
    (LONG, "too long"), ("/tmp/a\x00b", "NUL"), ("/etc/passwd/x", "is a file, not a folder"),
    ("/etc/passwd", "is not a folder"), ("/nonexistent/folder", "does not exist"), ("/tmp/locked", "permission denied"),
])
def test_data_folder_paths_are_one_sentence(path, words, monkeypatch):
    _denied(monkeypatch)
    with pytest.raises(DataError, match=words) as info:
        load_dataset(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize(("path", "words"), [
    (LONG + ".pt", "too long"), ("/tmp/w\x00.pt", "NUL"), ("/etc/passwd/x.pt", "is a file, not a folder"),
    ("/tmp", "is a folder"), ("/nonexistent/w.pt", "does not exist"), ("/tmp/locked.pt", "permission denied"),
])
def test_weights_paths_are_one_sentence(path, words, monkeypatch):
    _denied(monkeypatch)
    with pytest.raises(ModelError, match=words) as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize("argv", [["classes", "--data", LONG], ["layers", "--model", "demo", "--weights", LONG + ".pt"],
                                  ["classes", "--data", "/etc/passwd/x"]])
def test_cli_gives_one_line_and_exit_1(argv, tmp_path):
    env = dict(os.environ, FEATENT_CACHE_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-m", "featent", *argv], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("featent: error: ") and "Traceback" not in run.stderr
