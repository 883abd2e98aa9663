"""FPGM (He et al. 2019): a filter close to the geometric median of its layer is replaceable."""

from __future__ import annotations

import numpy as np

from featent.errors import FeatentError
from featent.indicators.base import Indicator, LayerEvidence
from featent.indicators.capture import layer_filter_weights

__all__ = ["fpgm", "FPGM"]


def fpgm(weights: object) -> np.ndarray:
    """g(F_i) = sum_j ||F_i - F_j||_2 over the layer's N filters (He et al. 2019 Eq. 4, paper Eq. 13).

    ``weights`` is the conv weight ``[n_filters, ...]``; each filter is flattened.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim < 2 or w.shape[0] < 1:
        raise FeatentError(f"FPGM needs filter weights [n_filters, ...], got shape {w.shape}.")
    flat = w.reshape(w.shape[0], -1)
    sq = (flat * flat).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T, 0.0)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2).sum(axis=1)


class FPGM(Indicator):
    """Close to the geometric median: replaceable by the other filters (He et al. 2019)."""

    key, label, lower_is_better = "fpgm", "FPGM", False
    least_important_first = "asc"
    needs = frozenset({"weights"})

    def compute(self, evidence: LayerEvidence) -> np.ndarray:
        with evidence.model.lock:  # layer_filter_weights traces the model
            return fpgm(layer_filter_weights(evidence.model, evidence.layer))
