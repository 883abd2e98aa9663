"""The indicator table as an experiment: every indicator of every unit of one layer on one class.

The computation lives in ``featent.indicators`` (below the experiments); this entry gives it the
experiment contract (declared arguments, a store key from all of them, ``.cached``/``.recall``) so
the app and the CLI keep and find it like every other result.
"""

from __future__ import annotations

from collections.abc import Sequence

from featent.experiments.contract import experiment
from featent.indicators import IndicatorTable, compute_indicators
from featent.progress import ProgressLike
from featent.spec import Selection
from featent.validation import Interval, NoneOr, validate_params

__all__ = ["indicator_table"]


@experiment("indicators", version=1)
@validate_params({"images_per_class": [NoneOr(Interval(int, 1, None))]})
def indicator_table(
    selection: Selection,
    *,
    layer: str | None = None,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    cache: bool = True,
    progress: ProgressLike = None,
) -> IndicatorTable:
    """``featent.indicators.compute_indicators`` for ``layer`` (default: the selection's first)."""
    return compute_indicators(selection, layer, classes, images_per_class, progress, cache=cache)
