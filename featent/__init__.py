"""featent: topological feature entropy of CNN units (Zhao & Zhang, ICLR 2022).

The small public API, every name imported on first use (PEP 562): computing an entropy never pays
for importing torch, and ``import featent`` alone (as every ``featent`` command does) imports
nothing heavy (no torch, no numba), so a command answered from the store starts at once.
"""

from __future__ import annotations

import importlib

from featent.errors import FeatentError

__version__ = "0.1.0"

#: Public names served lazily (PEP 562): name -> module that defines it.
_LAZY = {
    "DEFAULT_P": "featent.core.entropy",
    "birth_distribution": "featent.core.entropy",
    "feature_entropy": "featent.core.entropy",
    "multiclass_feature_entropy": "featent.core.entropy",
    "ranking_score": "featent.core.entropy",
    "selective_rate": "featent.core.entropy",
    "betti_curves": "featent.core.topology",
    "birth_time": "featent.core.topology",
    "birth_time_reference": "featent.core.topology",
    "birth_times": "featent.core.topology",
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
    "Atlas": "featent.experiments.atlas",
}

__all__ = ["FeatentError", *_LAZY]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'featent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
