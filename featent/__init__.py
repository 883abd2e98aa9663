"""featent: topological feature entropy of CNN units (Zhao & Zhang, ICLR 2022).

The small public API. The torch-free core (birth times, entropy) is imported at once; everything
that needs torch (models, data, the pipeline) is imported on first use, so computing an entropy
never pays for importing torch.
"""

from __future__ import annotations

import importlib

from featent.core.entropy import (
    DEFAULT_P,
    birth_distribution,
    feature_entropy,
    multiclass_feature_entropy,
    ranking_score,
    selective_rate,
)
from featent.core.topology import betti_curves, birth_time, birth_time_reference, birth_times
from featent.errors import FeatentError

__version__ = "0.1.0"

#: Public names served lazily (PEP 562): name -> module that defines it.
_LAZY = {
    "load_dataset": "featent.data",
    "list_models": "featent.nets",
    "load_model": "featent.nets",
    "from_module": "featent.nets",
    "LayerResult": "featent.pipeline",
    "Selection": "featent.spec",
    "compute_births": "featent.pipeline",
    "layer_results": "featent.pipeline",
    "ResultStore": "featent.store",
    "ModelSpec": "featent.spec",
    "sweep": "featent.experiments.sweep",
    "Atlas": "featent.experiments.sweep",
}

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
    *_LAZY,
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'featent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
