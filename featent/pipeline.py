"""Selection -> birth times (cached) -> feature entropy and selective rate per unit and layer.

Birth times are the expensive, reusable artefact, so they are what the store keeps; activations
are streamed chunk by chunk through the model and reduced to birth times at once, so memory stays
bounded for big nets (VGG16 at 224 with 100 images holds one chunk of one layer at a time).

Caching policy: ``store=None`` uses the default store (``FEATENT_CACHE_DIR`` or ``cache/``). If
that store cannot be opened or written, the result is still computed and returned, and the
problem is reported through ``progress`` as a message starting with ``"warning:"``; the same
holds when any store fails to write (disk full, permissions changed). Pass ``cache=False`` to
neither read nor write.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from featent.data import ImageSet, load_dataset
from featent.core import baselines
from featent.core.entropy import feature_entropy, selective_rate
from featent.errors import CacheError, DataError, FeatentError, ModelError
from featent.extract import Progress, iter_activations
from featent.nets import LoadedModel, load_model
from featent.spec import Selection
from featent.training import family as _family  # noqa: F401  (registers the demo family specs with featent.nets)
from featent.store import SCHEMA, ResultStore, births_key, default_directory
from featent.core.topology import birth_times

__all__ = [
    "Selection",
    "LayerResult",
    "compute_births",
    "compute_births_many",
    "layer_results",
    "compute_null_births",
    "size_reference",
    "sample_images",
    "unit_activations",
    "default_store",
    "open_store",
]


@dataclass
class LayerResult:
    """Per-unit birth times, FE and selective rate of one layer, and their layer means.

    With baselines (``layer_results(..., baselines=True)``) also each unit's null FE (its maps'
    entries shuffled) and the FE of iid units of the same size over the same |Omega|; see
    ``featent.core.baselines`` for why FE alone mixes structure, size and silence.
    """

    layer: str
    births: np.ndarray  # int32 [n_images, n_units]
    feature_entropy: np.ndarray  # float [n_units]
    selective_rate: np.ndarray  # float [n_units]
    mean_feature_entropy: float
    mean_selective_rate: float
    null_feature_entropy: np.ndarray | None = None  # float [n_units], None when not computed
    null_births: np.ndarray | None = None  # int32 [n_images, n_units], None when not computed
    size_reference: float | None = None  # FE of iid uniform units of this layer's m over the same |Omega|

    @property
    def silent_share(self) -> float:
        """Share of units with epsilon < p (their FE is Eq. 12's (1 - epsilon) ln|Omega|)."""
        return baselines.silent_share(self.selective_rate)

    @property
    def mean_live_feature_entropy(self) -> float:
        """Mean FE over the units with epsilon >= p (NaN when every unit is silent)."""
        return baselines.live_feature_entropy(self.feature_entropy, self.selective_rate)

    @property
    def mean_null_feature_entropy(self) -> float | None:
        return None if self.null_feature_entropy is None else float(np.mean(self.null_feature_entropy))

    @property
    def structure_gap(self) -> np.ndarray | None:
        """Null FE - FE per unit (None without baselines)."""
        if self.null_feature_entropy is None:
            return None
        return baselines.structure_gap(self.null_feature_entropy, self.feature_entropy)


_STORES: dict[str, ResultStore] = {}
_STORES_LOCK = threading.Lock()


def default_store() -> ResultStore:
    """The store at the default directory, opened once per directory per process."""
    key = str(default_directory())
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = ResultStore(key)
        return store


def _resolve(selection: Selection) -> tuple[LoadedModel, object]:
    if not isinstance(selection, Selection):
        raise FeatentError(f"Expected a Selection, got {type(selection).__name__}.")
    for name in ("n_images", "seed"):
        value = getattr(selection, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (1 if name == "n_images" else 0):
            kind = "a positive" if name == "n_images" else "a non-negative"
            raise DataError(f"{name} must be {kind} integer, got {value!r}.")
    model = load_model(selection.model, selection.weights)
    dataset = load_dataset(selection.data)
    if selection.class_name not in dataset.classes:
        shown = ", ".join(dataset.classes[:12]) + (", ..." if len(dataset.classes) > 12 else "")
        raise DataError(f"Class {selection.class_name!r} is not in {dataset.name}; its classes are: {shown}.")
    if not selection.layers:
        raise ModelError("No layer given; choose at least one of: " + ", ".join(i.name for i in model.layers) + ".")
    for layer in selection.layers:
        model.layer(layer)
    return model, dataset


def _data_fingerprint(dataset: object, split: str) -> str:
    fp = dataset.fingerprint
    return fp if split == "train" else f"{fp}.{split}"


def _key(selection: Selection, model: LoadedModel, dataset: object, layer: str) -> str:
    return births_key(
        model.fingerprint,
        _data_fingerprint(dataset, selection.split),
        selection.class_name,
        model.layer(layer).name,  # an alias (features.7) shares its layer's (block3_conv1) cached births
        selection.n_images,
        selection.seed,
    )


def sample_images(selection: Selection) -> ImageSet:
    """The exact images the births of ``selection`` are computed on, in the same order."""
    model, dataset = _resolve(selection)
    return dataset.sample(
        selection.class_name, selection.n_images, selection.seed, selection.split, model.input_size
    )


def _births_of_chunk(acts: np.ndarray) -> np.ndarray:
    return np.asarray(birth_times(acts), dtype=np.int32)


def compute_births(
    selection: Selection,
    store: ResultStore | None = None,
    progress: Progress | None = None,
    *,
    cache: bool = True,
) -> dict[str, np.ndarray]:
    """Birth times ``int32 [n_images, n_units]`` for each selected layer, from the store when there.

    Only missing layers are computed, in one streamed pass over the images.
    """
    model, dataset = _resolve(selection)
    layers = list(dict.fromkeys(selection.layers))
    store = open_store(store, progress, cache)

    result: dict[str, np.ndarray] = {}
    keys = {layer: _key(selection, model, dataset, layer) for layer in layers}
    if store is not None:
        for layer in layers:
            hit = store.get_births(keys[layer])
            expected_units = model.layer(layer).n_units
            if hit is not None and hit.ndim == 2 and hit.shape[1] == expected_units and hit.dtype == np.int32:
                result[layer] = hit
    missing = [layer for layer in layers if layer not in result]
    if missing:
        images = dataset.sample(
            selection.class_name, selection.n_images, selection.seed, selection.split, model.input_size
        )
        parts: dict[str, list[np.ndarray]] = {layer: [] for layer in missing}
        n = len(images)
        what = missing[0] if len(missing) == 1 else f"{len(missing)} layers"
        for start, chunk in iter_activations(model, images.images, missing, ids=images.ids):
            for layer in missing:
                parts[layer].append(_births_of_chunk(chunk[layer]))
            done = min(n, start + len(chunk[missing[0]]))
            del chunk
            if progress is not None:
                progress(0.99 * done / n, f"{what}: birth times of {done}/{n} images")
        warned = False
        for layer in missing:
            births = np.ascontiguousarray(np.concatenate(parts[layer], axis=0), dtype=np.int32)
            result[layer] = births
            if store is not None:
                try:
                    store.put_births(keys[layer], births)
                except CacheError as exc:
                    if progress is not None and not warned:
                        progress(0.99, f"warning: results are not cached: {exc}")
                    warned = True
    if progress is not None:
        progress(1.0, "done")
    return {layer: result[layer] for layer in layers}


def layer_results(
    selection: Selection,
    store: ResultStore | None = None,
    progress: Progress | None = None,
    *,
    cache: bool = True,
    baselines: bool = False,
) -> dict[str, LayerResult]:
    """FE and selective rate per unit (and layer means) for each selected layer; with ``baselines``
    also null FE per unit and the size reference (both cached in the store like births)."""
    births = compute_births(selection, store, _part(progress, 0.0, 0.5 if baselines else 1.0), cache=cache)
    null: dict[str, np.ndarray] = {}
    reference: dict[str, float] = {}
    if baselines:
        null = compute_null_births(selection, store, _part(progress, 0.5, 0.95), cache=cache)
        model, _ = _resolve(selection)
        for layer in births:
            # |Omega| is the images actually sampled (a class may hold fewer than asked for)
            reference[layer] = size_reference(model.layer(layer).unit_size, int(births[layer].shape[0]), store, cache=cache)
        if progress is not None:
            progress(1.0, "done")
    out: dict[str, LayerResult] = {}
    for layer, b in births.items():
        fe = np.asarray(feature_entropy(b), dtype=np.float64)
        eps = np.asarray(selective_rate(b), dtype=np.float64)
        out[layer] = LayerResult(
            layer=layer,
            births=b,
            feature_entropy=fe,
            selective_rate=eps,
            mean_feature_entropy=float(fe.mean()),
            mean_selective_rate=float(eps.mean()),
            null_feature_entropy=np.asarray(feature_entropy(null[layer]), dtype=np.float64) if layer in null else None,
            null_births=null.get(layer),
            size_reference=reference.get(layer),
        )
    return out


def _part(progress: Progress | None, start: float, stop: float) -> Progress | None:
    """``progress`` mapped onto [start, stop], final "done" messages dropped."""
    if progress is None:
        return None

    def report(fraction: float, message: str) -> None:
        if message != "done":
            progress(start + (stop - start) * fraction, message)

    return report


def open_store(store: ResultStore | None, progress: Progress | None, cache: bool = True) -> ResultStore | None:
    """``store``, else the default store, else None with a warning through ``progress``: an unusable
    cache folder never stops a computation."""
    if not cache:
        return None
    if store is not None:
        return store
    try:
        return default_store()
    except CacheError as exc:
        if progress is not None:
            progress(0.0, f"warning: results are not cached: {exc}")
        return None


def _put(store: ResultStore | None, key: str, births: np.ndarray, progress: Progress | None) -> None:
    if store is not None:
        try:
            store.put_births(key, births)
        except CacheError as exc:
            if progress is not None:
                progress(0.99, f"warning: results are not cached: {exc}")


def compute_null_births(
    selection: Selection,
    store: ResultStore | None = None,
    progress: Progress | None = None,
    *,
    cache: bool = True,
) -> dict[str, np.ndarray]:
    """Birth times of the same images' maps with each map's entries shuffled (``featent.core.baselines``),
    ``int32 [n_images, n_units]`` per layer; cached under their own keys."""
    model, dataset = _resolve(selection)
    layers = list(dict.fromkeys(selection.layers))
    store = open_store(store, progress, cache)
    tag = f"{SCHEMA}|null-births-shuffle{baselines.NULL_SEED}|"
    keys = {layer: _key(selection, model, dataset, layer).replace(f"{SCHEMA}|births|", tag, 1) for layer in layers}
    result: dict[str, np.ndarray] = {}
    if store is not None:
        for layer in layers:
            hit = store.get_births(keys[layer])
            if hit is not None and hit.ndim == 2 and hit.shape[1] == model.layer(layer).n_units and hit.dtype == np.int32:
                result[layer] = hit
    missing = [layer for layer in layers if layer not in result]
    if missing:
        images = dataset.sample(selection.class_name, selection.n_images, selection.seed, selection.split, model.input_size)
        parts: dict[str, list[np.ndarray]] = {layer: [] for layer in missing}
        n = len(images)
        for start, chunk in iter_activations(model, images.images, missing, ids=images.ids):
            for layer in missing:
                parts[layer].append(baselines.null_births(chunk[layer], baselines.NULL_SEED, first_image=start))
            done = min(n, start + len(chunk[missing[0]]))
            del chunk
            if progress is not None:
                progress(0.99 * done / n, f"null births (shuffled maps) of {done}/{n} images")
        for layer in missing:
            result[layer] = np.ascontiguousarray(np.concatenate(parts[layer], axis=0), dtype=np.int32)
            _put(store, keys[layer], result[layer], progress)
    if progress is not None:
        progress(1.0, "done")
    return {layer: result[layer] for layer in layers}


def size_reference(m: int, n_images: int, store: ResultStore | None = None, *, cache: bool = True) -> float:
    """FE of iid uniform m x m units over |Omega| = ``n_images`` (``featent.core.baselines.size_reference``),
    its births cached in the store per (m, |Omega|)."""
    store = open_store(store, None, cache)
    key = (f"{SCHEMA}|size-reference|m{int(m)}|n{int(n_images)}|units{baselines.SIZE_REFERENCE_UNITS}|"
           f"seed{baselines.SIZE_REFERENCE_SEED}")
    births = store.get_births(key) if store is not None else None
    if births is None or births.shape != (int(n_images), baselines.SIZE_REFERENCE_UNITS):
        births = baselines.size_reference_births(int(m), int(n_images))
        _put(store, key, births, None)
    return float(np.mean(feature_entropy(births)))


def unit_activations(selection: Selection, layer: str, image_index: int) -> np.ndarray:
    """float32 [units, m, m] of one sampled image (recomputed, not cached)."""
    model, _ = _resolve(selection)
    model.layer(layer)
    images = sample_images(selection)
    if isinstance(image_index, bool) or not isinstance(image_index, (int, np.integer)) or not 0 <= image_index < len(images):
        raise DataError(f"Image index {image_index!r} is out of range; the selection has {len(images)} images.")
    index = int(image_index)
    chunks = list(iter_activations(model, images.images[index : index + 1], [layer], ids=images.ids[index : index + 1]))
    return chunks[0][1][layer][0]


def _one_births(selection: Selection, directory: str | None) -> dict[str, np.ndarray]:
    """Worker body for compute_births_many (runs in a Dask worker or locally)."""
    store = ResultStore(directory) if directory is not None else None
    return compute_births(selection, store, cache=directory is not None)


def compute_births_many(
    selections: Sequence[Selection],
    executor: Literal["local", "dask"] = "local",
    scheduler: object | None = None,
    store: ResultStore | None = None,
    progress: Progress | None = None,
) -> list[dict[str, np.ndarray]]:
    """Birth times of many selections, in order; ``executor="dask"`` runs them as Dask tasks.

    ``scheduler`` is passed to ``dask.compute`` (``"threads"``, ``"processes"``, ``"synchronous"``,
    or a ``distributed.Client``); workers share the on-disk store, so results are cached either way.
    """
    selections = list(selections)
    if executor not in ("local", "dask"):
        raise FeatentError(f"Unknown executor {executor!r}; use 'local' or 'dask'.")
    store = open_store(store, progress)
    directory = str(store.directory) if store is not None else None
    if executor == "local":
        out = []
        for i, selection in enumerate(selections):
            out.append(_one_births(selection, directory))
            if progress is not None:
                progress((i + 1) / max(1, len(selections)), f"selection {i + 1}/{len(selections)}")
        return out
    import dask

    tasks = [dask.delayed(_one_births, pure=False)(selection, directory) for selection in selections]
    if isinstance(scheduler, str) or scheduler is None:
        results = dask.compute(*tasks, scheduler=scheduler or "threads")
    else:
        results = scheduler.compute(tasks, sync=True) if hasattr(scheduler, "compute") else dask.compute(*tasks, scheduler=scheduler)
    if progress is not None:
        progress(1.0, f"{len(selections)} selections done")
    return list(results)
