"""The indicator interface, and the evidence an indicator reads to score the units of one layer.

Why an interface with behaviour: ablation, pruning, the indicator table and the figures all need
"every indicator" and must agree on what each one means. Each ``Indicator`` names itself (``key``,
``label``), says which way is good (``lower_is_better``, ``least_important_first``) and computes its
per-unit score from a ``LayerEvidence`` (the Torch-Pruning ``Importance`` pattern), so adding an
indicator is adding one class to the registry and every consumer picks it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from featent.errors import FeatentError

__all__ = ["ClassStats", "LayerEvidence", "Indicator", "Unavailable", "NEEDS"]

#: What an indicator may need beyond the target classes' activation sums.
NEEDS = frozenset({"class_means", "births", "frl", "weights"})


class Unavailable(FeatentError):
    """An indicator that cannot be computed for this model or data; its text is the note shown."""


@dataclass
class ClassStats:
    """Running sums over one class's activations, fed chunk by chunk so a big net stays in memory."""

    n_units: int
    count: int = 0
    positions: int = 0
    mean_sum: np.ndarray = field(init=False)
    l1_sum: np.ndarray = field(init=False)
    zeros: np.ndarray = field(init=False)
    births: list[np.ndarray] = field(default_factory=list)
    frl: list[np.ndarray] = field(default_factory=list)
    logits: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mean_sum = np.zeros(self.n_units)
        self.l1_sum = np.zeros(self.n_units)
        self.zeros = np.zeros(self.n_units, dtype=np.int64)

    def add_means(self, acts: np.ndarray) -> None:
        """Per-image spatial means of a chunk ``[n, units, m, m]`` (all class selectivity needs)."""
        a = acts.astype(np.float64)
        self.mean_sum += a.mean(axis=(2, 3)).sum(axis=0)
        self.count += a.shape[0]

    def add_detail(self, acts: np.ndarray) -> None:
        """L1 sums and zero counts of a chunk (after ``add_means`` on the same chunk)."""
        a = acts.astype(np.float64)
        self.l1_sum += np.abs(a).sum(axis=(2, 3)).sum(axis=0)
        self.zeros += (acts == 0).sum(axis=(0, 2, 3))
        self.positions += a.shape[0] * a.shape[2] * a.shape[3]

    @property
    def means(self) -> np.ndarray:
        return self.mean_sum / max(1, self.count)


@dataclass
class LayerEvidence:
    """Everything the indicators of one layer read: per-class sums, births, final-layer inputs, the model.

    ``classes`` are every class compared (class selectivity), in order; ``targets`` the classes the
    units are scored on (scores average over them, as Eq. 15 does for FE).
    """

    model: Any
    layer: str
    n_units: int
    classes: list[str]
    targets: list[str]
    stats: dict[str, ClassStats]
    births: dict[str, np.ndarray]
    p: float

    def class_means(self) -> np.ndarray:
        """Mean activation per class and unit ``[n_classes, n_units]`` (zero for classes not run)."""
        means = np.zeros((len(self.classes), self.n_units))
        for k, name in enumerate(self.classes):
            if name in self.stats:
                means[k] = self.stats[name].means
        return means

    def per_target(self, score: Callable[[str], np.ndarray]) -> np.ndarray:
        """``score(target)`` averaged over the targets (+inf stays inf: dead units)."""
        with np.errstate(invalid="ignore"):
            return np.mean(np.stack([np.asarray(score(t), dtype=np.float64) for t in self.targets]), axis=0)


class Indicator:
    """A per-unit score. Subclasses set the attributes and implement ``compute``.

    ``key`` is its column in tables and JSON and its name everywhere in the library; ``aliases`` the
    short spellings a person may type (CLI orders, saved page links); ``least_important_first`` the
    direction (``"asc"``/``"desc"``) of the raw value that puts the least important unit first, or
    None when the indicator does not rank units for ablation and pruning.
    """

    key: str = ""
    label: str = ""
    lower_is_better: bool = False
    least_important_first: str | None = None
    ranking_label: str | None = None
    aliases: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()

    @property
    def ranks(self) -> bool:
        return self.least_important_first is not None

    @property
    def method_label(self) -> str:
        """Its name where it ranks units (legends of ablation and pruning)."""
        return self.ranking_label or self.label

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        """One score per unit of ``evidence.layer``; raises ``Unavailable`` when it cannot be had."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<indicator {self.key}>"
