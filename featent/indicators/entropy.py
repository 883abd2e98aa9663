"""The method's own indicators, from birth times (``featent.core.entropy``): feature entropy, the
selective rate, H/epsilon (the paper's ranking score) and the conditional FE H(x | born), FE's
stability part with the frequency epsilon divided out."""

from __future__ import annotations

import numpy as np

from featent.core import entropy
from featent.indicators.base import Indicator, LayerEvidence

__all__ = ["FeatureEntropy", "SelectiveRate", "HOverEps", "ConditionalFE"]


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


class ConditionalFE(Indicator):
    """High H(x | born): the unit's births, when they come, are spread over many steps.

    H/epsilon divides FE by how often a unit is born; this divides the frequency out exactly
    (FE = epsilon H(x | born) - epsilon ln epsilon for epsilon >= p). A silent unit (epsilon < p)
    scores +inf, as a unit never born does under H/epsilon: its few births say too little, and a
    ranking puts it first to remove.
    """

    key, label, lower_is_better = "conditional_fe", "Conditional FE H(x | born)", True
    least_important_first, aliases = "desc", ("conditional",)
    needs = frozenset({"births"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        def score(target: str) -> np.ndarray:
            births = evidence.births[target]
            live = entropy.selective_rate(births) >= evidence.p
            return np.where(live, entropy.conditional_feature_entropy(births), np.inf)

        return evidence.per_target(score)
