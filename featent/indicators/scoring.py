"""Scoring the units of one layer by any indicators of the registry, the one code path behind the
indicator table, ablation and pruning: the evidence the chosen indicators need is gathered in one
streamed pass, then each indicator computes its own score from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from featent.core import entropy
from featent.indicators.base import LayerEvidence, Unavailable
from featent.indicators.capture import ImageTransform, gather_evidence
from featent.indicators.registry import RANKING, REGISTRY
from featent.progress import Progress, ProgressLike

__all__ = ["score_layer", "unit_scores"]


def score_layer(
    model,
    layer: str,
    images_by_class: Mapping[str, torch.Tensor],
    targets: Sequence[str],
    keys: Sequence[str],
    *,
    births: Mapping[str, np.ndarray] | None = None,
    transform: ImageTransform | None = None,
    batch_size: int | None = None,
    p: float = entropy.DEFAULT_P,
    progress: ProgressLike = None,
) -> tuple[dict[str, np.ndarray], list[str], LayerEvidence]:
    """Scores by indicator key (an unavailable indicator gives NaN and a note), the notes, the evidence."""
    progress = Progress.of(progress)
    chosen = [REGISTRY[key] if key in REGISTRY else REGISTRY.resolve(key) for key in keys]
    needs = frozenset().union(*(i.needs for i in chosen)) if chosen else frozenset()
    evidence = gather_evidence(model, layer, images_by_class, targets, needs, births=births, transform=transform,
                               batch_size=batch_size, p=p, progress=progress.subrange(0.0, 0.9))
    scores: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for indicator in chosen:
        progress(0.9, f"{layer}: {indicator.label}")
        try:
            scores[indicator.key] = np.asarray(indicator.compute(evidence), dtype=np.float64)
        except Unavailable as exc:
            scores[indicator.key] = np.full(evidence.n_units, np.nan)
            if str(exc) not in notes:
                notes.append(str(exc))
    progress(1.0, f"{layer}: indicators done")
    return scores, notes, evidence


def unit_scores(
    model,
    layer: str,
    images_by_class: Mapping[str, torch.Tensor],
    targets: Sequence[str],
    keys: Sequence[str] = RANKING,
    births: Mapping[str, np.ndarray] | None = None,
    p: float = entropy.DEFAULT_P,
    batch_size: int = 64,
    progress: ProgressLike = None,
) -> dict[str, np.ndarray]:
    """Each indicator per unit of ``layer``, averaged over the ``targets`` classes (Eq. 15 for FE).

    ``images_by_class`` holds [0, 1] images of every class that class selectivity compares with;
    activations are streamed in chunks of ``batch_size`` so big nets stay within memory. ``births``
    (per class) skips the birth-time computation where already known (e.g. from the result store).
    """
    model.layer(layer)
    scores, _, _ = score_layer(model, layer, images_by_class, targets, keys, births=births, p=p,
                               batch_size=batch_size, progress=progress)
    return scores
