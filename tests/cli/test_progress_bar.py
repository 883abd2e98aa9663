"""The CLI's progress as a person sees it: on a real terminal (a pty) the bar shows the phase in its real
units with that phase's measured rate, never tqdm's anonymous "it"; `featent entropy` reports every phase."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Drives a bar through two counted phases (sleeping, so each phase has a measured rate).
_DRIVE = r"""
import time
from featent.cli.common import progress_bar
from featent.progress import counted
progress, close = progress_bar(False, "entropy")
progress(0.0, "loading: model demo (torch, weights) and tracing its layers")
for done in range(0, 5):
    progress(0.8 * done / 4, counted("3: block1_conv1: forward + births", done, 4, "images"))
    time.sleep(0.3)
progress.warn("results are not cached: disk full")
for done in range(0, 5):
    progress(0.8 + 0.2 * done / 4, counted("baselines: size reference", done, 4, "layers"))
    time.sleep(0.3)
close()
"""


def _in_a_pty(code: str, *python_args: str, exit_code: int = 0) -> str:
    """What a 120-column terminal receives from ``python -c code`` (or ``python *python_args``)."""
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, on the pty
        os.environ["PYTHONPATH"] = str(ROOT)
        os.execv(sys.executable, [sys.executable, *(python_args or ("-c", code))])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == exit_code
    return b"".join(chunks).decode("utf-8", "replace")


def test_the_bar_on_a_terminal_shows_phases_in_real_units():
    screen = _in_a_pty(_DRIVE)
    frames = [f.strip() for f in re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", screen)) if f.strip()]
    bars = [f for f in frames if f.startswith("entropy:")]
    assert bars, screen
    assert not any("it/s" in f or re.search(r"\d+/\d+ \[", f) for f in frames), "tqdm's anonymous counter shows"
    assert not any("| ," in f for f in bars), "a stray comma before the phase (tqdm's postfix)"
    assert any("loading: model demo" in f for f in bars)
    assert any(re.search(r"forward \+ births: [34]/4 images, [\d.]+ images/s, phase ETA \d+:\d\d", f)
               for f in bars), bars
    assert any(re.search(r"baselines: size reference: [34]/4 layers, [\d.]+ layers/s, phase ETA \d+:\d\d", f) for f in bars), bars
    assert "featent: warning: results are not cached: disk full" in frames  # a line of its own, bar intact
    assert all(re.match(r"entropy: +\d+%\|", f) for f in bars), bars


def test_entropy_reports_every_phase_with_its_unit(cache_dir, monkeypatch):
    """loading (and tracing), sampling, forward + births (images), baselines (layers), on a cold store."""
    import importlib

    from featent.progress import Progress

    cli_main = importlib.import_module("featent.cli.main")  # the package's ``main`` names the function

    seen: list[tuple[float, str]] = []
    monkeypatch.setattr(cli_main, "progress_bar",
                        lambda quiet, description: (Progress(lambda f, m: seen.append((f, m))), lambda: None))
    monkeypatch.setenv("FEATENT_OFFLINE", "1")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main.main(["entropy", "--model", "demo", "--data", "digits", "--class", "3", "--layer",
                              "block3_conv2", "--images", "4", "--format", "json"]) == 0
    messages = [m for _, m in seen]
    for phase in ("loading: model demo", "tracing: 6 layers of demo", "3: sampling 4 images",
                  "3: block3_conv2: forward + births: 4/4 images", "baselines: size reference: 0/1 layers"):
        assert any(m.startswith(phase) for m in messages), (phase, messages)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize("command", ["entropy", "indicators", "sweep"])
def test_the_first_line_names_the_command_before_its_modules_load(command, tmp_path):
    """The early line is printed from argv alone (global flags and their values skipped)."""
    probe = ("import sys\n"
             "class T(list):\n    def isatty(self): return True\n    def write(self, s): self.append(s)\n"
             "    def flush(self): pass\n"
             "sys.stderr = T()\n"
             "from featent.cli.first import announce\n"
             f"announce(['--format', 'json', '--offline', {command!r}, '--images', '4'])\n"
             "lines = ''.join(sys.stderr); sys.stderr = sys.__stderr__\n"
             "print(repr((lines, 'featent.cli.experiments' in sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines, loaded = eval(done.stdout.strip().splitlines()[-1])
    assert lines == f"featent: {command}: starting …\n"
    assert not loaded


def test_the_featent_command_prints_its_first_line_before_numpy_and_its_bar_before_torch():
    """``python -m featent`` (as the console script) on a terminal: the first line comes before any import
    of numpy, and the bar's loading phase before torch (``-X importtime`` logs each import on stderr as it
    happens); here the command then stops at an unknown class."""
    screen = _in_a_pty("", "-X", "importtime", "-m", "featent", "entropy", "--model", "demo", "--data", "digits",
                       "--class", "no-such-class", "--layer", "block3_conv2", "--images", "2", exit_code=1)
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", screen).replace("\r", "\n").splitlines()]
    first = lines.index("featent: entropy: starting …")
    numpy_at = next(i for i, line in enumerate(lines) if re.search(r"\|\s+numpy$", line))
    loading_at = next(i for i, line in enumerate(lines) if "loading: torch and the command's modules" in line)
    torch_at = next(i for i, line in enumerate(lines) if re.search(r"\|\s+torch$", line))
    assert first < numpy_at
    assert loading_at < torch_at
    assert lines.count("featent: entropy: starting …") == 1  # main does not repeat it
    assert any(line.startswith("featent: error: ") and "no-such-class" in line for line in lines)
