"""Selection -> birth times (cached) -> feature entropy and selective rate per unit and layer.

Birth times come from the births engine (``featent.births``): from the store when there, else
streamed chunk by chunk through the model, so memory stays bounded for big nets.

Caching policy: ``store=None`` uses the default store (``FEATENT_CACHE_DIR`` or ``cache/``). If
that store cannot be opened or written, the result is still computed and returned, and the
problem is reported through ``progress.warn`` (``featent.progress``). Pass ``cache=False`` to
neither read nor write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from featent import births as engine
from featent.core import baselines
from featent.core import baselines as _baselines  # layer_results' flag shadows the module name
from featent.core.entropy import feature_entropy, hole_possible, selective_rate
from featent.data import Dataset, ImageSet, load_dataset
from featent.errors import FeatentError, ModelError
from featent.extract import iter_activations
from featent.nets import LoadedModel, load_model
from featent.progress import Progress, ProgressLike, counted
from featent.spec import Selection
from featent.store import ResultStore, default_store, open_store
from featent.validation import Options, check, check_class, check_int

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
class LayerResult(baselines.StabilityParts):
    """Per-unit birth times, FE and selective rate of one layer, and their layer means.

    With baselines (``layer_results(..., baselines=True)``) also each unit's null FE (its maps'
    entries shuffled) and the FE of iid units of the same size over the same |Omega|; see
    ``featent.core.baselines`` for why FE alone mixes structure, size and silence.

    What a unit's FE is made of: frequency (``selective_rate``), silence (``silent_share``, Eq. 12),
    size (``size_reference``) and stability (``conditional_feature_entropy`` = H(x | born), with its
    null and ``stability_gap``); all read from the births held here, none computed again.
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
    size_reference_conditional: float | None = None  # conditional FE of those iid units (mean over units)
    unit_size: int | None = None  # m: the side of this layer's m x m maps (None when not known)

    @property
    def hole_possible(self) -> bool | None:
        """Whether this layer's units can hold a hole at all (m >= 4); None when m is not known.

        A layer with False has FE = (1 - 0) ln|Omega| for every unit by construction, not as a finding.
        """
        return None if self.unit_size is None else hole_possible(self.unit_size)

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


def _resolve(selection: Selection) -> tuple[LoadedModel, Dataset]:
    if not isinstance(selection, Selection):
        raise FeatentError(f"Expected a Selection, got {type(selection).__name__}.")
    model = load_model(selection.model, selection.weights)
    dataset = load_dataset(selection.data)
    check_class(selection.class_name, dataset.classes, dataset.name)
    if not selection.layers:
        raise ModelError("No layer given; choose at least one of: " + ", ".join(i.name for i in model.layers) + ".")
    for layer in selection.layers:
        model.layer(layer)
    return model, dataset


def sample_images(selection: Selection) -> ImageSet:
    """The exact images the births of ``selection`` are computed on, in the same order."""
    model, dataset = _resolve(selection)
    return dataset.sample(
        selection.class_name, selection.n_images, selection.seed, selection.split, model.input_size
    )


def _births(selection: Selection, store: ResultStore | None, progress: Progress, cache: bool,
            null: bool, births: bool = True) -> engine.LayerBirths:
    model, dataset = _resolve(selection)
    return engine.layer_births(model, dataset, selection.class_name, selection.layers, selection.n_images,
                               selection.seed, selection.split, null=null, births=births,
                               store=open_store(store, progress, cache), progress=progress)


def compute_births(
    selection: Selection,
    store: ResultStore | None = None,
    progress: ProgressLike = None,
    *,
    cache: bool = True,
) -> dict[str, np.ndarray]:
    """Birth times ``int32 [n_images, n_units]`` for each selected layer, from the store when there.

    Only missing layers are computed, in one streamed pass over the images.
    """
    progress = Progress.of(progress)
    births = _births(selection, store, progress, cache, null=False).births
    progress(1.0, "done")
    return births


def compute_null_births(
    selection: Selection,
    store: ResultStore | None = None,
    progress: ProgressLike = None,
    *,
    cache: bool = True,
) -> dict[str, np.ndarray]:
    """Birth times of the same images' maps with each map's entries shuffled (``featent.core.baselines``),
    ``int32 [n_images, n_units]`` per layer; cached under their own keys."""
    progress = Progress.of(progress)
    null = _births(selection, store, progress, cache, null=True, births=False).null
    progress(1.0, "done")
    return null


def layer_results(
    selection: Selection,
    store: ResultStore | None = None,
    progress: ProgressLike = None,
    *,
    cache: bool = True,
    baselines: bool = False,
) -> dict[str, LayerResult]:
    """FE and selective rate per unit (and layer means) for each selected layer; with ``baselines``
    also null FE per unit and the size reference (both cached in the store like births), the
    births and null births computed in one pass."""
    progress = Progress.of(progress)
    store = open_store(store, progress, cache)
    found = _births(selection, store, progress.subrange(0.0, 0.95 if baselines else 1.0), cache, null=baselines)
    reference: dict[str, float] = {}
    reference_conditional: dict[str, float] = {}
    if baselines:
        model, _ = _resolve(selection)
        for k, layer in enumerate(found.births):
            progress(0.95 + 0.05 * k / len(found.births), counted("baselines: size reference", k, len(found.births), "layers"))
            # |Omega| is the images actually sampled (a class may hold fewer than asked for)
            ref = engine.size_reference_births(model.layer(layer).unit_size, found.n_images, store, progress)
            reference[layer] = float(np.mean(feature_entropy(ref)))
            reference_conditional[layer] = _baselines.size_reference_conditional(ref)
    progress(1.0, "done")
    out: dict[str, LayerResult] = {}
    model, _ = _resolve(selection)
    for layer, b in found.births.items():
        fe = np.asarray(feature_entropy(b), dtype=np.float64)
        eps = np.asarray(selective_rate(b), dtype=np.float64)
        null = found.null.get(layer)
        out[layer] = LayerResult(
            layer=layer,
            births=b,
            feature_entropy=fe,
            selective_rate=eps,
            mean_feature_entropy=float(fe.mean()),
            mean_selective_rate=float(eps.mean()),
            null_feature_entropy=None if null is None else np.asarray(feature_entropy(null), dtype=np.float64),
            null_births=null,
            size_reference=reference.get(layer),
            size_reference_conditional=reference_conditional.get(layer),
            unit_size=model.layer(layer).unit_size,
        )
    return out


def size_reference(m: int, n_images: int, store: ResultStore | None = None, *, cache: bool = True,
                   progress: ProgressLike = None) -> float:
    """FE of iid uniform m x m units over |Omega| = ``n_images`` (``featent.core.baselines.size_reference``),
    its births cached in the store per (m, |Omega|)."""
    return engine.size_reference(m, n_images, open_store(store, progress, cache), progress)


def unit_activations(selection: Selection, layer: str, image_index: int) -> np.ndarray:
    """float32 [units, m, m] of one sampled image (recomputed, not cached)."""
    model, _ = _resolve(selection)
    model.layer(layer)
    images = sample_images(selection)
    index = check_int("image_index", image_index, 0, len(images) - 1)
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
    progress: ProgressLike = None,
) -> list[dict[str, np.ndarray]]:
    """Birth times of many selections, in order; ``executor="dask"`` runs them as Dask tasks.

    ``scheduler`` is passed to ``dask.compute`` (``"threads"``, ``"processes"``, ``"synchronous"``,
    or a ``distributed.Client``); workers share the on-disk store, so results are cached either way.
    """
    selections = list(selections)
    check("executor", executor, Options(("local", "dask")), FeatentError)
    progress = Progress.of(progress)
    store = open_store(store, progress)
    directory = str(store.directory) if store is not None else None
    if executor == "local":
        out = []
        for i, selection in enumerate(selections):
            out.append(_one_births(selection, directory))
            progress((i + 1) / max(1, len(selections)), f"{i + 1}/{len(selections)} selections")
        return out
    import dask

    tasks = [dask.delayed(_one_births, pure=False)(selection, directory) for selection in selections]
    if isinstance(scheduler, str) or scheduler is None:
        results = dask.compute(*tasks, scheduler=scheduler or "threads")
    else:
        results = (
            scheduler.compute(tasks, sync=True) if hasattr(scheduler, "compute") else dask.compute(*tasks, scheduler=scheduler)
        )
    progress(1.0, f"{len(selections)} selections done")
    return list(results)
