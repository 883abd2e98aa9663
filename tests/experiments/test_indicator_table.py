"""featent.experiments.indicator_table: the class accuracy beside the indicators follows the class mapping."""

from __future__ import annotations

import math

import pytest
import torch

from featent.data import load_dataset
from featent.errors import DataError
from featent.experiments.indicator_table import indicator_table
from featent.spec import Selection


def test_accuracy_is_refused_mapped_or_rejected_like_every_accuracy(tiny_cnn, image_folder, cache_dir):
    """tiny_cnn has 3 outputs and names no classes; the folder has 2 classes (cat, dog)."""
    selection = Selection(tiny_cnn, str(image_folder), "dog", ("block1_conv1",), n_images=3)
    refused = indicator_table(selection)
    assert math.isnan(refused.accuracy) and math.isfinite(float(refused.values["h_over_eps"].min()))
    assert any(n.startswith("Class accuracy is not reported: The model has 3 outputs") for n in refused.notes)
    mapped = indicator_table(selection, class_map={"cat": 0, "dog": 2})
    assert "Classes mapped to outputs by the given class map (2 classes)." in mapped.notes
    images = load_dataset(str(image_folder)).sample("dog", 3, 0, "train", 16).images
    with torch.no_grad():
        expected = float((tiny_cnn.module(tiny_cnn.preprocess(images)).argmax(1) == 2).float().mean())
    assert mapped.accuracy == expected
    with pytest.raises(DataError, match="sends 'dog' to 3, which is not an output"):
        indicator_table(selection, class_map={"cat": 0, "dog": 3})
