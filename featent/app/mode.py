"""Local or public mode: who may type what into the app.

Local mode (the default) serves one researcher on their own machine: typed paths, Python files and
store clearing are offered. Public mode (``featent app --public`` or ``FEATENT_PUBLIC=1``) serves a
class from one shared server: nothing a visitor types may name a path or code on the server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import tomllib

from featent.errors import FeatentError

#: The environment variable that turns public mode on for ``streamlit run app.py`` and ``make run``.
PUBLIC_ENV = "FEATENT_PUBLIC"

_TRUE = {"1", "true", "yes", "on"}


def public_mode() -> bool:
    """True when the server was started in public mode (read on each call, so tests can switch it)."""
    return os.environ.get(PUBLIC_ENV, "").strip().lower() in _TRUE


# -- the operator's limits ---------------------------------------------------------------------------

#: The environment variable naming a TOML file with a ``[featent]`` table of the limits below.
CONFIG_ENV = "FEATENT_CONFIG"
#: Folders whose subfolders visitors may choose by name (``os.pathsep``-separated), never typed.
DATA_ROOTS_ENV = "FEATENT_DATA_ROOTS"
#: Lets visitors train the demo family's untrained members (public mode; local mode always may).
ALLOW_TRAINING_ENV = "FEATENT_ALLOW_TRAINING"


@dataclass(frozen=True)
class Limits:
    """What one visitor may ask of a shared server; each has an env var ``FEATENT_<NAME upper>``."""

    max_images: int = 200                 # images per selection (|Ω|)
    max_input_size: int = 224             # input side in pixels (the @SIZE of a spec)
    max_parameters: int = 150_000_000     # model size in parameters
    max_jobs: int = 2                     # computations running at once; more wait in a queue
    session_compute_s: float = 600.0      # compute seconds one session may use
    max_upload_mb: float = 20.0           # one upload (checkpoint or zip), and a zip's unpacked total
    max_upload_files: int = 2000          # files in an uploaded zip
    max_models: int = 4                   # loaded models kept in memory (LRU)
    max_model_mb: float = 2000.0          # their parameter bytes together (LRU)
    max_atlas_rows: int = 100_000         # rows of an uploaded atlas file (read before it is loaded)

    def sentence(self, name: str, asked: object) -> str:
        """The one sentence a visitor sees when a request goes over limit ``name``."""
        what = {
            "max_images": f"at most {self.max_images} images per selection",
            "max_input_size": f"inputs of at most {self.max_input_size}x{self.max_input_size} pixels",
            "max_parameters": f"models of at most {self.max_parameters:,} parameters",
            "max_jobs": f"{self.max_jobs} computations at once",
            "session_compute_s": f"{self.session_compute_s:.0f} s of computing per session",
            "max_upload_mb": f"uploads of at most {self.max_upload_mb:g} MB",
            "max_upload_files": f"at most {self.max_upload_files} files in an uploaded zip",
            "max_atlas_rows": f"atlas files of at most {self.max_atlas_rows:,} rows",
        }[name]
        return f"This server allows {what}; {asked} is over that limit."


def _config_table() -> dict[str, object]:
    path = os.environ.get(CONFIG_ENV, "").strip()
    if not path:
        return {}
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FeatentError(f"The config file {path!r} named by {CONFIG_ENV} cannot be read ({exc}).") from None
    section = table.get("featent", table)
    return dict(section) if isinstance(section, dict) else {}


def limits() -> Limits:
    """The limits in force: defaults, then the TOML file named by FEATENT_CONFIG, then env vars."""
    values: dict[str, object] = {}
    table = _config_table()
    for item in fields(Limits):
        raw = os.environ.get(f"FEATENT_{item.name.upper()}", table.get(item.name))
        if raw is None:
            continue
        kind = float if item.type in ("float", float) else int
        try:
            number = kind(raw)  # type: ignore[call-overload,arg-type]
        except (TypeError, ValueError):
            raise FeatentError(f"The limit {item.name}={raw!r} is not a number.") from None
        if number <= 0:
            raise FeatentError(f"The limit {item.name}={raw!r} must be positive.")
        values[item.name] = number
    return Limits(**values)  # type: ignore[arg-type]


def data_roots() -> dict[str, Path]:
    """Folders a public visitor may choose, by name: every subfolder of each FEATENT_DATA_ROOTS entry
    (or the ``data_roots`` list of the config file); links are not followed."""
    raw = os.environ.get(DATA_ROOTS_ENV)
    entries = raw.split(os.pathsep) if raw is not None else list(_config_table().get("data_roots", []) or [])  # type: ignore[call-overload]
    found: dict[str, Path] = {}
    for entry in (str(e).strip() for e in entries):
        if not entry:
            continue
        root = Path(entry).expanduser()
        try:
            children = sorted(root.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
                found.setdefault(child.name, child)
    return found


def training_allowed() -> bool:
    """Local mode always trains; public mode only when FEATENT_ALLOW_TRAINING (or ``allow_training``) is on."""
    if not public_mode():
        return True
    raw = os.environ.get(ALLOW_TRAINING_ENV)
    if raw is None:
        return bool(_config_table().get("allow_training", False))
    return raw.strip().lower() in _TRUE
