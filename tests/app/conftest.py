"""AppTest fixtures: a private result store, cleared Streamlit caches, the repo root importable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, Path(__file__).resolve().parent):  # app.py and featent/ from this checkout; apptest_support
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(scope="session")
def app_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the session: births computed by one test are reused by the next."""
    return tmp_path_factory.mktemp("featent-app-cache")


@pytest.fixture(autouse=True)
def isolated_app(app_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(app_cache_dir))
    st.cache_data.clear()
    st.cache_resource.clear()
