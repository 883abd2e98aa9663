"""featent.indicators.nisp: Eq. 19 backward steps and NISP scores from Inf-FS."""
from __future__ import annotations

import numpy as np
import pytest

from featent import indicators
from featent.errors import FeatentError, ModelError


def test_nisp_backward_linear_conv_and_channels():
    # s_in,i = sum_j |W_ji| s_j with W = [[1, -2], [0, 3]], s = [1, 2] -> [1, 2*1 + 3*2]
    np.testing.assert_allclose(indicators.nisp_backward([[1.0, -2.0], [0.0, 3.0]], [1.0, 2.0]), [1.0, 8.0])
    conv = np.array([[[[1.0, -1.0]]], [[[2.0, 0.0]]]])  # [2 out, 1 in, 1, 2]
    np.testing.assert_allclose(indicators.nisp_backward(conv, [1.0, 3.0]), [2 * 1 + 2 * 3])
    # a Linear reading a flattened [2, 1, 2] map: inputs [2, 4, 6, 8] summed per channel
    np.testing.assert_allclose(indicators.nisp_backward([[1.0, 2.0, 3.0, 4.0]], [2.0], n_channels=2), [6.0, 14.0])
    with pytest.raises(FeatentError, match="does not match"):
        indicators.nisp_backward(np.ones((2, 2)), [1.0, 2.0, 3.0])


def test_nisp_scores_follow_eq19_from_inf_fs(tiny, random_images):
    images = random_images(12, 1)
    _, frl, _ = indicators.forward_capture(tiny, images, "block1_conv1")
    w1 = tiny.module.classifier[1].weight.detach().numpy()
    expected = indicators.nisp_backward(w1, indicators.inf_fs(frl), n_channels=2)
    np.testing.assert_allclose(indicators.nisp_scores(tiny, "block1_conv1", frl), expected)


def test_nisp_refuses_residual_nets():
    from featent.pipeline import load_model

    resnet = load_model("resnet18:random@64")
    with pytest.raises(ModelError, match="residual"):
        indicators.nisp_scores(resnet, "conv5_2_out", np.ones((3, 512)))
