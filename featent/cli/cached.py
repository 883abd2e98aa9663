"""Answers from the store alone: when every result a command asks for is stored, answer without torch.

Why: a fully cached ``featent entropy`` only reads a few arrays, yet loading the model to learn its
fingerprint and layer names costs seconds (importing torch). So whenever the CLI loads a model or a
dataset it records a small manifest in the store: for a model its fingerprint, layers and input size,
for a dataset its name, fingerprint and classes, each with the state (size and mtime of files, the
listing of folders) of the files it came from. A later command finds the manifests by spec, checks
that none of those files changed, and reads the stored births under the keys the pipeline uses.
Anything missing, stale or unusual (a random init, an image folder, an unknown layer) answers None
and the command takes the normal path, which records the manifests for next time.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featent.core.baselines import (
    SIZE_REFERENCE_UNITS,
    StabilityParts,
    live_feature_entropy,
    silent_share,
    size_reference_conditional,
)
from featent.core.entropy import feature_entropy, hole_possible, selective_rate
from featent.errors import FeatentError
from featent.spec import ModelSpec, Selection
from featent.store import BirthsKey, ResultStore, SizeReferenceKey, default_directory, result_key

__all__ = [
    "StoredLayer",
    "StoredAnswer",
    "data_sources",
    "weights_file",
    "path_state",
    "open_store",
    "model_manifest_key",
    "data_manifest_key",
    "record_model",
    "record_data",
    "recall_layers",
    "recall_atlas",
]

FASHION_DIR_ENV = "FEATENT_FASHION_DIR"
#: Part of every manifest key: raise it when what a manifest holds, or how a fingerprint is computed, changes.
MANIFEST_VERSION = 1


def path_state(path: str | os.PathLike) -> str:
    """What a file or folder is now: size and mtime of a file, names and states of a folder's files, or absent."""
    target = Path(path)
    try:
        info = target.stat()
    except OSError:
        return "absent"
    if target.is_dir():
        try:
            names = sorted(os.listdir(target))
        except OSError:
            return "unreadable"
        return "dir[" + ";".join(f"{name}={path_state(target / name) if (target / name).is_file() else 'dir'}"
                                 for name in names) + "]"
    return f"file|{info.st_size}|{info.st_mtime_ns}"


def _unchanged(watched: object) -> bool:
    return isinstance(watched, dict) and bool(watched) and all(path_state(p) == s for p, s in watched.items())


def model_manifest_key(spec: str, weights: str | None) -> str:
    """The store key of a model's manifest: manifest version, canonical spec, weights file path."""
    file = "" if weights is None else str(Path(weights).expanduser().resolve())
    return result_key("model-manifest", MANIFEST_VERSION, str(ModelSpec.parse(spec)), file)


def data_manifest_key(data: str) -> str:
    """The store key of a dataset's manifest (the Fashion-MNIST folder setting is part of it)."""
    return result_key("data-manifest", MANIFEST_VERSION, str(data).strip(), os.environ.get(FASHION_DIR_ENV, ""))


def open_store() -> ResultStore | None:
    """The default store, or None when it cannot be opened (then nothing is recalled or kept)."""
    try:
        return ResultStore(default_directory())
    except FeatentError:
        return None


def record_model(store: ResultStore | None, spec: str, weights: str | None, model: Any, weights_file: Path | None) -> None:
    """Keep a loaded model's manifest; ``weights_file`` is the file its weights came from (None: not from a
    file, e.g. a random init, and then nothing is kept)."""
    if store is None or weights_file is None or not Path(weights_file).is_file() or ModelSpec.parse(spec).runs_code:
        return  # a model from code may change with its file and whatever it imports: never answered from a manifest
    meta = {
        "fingerprint": model.fingerprint,
        "input_size": int(model.input_size),
        "weights_source": model.weights_source,
        "layers": [{"name": i.name, "aliases": list(i.aliases), "n_units": int(i.n_units), "unit_size": int(i.unit_size)}
                   for i in model.layers],
        "watched": {str(Path(weights_file).resolve()): path_state(Path(weights_file).resolve())},
    }
    with contextlib.suppress(FeatentError):  # a manifest only saves time; the answer was computed anyway
        store.put_result(model_manifest_key(spec, weights), {}, meta)


def record_data(store: ResultStore | None, data: str, dataset: Any, watched_paths: list[Path]) -> None:
    """Keep a dataset's manifest, valid while ``watched_paths`` stay as they are now (none: nothing kept)."""
    if store is None or not watched_paths:
        return
    meta = {
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "classes": list(dataset.classes),
        "watched": {str(p): path_state(p) for p in watched_paths},
    }
    with contextlib.suppress(FeatentError):
        store.put_result(data_manifest_key(data), {}, meta)


def data_sources(dataset: Any) -> list[Path]:
    """The files and folders a built-in dataset's fingerprint depends on ([] for image folders, whose
    scan is the fingerprint: they always take the normal path)."""
    import importlib.util

    from featent.data.fashion import DEBIAN_FASHION_DIR  # recorded after a normal run: torch is loaded

    if dataset.name in ("fashion", "fashion-subset"):
        source = Path(dataset.source)
        if dataset.full:
            return [source]
        forced = os.environ.get(FASHION_DIR_ENV)
        # the subset stands in for the full set only while the full set is not installed
        return [source, Path(forced).expanduser() if forced else DEBIAN_FASHION_DIR]
    if dataset.name == "digits":
        spec = importlib.util.find_spec("sklearn")
        found = [Path(location) / "datasets" / "data" / "digits.csv.gz"
                 for location in (spec.submodule_search_locations or [] if spec is not None else [])]
        return [path for path in found if path.is_file()][:1]
    return []


def weights_file(weights: str | None, model: Any) -> Path | None:
    """The file a loaded model's weights came from (None for a random init or a download cache we do not track)."""
    from featent.nets.demo import DEMO_WEIGHTS  # recorded after a normal run: torch is loaded

    if weights is not None:
        return Path(weights).expanduser().resolve()
    source = Path(str(model.weights_source))
    if source.is_absolute() and source.is_file():
        return source  # a demo family checkpoint or demo-digits
    if model.weights_source == "shipped demo weights":
        return DEMO_WEIGHTS
    return None


@dataclass
class StoredLayer(StabilityParts):
    """One layer's births and what ``featent entropy`` reports of them, read from the store.

    The same attributes and arithmetic as ``featent.pipeline.LayerResult``, so the output is
    bit-identical to a computed answer."""

    layer: str
    births: np.ndarray
    feature_entropy: np.ndarray
    selective_rate: np.ndarray
    mean_feature_entropy: float
    mean_selective_rate: float
    null_feature_entropy: np.ndarray | None
    size_reference: float | None
    null_births: np.ndarray | None = None
    size_reference_conditional: float | None = None
    unit_size: int | None = None

    @property
    def hole_possible(self) -> bool | None:
        """Whether this layer's m x m maps can hold a hole at all (m >= 4), as ``LayerResult.hole_possible``."""
        return None if self.unit_size is None else hole_possible(self.unit_size)

    @property
    def silent_share(self) -> float:
        return silent_share(self.selective_rate)

    @property
    def mean_live_feature_entropy(self) -> float:
        return live_feature_entropy(self.feature_entropy, self.selective_rate)

    @property
    def mean_null_feature_entropy(self) -> float | None:
        return None if self.null_feature_entropy is None else float(np.mean(self.null_feature_entropy))


@dataclass
class StoredAnswer:
    """Everything ``featent entropy`` prints, found in the store."""

    selection: Selection
    results: dict[str, StoredLayer]
    dataset_name: str
    data_fingerprint: str
    weights_source: str
    model_fingerprint: str | None = None


def _births(store: ResultStore, key: str, n_units: int, n_images: int | None = None) -> np.ndarray | None:
    hit = store.get_births(key)
    if hit is None or hit.ndim != 2 or hit.shape[1] != n_units or hit.dtype != np.int32:
        return None
    if n_images is not None and hit.shape[0] != n_images:
        return None
    return hit


def _manifests(store: ResultStore, spec: str, weights: str | None, data: str) -> tuple[dict, dict, dict[str, dict]] | None:
    """The model and data manifests when both are stored and none of their files changed, and the
    model's layers by every name they answer to (name and aliases)."""
    if ModelSpec.parse(spec).runs_code:
        return None
    found_model = store.get_result(model_manifest_key(spec, weights))
    found_data = store.get_result(data_manifest_key(data))
    if found_model is None or found_data is None:
        return None
    model, dataset = found_model[1], found_data[1]
    if not _unchanged(model.get("watched")) or not _unchanged(dataset.get("watched")):
        return None
    by_name: dict[str, dict] = {}
    for info in model["layers"]:
        for name in (info["name"], *info["aliases"]):
            by_name.setdefault(name, info)
    return model, dataset, by_name


def _chosen(value: object, available: list[str]) -> list[str] | None:
    """``--classes`` / ``--layers`` as the sweep reads them ("all", a count, names), or None when the
    value is anything the normal path should judge (it gives the error)."""
    if value is None or value == "all":
        return list(available)
    if isinstance(value, int) and not isinstance(value, bool):
        return list(available[:value]) if 1 <= value <= len(available) else None
    names = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or any(n not in available for n in names):
        return None
    return list(dict.fromkeys(str(n) for n in names))


def recall_atlas(spec: str, weights: str | None, data: str, classes: object, layers: object, n_images: int,
                 seed: int, units: bool) -> Any | None:
    """The atlas ``featent sweep`` would build, when every (class, layer) summary is stored; else None."""
    from featent.experiments.atlas import Atlas, summary_key, usable_summary

    store = open_store()
    if store is None:
        return None
    try:
        found = _manifests(store, spec, weights, data)
        if found is None:
            return None
        model, dataset, by_name = found
        class_names = _chosen(classes, list(dataset["classes"]))
        layer_names = _chosen(layers, [info["name"] for info in model["layers"]])
        if class_names is None or layer_names is None:
            return None
        summaries = []
        for class_name in class_names:
            for layer in layer_names:
                info = by_name[layer]
                hit = store.get_result(summary_key(model["fingerprint"], dataset["fingerprint"], class_name, info["name"],
                                                   n_images, seed))
                if hit is None or not usable_summary(hit, info["n_units"]):
                    return None
                summaries.append((hit[1], hit[0]))
        return Atlas.from_summaries(summaries, units=units)
    except (KeyError, TypeError, ValueError, FeatentError):
        return None
    finally:
        store.close()


def recall_layers(
    spec: str, weights: str | None, data: str, class_name: str, layers: list[str] | None, n_images: int, seed: int,
    baselines: bool,
) -> StoredAnswer | None:
    """The stored answer of ``featent entropy`` for these flags (``layers`` None: every layer), or None."""
    store = open_store()
    if store is None:
        return None
    try:
        found = _manifests(store, spec, weights, data)
        if found is None:
            return None
        model, dataset, by_name = found
        if class_name not in dataset["classes"]:
            return None
        wanted = [info["name"] for info in model["layers"]] if layers is None else list(dict.fromkeys(layers))
        if not wanted or any(name not in by_name for name in wanted):
            return None
        results: dict[str, StoredLayer] = {}
        for name in wanted:
            info = by_name[name]
            fields = (model["fingerprint"], dataset["fingerprint"], class_name, info["name"], n_images, seed)
            key = BirthsKey(*fields)
            births = _births(store, key.text(), info["n_units"], n_images)
            if births is None:
                return None
            null = reference = reference_conditional = None
            if baselines:
                null = _births(store, key.as_null().text(), info["n_units"], n_images)
                found_reference = _size_reference(store, info["unit_size"], births.shape[0])
                if null is None or found_reference is None:
                    return None
                reference, reference_conditional = found_reference
            fe = np.asarray(feature_entropy(births), dtype=np.float64)
            eps = np.asarray(selective_rate(births), dtype=np.float64)
            results[name] = StoredLayer(
                layer=name, births=births, feature_entropy=fe, selective_rate=eps,
                mean_feature_entropy=float(fe.mean()), mean_selective_rate=float(eps.mean()),
                null_feature_entropy=None if null is None else np.asarray(feature_entropy(null), dtype=np.float64),
                size_reference=reference, null_births=null, size_reference_conditional=reference_conditional,
                unit_size=int(info["unit_size"]),
            )
        selection = Selection(model=spec, data=data, class_name=class_name, layers=tuple(wanted), n_images=n_images,
                              seed=seed, weights=weights)
        return StoredAnswer(selection, results, dataset["name"], dataset["fingerprint"], model["weights_source"],
                            model["fingerprint"])
    except (KeyError, TypeError, ValueError, FeatentError):
        return None  # a manifest of another shape: take the normal path
    finally:
        store.close()


def _size_reference(store: ResultStore, m: int, n_images: int) -> tuple[float, float] | None:
    """(FE, conditional FE) of the stored iid size-reference births, or None."""
    births = store.get_births(SizeReferenceKey(m, n_images).text())
    if births is None or births.shape != (int(n_images), SIZE_REFERENCE_UNITS):
        return None
    return float(np.mean(feature_entropy(births))), size_reference_conditional(births)


def provenance(spec: str, weights: str | None, data: str | None, layer: str | None = None) -> dict[str, Any]:
    """What produced a result, as every CLI output states it: the featent version, the model's and the
    data's fingerprints and, for one ``layer``, its unit size m and whether a hole can be born there (m >= 4).

    Read from the stored manifests when they are current (no torch), else from the loaded model and
    dataset (memoized, so a command that just computed pays nothing), whose manifests are then kept.
    ``data`` None: no dataset (its fingerprint is None)."""
    from featent.cli.common import featent_version

    model_info: dict | None = None
    data_info: dict | None = None
    store = open_store()
    try:
        if store is not None and not ModelSpec.parse(spec).runs_code:
            found = store.get_result(model_manifest_key(spec, weights))
            if found is not None and _unchanged(found[1].get("watched")):
                model_info = found[1]
            if data is not None:
                found = store.get_result(data_manifest_key(data))
                if found is not None and _unchanged(found[1].get("watched")):
                    data_info = found[1]
        if model_info is None:
            from featent.nets import load_model

            model = load_model(spec, weights)
            record_model(store, spec, weights, model, weights_file(weights, model))
            model_info = {"fingerprint": model.fingerprint,
                          "layers": [{"name": i.name, "aliases": list(i.aliases), "unit_size": int(i.unit_size)}
                                     for i in model.layers]}
        if data is not None and data_info is None:
            from featent.data import load_dataset

            dataset = load_dataset(data)
            record_data(store, data, dataset, data_sources(dataset))
            data_info = {"fingerprint": dataset.fingerprint}
    finally:
        if store is not None:
            store.close()
    out: dict[str, Any] = {}
    if layer is not None:
        sizes = {name: int(info["unit_size"]) for info in model_info["layers"]
                 for name in (info["name"], *info.get("aliases", ()))}
        m = sizes.get(layer)
        out = {"unit_size": m, "hole_possible": None if m is None else hole_possible(m)}
    return {**out, "featent_version": featent_version(), "model_fingerprint": model_info["fingerprint"],
            "data_fingerprint": None if data_info is None else data_info["fingerprint"]}
