"""Every example in README.md and docs/*.md runs as written.

The convention: a ```bash fence holds `featent ...` commands, one a line, that run offline on the demo
with small image counts; a ```python fence is executed, the fences of one file in order in one fresh
namespace; a ```text fence (commands needing a network, a server or a long run) is shown, not run.
An untagged fence may not hold `featent` commands: it must say which of the two it is.
Nothing is substituted: a command runs with exactly the arguments the reader sees. Every failure
names the file and the line of the example.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from featent.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: The most images a docs example may sample: more is not cheap enough to run in every `make test`.
MAX_IMAGES = 20
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the first line inside the fence
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the line each starts on."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m:
            indent, fence, lang = m.groups()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                j += 1
            body = [line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:j]]
            found.append(Block(path, i + 2, lang.lower(), "\n".join(body)))
            i = j
        i += 1
    return found


def commands(block: Block) -> list[tuple[int, list[str]]]:
    """(line, argv) of each command of a bash block; a trailing backslash continues a line."""
    out, pending, start = [], "", 0
    for k, raw in enumerate(block.text.split("\n")):
        if not pending:
            start = block.line + k
        pending += raw.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        argv = shlex.split(pending, comments=True)
        pending = ""
        if argv:
            out.append((start, argv))
    return out


ALL = [b for path in DOCS for b in blocks(path)]
BASH = [(b, line, argv) for b in ALL if b.lang in ("bash", "sh", "shell", "console") for line, argv in commands(b)]
PYTHON_FILES = sorted({b.path for b in ALL if b.lang == "python"})


def test_the_docs_have_examples_to_run():
    assert len(BASH) >= 5 and len(PYTHON_FILES) >= 3


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == ""], ids=lambda b: b.where)
def test_an_untagged_fence_holds_no_command(block):
    """An example command is either run (bash) or shown (text); untagged it would silently be neither."""
    lines = [s.strip() for s in block.text.split("\n")]
    bad = [s for s in lines if s.startswith(("featent ", "$ featent", "python -m featent"))]
    assert not bad, f"{block.where}: tag this fence ```bash (run by this test) or ```text (network, server, long run)"


@pytest.fixture(scope="module")
def docs_cache(tmp_path_factory) -> Path:
    """One result store for every example: later examples reuse what earlier ones computed."""
    return tmp_path_factory.mktemp("docs-cache")


@pytest.fixture
def docs_env(docs_cache, tmp_path, monkeypatch) -> Path:
    """A scratch folder laid out like the checkout the docs are read from (its example files under
    docs/examples), so examples may write files without touching the checkout."""
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(docs_cache))
    monkeypatch.setenv("FEATENT_OFFLINE", "1")
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("block", "line", "argv"), BASH, ids=[f"{b.where}+{line - b.line}" for b, line, _ in BASH])
def test_bash_example_runs(block, line, argv, docs_env):
    where = f"{block.path.relative_to(ROOT)}:{line}"
    shown = " ".join(argv)
    assert argv[0] == "featent", f"{where}: a ```bash line is one `featent ...` command, got {shown!r}"
    for k, arg in enumerate(argv[:-1]):
        if arg == "--images" and argv[k + 1].isdigit():
            assert int(argv[k + 1]) <= MAX_IMAGES, (
                f"{where}: {shown!r} samples {argv[k + 1]} images; use --images {MAX_IMAGES} or fewer in a "
                "```bash example, or move it to a ```text fence")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv[1:])
        except SystemExit as exc:  # --version, --help: argparse exits
            code = exc.code if isinstance(exc.code, int) else 1
    assert code == 0, f"{where}: {shown!r} exited {code}:\n{err.getvalue()[-2000:]}"
    assert out.getvalue().strip() or "--out" in argv, f"{where}: {shown!r} printed nothing"


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_run(path, docs_env):
    """The python fences of one file, in order, in one fresh namespace; line numbers are the file's."""
    namespace: dict = {"__name__": "__docs__"}
    for block in (b for b in ALL if b.path == path and b.lang == "python"):
        source = "\n" * (block.line - 1) + block.text  # tracebacks then point at the Markdown line
        try:
            exec(compile(source, str(path.relative_to(ROOT)), "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 (any failure of an example is reported with its line)
            frames = [f for f in traceback.extract_tb(sys.exc_info()[2]) if f.filename == str(path.relative_to(ROOT))]
            line = frames[-1].lineno if frames else block.line
            pytest.fail(f"{path.relative_to(ROOT)}:{line}: {type(exc).__name__}: {exc}")
