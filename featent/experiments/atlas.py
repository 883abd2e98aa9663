"""The FE atlas of a model: one row per (class, layer), optionally one per unit, as a table and a file.

Why its own module: the atlas is what a sweep hands back and what the app and the CLI read and
write, with or without the sweep that built it; the summary of one (class, layer) and its store
key live here too, so the sweep writes and ``stored_atlas`` reads the same entries.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from featent.core.entropy import DEFAULT_P, hole_possible, mean_live_conditional_feature_entropy
from featent.errors import FeatentError
from featent.store import result_key, write_atomic, write_bytes_atomic

__all__ = ["Atlas", "LAYER_COLUMNS", "NULL_COLUMNS", "CONDITIONAL_COLUMNS", "NULL_CONDITIONAL_COLUMNS", "UNIT_COLUMNS",
           "SUMMARY_VERSION", "summary_key", "usable_summary"]

SUMMARY_VERSION = "sweep-v1"
#: Columns every atlas has; the baseline columns follow when every row has the null FE.
LAYER_COLUMNS = (
    "model", "data", "class", "layer", "images", "seed", "units", "unit_size", "hole_possible",
    "mean_feature_entropy", "mean_selective_rate", "silent_share", "mean_live_feature_entropy",
)
NULL_COLUMNS = ("mean_null_feature_entropy", "structure_gap")
#: The stability part of FE (conditional FE H(x | born), docs/method.md), after the columns above when
#: every row has it; atlases written without it load unchanged and simply lack these columns.
CONDITIONAL_COLUMNS = ("mean_live_conditional_feature_entropy",)
NULL_CONDITIONAL_COLUMNS = ("mean_live_null_conditional_feature_entropy", "mean_live_stability_gap")
UNIT_COLUMNS = ("model", "data", "class", "layer", "images", "seed", "unit_size", "unit", "feature_entropy", "selective_rate")


def summary_key(model_fingerprint: str, data_fp: str, class_name: str, layer: str, n: int, seed: int) -> str:
    """Store key of one (class, layer) summary."""
    return result_key("layer-summary", SUMMARY_VERSION, model_fingerprint, data_fp, class_name, layer, int(n), int(seed))


def _layer_row(meta: dict, fe: np.ndarray, eps: np.ndarray, null: np.ndarray | None,
               cond: np.ndarray | None = None, null_cond: np.ndarray | None = None) -> dict:
    live = eps >= DEFAULT_P
    row = {
        "model": meta["model"],
        "data": meta["data"],
        "class": meta["class"],
        "layer": meta["layer"],
        "images": int(meta["images"]),
        "seed": int(meta.get("seed", 0)),
        "units": int(fe.size),
        "unit_size": int(meta.get("unit_size", 0)),
        "hole_possible": hole_possible(int(meta.get("unit_size", 0))),
        "mean_feature_entropy": float(fe.mean()),
        "mean_selective_rate": float(eps.mean()),
        "silent_share": float((~live).mean()),
        "mean_live_feature_entropy": float(fe[live].mean()) if live.any() else math.nan,
    }
    if null is not None:
        row["mean_null_feature_entropy"] = float(null.mean())
        row["structure_gap"] = float((null - fe).mean())
    if cond is not None:
        row["mean_live_conditional_feature_entropy"] = mean_live_conditional_feature_entropy(cond, eps)
        if null_cond is not None:
            row["mean_live_null_conditional_feature_entropy"] = mean_live_conditional_feature_entropy(null_cond, eps)
            row["mean_live_stability_gap"] = mean_live_conditional_feature_entropy(null_cond - cond, eps)
    return row


def _unit_rows(meta: dict, fe: np.ndarray, eps: np.ndarray, null: np.ndarray | None,
               cond: np.ndarray | None = None, null_cond: np.ndarray | None = None) -> pd.DataFrame:
    n = fe.size
    frame = pd.DataFrame({
        "model": [meta["model"]] * n, "data": [meta["data"]] * n, "class": [meta["class"]] * n,
        "layer": [meta["layer"]] * n, "images": np.full(n, int(meta["images"]), dtype=np.int64),
        "seed": np.full(n, int(meta.get("seed", 0)), dtype=np.int64),
        "unit_size": np.full(n, int(meta.get("unit_size", 0)), dtype=np.int64),
        "unit": np.arange(n, dtype=np.int64), "feature_entropy": fe.astype(np.float64),
        "selective_rate": eps.astype(np.float64),
    })
    if null is not None:
        frame["null_feature_entropy"] = null.astype(np.float64)
        frame["structure_gap"] = (null - fe).astype(np.float64)
    if cond is not None:
        frame["conditional_feature_entropy"] = cond.astype(np.float64)
        if null_cond is not None:
            frame["null_conditional_feature_entropy"] = null_cond.astype(np.float64)
            frame["stability_gap"] = (null_cond - cond).astype(np.float64)
    return frame


_TEXT = {"model": str, "data": str, "class": str, "layer": str}


class Atlas:
    """One row per (class, layer) (``to_frame()``), optionally one per unit (``units_frame()``)."""

    def __init__(self, frame: pd.DataFrame, units: pd.DataFrame | None = None, computed: int = 0) -> None:
        frame = frame.reset_index(drop=True)
        if "unit_size" in frame.columns and "hole_possible" not in frame.columns:
            # Atlases written before the column: whether a unit's maps (m x m) can hold a hole at all.
            frame.insert(int(frame.columns.get_loc("unit_size")) + 1, "hole_possible",
                         [hole_possible(int(m)) for m in frame["unit_size"]])
        self._frame = frame
        self._units = None if units is None else units.reset_index(drop=True)
        #: (class, layer) pairs computed by the run that built this atlas (the rest came from the store).
        self.computed = int(computed)

    @classmethod
    def from_summaries(cls, summaries: Sequence[tuple[dict, dict[str, np.ndarray]]], units: bool = False,
                       computed: int = 0) -> Atlas:
        rows, parts = [], []
        for meta, arrays in summaries:
            fe, eps = arrays["feature_entropy"], arrays["selective_rate"]
            null = arrays.get("null_feature_entropy")
            cond, null_cond = arrays.get("conditional_feature_entropy"), arrays.get("null_conditional_feature_entropy")
            rows.append(_layer_row(meta, fe, eps, null, cond, null_cond))
            if units:
                parts.append(_unit_rows(meta, fe, eps, null, cond, null_cond))
        frame = pd.DataFrame(rows, columns=_columns(rows))
        unit_frame = pd.concat(parts, ignore_index=True) if units and parts else (
            pd.DataFrame(columns=list(UNIT_COLUMNS)) if units else None)
        return cls(frame, unit_frame, computed)

    def to_frame(self) -> pd.DataFrame:
        """The (class, layer) table (a copy)."""
        return self._frame.copy()

    def units_frame(self) -> pd.DataFrame:
        """The (class, layer, unit) table; FeatentError when the sweep ran without ``units=True``."""
        if self._units is None:
            raise FeatentError("This atlas has no per-unit rows; run the sweep with units=True (--units).")
        return self._units.copy()

    @property
    def has_units(self) -> bool:
        return self._units is not None

    def __len__(self) -> int:
        return len(self._frame)

    def __repr__(self) -> str:
        models = ", ".join(sorted(self._frame["model"].unique())) if len(self._frame) else "-"
        return f"Atlas({models}: {self._frame['class'].nunique() if len(self) else 0} classes x " \
               f"{self._frame['layer'].nunique() if len(self) else 0} layers)"

    def save(self, path: str | Path, units: bool | None = None) -> Path:
        """Write ``.parquet`` or ``.csv``: the (class, layer) rows, or the per-unit rows when ``units``
        (default: when the atlas has them); ``Atlas.load`` reads either back.

        All or nothing (a temporary file renamed into place), and with its row count and unit counts
        per (class, layer) (parquet metadata; a last ``# featent-atlas`` line in a CSV), so a file cut
        short is refused by ``load`` rather than read as a smaller atlas."""
        path = Path(path).expanduser()
        with_units = self.has_units if units is None else bool(units)
        frame = self.units_frame() if with_units else self._frame
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".csv"):
            raise FeatentError(f"An atlas is saved as .parquet or .csv, not {path.name!r}.")
        check = json.dumps(_counts(frame), separators=(",", ":"))
        try:
            if suffix == ".parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: check.encode()})
                write_atomic(path, lambda temporary: pq.write_table(table, temporary))
            else:
                text = frame.to_csv(index=False) + f"{_TRAILER}{check}\n"
                write_bytes_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            raise FeatentError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from exc
        return path

    @classmethod
    def load(cls, path: str | Path, max_rows: int | None = None) -> Atlas:
        """An atlas written by ``save`` (layer rows, or unit rows from which the layer rows are rebuilt);
        a file whose rows or unit counts differ from those ``save`` recorded is refused.

        ``max_rows`` refuses a longer file before its rows are decoded (a few KB of parquet can
        hold millions of rows), as a shared server needs.
        """
        path = Path(path).expanduser()
        suffix = path.suffix.lower()
        recorded: str | None = None
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                if max_rows is not None:
                    _check_rows(path, pq.ParquetFile(path).metadata.num_rows, max_rows)
                table = pq.read_table(path)
                found = (table.schema.metadata or {}).get(_META_KEY)
                recorded = found.decode() if found is not None else None
                frame = table.to_pandas()
            elif suffix == ".csv":
                text = path.read_text(encoding="utf-8")
                if max_rows is not None:
                    _check_rows(path, text.count("\n") - 1, max_rows)
                body, _, last = text.rstrip("\n").rpartition("\n")
                if last.startswith(_TRAILER):
                    recorded, text = last[len(_TRAILER):], body + "\n"
                frame = pd.read_csv(io.StringIO(text), dtype=_TEXT, keep_default_na=False, na_values=[""])
            else:
                raise FeatentError(f"An atlas file ends in .parquet or .csv, not {path.name!r}.")
        except FeatentError:
            raise
        except Exception as exc:
            raise FeatentError(f"Cannot read atlas {str(path)!r}: {exc}.") from exc
        units = "unit" in frame.columns and "feature_entropy" in frame.columns
        missing = [c for c in (UNIT_COLUMNS if units else LAYER_COLUMNS) if c not in frame.columns and c != "hole_possible"]
        if missing:
            raise FeatentError(f"{path.name} is not a featent atlas (no column {missing[0]!r}).")
        _check_counts(path, frame, recorded)
        return cls._from_units(frame) if units else cls(frame)

    @classmethod
    def _from_units(cls, units: pd.DataFrame) -> Atlas:
        missing = [c for c in UNIT_COLUMNS if c not in units.columns]
        if missing:
            raise FeatentError(f"Not a featent per-unit atlas (no column {missing[0]!r}).")
        summaries = []
        for (_, _, cls_name, layer), part in units.groupby(["model", "data", "class", "layer"], sort=False):
            part = part.sort_values("unit")
            first = part.iloc[0]
            meta = {"model": first["model"], "data": first["data"], "class": cls_name, "layer": layer,
                    "images": int(first["images"]), "seed": int(first["seed"]),
                    "unit_size": int(first["unit_size"])}
            arrays = {"feature_entropy": part["feature_entropy"].to_numpy(np.float64),
                      "selective_rate": part["selective_rate"].to_numpy(np.float64)}
            for name in ("null_feature_entropy", "conditional_feature_entropy", "null_conditional_feature_entropy"):
                if name in part:
                    arrays[name] = part[name].to_numpy(np.float64)
            summaries.append((meta, arrays))
        return cls(cls.from_summaries(summaries).to_frame(), units)


_TRAILER = "# featent-atlas "
_META_KEY = b"featent-atlas"


def _counts(frame: pd.DataFrame) -> dict:
    """Rows, and units per (class, layer) row: per-unit rows counted, layer rows' ``units`` column."""
    if "unit" in frame.columns:
        groups = frame.groupby(["model", "data", "class", "layer"], sort=False).size()
        units = [int(n) for n in groups.to_numpy()]
    else:
        units = [int(n) for n in pd.to_numeric(frame["units"]).to_numpy()]
    return {"rows": len(frame), "units": units}


def _check_counts(path: Path, frame: pd.DataFrame, recorded: str | None) -> None:
    if recorded is None:
        raise FeatentError(f"{path.name} is incomplete or not written by featent (its row and unit counts are "
                           "missing); write it again with Atlas.save or `featent sweep --out`.")
    try:
        expected = json.loads(recorded)
        same = expected == _counts(frame)
    except (ValueError, TypeError, KeyError):
        same, expected = False, {}
    if not same:
        rows = expected.get("rows", "?") if isinstance(expected, dict) else "?"
        raise FeatentError(f"{path.name} does not match what was written ({len(frame)} rows read, {rows} written, "
                           "or other unit counts): it is truncated or was changed; write it again.")


def _check_rows(path: Path, rows: int, max_rows: int) -> None:
    if rows > max_rows:
        raise FeatentError(f"{path.name} holds {rows:,} rows; at most {max_rows:,} are read here.")


def _columns(rows: list[dict]) -> list[str]:
    columns = list(LAYER_COLUMNS)
    if rows and all("mean_null_feature_entropy" in r for r in rows):
        columns += list(NULL_COLUMNS)
    if rows and all(c in r for r in rows for c in CONDITIONAL_COLUMNS):
        columns += list(CONDITIONAL_COLUMNS)
        if all(c in r for r in rows for c in NULL_CONDITIONAL_COLUMNS):
            columns += list(NULL_CONDITIONAL_COLUMNS)
    return columns


def usable_summary(hit: tuple[dict[str, np.ndarray], dict] | None, n_units: int) -> bool:
    """Is a stored summary complete for a layer of ``n_units`` units (FE, epsilon and null FE, and its meta)?"""
    if hit is None:
        return False
    arrays, meta = hit
    fe, eps = arrays.get("feature_entropy"), arrays.get("selective_rate")
    if fe is None or eps is None or fe.shape != (n_units,) or eps.shape != (n_units,):
        return False
    if "null_feature_entropy" not in arrays or "conditional_feature_entropy" not in arrays:
        return False  # stored before the baselines existed: recompute once with them (births come from the store)
    return all(k in meta for k in ("model", "data", "class", "layer", "images"))
