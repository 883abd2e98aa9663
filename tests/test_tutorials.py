"""The tutorial notebooks in docs/tutorials run top to bottom (nbclient, this interpreter's python3
kernel, offline, a private store), are stored without outputs, and show their figures inline."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

#: ``make test`` runs this module beside the rest (mostly waiting on notebook kernels); plain ``pytest`` runs it
#: with everything else.
pytestmark = pytest.mark.side

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs" / "tutorials").glob("*.ipynb"))
PLOTLY = "application/vnd.plotly.v1+json"


def test_there_are_a_quickstart_and_a_paper_reproduction():
    names = {p.stem for p in NOTEBOOKS}
    assert "quickstart" in names and any(n.startswith("paper_") for n in names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_figures(path, cache_dir, monkeypatch):
    monkeypatch.setenv("FEATENT_OFFLINE", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    elapsed = time.perf_counter() - start
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(PLOTLY in o.get("data", {}) for o in outputs), "no plotly figure displayed inline"
    assert elapsed < 120, f"{path.name} took {elapsed:.0f} s"
