"""The torch-free core: unit -> filtration -> Betti curves -> birth time, and the entropy of births.

numpy and numba only, so ``featent.core`` (and ``featent.birth_times`` / ``featent.feature_entropy``)
can be used without importing torch. Names are served on first use (PEP 562): reading entropies
from stored births never pays for compiling the numba kernel.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "DEFAULT_P": "featent.core.entropy",
    "MIN_BORN_IMAGES": "featent.core.entropy",
    "birth_distribution": "featent.core.entropy",
    "conditional_feature_entropy": "featent.core.entropy",
    "feature_entropy": "featent.core.entropy",
    "multiclass_feature_entropy": "featent.core.entropy",
    "ranking_score": "featent.core.entropy",
    "selective_rate": "featent.core.entropy",
    "betti_curves": "featent.core.topology",
    "birth_time": "featent.core.topology",
    "birth_time_reference": "featent.core.topology",
    "birth_times": "featent.core.topology",
    "hole_possible": "featent.core.entropy",
    "MIN_HOLE_SIZE": "featent.core.entropy",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'featent.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
