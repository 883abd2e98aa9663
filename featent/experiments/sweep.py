"""A model's FE atlas: feature entropy and selective rate of every (class, layer), resumable.

Why it looks like this: a whole model over many classes is hours of forward passes, so
- the work is cut into tasks of (class, some layers); each task gets its births and null births
  from the births engine (``featent.births``: store first, else one overlapped pass), so births
  computed by the app or an earlier sweep are reused and new ones are stored for the app's pages;
- each (class, layer) summary (per-unit FE, epsilon, null FE and the conditional FE of both) is written to the result
  store as soon as its task is done, so a rerun or a run after a kill recomputes nothing stored;
- on a Dask cluster (``featent.experiments.cluster``) workers return summaries (a few KB), never
  birth arrays, and the client writes them to its store (workers need no shared disk).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from featent import births as engine
from featent.core.entropy import conditional_feature_entropy, feature_entropy, selective_rate
from featent.data import Dataset, load_dataset
from featent.errors import CacheError, DataError, FeatentError, ModelError
from featent.experiments.atlas import Atlas, summary_key, usable_summary
from featent.experiments.cluster import run_on_cluster, worker_device
from featent.experiments.runs import record_run
from featent.nets import LoadedModel, load_model
from featent.progress import Progress, ProgressLike
from featent.store import ResultStore, default_store, open_store
from featent.validation import Interval, Options, check, check_class, check_int

__all__ = ["sweep", "stored_atlas", "SweepTask", "compute_task"]

Summary = tuple[dict, dict[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class SweepTask:
    """Some layers of one class: the unit of work, sent as is to a Dask worker."""

    model: str
    weights: str | None
    data: str
    class_name: str
    layers: tuple[str, ...]
    n_images: int
    seed: int
    device: str | None
    store_dir: str | None = None


def compute_task(task: SweepTask, model: LoadedModel, dataset: Dataset, store: ResultStore | None,
                 progress: ProgressLike = None) -> list[Summary]:
    """Births and null births of ``task.layers`` of one class (from the store, else one overlapped
    pass, then stored) -> one ``(meta, arrays)`` summary per layer."""
    found = engine.layer_births(model, dataset, task.class_name, task.layers, task.n_images, task.seed, "train",
                                null=True, store=store, progress=progress, device=task.device, overlap=True)
    out = []
    for layer in task.layers:
        arrays = {"feature_entropy": np.asarray(feature_entropy(found.births[layer]), dtype=np.float64),
                  "selective_rate": np.asarray(selective_rate(found.births[layer]), dtype=np.float64),
                  "null_feature_entropy": np.asarray(feature_entropy(found.null[layer]), dtype=np.float64),
                  "conditional_feature_entropy": conditional_feature_entropy(found.births[layer]),
                  "null_conditional_feature_entropy": conditional_feature_entropy(found.null[layer])}
        meta = {"model": task.model, "data": task.data, "class": task.class_name, "layer": layer,
                "images": found.n_images, "seed": task.seed, "unit_size": model.layer(layer).unit_size,
                "weights": task.weights or ""}
        out.append((meta, arrays))
    return out


def _run_task(task: SweepTask) -> list[Summary]:
    """Dask worker body: the model and dataset are memoized per worker process (one folder scan)."""
    task = dataclasses.replace(task, device=worker_device(task.device))
    progress = Progress()
    store = None
    if task.store_dir is not None:
        try:
            store = ResultStore(task.store_dir)
        except CacheError as exc:
            progress.warn(f"{engine.NOT_CACHED}: {exc}")
    return compute_task(task, load_model(task.model, task.weights), load_dataset(task.data), store, progress)


def _pick(what: str, value: object, available: list[str], one: Callable[[str], str]) -> list[str]:
    """"all", the first N, or names (a list or a comma-separated string), each checked by ``one``."""
    if isinstance(value, str) and value == "all":
        return list(available)
    if Interval(int, None, None).is_satisfied_by(value):
        return list(available[: check_int(what, value, 1, len(available))])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError(f"{what} must be 'all', a count or a non-empty list, got {value!r}.")
    return list(dict.fromkeys(one(str(v)) for v in value))


def _classes(dataset: Dataset, classes: object) -> list[str]:
    return _pick("classes", classes, list(dataset.classes), lambda c: check_class(c, dataset.classes, dataset.name))


def _layers(model: LoadedModel, layers: object) -> list[str]:
    return _pick("layers", layers, [info.name for info in model.layers], lambda name: model.layer(name).name)


def sweep(
    model: str | LoadedModel,
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
    progress: ProgressLike = None,
    *,
    weights: str | None = None,
    layers_per_task: int | None = None,
    worker_store: str | None = "shared",
    resources: dict | None = None,
    retries: int = 2,
) -> Atlas:
    """Feature entropy of every (class, layer) of ``model`` (a spec or a LoadedModel) on ``data``, as an ``Atlas``.

    ``classes``: "all", the first N classes, or names; ``layers``: "all" or names. Summaries are
    read from / written to ``store`` (default store when None; pass ``False``-y ``worker_store`` and a
    store to keep workers off the shared disk). ``executor="dask"`` needs ``scheduler``: a
    ``distributed.Client`` or a scheduler address. On the workers ``device=None`` means the
    worker's own GPU when it has one (``LocalCUDACluster`` pins one per worker), else the CPU.
    ``worker_store``: "shared" = the client's store directory (a local disk shared by the workers),
    a path = a store per worker on its local disk, None = workers store nothing.
    """
    progress = Progress.of(progress)
    check("executor", executor, Options(("local", "dask")), FeatentError)
    images = check_int("images", images, 1)
    seed = check_int("seed", seed, 0)
    retries = check_int("retries", retries, 0)
    if isinstance(model, LoadedModel):
        if executor == "dask":
            raise ModelError("A Dask sweep sends the model to its workers by spec; give a spec string "
                             "('net.py:Net' for your own module) instead of a loaded model.")
    elif not isinstance(model, str):
        raise ModelError("sweep takes a model spec string (with weights=PATH for a checkpoint) or a loaded model.")
    loaded = load_model(model, weights)
    model = str(loaded) if isinstance(model, LoadedModel) else model
    dataset = load_dataset(data)
    class_names = _classes(dataset, classes)
    layer_names = _layers(loaded, layers)
    layers_per_task = check_int("layers_per_task", len(layer_names) if layers_per_task is None else layers_per_task, 1)
    store = open_store(store, progress)

    total = len(class_names) * len(layer_names)
    summaries: dict[tuple[str, str], Summary] = {}
    key = {}
    for c in class_names:
        for layer in layer_names:
            key[c, layer] = summary_key(loaded.fingerprint, dataset.fingerprint, c, layer, images, seed)
            hit = store.get_result(key[c, layer]) if store is not None else None
            if usable_summary(hit, loaded.layer(layer).n_units):
                arrays, meta = hit  # type: ignore[misc]
                summaries[c, layer] = (meta, arrays)
    reused = len(summaries)
    progress(reused / max(1, total), f"{reused}/{total} (class, layer) pairs from the store")

    def keep(results: list[Summary]) -> None:
        for meta, arrays in results:
            pair = (meta["class"], meta["layer"])
            summaries[pair] = (meta, arrays)
            if store is not None:
                try:
                    store.put_result(key[pair], arrays, meta)
                except CacheError as exc:
                    progress.warn(f"{engine.NOT_CACHED}: {exc}")

    def tick() -> None:
        progress(len(summaries) / total, f"{len(summaries)}/{total} (class, layer) pairs")

    todo: list[SweepTask] = []
    for c in class_names:
        missing = [layer for layer in layer_names if (c, layer) not in summaries]
        for i in range(0, len(missing), layers_per_task):
            todo.append(SweepTask(model, weights, data, c, tuple(missing[i : i + layers_per_task]), images, seed, device))
    if executor == "local":
        for task in todo:
            done = len(summaries)
            part = progress.subrange(done / total, (done + len(task.layers)) / total)
            keep(compute_task(task, loaded, dataset, store, part))
            tick()
    else:
        directory = None
        if worker_store == "shared":
            directory = str(store.directory) if store is not None else None
        elif worker_store is not None:
            directory = str(worker_store)
        todo = [dataclasses.replace(t, store_dir=directory) for t in todo]
        run_on_cluster(_run_task, todo, scheduler, resources, retries, keep, tick)
    ordered = [summaries[c, layer] for c in class_names for layer in layer_names]
    if store is not None:
        record_run(store, {"model": model, "weights": weights, "data": data, "classes": class_names,
                           "layers": layer_names, "images": images, "seed": seed}, progress)
    progress(1.0, "done")
    return Atlas.from_summaries(ordered, units=units, computed=total - reused)


def stored_atlas(
    model: str | LoadedModel,
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
    store = store if store is not None else default_store()
    found = []
    for c in _classes(dataset, classes):
        for layer in _layers(loaded, layers):
            hit = store.get_result(summary_key(loaded.fingerprint, dataset.fingerprint, c, layer, images, seed))
            if usable_summary(hit, loaded.layer(layer).n_units):
                found.append((hit[1], hit[0]))  # type: ignore[index]
    return Atlas.from_summaries(found, units=units) if found else None
