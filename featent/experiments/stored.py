"""Experiment results kept in the result store, so a restarted app or CLI does not recompute them.

Results are encoded without pickle (``encode`` / ``decode``): numeric arrays become raw ``.npz``
members, everything else (numbers, strings, lists, dicts, DataFrames, featent's result dataclasses)
a JSON tree that names the arrays. Decoding rebuilds only dataclasses defined in ``featent``
modules, so a value read back can never name arbitrary code. Experiments declared with
``featent.experiments.contract.experiment`` store through these and own their keys.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import Any

import numpy as np
import pandas as pd

from featent.errors import CacheError

__all__ = ["decode", "encode"]



class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray) -> dict:
        if value.dtype.kind in "biuf":
            name = f"a{len(self.arrays)}"
            self.arrays[name] = value
            return {"a": name}
        if value.dtype.kind in "UO" and value.ndim == 1:
            return {"strs": [self.tree(v) for v in value.tolist()], "dtype": value.dtype.kind}
        raise CacheError(f"Cannot store an array of dtype {value.dtype}.")

    def tree(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return {"v": value}
        if isinstance(value, (int, np.integer)):
            return {"v": int(value)}
        if isinstance(value, (float, np.floating)):
            number = float(value)
            return {"v": number} if math.isfinite(number) else {"f": repr(number)}
        if isinstance(value, np.bool_):
            return {"v": bool(value)}
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, pd.DataFrame):
            return {"frame": {"columns": [self.tree(c) for c in value.columns],
                              "data": [self.series(value.iloc[:, i]) for i in range(value.shape[1])],
                              "index": self.series(value.index.to_series())}}
        if isinstance(value, pd.Series):
            return {"series": self.series(value), "name": self.tree(value.name),
                    "index": self.series(value.index.to_series())}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = type(value)
            if not cls.__module__.startswith("featent."):
                raise CacheError(f"Cannot store a {cls.__name__}: only featent's result types are stored.")
            fields = {f.name: self.tree(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            return {"dc": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
        if isinstance(value, tuple):
            return {"tuple": [self.tree(v) for v in value]}
        if isinstance(value, list):
            return {"list": [self.tree(v) for v in value]}
        if isinstance(value, dict):
            return {"items": [[self.tree(k), self.tree(v)] for k, v in value.items()]}
        raise CacheError(f"Cannot store a value of type {type(value).__name__}.")

    def series(self, series: pd.Series) -> dict:
        values = series.to_numpy()
        if values.dtype.kind in "biuf":
            return {"values": self.array(np.ascontiguousarray(values)), "dtype": str(values.dtype)}
        return {"values": {"list": [self.tree(v) for v in values.tolist()]}, "dtype": "object"}


def encode(value: Any) -> tuple[dict[str, np.ndarray], dict]:
    """``value`` -> (numeric arrays, JSON-ready tree); CacheError for what cannot be stored."""
    encoder = _Encoder()
    tree = encoder.tree(value)
    return encoder.arrays, {"tree": tree}


def _dataclass(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith("featent.") or not qualname or "." in qualname:
        raise CacheError(f"Refusing to rebuild {path!r}: not a featent result type.")
    cls = getattr(importlib.import_module(module_name), qualname, None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise CacheError(f"Refusing to rebuild {path!r}: not a featent result type.")
    return cls


def decode(arrays: dict[str, np.ndarray], meta: dict) -> Any:
    """The value ``encode`` was given (dataclasses rebuilt only from featent modules)."""

    def tree(node: Any) -> Any:
        if not isinstance(node, dict) or len(node) == 0:
            raise CacheError("Damaged stored result.")
        if "v" in node:
            return node["v"]
        if "f" in node:
            return float(node["f"])
        if "a" in node:
            return arrays[node["a"]]
        if "strs" in node:
            return np.array([tree(v) for v in node["strs"]], dtype=object if node["dtype"] == "O" else None)
        if "frame" in node:
            frame = node["frame"]
            columns = [tree(c) for c in frame["columns"]]
            data = {i: series(s) for i, s in enumerate(frame["data"])}
            out = pd.DataFrame(data, index=series(frame["index"]) if len(frame["data"]) else None)
            out.columns = pd.Index(columns) if columns else out.columns
            out.index.name = None
            return out
        if "series" in node:
            return pd.Series(series(node["series"]), index=series(node["index"]), name=tree(node["name"]))
        if "dc" in node:
            cls = _dataclass(node["dc"])
            return cls(**{k: tree(v) for k, v in node["fields"].items()})
        if "tuple" in node:
            return tuple(tree(v) for v in node["tuple"])
        if "list" in node:
            return [tree(v) for v in node["list"]]
        if "items" in node:
            return {_hashable(tree(k)): tree(v) for k, v in node["items"]}
        raise CacheError("Damaged stored result.")

    def series(node: dict) -> np.ndarray | list:
        values = tree(node["values"])
        return values if node["dtype"] != "object" else pd.array(values, dtype=object)

    return tree(meta["tree"])


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key
