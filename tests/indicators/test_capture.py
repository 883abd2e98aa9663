"""featent.indicators.capture: the conv behind a layer and the forward capture."""
from __future__ import annotations

import numpy as np
import torch

from featent import indicators


def test_layer_filter_and_forward_capture(tiny, random_images):
    conv, bn = indicators.layer_filter(tiny, "block1_conv1")
    assert conv is tiny.module.features[0] and bn is None
    images = random_images(6, 0)
    acts, frl, logits = indicators.forward_capture(tiny, images, "block1_conv1")
    with torch.no_grad():
        expected_acts = torch.relu(conv(images))
        hidden = torch.relu(tiny.module.classifier[1](torch.flatten(tiny.module.features(images), 1)))
        np.testing.assert_allclose(acts, expected_acts.numpy(), rtol=1e-6)
        np.testing.assert_allclose(frl, hidden.numpy(), rtol=1e-6)
        np.testing.assert_allclose(logits, tiny.module(images).numpy(), rtol=1e-6)


def test_structure_lookups_run_no_forward_pass(tiny, monkeypatch):
    """layer_filter and nisp_scores read the module tree only: safe on a model another thread runs."""
    frl = np.random.default_rng(0).random((6, 5))

    def refuse(*_args, **_kwargs):
        raise AssertionError("forward pass during a structure lookup")

    monkeypatch.setattr(tiny.module, "forward", refuse)
    assert indicators.layer_filter(tiny, "block1_conv1")[0] is tiny.module.features[0]
    assert indicators.nisp_scores(tiny, "block1_conv1", frl).shape == (2,)
