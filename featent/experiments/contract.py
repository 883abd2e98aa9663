"""One way into and out of every experiment.

In: a typed ``Selection`` (or, for a few studies, model specs) plus the experiment's own typed
parameters, checked by ``featent.validation``. Out: a result object that carries its selection,
exports itself as a table (``to_frame``) and as JSON-ready records (``records``), and owns its store
key. The key is built here from *every* bound argument of the call (the selection through the
fingerprints of its weights and data), so no caller can forget a parameter and be served a stale
result; only the arguments declared ``transient`` (progress, store, cache switches) stay out.

    @experiment("rescale", version=1)
    @validate_params({...})
    def rescale_experiment(selection: Selection, factors=..., *, progress=None) -> RescaleResult: ...

    rescale_experiment(sel)              # compute (births still come from the store)
    rescale_experiment.cached(sel)       # the stored result, else computed and stored
    rescale_experiment.recall(sel)       # the stored result or None, computing nothing
    rescale_experiment.key(sel)          # the store key
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from featent.errors import CacheError
from featent.experiments.stored import decode, encode
from featent.pipeline import default_store
from featent.progress import Progress
from featent.spec import ModelSpec, Selection
from featent.store import ResultStore, result_key

__all__ = ["Experiment", "ExperimentResult", "SelectionFields", "experiment", "key_part", "selection_parts", "TRANSIENT"]

R = TypeVar("R")

#: Arguments that change how a result is computed or reported, never what it is.
TRANSIENT = frozenset({"progress", "store", "cache"})


def _load_model(model: Any, weights: str | None) -> Any:
    from featent.pipeline import load_model

    return load_model(model, weights)


def selection_parts(selection: Selection) -> tuple:
    """Key parts of a selection: weights and data fingerprints, class, layers, images, seed, split."""
    from featent.data import load_dataset

    model = _load_model(selection.model, selection.weights)
    dataset = load_dataset(selection.data)
    return (model.fingerprint, dataset.fingerprint, selection.class_name, ",".join(selection.layers),
            selection.n_images, selection.seed, selection.split)


def key_part(value: Any) -> Any:
    """A value as it enters a store key: selections and loaded models by fingerprint, containers
    as tuples, numbers as plain Python, so equal arguments always give equal keys."""
    if isinstance(value, Selection):
        return ("selection", *selection_parts(value))
    if hasattr(value, "fingerprint") and hasattr(value, "layers") and not isinstance(value, type):
        return ("model", value.fingerprint)
    if isinstance(value, ModelSpec):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return repr(number) if not math.isfinite(number) else number
    if isinstance(value, dict):
        return tuple(sorted((str(k), key_part(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [key_part(v) for v in value]
        return tuple(sorted(items, key=repr)) if isinstance(value, (set, frozenset)) else tuple(items)
    if isinstance(value, np.ndarray):
        return tuple(key_part(v) for v in value.tolist())
    raise TypeError(f"{type(value).__name__} cannot be part of a result key; declare the argument transient.")


class ExperimentResult:
    """What every experiment returns: its selection, a table, JSON records, its store key.

    Subclasses are dataclasses that implement ``to_frame``; ``records`` follows from it.
    """

    #: Set by ``Experiment`` on the results it returns; None for a result built by hand.
    store_key: str | None = None

    def to_frame(self) -> pd.DataFrame:
        raise NotImplementedError(f"{type(self).__name__} does not define to_frame().")

    def records(self) -> list[dict]:
        """``to_frame()`` as a list of dicts, non-finite numbers as None (ready for JSON)."""
        frame = self.to_frame()
        out = []
        for row in frame.to_dict(orient="records"):
            out.append({str(k): _plain(v) for k, v in row.items()})
        return out


class SelectionFields:
    """``model``, ``data``, ``class_name`` and ``seed`` of a result, read from its ``selection``
    (so a result never stores them twice and they cannot disagree)."""

    selection: Selection

    @property
    def model(self) -> str:
        return str(self.selection.model)

    @property
    def data(self) -> str:
        return self.selection.data

    @property
    def class_name(self) -> str:
        return self.selection.class_name

    @property
    def seed(self) -> int:
        return self.selection.seed


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Experiment(Generic[R]):
    """An experiment function with its store key and cached variants (see the module docstring)."""

    def __init__(self, function: Callable[..., R], kind: str, version: int, transient: Iterable[str] = TRANSIENT,
                 models: Iterable[str] = (), datasets: Iterable[str] = ("data",)) -> None:
        self.function = function
        self.kind = kind
        self.version = int(version)
        self.signature = inspect.signature(function)
        self.transient = frozenset(transient) & frozenset(self.signature.parameters)
        self.models = tuple(models)
        self.datasets = tuple(name for name in datasets if name in self.signature.parameters)
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return f"<experiment {self.kind} v{self.version}: {self.function.__module__}.{self.function.__qualname__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return _owned(self.function(*args, **kwargs), self.key(*args, **kwargs))

    def key(self, *args: Any, **kwargs: Any) -> str:
        """The store key of this call: kind, version and every non-transient argument (defaults included)."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        parts: list[Any] = []
        for name, value in bound.arguments.items():
            if name in self.transient:
                continue
            if name in self.models:
                value = _model_fingerprints(value, bound.arguments.get("weights"))
            elif name in self.datasets and isinstance(value, str):
                value = ("dataset", _dataset_fingerprint(value))
            parts.append((name, key_part(value)))
        return result_key(self.kind, f"v{self.version}", repr(tuple(parts)))

    def recall(self, *args: Any, store: ResultStore | None = None, **kwargs: Any) -> R | None:
        """The stored result of this call, or None; computes nothing (a damaged entry reads as None)."""
        store = _store(store)
        if store is None:
            return None
        key = self.key(*args, **kwargs)
        hit = store.get_result(key)
        if hit is None:
            return None
        try:
            value = decode(*hit)
        except (CacheError, KeyError, TypeError, ValueError):
            return None
        return _owned(value, key)

    def cached(self, *args: Any, store: ResultStore | None = None, **kwargs: Any) -> R:
        """The stored result of this call, else computed, stored (when a store can be used) and returned."""
        opened = _store(store)
        key = self.key(*args, **kwargs)
        if opened is not None:
            hit = opened.get_result(key)
            if hit is not None:
                try:
                    return _owned(decode(*hit), key)
                except (CacheError, KeyError, TypeError, ValueError):
                    pass  # damaged or from an older layout: recompute and overwrite
        if "store" in self.signature.parameters and store is not None:
            kwargs["store"] = store
        value = self.function(*args, **kwargs)
        if opened is not None:
            try:
                arrays, meta = encode(value)
                opened.put_result(key, arrays, meta)
            except CacheError as exc:
                Progress.of(kwargs.get("progress")).warn(f"results are not cached: {exc}")
        return _owned(value, key)


def _owned(value: Any, key: str) -> Any:
    if isinstance(value, ExperimentResult):
        object.__setattr__(value, "store_key", key)
    return value


def _store(store: ResultStore | None) -> ResultStore | None:
    if store is not None:
        return store
    try:
        return default_store()
    except CacheError:
        return None


def _dataset_fingerprint(data: str) -> str:
    from featent.data import load_dataset

    return load_dataset(data).fingerprint


def _model_fingerprints(value: Any, weights: Any) -> Any:
    if isinstance(value, (list, tuple)):
        per_model = list(weights) if isinstance(weights, (list, tuple)) else [None] * len(value)
        return tuple(_load_model(v, w).fingerprint for v, w in zip(value, per_model))
    return _load_model(value, weights if isinstance(weights, str) else None).fingerprint


def experiment(kind: str, version: int = 1, *, transient: Iterable[str] = TRANSIENT,
               models: Iterable[str] = (), datasets: Iterable[str] = ("data",)) -> Callable[[Callable[..., R]], Experiment[R]]:
    """Declare a function an experiment of ``kind``; bump ``version`` when its results change.

    ``models`` names arguments holding model specs (compared models) and ``datasets`` arguments
    naming a dataset or folder (default: ``data``): they enter the key by the fingerprint of their
    weights or files, so a changed checkpoint or image folder at the same path is a different key.
    """

    def wrap(function: Callable[..., R]) -> Experiment[R]:
        return Experiment(function, kind, version, transient, models, datasets)

    return wrap


def is_result(value: object) -> bool:
    """True for an experiment result (a dataclass implementing the contract)."""
    return isinstance(value, ExperimentResult) and dataclasses.is_dataclass(value)
