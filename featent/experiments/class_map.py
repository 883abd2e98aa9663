"""Which model output scores which dataset class, for every accuracy featent reports.

A dataset class is an output index silently only when that is known to be right: featent's own
models (the demo family) on featent's own data (same class count); a mapping by name where the model knows its class names
(torchvision weights' ``meta["categories"]``, timm's pretrained config ``label_names``, ImageNet
synset folders such as ``n01440764`` when the model has ImageNet's 1000 outputs and a synset list is
installed), or an explicit mapping (``class_map=`` a dict or a JSON file of class -> output index or
output name). Otherwise, when the output count differs from the class count, the accuracy is refused
with one sentence on how to give a mapping. A mapping in use is stated in the result's notes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from featent.errors import DataError
from featent.spec import ModelSpec

__all__ = ["ClassMap", "resolve_class_map", "model_class_names", "HOW_TO_MAP", "BY_INDEX_NOTE"]

#: The note of an index mapping for anything but featent's own models on featent's own data.
BY_INDEX_NOTE = "Classes mapped to outputs by index (the model names no classes)."
#: featent's built-in datasets, whose classes are the demo family's outputs in order.
_OWN_DATA = ("fashion", "fashion-subset", "digits")

HOW_TO_MAP = ("give a mapping from each dataset class to a model output with --class-map FILE.json "
              "(class_map= in Python), e.g. {\"cat\": 281, \"dog\": \"golden retriever\"}")


class ClassMap:
    """Dataset class index -> model output index, with the sentence saying how it was chosen."""

    def __init__(self, outputs: Sequence[int], note: str | None) -> None:
        self.outputs = [int(o) for o in outputs]
        self.note = note

    def labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Dataset labels as output indices."""
        return torch.tensor(self.outputs, dtype=torch.long)[labels.long()]


def model_class_names(model) -> list[str] | None:
    """The model's own output names: torchvision weights' categories or timm's label names (offline)."""
    try:
        spec = ModelSpec.parse(model.spec)
    except Exception:  # noqa: BLE001 - an own module's label is no spec: it knows no names
        return None
    if spec.seed is not None:
        return None  # a random init knows no class names
    if spec.name.startswith("timm/"):
        try:
            from timm.models import get_pretrained_cfg

            names = getattr(get_pretrained_cfg(spec.name[5:]), "label_names", None)
        except Exception:  # noqa: BLE001 - timm absent or the name unknown
            return None
        return list(names) if names else None
    try:
        import torchvision.models as tvm

        categories = tvm.get_model_weights(spec.name).DEFAULT.meta.get("categories")
    except Exception:  # noqa: BLE001 - not a torchvision model with weights
        return None
    return list(categories) if categories else None


def _featent_own(model, dataset) -> bool:
    """A demo-family model on one of featent's built-in datasets: index is the mapping it was trained with."""
    try:
        spec = ModelSpec.parse(model.spec)
    except Exception:  # noqa: BLE001 - an own module's label is no spec
        return False
    own_model = spec.code is None and (spec.name == "demo" or spec.name.startswith("demo-"))
    return own_model and getattr(dataset, "name", None) in _OWN_DATA


def _synsets() -> list[str] | None:
    """ImageNet's synset ids in output order, if a package on this machine ships them (none is needed)."""
    try:
        from timm.data import ImageNetInfo  # type: ignore[attr-defined]

        return list(ImageNetInfo().label_names())
    except Exception:  # noqa: BLE001 - timm absent or too old
        return None


def _read(class_map: Mapping[str, object] | str | os.PathLike) -> dict[str, object]:
    if isinstance(class_map, Mapping):
        return dict(class_map)
    path = Path(class_map)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read the class map {str(path)!r}: {exc}; it must be a JSON object of class -> output.") from None
    if not isinstance(data, dict):
        raise DataError(f"The class map {str(path)!r} must be a JSON object of class -> output index or name.")
    return data


def resolve_class_map(model, dataset, class_map: Mapping[str, object] | str | os.PathLike | None = None) -> ClassMap:
    """How ``dataset``'s classes map to ``model``'s outputs; DataError when it cannot be known."""
    classes = list(dataset.classes)
    n_out = int(model.n_classes)
    names = model_class_names(model)
    if class_map is not None:
        given = _read(class_map)
        missing = [c for c in classes if c not in given]
        if missing:
            raise DataError(f"The class map gives no output for {', '.join(map(repr, missing[:5]))}; map every class.")
        outputs = []
        for c in classes:
            value = given[c]
            if isinstance(value, str) and names and value in names:
                value = names.index(value)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n_out:
                raise DataError(f"The class map sends {c!r} to {value!r}, which is not an output (0..{n_out - 1}) "
                                "or an output name of this model.")
            outputs.append(value)
        return ClassMap(outputs, f"Classes mapped to outputs by the given class map ({len(outputs)} classes).")
    if names and all(c in names for c in classes):
        return ClassMap([names.index(c) for c in classes], "Classes mapped to the model's outputs by name.")
    if n_out == 1000 and all(len(c) == 9 and c[0] == "n" and c[1:].isdigit() for c in classes):
        synsets = _synsets()
        if synsets and all(c in synsets for c in classes):
            return ClassMap([synsets.index(c) for c in classes], "ImageNet synset folders mapped to outputs by synset id.")
        raise DataError("The folders are ImageNet synsets but no synset list is installed (timm ships one); "
                        + HOW_TO_MAP + ".")
    if n_out == len(classes) and _featent_own(model, dataset):
        return ClassMap(list(range(n_out)), None)
    if names:
        unknown = [c for c in classes if c not in names]
        raise DataError(f"The model names its {n_out} outputs, but not {', '.join(map(repr, unknown[:3]))} of "
                        f"{dataset.name}; {HOW_TO_MAP}.")
    if n_out == len(classes):
        return ClassMap(list(range(n_out)), BY_INDEX_NOTE)
    raise DataError(f"The model has {n_out} outputs and {dataset.name} has {len(classes)} classes, and which output "
                    f"scores which class is not known; {HOW_TO_MAP}.")
