"""Activations of chosen layers, in bounded-memory chunks.

Hooks (featent.nets.hooks) are registered per call, only on the requested layers, and removed in ``finally``; the
model's lock is held for one chunk's forward pass at a time (never across a ``yield``), so one
model object can be shared by concurrent callers (threads of the app, the CLI). Outputs are cloned
in the hook, so in-place ReLUs downstream cannot change them. The forward pass stops right after
the last requested layer: later layers are never computed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from featent.errors import ActivationError, ModelError
from featent.nets.hooks import capture_outputs
from featent.nets.loading import LoadedModel
from featent.progress import Progress, ProgressLike
from featent.validation import check_int

__all__ = ["default_batch_size", "iter_activations", "extract_activations"]

_PIXELS_PER_CHUNK = 2**19  # ~10 images at 224x224, 512 at 32x32


def default_batch_size(model: LoadedModel) -> int:
    """Images per forward pass: keeps peak activation memory bounded at any input size."""
    return int(max(1, min(256, _PIXELS_PER_CHUNK // (model.input_size * model.input_size))))


def _resolve_layers(model: LoadedModel, layers: Sequence[str]) -> list[str]:
    if isinstance(layers, str):
        layers = [layers]
    if not layers:
        raise ModelError("No layer given; choose at least one of: " + ", ".join(i.name for i in model.layers) + ".")
    infos = {name: model.layer(name) for name in dict.fromkeys(layers)}  # raises ModelError naming the valid layers
    order = {info.name: i for i, info in enumerate(model.layers)}
    return sorted(infos, key=lambda name: order.get(infos[name].name, len(order)))


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ActivationError(f"Images must be a float tensor [n, 3, S, S]; got {shape}.")
    if images.shape[0] == 0:
        raise ActivationError("No images given.")


def _forward_chunk(model: LoadedModel, batch: torch.Tensor, names: list[str]) -> dict[str, np.ndarray]:
    site_of = {name: model.layer(name).site for name in names}  # an alias and its layer share a site
    sites = {str(i): site for i, site in enumerate(dict.fromkeys(site_of.values()))}
    with model.lock:
        # The pass stops once the last requested layer is seen: the rest of the net is not needed.
        captured = capture_outputs(model.runner or model.module, sites, model.preprocess(batch))
    by_site = {site: captured[key] for key, site in sites.items() if key in captured}
    missing = [name for name in names if site_of[name] not in by_site]
    if missing:
        raise ModelError(f"Layer {missing[0]!r} of {model.spec} was not reached in the forward pass.")
    return {name: by_site[site_of[name]].numpy() for name in names}


def _check_finite(chunk: dict[str, np.ndarray], start: int, ids: Sequence[str] | None) -> None:
    for name, acts in chunk.items():
        finite = np.isfinite(acts.reshape(acts.shape[0], -1)).all(axis=1)
        if not finite.all():
            index = start + int(np.flatnonzero(~finite)[0])
            who = ids[index] if ids is not None else f"#{index}"
            raise ActivationError(
                f"Layer {name} has NaN or infinite activations on image {who}; check the weights and the input images."
            )


def iter_activations(
    model: LoadedModel,
    images: torch.Tensor,
    layers: Sequence[str],
    batch_size: int | None = None,
    progress: ProgressLike = None,
    ids: Sequence[str] | None = None,
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(start, {layer: float32 [b, units, m, m]})`` chunk by chunk.

    ``images`` are [0, 1] images [n, 3, S, S]; ``ids`` (optional) name images in errors.
    """
    progress = Progress.of(progress)
    names = _resolve_layers(model, layers)
    _check_images(images)
    size = default_batch_size(model) if batch_size is None else check_int("batch_size", batch_size, 1, error=ModelError)
    n = images.shape[0]
    for start in range(0, n, size):
        chunk = _forward_chunk(model, images[start : start + size], names)
        _check_finite(chunk, start, ids)
        progress(min(1.0, (start + size) / n), f"activations {min(n, start + size)}/{n}")
        yield start, chunk


def extract_activations(
    model: LoadedModel,
    images: torch.Tensor,
    layers: Sequence[str],
    batch_size: int | None = None,
    progress: ProgressLike = None,
    ids: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """All activations at once: ``{layer: float32 [n, units, m, m]}`` (for small jobs)."""
    parts: dict[str, list[np.ndarray]] = {}
    for _, chunk in iter_activations(model, images, layers, batch_size, progress, ids):
        for name, acts in chunk.items():
            parts.setdefault(name, []).append(acts)
    return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}
