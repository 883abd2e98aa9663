"""featent: topological feature entropy of CNN units (Zhao & Zhang, ICLR 2022).

The small public API; everything else lives in its module (``featent.topology``,
``featent.entropy``, ``featent.pipeline``, ...).
"""

from featent.entropy import (
    DEFAULT_P,
    birth_distribution,
    feature_entropy,
    multiclass_feature_entropy,
    ranking_score,
    selective_rate,
)
from featent.errors import FeatentError
from featent.topology import betti_curves, birth_time, birth_time_reference, birth_times

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_P",
    "FeatentError",
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
