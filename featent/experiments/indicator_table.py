"""The indicator table as an experiment: every indicator of every unit of one layer on one class.

The computation lives in ``featent.indicators`` (below the experiments); this entry gives it the
experiment contract (declared arguments, a store key from all of them, ``.cached``/``.recall``) so
the app and the CLI keep and find it like every other result.
"""

from __future__ import annotations

from collections.abc import Sequence

from featent.data import load_dataset
from featent.errors import DataError
from featent.experiments.class_map import resolve_class_map
from featent.experiments.contract import experiment
from featent.indicators import IndicatorTable, compute_indicators
from featent.nets import load_model
from featent.progress import ProgressLike
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, NoneOr, validate_params

__all__ = ["indicator_table"]


@experiment("indicators", version=2)
@validate_params({"images_per_class": [NoneOr(Interval(int, 1, None))],
                  "class_map": [NoneOr(InstanceOf((dict, str), "a dict or a JSON file path"))]})
def indicator_table(
    selection: Selection,
    *,
    layer: str | None = None,
    classes: Sequence[str] | None = None,
    images_per_class: int | None = None,
    class_map: dict | str | None = None,
    cache: bool = True,
    progress: ProgressLike = None,
) -> IndicatorTable:
    """``featent.indicators.compute_indicators`` for ``layer`` (default: the selection's first), its class
    accuracy scored on the output ``featent.experiments.class_map`` finds (NaN, with the sentence in the
    notes, when none is known and no ``class_map`` is given; a ``class_map`` that does not fit is an error)."""
    dataset = load_dataset(selection.data)
    try:
        mapping = resolve_class_map(load_model(selection.model, selection.weights), dataset, class_map)
    except DataError as exc:
        if class_map is not None:
            raise
        table = compute_indicators(selection, layer, classes, images_per_class, progress, cache=cache)
        table.accuracy = float("nan")
        table.notes.append(f"Class accuracy is not reported: {exc}")
        return table
    known = selection.class_name in dataset.classes  # an unknown class is refused below, in its sentence
    table = compute_indicators(selection, layer, classes, images_per_class, progress, cache=cache,
                               class_index=mapping.outputs[dataset.classes.index(selection.class_name)] if known else None)
    if mapping.note:
        table.notes.append(mapping.note)
    return table
