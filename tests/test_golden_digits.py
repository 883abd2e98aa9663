"""The digits demo keeps its exact births and FE.

The hashes in ``tests/fixtures/golden_digits_births.json`` record demo and demo:random:3 on digits,
classes 1, 4 and 7, 50 images, seed 0, every layer, store bypassed. Any change to the kernel, the
data, the weights or the sampling shows here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from featent.core.entropy import feature_entropy
from featent.nets import load_model
from featent.pipeline import Selection, compute_births

GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "golden_digits_births.json").read_text())
#: The spec under which the recorded digits weights are loaded today.
DIGITS_MODEL = {"demo": "demo-digits", "demo:random:3": "demo:random:3"}


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("recorded_spec", sorted(DIGITS_MODEL))
@pytest.mark.parametrize("class_name", ["1", "4", "7"])
def test_births_and_entropy_match_the_recording(recorded_spec: str, class_name: str) -> None:
    model = load_model(DIGITS_MODEL[recorded_spec])
    layers = tuple(info.name for info in model.layers)
    selection = Selection(DIGITS_MODEL[recorded_spec], "digits", class_name, layers, n_images=50, seed=0)
    births = compute_births(selection, cache=False)
    for layer in layers:
        expected_births, expected_fe = GOLDEN[f"{recorded_spec}|{class_name}|{layer}"]
        assert _digest(births[layer]) == expected_births, layer
        assert _digest(feature_entropy(births[layer])) == expected_fe, layer
