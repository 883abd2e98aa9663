"""The torch-free core: unit -> filtration -> Betti curves -> birth time, and the entropy of births.

numpy and numba only, so ``featent.core`` (and ``featent.birth_times`` / ``featent.feature_entropy``)
can be used without importing torch.
"""

from featent.core.entropy import (
    DEFAULT_P,
    birth_distribution,
    feature_entropy,
    multiclass_feature_entropy,
    ranking_score,
    selective_rate,
)
from featent.core.topology import betti_curves, birth_time, birth_time_reference, birth_times

__all__ = [
    "DEFAULT_P",
    "betti_curves",
    "birth_distribution",
    "birth_time",
    "birth_time_reference",
    "birth_times",
    "feature_entropy",
    "multiclass_feature_entropy",
    "ranking_score",
    "selective_rate",
]
