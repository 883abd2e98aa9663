"""Class to output mapping: by the model's own names, by a given file, by index for featent's own models
on featent's data (silently) or a nameless model with as many outputs (with a note), refused otherwise."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from featent.errors import DataError
from featent.experiments.class_map import BY_INDEX_NOTE, model_class_names, resolve_class_map


def _model(spec: str, n: int) -> SimpleNamespace:
    return SimpleNamespace(spec=spec, n_classes=n)


def _data(*classes: str) -> SimpleNamespace:
    return SimpleNamespace(name="folder", classes=list(classes))


def test_by_name_from_torchvision_categories() -> None:
    names = model_class_names(_model("resnet18", 1000))
    assert names is not None and len(names) == 1000
    found = resolve_class_map(_model("resnet18", 1000), _data("goldfish", "tench"))
    assert found.outputs == [names.index("goldfish"), names.index("tench")] == [1, 0]
    assert "by name" in (found.note or "")
    assert found.labels(torch.tensor([0, 1, 1])).tolist() == [1, 0, 0]


def test_by_file_with_indices_and_output_names(tmp_path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"a": 5, "b": "tench"}))
    found = resolve_class_map(_model("resnet18", 1000), _data("a", "b"), str(path))
    assert found.outputs == [5, 0] and "given class map" in (found.note or "")
    with pytest.raises(DataError, match="no output for 'b'"):
        resolve_class_map(_model("resnet18:random", 1000), _data("a", "b"), {"a": 1})
    with pytest.raises(DataError, match="not an output"):
        resolve_class_map(_model("resnet18:random", 1000), _data("a"), {"a": 1000})


def test_unknown_mapping_with_other_output_count_is_refused() -> None:
    with pytest.raises(DataError, match=r"--class-map FILE\.json"):
        resolve_class_map(_model("resnet18:random@32", 1000), _data("a", "b", "c"))
    own = resolve_class_map(_model("demo", 10), SimpleNamespace(name="fashion", classes=list("abcdefghij")))
    assert own.outputs == list(range(10)) and own.note is None


def test_index_mapping_outside_featent_own_is_stated() -> None:
    for spec in ("demo", "demo@epoch3", "mynet.py:Net", "resnet18:random@32"):
        found = resolve_class_map(_model(spec, 3), _data("a", "b", "c"))
        assert found.outputs == [0, 1, 2] and found.note == BY_INDEX_NOTE
    assert BY_INDEX_NOTE == "Classes mapped to outputs by index (the model names no classes)."


def test_a_model_naming_other_classes_is_refused_even_with_1000_classes() -> None:
    classes = [f"class{i}" for i in range(1000)]
    with pytest.raises(DataError, match=r"names its 1000 outputs, but not 'class0'.*--class-map"):
        resolve_class_map(_model("resnet18", 1000), _data(*classes))


def test_ablation_refuses_accuracy_of_a_1000_output_net_on_fashion(cache_dir) -> None:
    from featent.experiments.ablation import cumulative_ablation
    from featent.spec import Selection

    with pytest.raises(DataError, match="1000 outputs and fashion has 10 classes"):
        cumulative_ablation(Selection("resnet18:random@32", "fashion", "Trouser", ("conv1",), n_images=2),
                            orders=["random"], test_per_class=1, cache=False)
