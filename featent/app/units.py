"""Unit views shared by the gallery and the inspector: top-activating images with their maps laid
over them, FE/ε badges, what a unit's FE is made of, and the jump from a unit to the inspector."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from featent.app import cached, navigation
from featent.app.errors import shown_in_place
from featent.app.layout import image_captions
from featent.core import entropy
from featent.experiments.gallery import top_images
from featent.plots import gallery as gallery_plots
from featent.plots.births import fe_parts

#: Top images across classes look at this many images of each class (at most this many classes).
PER_CLASS = 20
MAX_CLASSES = 20


def badges(fe: float, eps: float, gap: float | None = None, p: float = entropy.DEFAULT_P, *,
           conditional: float | None = None, few: bool = False) -> str:
    """Markdown badges: FE, ε, structure gap when known, the conditional FE H(x | born) when defined
    (marked 'few births' when it rests on fewer than MIN_BORN_IMAGES images), and 'silent' when ε < p."""
    parts = [f":blue-badge[FE {fe:.2f}]", f":gray-badge[ε {eps:.2f}]"]
    if gap is not None and np.isfinite(gap):
        parts.append(f":green-badge[gap {gap:+.2f}]")
    if conditional is not None and np.isfinite(conditional):
        parts.append(f":violet-badge[H|born {conditional:.2f}]")
    if few:
        parts.append(":red-badge[few births]")
    if eps < p:
        parts.append(":orange-badge[silent]")
    return " ".join(parts)


def open_in_inspector(ctx, layer: str, unit: int, image: int | None = None) -> None:
    """Go to the inspector on ``layer``/``unit`` with the same selection (and the link says so)."""
    sel = ctx.selection
    params = {"model": sel.model, "data": sel.data, "class": sel.class_name, "layer": layer, "unit": unit,
              "images": sel.n_images, "seed": sel.seed}
    if image is not None:
        params["image"] = image
    st.switch_page(navigation.page("unit_inspector"), query_params={k: str(v) for k, v in params.items()})


def top_images_panel(ctx, layer: str, unit: int, k: int = 8, *, key: str = "top") -> None:
    """Two rows of overlays: the unit's top-k images of the class, and over (up to 20) classes."""
    selection = replace(ctx.for_layers(layer))
    with shown_in_place(stop=False):
        maps = cached.layer_maps(selection, layer, ctx.fingerprint)
        images, ids = cached.sample_images(selection, ctx.fingerprint)
        best = [int(i) for i in top_images(maps.scores, unit, k)]
        unit_maps = cached.maps_of(selection, layer, unit, tuple(best), ctx.fingerprint)
        vmax = float(unit_maps.max()) if unit_maps.size else None
        st.markdown(f"**Top {len(best)} of the {maps.n_images} sampled images of class '{ctx.selection.class_name}'** "
                    "(ranked by the unit's mean activation; colour = where it responds)")
        st.image([gallery_plots.overlay(images[i], m, size=96, vmax=vmax) for i, m in zip(best, unit_maps)],
                 width=96, caption=image_captions(best, ids))
        across = st.toggle("Also across classes", key=f"{key}_across",
                           help=f"{PER_CLASS} images of each class (the first {MAX_CLASSES} classes), same seed.")
        if across:
            classes = list(ctx.dataset.classes)
            if len(classes) > MAX_CLASSES:
                start = classes.index(ctx.selection.class_name)
                classes = [classes[(start + j) % len(classes)] for j in range(MAX_CLASSES)]
            tops = cached.top_across_classes(selection, layer, unit, k, PER_CLASS, tuple(classes), ctx.fingerprint)
            shown, captions = [], []
            for t in tops:
                other = replace(selection, class_name=t.class_name, n_images=PER_CLASS)
                img = cached.class_images(selection, t.class_name, PER_CLASS, (t.index,), ctx.fingerprint)[0]
                umap = cached.maps_of(other, layer, unit, (t.index,), ctx.fingerprint)[0]
                shown.append(gallery_plots.overlay(img, umap, size=96, vmax=vmax))
                captions.append(f"#{t.index} · {t.image_id.rsplit('/', 1)[-1]} ({t.class_name})")
            st.image(shown, width=96, caption=captions)


def fe_parts_panel(where, result, unit: int) -> None:
    """The "what this FE is made of" table of one unit (``featent.plots.births.fe_parts``), in an expander."""
    null = None if result.null_births is None else result.null_births[:, unit]
    rows = fe_parts(result.births[:, unit], null, result.size_reference, result.size_reference_conditional)
    with where.expander("What this FE is made of", expanded=False, icon=":material/stacked_bar_chart:"):
        st.caption("Frequency ε, silence (Eq. 12), size and stability: for a live unit FE = ε·H(x | born) − ε ln ε, "
                   "so a unit born on more images gets a higher FE even when its births are as steady.")
        st.dataframe(rows, hide_index=True, width="stretch", key=f"fe_parts_{unit}")
