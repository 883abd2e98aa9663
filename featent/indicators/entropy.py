"""The method's own indicators, from birth times (``featent.core.entropy``): feature entropy, the
selective rate and H/epsilon, the paper's ranking score."""

from __future__ import annotations

import numpy as np

from featent.core import entropy
from featent.indicators.base import Indicator, LayerEvidence

__all__ = ["FeatureEntropy", "SelectiveRate", "HOverEps"]


class FeatureEntropy(Indicator):
    key, label, lower_is_better = "feature_entropy", "Feature entropy", True
    needs = frozenset({"births"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        return evidence.per_target(lambda t: entropy.feature_entropy(evidence.births[t], evidence.p))


class SelectiveRate(Indicator):
    key, label, lower_is_better = "selective_rate", "Selective rate", False
    needs = frozenset({"births"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        return evidence.per_target(lambda t: entropy.selective_rate(evidence.births[t]))


class HOverEps(Indicator):
    """High H/epsilon: the unit perceives no common feature of the class (the paper's ranking)."""

    key, label, lower_is_better = "h_over_eps", "H/ε", True
    least_important_first, ranking_label, aliases = "desc", "Feature entropy (H/ε)", ("fe",)
    needs = frozenset({"births"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        return evidence.per_target(lambda t: entropy.ranking_score(evidence.births[t], evidence.p))
