"""Layer profiles (paper Fig. 5A) with the baselines: for a model and its random init, over classes, per layer
the mean FE beside the mean null FE (maps shuffled), live FE (epsilon >= p), silent share and the FE of iid
units of the same size — the numbers that say whether a fall of FE with depth is structure, size or silence.

One library call, so the app page, the CLI and the experiments report lay out the same table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from featent.errors import DataError

Progress = Callable[[float, str], None]

#: The per-layer numbers of one (model, class, layer) row, in column order.
PROFILE_VALUES = (
    "mean_feature_entropy",
    "mean_null_feature_entropy",
    "structure_gap",
    "mean_live_feature_entropy",
    "silent_share",
    "mean_selective_rate",
    "size_reference",
)
PROFILE_COLUMNS = ("model", "kind", "class_name", "layer", "depth", "unit_size", *PROFILE_VALUES)

__all__ = ["PROFILE_COLUMNS", "PROFILE_VALUES", "ProfileResult", "layer_profiles", "random_counterpart"]


def random_counterpart(spec: str, seed: int = 0) -> str | None:
    """``'vgg16@64'`` -> ``'vgg16:random:0@64'``; None for a spec that already is a random init.

    Family specs (``demo@epochN``, ``demo-corrupt-X``, ``demo-digits``) share DemoNet's random init.
    """
    text = spec.strip()
    if ":random" in text:
        return None
    base, _, size = text.partition("@")
    if base.startswith("demo") or size.startswith(("epoch", "iter")):
        return f"demo:random:{seed}"
    return f"{base}:random:{seed}" + (f"@{size}" if size else "")


@dataclass
class ProfileResult:
    """Rows per (model, class, layer) and their means over classes (Eq. 15)."""

    data: str
    dataset: str  # the dataset's name as loaded, e.g. "fashion" or "fashion-subset"
    models: list[str]
    classes: list[str]
    n_images: int
    seed: int
    rows_per_class: list[dict] = field(default_factory=list)

    def rows(self, average: bool = True) -> list[dict]:
        """One row per (model, layer) with each value averaged over classes and its spread (``sd_*``)."""
        if not average:
            return list(self.rows_per_class)
        out = []
        keys = list(dict.fromkeys((r["model"], r["layer"]) for r in self.rows_per_class))
        for model, layer in keys:
            part = [r for r in self.rows_per_class if r["model"] == model and r["layer"] == layer]
            row = {k: part[0][k] for k in ("model", "kind", "layer", "depth", "unit_size")}
            row["classes"] = len(part)
            for key in PROFILE_VALUES:
                values = np.array([np.nan if r[key] is None else r[key] for r in part], dtype=np.float64)
                finite = values[np.isfinite(values)]
                row[key] = float(finite.mean()) if finite.size else float("nan")
                row[f"sd_{key}"] = float(finite.std()) if finite.size > 1 else 0.0
            out.append(row)
        return out


def layer_profiles(
    model: str,
    data: str,
    classes: Sequence[str] | None = None,
    n_images: int = 100,
    seed: int = 0,
    *,
    random_seed: int | None = 0,
    layers: Sequence[str] | None = None,
    weights: str | None = None,
    baselines: bool = True,
    progress: Progress | None = None,
    cache: bool = True,
    store: object | None = None,
) -> ProfileResult:
    """Profile ``model`` (and, unless ``random_seed`` is None, its random init with that seed) over ``classes``
    (default: the first three of the dataset) on every layer or ``layers``."""
    from featent.data import load_dataset
    from featent.nets import load_model
    from featent.pipeline import Selection, layer_results

    dataset = load_dataset(data)
    chosen = list(classes) if classes else list(dataset.classes[:3])
    for name in chosen:
        if name not in dataset.classes:
            raise DataError(f"Class {name!r} is not in {dataset.name}.")
    specs: list[tuple[str, str, str | None]] = [(model, "model", weights)]
    counterpart = random_counterpart(model, random_seed) if random_seed is not None else None
    if counterpart is not None:
        specs.append((counterpart, "random init", None))
    result = ProfileResult(data=data, dataset=dataset.name, models=[s for s, _, _ in specs], classes=chosen,
                           n_images=n_images, seed=seed)
    jobs = [(s, kind, w, c) for s, kind, w in specs for c in chosen]
    for k, (spec, kind, w, class_name) in enumerate(jobs):
        loaded = load_model(spec, w)
        names = tuple(layers) if layers else tuple(i.name for i in loaded.layers)
        depth = {info.name: d for d, info in enumerate(loaded.layers)}

        def sub(fraction: float, message: str, k: int = k, spec: str = spec, class_name: str = class_name) -> None:
            if progress is not None and (message.startswith("warning:") or fraction < 1.0):
                progress((k + min(fraction, 0.999)) / len(jobs), f"{spec}, class {class_name}: {message}")

        selection = Selection(model=spec, data=data, class_name=class_name, layers=names, n_images=n_images, seed=seed,
                              weights=w)
        for layer, r in layer_results(selection, store=store, progress=sub, cache=cache, baselines=baselines).items():
            gap = r.structure_gap
            result.rows_per_class.append({
                "model": spec, "kind": kind, "class_name": class_name, "layer": layer, "depth": depth[layer],
                "unit_size": loaded.layer(layer).unit_size,
                "mean_feature_entropy": r.mean_feature_entropy,
                "mean_null_feature_entropy": r.mean_null_feature_entropy,
                "structure_gap": None if gap is None else float(gap.mean()),
                "mean_live_feature_entropy": r.mean_live_feature_entropy,
                "silent_share": r.silent_share,
                "mean_selective_rate": r.mean_selective_rate,
                "size_reference": r.size_reference,
            })
    if progress is not None:
        progress(1.0, "done")
    return result
