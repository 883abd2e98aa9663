"""Four unit roles from feature entropy on training vs test images (arXiv v1 of the paper).

A unit is *effective* on a set of images when its feature entropy there is at most a threshold
(low FE = the unit perceives a common feature of the class). Comparing a class's training and
test images sorts the units of a layer into four roles: effective on both (generalizing feature
detectors), only on training (memorizing), only on test, and on neither.

Default threshold: the median FE of the layer's *valid* units over both sets pooled (valid: a
selective rate of at least p, so Eq. 12 did not replace the entropy; all units when none is
valid), the same value for both sets. It is relative to the layer, so it needs no tuning across
models, and dead units (epsilon = 0, FE = ln|Omega|) cannot drag it up: a plain median over a layer
whose half is silent would call every live unit effective. Either threshold can be set by hand.
FE depends on the image count through Eq. 12, so both sets use the same number of images (the
training births are cut to the test count: a sample is a prefix of a larger one).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from featent.core import entropy
from featent.core.topology import birth_times
from featent.errors import DataError, FeatentError
from featent.experiments.contract import ExperimentResult, SelectionFields, experiment
from featent.experiments.masking import labelled_images, one_layer_context
from featent.extract import extract_activations
from featent.pipeline import compute_births
from featent.progress import Progress, ProgressLike
from featent.spec import Selection
from featent.validation import InstanceOf, Interval, NoneOr, validate_params

ROLES = ("both", "train-only", "test-only", "neither")
ROLE_LABELS = {
    "both": "Effective on training and test",
    "train-only": "Effective on training only",
    "test-only": "Effective on test only",
    "neither": "Effective on neither",
}

__all__ = ["ROLES", "ROLE_LABELS", "RoleTable", "default_threshold", "assign_roles", "unit_roles"]


def default_threshold(
    fe_train: np.ndarray,
    fe_test: np.ndarray,
    eps_train: np.ndarray | None = None,
    eps_test: np.ndarray | None = None,
    p: float = entropy.DEFAULT_P,
) -> float:
    """The median FE over training and test pooled, of the entries with selective rate >= p when
    the rates are given (all entries when none qualifies)."""
    fe = np.concatenate([np.asarray(fe_train, float).ravel(), np.asarray(fe_test, float).ravel()])
    if eps_train is not None and eps_test is not None:
        eps = np.concatenate([np.asarray(eps_train, float).ravel(), np.asarray(eps_test, float).ravel()])
        if eps.shape != fe.shape:
            raise FeatentError("Selective rates must match the feature entropies unit for unit.")
        if np.any(eps >= p):
            fe = fe[eps >= p]
    return float(np.median(fe))


def assign_roles(
    fe_train: np.ndarray,
    fe_test: np.ndarray,
    train_threshold: float | None = None,
    test_threshold: float | None = None,
    eps_train: np.ndarray | None = None,
    eps_test: np.ndarray | None = None,
    p: float = entropy.DEFAULT_P,
) -> tuple[np.ndarray, float, float]:
    """Role of each unit (``ROLES`` strings) and the two thresholds used (FE <= threshold: effective).

    A threshold left as None is ``default_threshold`` (of the valid units when rates are given).
    """
    a = np.asarray(fe_train, dtype=np.float64)
    b = np.asarray(fe_test, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise FeatentError(f"Training and test FE must be equally long 1-D arrays, got {a.shape} and {b.shape}.")
    median = default_threshold(a, b, eps_train, eps_test, p)
    t_train = median if train_threshold is None else float(train_threshold)
    t_test = median if test_threshold is None else float(test_threshold)
    if not (np.isfinite(t_train) and np.isfinite(t_test)):
        raise FeatentError("Role thresholds must be finite numbers.")
    on_train, on_test = a <= t_train, b <= t_test
    roles = np.where(on_train & on_test, "both", np.where(on_train, "train-only", np.where(on_test, "test-only", "neither")))
    return roles.astype(object), t_train, t_test


@dataclass
class RoleTable(SelectionFields, ExperimentResult):
    """Per-unit FE and selective rate on training and test images of a class, and the roles."""

    selection: Selection  # one layer
    n_images: int  # images on each side
    fe_train: np.ndarray
    fe_test: np.ndarray
    eps_train: np.ndarray
    eps_test: np.ndarray
    train_threshold: float
    test_threshold: float
    roles: np.ndarray
    p: float = entropy.DEFAULT_P

    @property
    def layer(self) -> str:
        return self.selection.layers[0]

    def with_thresholds(self, train_threshold: float | None, test_threshold: float | None) -> RoleTable:
        """The same units sorted again with other thresholds (None: the default median)."""
        roles, t_train, t_test = assign_roles(self.fe_train, self.fe_test, train_threshold, test_threshold,
                                              self.eps_train, self.eps_test, self.p)
        return dataclasses.replace(self, roles=roles, train_threshold=t_train, test_threshold=t_test)

    def counts(self) -> dict[str, int]:
        return {role: int(np.count_nonzero(self.roles == role)) for role in ROLES}

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: FE and selective rate on both sides, and the role."""
        return pd.DataFrame({
            "unit": np.arange(self.fe_train.size), "fe_train": self.fe_train, "fe_test": self.fe_test,
            "eps_train": self.eps_train, "eps_test": self.eps_test, "role": self.roles.astype(str),
        })


def _test_births(one: Selection, model, dataset, layer: str, n: int, progress: Progress, cache: bool) -> np.ndarray:
    if "test" in dataset.splits:
        return compute_births(one.replace(split="test", n_images=n), progress=progress, cache=cache)[layer]
    images, _ = labelled_images(dataset, [one.class_name], n, one.seed, model.input_size, "test", skip=one.n_images)
    acts = extract_activations(model, images, [layer])[layer]
    return np.asarray(birth_times(acts), dtype=np.int32)


@experiment("roles", version=1)
@validate_params({
    "selection": InstanceOf(Selection),
    "layer": NoneOr(InstanceOf(str)),
    "train_threshold": NoneOr(Interval(float, None, None)),
    "test_threshold": NoneOr(Interval(float, None, None)),
    "p": Interval(float, 0.0, 1.0),
}, FeatentError)
def unit_roles(
    selection: Selection,
    *,
    layer: str | None = None,
    train_threshold: float | None = None,
    test_threshold: float | None = None,
    p: float = entropy.DEFAULT_P,
    progress: ProgressLike = None,
    cache: bool = True,
) -> RoleTable:
    """Roles of every unit of ``layer`` for the selection's class (births cached as for FE).

    Up to ``selection.n_images`` test images (held-out training images for a folder without a
    test split) and as many of the selection's images.
    """
    progress = Progress.of(progress)
    layer, one, model, dataset = one_layer_context(selection, layer)
    train = compute_births(one, progress=progress.subrange(0.0, 0.5), cache=cache)[layer]
    test = _test_births(one, model, dataset, layer, one.n_images, progress.subrange(0.5, 1.0), cache)
    n = min(train.shape[0], test.shape[0])
    if n < 2:
        raise DataError(f"Class {one.class_name!r} has fewer than 2 test images; roles need at least 2 on each side.")
    train, test = train[:n], test[:n]
    fe_train = np.asarray(entropy.feature_entropy(train, p), dtype=np.float64)
    fe_test = np.asarray(entropy.feature_entropy(test, p), dtype=np.float64)
    eps_train = np.asarray(entropy.selective_rate(train), dtype=np.float64)
    eps_test = np.asarray(entropy.selective_rate(test), dtype=np.float64)
    roles, t_train, t_test = assign_roles(fe_train, fe_test, train_threshold, test_threshold, eps_train, eps_test, p)
    progress(1.0, "roles done")
    return RoleTable(
        selection=one, n_images=n, fe_train=fe_train, fe_test=fe_test, eps_train=eps_train, eps_test=eps_test,
        train_threshold=t_train, test_threshold=t_test, roles=roles, p=p,
    )
