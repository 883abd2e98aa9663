"""Cached computations for the pages: Streamlit caches in front of featent's own caches.

Why two layers: featent memoizes models/datasets per process and keeps birth times in the
on-disk store (reusable across sessions and restarts); st.cache_data keeps the small derived
arrays (Betti curves, diagrams, activations of one image) so moving a slider re-renders from
memory. Functions take plain hashable arguments so Streamlit can key them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import streamlit as st

from featent import pipeline
from featent.app import mode, public
from featent.core import topology
from featent.errors import CacheError
from featent.experiments import gallery
from featent.experiments.sweep import stored_atlas as stored_atlas_in
from featent.nets.loading import guarded_builds
from featent.store import ResultStore

#: Units of at most this many pixels (How it works' toys, m <= 16) take microseconds: computed directly,
#: never queued behind long jobs, so the teaching page stays instant on a busy server.
INSTANT_PIXELS = 16 * 16


def _instant(unit: np.ndarray) -> bool:
    return int(np.asarray(unit).size) <= INSTANT_PIXELS


@st.cache_data(max_entries=256, show_spinner="Computing Betti curves (ripser)...")
def betti_curves(unit: np.ndarray) -> np.ndarray:
    """beta_0/beta_1 curves of a unit (ripser; the slow part of a step change, so cached)."""
    return topology.betti_curves(unit) if _instant(unit) else public.bounded(lambda: topology.betti_curves(unit))


@st.cache_data(max_entries=256, show_spinner="Computing the persistence diagram (ripser)...")
def persistence_diagram(unit: np.ndarray) -> list[np.ndarray]:
    """H0/H1 diagrams of a unit in step units."""
    return topology.persistence_diagram(unit) if _instant(unit) else public.bounded(lambda: topology.persistence_diagram(unit))


@st.cache_data(max_entries=256, show_spinner=False)
def birth_time(unit: np.ndarray) -> int:
    """b(U, 1) of one unit."""
    return topology.birth_time(unit) if _instant(unit) else public.bounded(lambda: topology.birth_time(unit))


def store() -> ResultStore | None:
    """The on-disk result store (FEATENT_CACHE_DIR or ./cache), opened once per process; None
    when it cannot be used: the pipeline then computes without caching and says why through its
    progress (shown as a warning), so an unwritable cache never stops the app."""
    try:
        return pipeline.default_store()
    except CacheError:
        return None


def store_problem() -> str | None:
    """Why the result store cannot be used, or None when it can."""
    try:
        pipeline.default_store()
    except CacheError as exc:
        return str(exc)
    return None


@st.cache_data(max_entries=64, show_spinner=False)
def unit_activations(selection, layer: str, image_index: int, fingerprint: str) -> np.ndarray:
    """All units of one layer for one image, float32 [units, m, m] (recomputed, then kept here).

    ``fingerprint`` (weights + data, ``Context.fingerprint``) is only part of the cache key: a
    checkpoint or folder changed on disk under the same path must not be served from memory.
    """

    return public.bounded(lambda: pipeline.unit_activations(selection, layer, image_index))


@st.cache_data(max_entries=16, show_spinner=False)
def sample_images(selection, fingerprint: str) -> tuple[np.ndarray, list[str]]:
    """The selection's images as float32 [n, 3, S, S] in [0, 1] and their ids (key as above)."""

    images = public.bounded(lambda: pipeline.sample_images(selection))
    return images.images.numpy(), list(images.ids)


def clear_all() -> None:
    """Empty the result store and every Streamlit cache (the home page's clear-cache button, local mode only)."""
    if mode.public_mode():
        raise CacheError("This server is shared; its result cache is cleared by the operator (featent cache --clear).")
    results = store()
    if results is not None:
        results.clear()
    st.cache_data.clear()


def bounded(work: Any) -> Any:
    """``work()`` within the server's limits (public mode: a slot of the job queue, this session's compute
    time), with the queue place shown while it waits; in local mode directly.

    Every computation a visitor can start goes through here or through ``public.bounded`` (inside the
    Streamlit caches below, where nothing may be drawn: those wait under their spinner).
    """
    if not mode.public_mode():
        return work()
    place = st.empty()

    def waiting(position: int) -> None:
        place.info(f"Waiting for a free slot: place {position} in the queue (this server runs "
                   f"{mode.limits().max_jobs} computations at once).", icon=":material/hourglass:")

    try:
        return public.bounded(work, on_wait=waiting)
    finally:
        place.empty()


def computed(experiment: Any, *args: Any, **kwargs: Any) -> Any:
    """An experiment's result from the on-disk store, else computed and stored there, so a restarted
    app shows a view computed before without recomputing it. The key is the experiment's own (every
    argument, the selection by its weights and data fingerprints). In public mode a stored result is
    read without waiting in the queue (a model built for its key is a job); computing it is a job."""
    if mode.public_mode():
        public.check_time()
        with guarded_builds(bounded):
            found = stored_result(experiment, *args, **kwargs)
        if found is not None:
            return found
    return bounded(lambda: experiment.cached(*args, store=store(), **kwargs))


def stored_result(experiment: Any, *args: Any, **kwargs: Any) -> Any | None:
    """What ``computed`` stored for these arguments in an earlier run, or None (nothing computed)."""
    results = store()
    return None if results is None else experiment.recall(*args, store=results, **kwargs)


def stored_atlas(model: str, weights: str | None, data: str, images: int, seed: int):
    """The atlas of every class and layer already swept for this selection (nothing computed), or None."""

    results = store()
    return None if results is None else stored_atlas_in(model, data, images=images, seed=seed, store=results, weights=weights)


@st.cache_data(max_entries=8, show_spinner="Reading the layer's activation maps...")
def layer_maps(selection, layer: str, fingerprint: str):
    """Mean map per unit and (image, unit) scores of one layer (key as in ``unit_activations``)."""

    return public.bounded(lambda: gallery.layer_maps(selection, layer))


@st.cache_data(max_entries=64, show_spinner=False)
def maps_of(selection, layer: str, unit: int, indices: tuple[int, ...], fingerprint: str) -> np.ndarray:
    """One unit's maps on a few sampled images."""

    return public.bounded(lambda: gallery.maps_of(selection, layer, unit, list(indices)))


@st.cache_data(max_entries=32, show_spinner="Finding the top images over every class...")
def top_across_classes(selection, layer: str, unit: int, k: int, per_class: int, classes: tuple[str, ...],
                       fingerprint: str):
    """The images of ``classes`` that activate a unit most (``per_class`` sampled from each class)."""

    return public.bounded(lambda: gallery.top_images_across_classes(selection, layer, unit, k, per_class, classes))


@st.cache_data(max_entries=64, show_spinner=False)
def class_images(selection, class_name: str, n_images: int, indices: tuple[int, ...], fingerprint: str) -> np.ndarray:
    """Some sampled images of another class, float32 [k, 3, S, S] (for top images across classes)."""

    images = public.bounded(lambda: pipeline.sample_images(replace(selection, class_name=class_name, n_images=n_images)))
    return images.images.numpy()[list(indices)]
