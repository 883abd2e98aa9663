"""A model's FE atlas: feature entropy and selective rate of every (class, layer), resumable.

Why it looks like this: a whole model over many classes is hours of forward passes, so
- the forward pass of chunk k+1 runs in a producer thread while the birth times of chunk k are
  computed (torch and the numba kernel both release the GIL), with at most three chunks alive;
- each (class, layer) summary (per-unit FE, ε and, where featent has the baselines, the null FE of
  the same maps shuffled, computed in the same pass) is
  written to the result store as soon as its class is done, so a rerun or a run after a kill
  recomputes nothing already stored; birth times go to the store too, under the pipeline's keys,
  so the app's pages find them;
- on a Dask cluster the tasks are (class, chunk of layers); workers return summaries (a few KB),
  never birth arrays, and the client writes them to its store (workers need no shared disk).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import queue
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from featent.core.entropy import DEFAULT_P, feature_entropy, selective_rate
from featent.core.topology import birth_times
from featent.data import load_dataset
from featent.errors import CacheError, DataError, FeatentError, ModelError
from featent.extract import Progress, default_batch_size, iter_activations
from featent.nets import LoadedModel
from featent.pipeline import default_store, load_model, open_store
from featent.store import ResultStore, births_key, result_key

__all__ = ["Atlas", "LAYER_COLUMNS", "UNIT_COLUMNS", "sweep", "chunk_size", "place_model", "iter_births", "worker_device",
           "null_births_function", "stored_atlas", "stored_runs"]

SUMMARY_VERSION = "sweep-v1"
#: Columns every atlas has; the baseline columns are added when the pipeline computes null FE.
LAYER_COLUMNS = (
    "model", "data", "class", "layer", "images", "seed", "units", "unit_size",
    "mean_feature_entropy", "mean_selective_rate", "silent_share", "mean_live_feature_entropy",
)
NULL_COLUMNS = ("mean_null_feature_entropy", "structure_gap")
UNIT_COLUMNS = ("model", "data", "class", "layer", "images", "seed", "unit_size", "unit", "feature_entropy", "selective_rate")
_HOST_BUDGET = 256 * 2**20  # bytes of captured activations per chunk (three chunks may be alive)
_DONE = object()


# --------------------------------------------------------------------------- the atlas


def _layer_row(meta: dict, fe: np.ndarray, eps: np.ndarray, null: np.ndarray | None) -> dict:
    live = eps >= DEFAULT_P
    row = {
        "model": meta["model"], "data": meta["data"], "class": meta["class"], "layer": meta["layer"],
        "images": int(meta["images"]), "seed": int(meta.get("seed", 0)), "units": int(fe.size), "unit_size": int(meta.get("unit_size", 0)),
        "mean_feature_entropy": float(fe.mean()), "mean_selective_rate": float(eps.mean()),
        "silent_share": float((~live).mean()),
        "mean_live_feature_entropy": float(fe[live].mean()) if live.any() else math.nan,
    }
    if null is not None:
        row["mean_null_feature_entropy"] = float(null.mean())
        row["structure_gap"] = float((null - fe).mean())
    return row


def _unit_rows(meta: dict, fe: np.ndarray, eps: np.ndarray, null: np.ndarray | None) -> pd.DataFrame:
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
    return frame


_TEXT = {"model": str, "data": str, "class": str, "layer": str}


class Atlas:
    """One row per (class, layer) (``to_frame()``), optionally one per unit (``units_frame()``)."""

    def __init__(self, frame: pd.DataFrame, units: pd.DataFrame | None = None, computed: int = 0) -> None:
        self._frame = frame.reset_index(drop=True)
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
            rows.append(_layer_row(meta, fe, eps, null))
            if units:
                parts.append(_unit_rows(meta, fe, eps, null))
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
        (default: when the atlas has them); ``Atlas.load`` reads either back."""
        path = Path(path).expanduser()
        with_units = self.has_units if units is None else bool(units)
        frame = self.units_frame() if with_units else self._frame
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".csv"):
            raise FeatentError(f"An atlas is saved as .parquet or .csv, not {path.name!r}.")
        try:
            if suffix == ".parquet":
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False)
        except OSError as exc:
            raise FeatentError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from exc
        return path

    @classmethod
    def load(cls, path: str | Path) -> Atlas:
        """An atlas written by ``save`` (layer rows, or unit rows from which the layer rows are rebuilt)."""
        path = Path(path).expanduser()
        suffix = path.suffix.lower()
        try:
            if suffix == ".parquet":
                frame = pd.read_parquet(path)
            elif suffix == ".csv":
                frame = pd.read_csv(path, dtype=_TEXT, keep_default_na=False,
                                    na_values=[""])
            else:
                raise FeatentError(f"An atlas file ends in .parquet or .csv, not {path.name!r}.")
        except FeatentError:
            raise
        except Exception as exc:
            raise FeatentError(f"Cannot read atlas {str(path)!r}: {exc}.") from exc
        if "unit" in frame.columns and "feature_entropy" in frame.columns:
            return cls._from_units(frame)
        missing = [c for c in LAYER_COLUMNS if c not in frame.columns]
        if missing:
            raise FeatentError(f"{path.name} is not a featent atlas (no column {missing[0]!r}).")
        return cls(frame)

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
            if "null_feature_entropy" in part:
                arrays["null_feature_entropy"] = part["null_feature_entropy"].to_numpy(np.float64)
            summaries.append((meta, arrays))
        return cls(cls.from_summaries(summaries).to_frame(), units)


def _columns(rows: list[dict]) -> list[str]:
    columns = list(LAYER_COLUMNS)
    if rows and all("mean_null_feature_entropy" in r for r in rows):
        columns += list(NULL_COLUMNS)
    return columns


# --------------------------------------------------------------------------- device and chunking


def place_model(model: LoadedModel, device: str | None) -> LoadedModel:
    """``model`` on ``device`` ("cpu", "cuda", "cuda:N"; None = where it is), in float32 with TF32 off.

    A GPU copy of the module is made (the CPU model may be shared with other callers); exact means
    no autocast and no TF32, so activations are IEEE float32 as on the CPU.
    """
    import torch

    if device is None:
        return model
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"Unknown device {device!r}; use cpu, cuda or cuda:N.") from exc
    if target.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"Device {device!r} was asked for, but torch sees no CUDA GPU here.")
        if target.index is not None and target.index >= torch.cuda.device_count():
            raise ModelError(f"Device {device!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s).")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif target.type != "cpu":
        raise ModelError(f"Unknown device {device!r}; use cpu, cuda or cuda:N.")
    if model.device == target:
        return model
    module = copy.deepcopy(model.module).to(target, torch.float32).eval()
    return dataclasses.replace(model, module=module, device=target, lock=threading.RLock())


def chunk_size(model: LoadedModel, layers: Sequence[str]) -> int:
    """Images per forward chunk: the extractor's default, bounded by host memory for the captured
    layers and, on a GPU, by half its free memory for the forward pass up to the last layer."""
    order = [info.name for info in model.layers]
    wanted = [model.layer(name) for name in layers]
    captured = sum(4 * i.n_units * i.unit_size**2 for i in wanted)
    size = min(default_batch_size(model), max(1, _HOST_BUDGET // max(1, captured)))
    if model.device.type == "cuda":
        import torch

        last = max(order.index(i.name) for i in wanted)
        forward = 4 * (3 * model.input_size**2 + sum(i.n_units * i.unit_size**2 for i in model.layers[: last + 1]))
        free, _total = torch.cuda.mem_get_info(model.device)
        size = max(1, min(256, max(1, _HOST_BUDGET // max(1, captured)), int(0.5 * free) // max(1, 2 * forward)))
    return int(size)


# --------------------------------------------------------------------------- overlapped births


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def null_births_function() -> Callable[[np.ndarray, int], np.ndarray] | None:
    """``(acts, first_image) -> int32 null births`` from ``featent.core.baselines`` (each map's entries
    shuffled, seeded per image), or None where the baselines are not part of featent."""
    try:
        from featent.core import baselines
    except ImportError:
        return None
    compute = getattr(baselines, "null_births", None)
    if compute is None:
        return None
    seed = int(getattr(baselines, "NULL_SEED", 0))
    return lambda acts, first_image: np.asarray(compute(acts, seed, first_image=first_image), dtype=np.int32)


def iter_births(model: LoadedModel, images, layers: Sequence[str], ids: Sequence[str] | None = None,
                batch_size: int | None = None, overlap: bool = True, birth_threads: int | None = None,
                null: Callable[[np.ndarray, int], np.ndarray] | None = None,
                ) -> Iterator[tuple[int, dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """Yield ``(start, {layer: int32 births [b, units]}, {layer: null births})`` chunk by chunk.

    With ``overlap`` the forward pass of the next chunk runs in a producer thread meanwhile (one
    chunk queued). ``null`` (see ``null_births_function``) adds the null births of the same maps,
    so the baselines cost no second forward pass. ``birth_threads`` caps the birth-time threads.
    """
    size = batch_size or chunk_size(model, layers)
    source = iter_activations(model, images, list(layers), batch_size=size, ids=ids)

    def births_of(start: int, chunk: dict[str, np.ndarray]) -> tuple[int, dict, dict]:
        births = {name: np.asarray(birth_times(acts, n_threads=birth_threads), dtype=np.int32) for name, acts in chunk.items()}
        nulls = {name: null(acts, start) for name, acts in chunk.items()} if null is not None else {}
        return start, births, nulls

    if not overlap:
        for start, chunk in source:
            yield births_of(start, chunk)
        return
    q: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                if not _put(q, item, stop):
                    return
            _put(q, _DONE, stop)
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(q, exc, stop)

    thread = threading.Thread(target=produce, name="featent-forward", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            start, chunk = item
            del item
            yield births_of(start, chunk)
            del chunk
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


# --------------------------------------------------------------------------- one (class, layers) task


@dataclasses.dataclass(frozen=True)
class _Task:
    model: str
    weights: str | None
    data: str
    class_name: str
    layers: tuple[str, ...]
    n_images: int
    seed: int
    device: str | None
    store_dir: str | None


def summary_key(model: LoadedModel, data_fp: str, class_name: str, layer: str, n: int, seed: int) -> str:
    """Store key of one (class, layer) summary."""
    return result_key("layer-summary", SUMMARY_VERSION, model.fingerprint, data_fp, class_name, layer, int(n), int(seed))


def _compute(task: _Task, model: LoadedModel, dataset, store: ResultStore | None,
             on_images: Callable[[int, int], None] | None = None) -> list[tuple[dict, dict[str, np.ndarray]]]:
    """Births (and null births, when featent has the baselines) of ``task.layers`` of one class in one
    overlapped pass -> summaries; births go to ``store`` under the pipeline's keys."""
    images = dataset.sample(task.class_name, task.n_images, task.seed, "train", model.input_size)
    n = len(images)
    null_fn = null_births_function()
    keys = {layer: births_key(model.fingerprint, dataset.fingerprint, task.class_name, layer, task.n_images, task.seed)
            for layer in task.layers}
    births: dict[str, np.ndarray] = {}
    if store is not None and null_fn is None:  # with baselines the pass is needed anyway for the null births
        for layer in task.layers:
            hit = store.get_births(keys[layer])
            if hit is not None and hit.ndim == 2 and hit.shape == (n, model.layer(layer).n_units) and hit.dtype == np.int32:
                births[layer] = hit
    missing = [layer for layer in task.layers if layer not in births]
    null: dict[str, np.ndarray] = {}
    if missing:
        parts: dict[str, list[np.ndarray]] = {layer: [] for layer in missing}
        null_parts: dict[str, list[np.ndarray]] = {layer: [] for layer in missing}
        placed = place_model(model, task.device or str(model.device))  # also turns TF32 off on a GPU
        for start, chunk, null_chunk in iter_births(placed, images.images, missing, ids=images.ids, null=null_fn):
            for layer in missing:
                parts[layer].append(chunk[layer])
                if null_chunk:
                    null_parts[layer].append(null_chunk[layer])
            if on_images is not None:
                on_images(min(n, start + len(chunk[missing[0]])), n)
        for layer in missing:
            births[layer] = np.ascontiguousarray(np.concatenate(parts[layer], axis=0), dtype=np.int32)
            if null_parts[layer]:
                null[layer] = np.concatenate(null_parts[layer], axis=0)
            if store is not None:
                try:
                    store.put_births(keys[layer], births[layer])
                except CacheError:
                    store = None  # keep computing; the summaries still go back to the caller
    out = []
    for layer in task.layers:
        info = model.layer(layer)
        arrays = {"feature_entropy": np.asarray(feature_entropy(births[layer]), dtype=np.float64),
                  "selective_rate": np.asarray(selective_rate(births[layer]), dtype=np.float64)}
        if layer in null:
            arrays["null_feature_entropy"] = np.asarray(feature_entropy(null[layer]), dtype=np.float64)
        meta = {"model": task.model, "data": task.data, "class": task.class_name, "layer": layer, "images": n,
                "seed": task.seed, "unit_size": info.unit_size, "weights": task.weights or ""}
        out.append((meta, arrays))
    return out


def worker_device(requested: str | None) -> str:
    """The device a Dask worker uses: ``requested`` if given, else its own GPU, else the CPU.

    Its own GPU: with ``CUDA_VISIBLE_DEVICES`` set per worker (``LocalCUDACluster``,
    ``dask-cuda-worker``) that is ``cuda:0``; otherwise the worker's number modulo the GPU count.
    ``FEATENT_DEVICE`` overrides both.
    """
    import os

    import torch

    if requested is not None:
        return requested
    if os.environ.get("FEATENT_DEVICE"):
        return os.environ["FEATENT_DEVICE"]
    if not torch.cuda.is_available():
        return "cpu"
    if os.environ.get("CUDA_VISIBLE_DEVICES"):
        return "cuda:0"
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return "cuda:0"
    digits = "".join(ch for ch in str(name) if ch.isdigit())
    return f"cuda:{int(digits or 0) % torch.cuda.device_count()}"


def _run_task(task: _Task) -> list[tuple[dict, dict[str, np.ndarray]]]:
    """Dask worker body: the model and dataset are memoized per worker process (one folder scan)."""
    task = dataclasses.replace(task, device=worker_device(task.device))
    model = load_model(task.model, task.weights)
    dataset = load_dataset(task.data)
    store = None
    if task.store_dir is not None:
        try:
            store = ResultStore(task.store_dir)
        except CacheError:
            store = None
    return _compute(task, model, dataset, store)


# --------------------------------------------------------------------------- the sweep


_SINGULAR = {"classes": "class", "layers": "layer"}


def _pick(what: str, value: object, available: list[str]) -> list[str]:
    if isinstance(value, str) and value == "all":
        return list(available)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not 1 <= value <= len(available):
            raise DataError(f"{what.capitalize()}: ask for between 1 and {len(available)}, got {value}.")
        return list(available[: int(value)])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError(f"{what.capitalize()} must be 'all', a count or a non-empty list, got {value!r}.")
    chosen = [str(v) for v in value]
    unknown = [v for v in chosen if v not in available]
    if unknown:
        shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
        raise DataError(f"Unknown {_SINGULAR.get(what, what)} {unknown[0]!r}; the choices are: {shown}.")
    return list(dict.fromkeys(chosen))


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise DataError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def sweep(
    model: str,
    data: str,
    classes: str | int | Sequence[str] = "all",
    layers: str | Sequence[str] = "all",
    images: int = 100,
    seed: int = 0,
    executor: Literal["local", "dask"] = "local",
    scheduler: object | None = None,
    device: str | None = None,
    units: bool = False,
    store: ResultStore | None = None,
    progress: Progress | None = None,
    *,
    weights: str | None = None,
    layers_per_task: int | None = None,
    worker_store: str | None = "shared",
    resources: dict | None = None,
    retries: int = 2,
) -> Atlas:
    """Feature entropy of every (class, layer) of ``model`` on ``data``, as an ``Atlas``.

    ``classes``: "all", the first N classes, or names; ``layers``: "all" or names. Summaries are
    read from / written to ``store`` (default store when None; pass ``False``-y ``worker_store`` and a
    store to keep workers off the shared disk). ``executor="dask"`` needs ``scheduler``: a
    ``distributed.Client`` or a scheduler address. On the workers ``device=None`` means the
    worker's own GPU when it has one (``LocalCUDACluster`` pins one per worker), else the CPU.
    ``worker_store``: "shared" = the client's store directory (a local disk shared by the workers),
    a path = a store per worker on its local disk, None = workers store nothing.
    """
    if executor not in ("local", "dask"):
        raise FeatentError(f"Unknown executor {executor!r}; use 'local' or 'dask'.")
    images = _check_int("images", images, 1)
    seed = _check_int("seed", seed, 0)
    retries = _check_int("retries", retries, 0)
    if not isinstance(model, str):
        raise ModelError("sweep takes a model spec string (with weights=PATH for a checkpoint).")
    loaded = load_model(model, weights)
    dataset = load_dataset(data)
    class_names = _pick("classes", classes, list(dataset.classes))
    layer_names = _pick("layers", layers, [info.name for info in loaded.layers])
    if layers_per_task is None:
        layers_per_task = len(layer_names)
    layers_per_task = _check_int("layers_per_task", layers_per_task, 1)
    store = open_store(store, progress)

    total = len(class_names) * len(layer_names)
    summaries: dict[tuple[str, str], tuple[dict, dict[str, np.ndarray]]] = {}
    key = {}
    for c in class_names:
        for layer in layer_names:
            key[c, layer] = summary_key(loaded, dataset.fingerprint, c, layer, images, seed)
            hit = store.get_result(key[c, layer]) if store is not None else None
            if hit is not None and _usable(hit, loaded, layer):
                arrays, meta = hit
                summaries[c, layer] = (meta, arrays)
    reused = len(summaries)
    report = progress or (lambda _f, _m: None)
    report(reused / max(1, total), f"{reused}/{total} (class, layer) pairs from the store")

    warned = False

    def keep(results: list[tuple[dict, dict[str, np.ndarray]]]) -> None:
        nonlocal warned
        for meta, arrays in results:
            pair = (meta["class"], meta["layer"])
            summaries[pair] = (meta, arrays)
            if store is not None:
                try:
                    store.put_result(key[pair], arrays, meta)
                except CacheError as exc:
                    if not warned:
                        report(len(summaries) / total, f"warning: results are not cached: {exc}")
                    warned = True

    todo: list[_Task] = []
    for c in class_names:
        missing = [layer for layer in layer_names if (c, layer) not in summaries]
        for i in range(0, len(missing), layers_per_task):
            todo.append(_Task(model, weights, data, c, tuple(missing[i : i + layers_per_task]), images, seed, device,
                              None))
    if executor == "local":
        for task in todo:
            done = len(summaries)

            def on_images(k: int, n: int, task: _Task = task, done: int = done) -> None:
                report((done + len(task.layers) * k / n) / total,
                       f"class {task.class_name}: {k}/{n} images, {done}/{total} pairs done")

            keep(_compute(task, loaded, dataset, store, on_images))
            report(len(summaries) / total, f"{len(summaries)}/{total} (class, layer) pairs")
    else:
        directory = None
        if worker_store == "shared":
            directory = str(store.directory) if store is not None else None
        elif worker_store is not None:
            directory = str(worker_store)
        todo = [dataclasses.replace(t, store_dir=directory) for t in todo]
        _run_dask(todo, scheduler, resources, retries, keep,
                  lambda: report(len(summaries) / total, f"{len(summaries)}/{total} (class, layer) pairs"))
    ordered = [summaries[c, layer] for c in class_names for layer in layer_names]
    if store is not None:
        _record_run(store, {"model": model, "weights": weights, "data": data, "classes": class_names,
                            "layers": layer_names, "images": images, "seed": seed})
    report(1.0, "done")
    return Atlas.from_summaries(ordered, units=units, computed=total - reused)


_RUNS_KEY = result_key("sweep-runs", SUMMARY_VERSION)
_MAX_RUNS = 50


def stored_runs(store: ResultStore) -> list[dict]:
    """The sweeps recorded in ``store``, newest first: model, weights, data, classes, layers, images, seed."""
    hit = store.get_result(_RUNS_KEY)
    runs = hit[1].get("runs", []) if hit is not None else []
    return [r for r in runs if isinstance(r, dict)]


def _record_run(store: ResultStore, run: dict) -> None:
    runs = [r for r in stored_runs(store) if r != run]
    try:
        store.put_result(_RUNS_KEY, {}, {"runs": [run, *runs][:_MAX_RUNS]})
    except CacheError:
        pass


def stored_atlas(
    model: str,
    data: str,
    classes: str | int | Sequence[str] = "all",
    layers: str | Sequence[str] = "all",
    images: int = 100,
    seed: int = 0,
    store: ResultStore | None = None,
    *,
    weights: str | None = None,
    units: bool = False,
) -> Atlas | None:
    """The atlas of the (class, layer) pairs already in the store, computing nothing; None if none is."""
    loaded = load_model(model, weights)
    dataset = load_dataset(data)
    class_names = _pick("classes", classes, list(dataset.classes))
    layer_names = _pick("layers", layers, [info.name for info in loaded.layers])
    store = store if store is not None else default_store()
    found = []
    for c in class_names:
        for layer in layer_names:
            hit = store.get_result(summary_key(loaded, dataset.fingerprint, c, layer, images, seed))
            if hit is not None and _usable(hit, loaded, layer):
                found.append((hit[1], hit[0]))
    return Atlas.from_summaries(found, units=units) if found else None


def _usable(hit: tuple[dict, dict], model: LoadedModel, layer: str) -> bool:
    arrays, meta = hit
    fe, eps = arrays.get("feature_entropy"), arrays.get("selective_rate")
    n_units = model.layer(layer).n_units
    if fe is None or eps is None or fe.shape != (n_units,) or eps.shape != (n_units,):
        return False
    if null_births_function() is not None and "null_feature_entropy" not in arrays:
        return False  # stored before the baselines existed: recompute once with them
    return all(k in meta for k in ("model", "data", "class", "layer", "images"))


def _run_dask(tasks: list[_Task], scheduler: object, resources: dict | None, retries: int,
              keep: Callable[[list], None], tick: Callable[[], None]) -> None:
    """Submit the tasks to a distributed cluster; ``keep`` each result as it arrives (retries on lost workers)."""
    if not tasks:
        return
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - distributed is a runtime dependency
        raise FeatentError("The dask executor needs the 'distributed' package.") from exc
    own = None
    if isinstance(scheduler, Client):
        client = scheduler
    elif isinstance(scheduler, str) and scheduler:
        try:
            client = own = Client(scheduler, timeout=15)
        except OSError as exc:
            raise FeatentError(f"Cannot reach the Dask scheduler at {scheduler!r}: {exc}.") from exc
    else:
        raise FeatentError("The dask executor needs --scheduler ADDRESS (or a distributed.Client).")
    try:
        run = uuid.uuid4().hex[:12]
        futures = [client.submit(_run_task, task, pure=False, retries=retries, resources=resources,
                                 key=f"featent-sweep-{run}-{i}") for i, task in enumerate(tasks)]
        for future in as_completed(futures):
            try:
                keep(future.result())
            except FeatentError:
                raise
            except Exception as exc:
                raise FeatentError(f"A sweep task failed on the cluster: {type(exc).__name__}: {exc}") from exc
            tick()
    finally:
        if own is not None:
            own.close()
