"""Unit indicators the paper compares feature entropy with (Sec. 4.3, App. A.6), per unit and class.

- L1-norm (Li et al. 2016), APoZ (Hu et al. 2016), class selectivity (Morcos et al. 2018):
  ``featent.indicators.activation``;
- FPGM (He et al. 2019, paper Eq. 13): ``featent.indicators.weights``;
- NISP (Yu et al. 2018, paper Eq. 14) from Inf-FS (Roffo et al. 2015): ``featent.indicators.nisp``,
  ``featent.indicators.feature_selection``;
- FE, selective rate and H/epsilon from ``featent.core.entropy``: ``featent.indicators.entropy``.

Every indicator is an ``Indicator`` of ``REGISTRY`` that computes its own score from the evidence
of one streamed pass (``featent.indicators.scoring``); tables, ablation, pruning and figures iterate
the registry.
"""

from featent.indicators.activation import apoz, class_means, class_selectivity, l1_norm
from featent.indicators.base import Indicator, LayerEvidence, Unavailable
from featent.indicators.capture import forward_capture, layer_filter, layer_filter_weights
from featent.indicators.feature_selection import inf_fs
from featent.indicators.nisp import nisp_backward, nisp_scores
from featent.indicators.registry import (
    ALL_ORDERS,
    INDICATOR_COLUMNS,
    INDICATOR_LABELS,
    LOWER_IS_BETTER,
    RANDOM,
    RANKING,
    REGISTRY,
)
from featent.indicators.scoring import score_layer, unit_scores
from featent.indicators.table import (
    IndicatorTable,
    class_images,
    compute_indicators,
    default_compare_classes,
    model_indicators,
)
from featent.indicators.weights import fpgm

__all__ = [
    "Indicator", "LayerEvidence", "Unavailable", "REGISTRY", "RANKING", "RANDOM", "ALL_ORDERS",
    "INDICATOR_COLUMNS", "INDICATOR_LABELS", "LOWER_IS_BETTER",
    "l1_norm", "apoz", "class_means", "class_selectivity", "fpgm", "inf_fs", "nisp_backward", "nisp_scores",
    "forward_capture", "layer_filter", "layer_filter_weights",
    "score_layer", "unit_scores", "IndicatorTable", "class_images", "default_compare_classes", "model_indicators",
    "compute_indicators",
]
