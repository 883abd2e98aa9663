"""Unit thumbnails and activation overlays: colour images from maps, and figures of many of them.

Why arrays as well as figures: a gallery of 512 units is drawn fastest as small images, while a
figure is what a slide or a paper wants; both come from the same colouring here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, sequential
from plotly.subplots import make_subplots

from featent.plots.style import style
from featent.plots.unit import image_rgb

__all__ = ["colorize", "thumbnail", "overlay", "image_grid"]

_VIRIDIS = np.array([hex_to_rgb(c) for c in sequential.Viridis], dtype=np.float64)


def colorize(values: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """uint8 [..., 3] Viridis colours of ``values`` scaled to [vmin, vmax] (its own range by default).

    A constant map (a dead unit) is the lowest colour everywhere.
    """
    v = np.asarray(values, dtype=np.float64)
    low = float(np.min(v)) if vmin is None else float(vmin)
    high = float(np.max(v)) if vmax is None else float(vmax)
    t = np.clip((v - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(v)
    position = t * (len(_VIRIDIS) - 1)
    lower = np.floor(position).astype(int).clip(0, len(_VIRIDIS) - 2)
    frac = (position - lower)[..., None]
    rgb = _VIRIDIS[lower] * (1 - frac) + _VIRIDIS[lower + 1] * frac
    return rgb.round().astype(np.uint8)


def _resize_nearest(array: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of the first two axes to ``size`` x ``size`` (keeps blocky cells visible)."""
    h, w = array.shape[:2]
    rows = (np.arange(size) * h // size).clip(0, h - 1)
    cols = (np.arange(size) * w // size).clip(0, w - 1)
    return array[rows][:, cols]


def thumbnail(unit_map: np.ndarray, size: int = 96, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """uint8 [size, size, 3]: a unit's map coloured and enlarged for a gallery cell."""
    return _resize_nearest(colorize(unit_map, vmin, vmax), size)


def overlay(image: np.ndarray, unit_map: np.ndarray, alpha: float = 0.55, size: int | None = None,
            vmax: float | None = None) -> np.ndarray:
    """uint8 [S, S, 3]: the image with the unit's map laid over it (colour where the unit responds).

    Each pixel mixes in the map's colour in proportion to the map's value there (0 = image only),
    so silent parts of the map leave the image readable.
    """
    rgb = image_rgb(image)
    side = size or rgb.shape[0]
    rgb = _resize_nearest(rgb, side)
    m = np.asarray(unit_map, dtype=np.float64)
    top = float(m.max()) if vmax is None else float(vmax)
    weight = np.clip(m / top, 0.0, 1.0) if top > 0 else np.zeros_like(m)
    colour = colorize(m, 0.0, top if top > 0 else 1.0) / 255.0
    weight = _resize_nearest(weight, side)[..., None] * float(alpha)
    colour = _resize_nearest(colour, side)
    return ((rgb * (1 - weight) + colour * weight) * 255).round().astype(np.uint8)


def image_grid(images: Sequence[np.ndarray], captions: Sequence[str], cols: int = 8,
               title: str = "Units", cell: int = 120) -> go.Figure:
    """A grid of uint8 RGB images with a caption above each (a gallery page or top images as one figure)."""
    if len(images) != len(captions):
        raise ValueError("one caption per image")
    n = max(1, len(images))
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(captions) or None,
                        horizontal_spacing=0.02, vertical_spacing=0.25 / rows if rows > 1 else 0.0)
    for k, img in enumerate(images):
        fig.add_trace(go.Image(z=np.asarray(img), hoverinfo="skip"), row=k // cols + 1, col=k % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=10)
    return style(fig, title, height=60 + rows * (cell + 24), width=max(400, cols * cell + 40),
                 margin={"l": 10, "r": 10, "t": 60, "b": 10})
