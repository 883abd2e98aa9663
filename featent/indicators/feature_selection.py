"""Unsupervised Infinite Feature Selection (Roffo et al. 2015), the start of NISP's backward pass."""

from __future__ import annotations

import numpy as np

from featent.errors import FeatentError

__all__ = ["INF_FS_ALPHA", "INF_FS_FACTOR", "inf_fs"]

#: Inf-FS mixing coefficient alpha and the r = factor / rho(A) factor (Roffo et al. 2015, Sec. 3).
INF_FS_ALPHA = 0.5
INF_FS_FACTOR = 0.9

def _spearman(x: np.ndarray) -> np.ndarray:
    """Spearman correlation between columns; constant columns correlate 0 (as Inf-FS sets NaN to 0)."""
    from scipy.stats import rankdata

    ranks = rankdata(x, axis=0)
    ranks -= ranks.mean(axis=0)
    norm = np.sqrt((ranks * ranks).sum(axis=0))
    safe = np.where(norm > 0, norm, 1.0)
    corr = (ranks.T @ ranks) / np.outer(safe, safe)
    corr[(norm == 0)[:, None] | (norm == 0)[None, :]] = 0.0
    return corr


def inf_fs(features: object, alpha: float = INF_FS_ALPHA, factor: float = INF_FS_FACTOR) -> np.ndarray:
    """Unsupervised Infinite Feature Selection scores (Roffo et al. 2015), one per feature column.

    A = alpha * sigma + (1 - alpha) * (1 - |Spearman|), sigma_ij = max(std_i, std_j) min-max
    normalised to [0, 1] (as in the authors' toolbox); S = (I - rA)^-1 - I with r = factor / rho(A);
    score s_i = sum_j S_ij, computed by one linear solve.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise FeatentError(f"Inf-FS needs features [n_samples >= 2, n_features >= 1], got shape {x.shape}.")
    if not 0.0 <= alpha <= 1.0 or not 0.0 < factor < 1.0:
        raise FeatentError(f"Inf-FS needs alpha in [0, 1] and factor in (0, 1), got {alpha!r} and {factor!r}.")
    std = x.std(axis=0, ddof=1)
    sigma = np.maximum(std[:, None], std[None, :])
    sigma = sigma - sigma.min()
    top = sigma.max()
    sigma = sigma / top if top > 0 else np.zeros_like(sigma)
    a = alpha * sigma + (1.0 - alpha) * (1.0 - np.abs(_spearman(x)))
    from scipy.linalg import eigvalsh, solve

    n = a.shape[0]
    rho = float(eigvalsh(a, subset_by_index=[n - 1, n - 1])[0])
    if rho <= 0:
        return np.zeros(n)
    r = factor / rho
    ones = np.ones(n)
    return solve(np.eye(n) - r * a, ones, assume_a="sym") - ones


