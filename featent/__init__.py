"""featent: topological feature entropy of CNN units (Zhao & Zhang, ICLR 2022).

The small public API; everything else lives in its module (``featent.topology``,
``featent.entropy``, ``featent.pipeline``, ...).
"""

from featent.data import load_dataset
from featent.entropy import (
    DEFAULT_P,
    birth_distribution,
    feature_entropy,
    multiclass_feature_entropy,
    ranking_score,
    selective_rate,
)
from featent.errors import FeatentError
from featent.models import list_models, load_model
from featent.pipeline import LayerResult, Selection, compute_births, layer_results
from featent.store import ResultStore
from featent.topology import betti_curves, birth_time, birth_time_reference, birth_times

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_P",
    "FeatentError",
    "LayerResult",
    "ResultStore",
    "Selection",
    "betti_curves",
    "birth_distribution",
    "birth_time",
    "birth_time_reference",
    "birth_times",
    "compute_births",
    "feature_entropy",
    "layer_results",
    "list_models",
    "load_dataset",
    "load_model",
    "multiclass_feature_entropy",
    "ranking_score",
    "selective_rate",
]
