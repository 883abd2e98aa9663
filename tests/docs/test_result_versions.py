"""The docs' result tables say which featent produced them (``featent --version``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import featent

ROOT = Path(__file__).resolve().parents[2]
_QUOTED = re.compile(r"`featent --version` = `featent (?P<version>\d+\.\d+\.\d+\S*)`")


@pytest.mark.parametrize("doc", ["docs/experiments.md", "docs/performance.md"])
def test_result_docs_quote_the_version_that_produced_them(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    head = text.split("\n## ", 1)[0]  # stated once, before the first section and its tables
    found = _QUOTED.search(head)
    assert found, f"{doc} does not say which `featent --version` its tables were measured with"
    ours = tuple(int(p) for p in featent.__version__.split(".")[:3])
    theirs = tuple(int(p) for p in found["version"].split(".")[:3])
    assert theirs <= ours, f"{doc} quotes featent {found['version']}, newer than this featent {featent.__version__}"
