"""featent.plots.animation: the frames a browser plays show exactly the method's graph at each step."""

from __future__ import annotations

import numpy as np
import pytest

from featent.core import topology
from featent.core.cycles import hole_cycle
from featent.plots import animation

TOY = np.array([[0.10, 0.90, 0.20, 0.05], [0.30, 0.15, 0.25, 0.80], [0.70, 0.20, 0.10, 0.35], [0.00, 0.10, 0.60, 0.20]])


def _pieces(trace: dict) -> int:
    return sum(1 for x in trace["x"] if x is None)


def test_every_frame_has_the_edges_triangles_and_betti_numbers_of_its_step() -> None:
    fig = animation.filtration_animation(TOY)
    spec = fig.to_dict()
    frames = spec["frames"]
    assert [f["name"] for f in frames] == [str(v) for v in range(1, 17)]
    curves = topology.betti_curves(TOY)
    labels = [step["label"] for step in spec["layout"]["sliders"][0]["steps"]]
    for v, frame in enumerate(frames, start=1):
        circles, triangles, old, new, hole, line = frame["data"]
        caption = {"text": [labels[v - 1]]}
        cx = topology.clique_complex(TOY, v)
        assert _pieces(old) + _pieces(new) == cx.edges.shape[0]
        assert _pieces(triangles) == cx.triangles.shape[0]
        assert len(circles["x"]) == int(np.count_nonzero(topology.filtration_values(TOY)[v - 1] <= TOY))
        assert line["x"] == [v, v]
        assert f"β0 = {curves[0, v - 1]} · β1 = {curves[1, v - 1]}" in caption["text"][0]
        if _pieces(hole):  # the born ring, drawn only while it is a hole (exactly: the test below)
            assert v >= 4 and curves[1, v - 1] > 0
        assert _pieces(hole) == 1 or v != 4  # born at step 4
    speeds = [1000 / b["args"][1]["frame"]["duration"] for b in spec["layout"]["updatemenus"][0]["buttons"][:-1]]
    assert speeds == list(animation.SPEEDS) and min(speeds) <= 2  # Play is slow enough to talk over; faster on demand
    assert spec["layout"]["sliders"][0]["active"] == 0  # starts at step 1: nothing in before Play


def _drawn_triangles(trace: dict, position: dict[tuple[float, float], int]) -> set[tuple[int, ...]]:
    """The triangles a frame shades, read back from its polyline (x, y, x, y, x, y, x, y, None ...)."""
    xs, ys = trace["x"], trace["y"]
    found = set()
    for k in range(0, len(xs), 5):
        corners = [position[(round(xs[k + c], 4), round(ys[k + c], 4))] for c in range(3)]
        assert (xs[k + 3], ys[k + 3]) == (xs[k], ys[k]) and xs[k + 4] is None
        found.add(tuple(sorted(corners)))
    return found


def _is_hole(unit: np.ndarray, v: int, ring: list[int]) -> bool:
    """Is the ring a hole of the complex at step v? (β1 drops when a triangle-filling of it is added.)"""
    cx = topology.clique_complex(unit, v)
    edges = {tuple(e) for e in cx.edges.tolist()}
    index = {e: k for k, e in enumerate(sorted(edges))}

    def vec(pairs):
        row = np.zeros(len(index), dtype=np.uint8)
        for a, b in pairs:
            row[index[(min(a, b), max(a, b))]] ^= 1
        return row

    boundaries = [vec([(a, b), (a, c), (b, c)]) for a, b, c in cx.triangles.tolist()]
    ring_vec = vec(list(zip(ring, ring[1:] + ring[:1], strict=True)))

    def rank(rows):
        rows = [r.copy() for r in rows]
        r = 0
        for col in range(len(index)):
            pivot = next((k for k in range(r, len(rows)) if rows[k][col]), None)
            if pivot is None:
                continue
            rows[r], rows[pivot] = rows[pivot], rows[r]
            for k in range(len(rows)):
                if k != r and rows[k][col]:
                    rows[k] ^= rows[r]
            r += 1
        return r

    return rank(boundaries + [ring_vec]) > rank(boundaries)


@pytest.mark.parametrize("case", ["toy", 4, 5, 6, 7, 8])
def test_every_frame_shades_exactly_the_clique_complex_triangles_and_draws_only_open_holes(case) -> None:
    unit = TOY if case == "toy" else np.random.default_rng(100 + case).random((case, case))
    m = unit.shape[0]
    fig = animation.filtration_animation(unit)
    spec = fig.to_dict()
    vertices = next(t for t in fig.data if t.name == "vertices")
    position = {(round(x, 4), round(y, 4)): int(t) - 1 for x, y, t in zip(vertices.x, vertices.y, vertices.text,
                                                                          strict=True)}
    curves = topology.betti_curves(unit)
    birth = topology.birth_time(unit)
    ring = hole_cycle(unit, birth) if birth else []
    assert len(spec["frames"]) == m * m
    for v, frame in enumerate(spec["frames"], start=1):
        _, triangles, _, _, hole, _ = frame["data"]
        expected = {tuple(t) for t in topology.clique_complex(unit, v).triangles.tolist()}
        assert _drawn_triangles(triangles, position) == expected, f"step {v}"
        drawn_hole = _pieces(hole) == 1
        assert drawn_hole == (bool(ring) and v >= birth and _is_hole(unit, v, ring)), f"step {v}"
        if drawn_hole:
            assert curves[1, v - 1] >= 1
        if v < birth or not birth:
            assert curves[1, v - 1] == 0 and not drawn_hole


def test_new_edges_of_a_frame_are_those_entering_at_that_step() -> None:
    unit = np.random.default_rng(4).random((7, 7))
    frames = animation.filtration_animation(unit).to_dict()["frames"]
    for v in (1, 5, 12, 30):
        before = topology.graph_at_step(unit, v - 1) if v > 1 else np.zeros((7, 7), bool)
        entering = int(np.triu(topology.graph_at_step(unit, v) & ~before, 1).sum())
        assert _pieces(frames[v - 1]["data"][3]) == entering


@pytest.mark.parametrize("m", [32, 64])
def test_large_units_play_the_born_cycle_and_its_neighbourhood(m: int) -> None:
    unit = np.random.default_rng(m).random((m, m))
    birth = topology.birth_time(unit)
    fig = animation.filtration_animation(unit)
    spec = fig.to_dict()
    vertices = next(t for t in spec["data"] if t["name"] == "vertices")
    assert len(vertices["x"]) <= animation.MAX_FOCUS
    cycle = hole_cycle(unit, birth)
    assert [int(t) - 1 for t in vertices["text"][: len(cycle)]] == cycle
    assert len(spec["frames"]) == animation.animation_steps(m, birth) < m * m
    assert f"of {m} vertices" in spec["layout"]["title"]["text"]
    betti_x = next(v for k, v in spec["layout"].items() if k.startswith("xaxis") and "double-click" in str(v))
    assert betti_x["range"][1] == max(2 * birth, birth + 20) + 0.5 < m * m  # the steps around the birth first


def test_png_export_renders_the_first_frame_with_chromium() -> None:
    import struct

    from featent.plots.export import to_png

    png = to_png(animation.filtration_animation(TOY), width=900, height=400, scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (900, 400)


def test_frames_slider_and_buttons_are_valid_plotly_added_at_serialisation() -> None:
    """The slider's steps, the Play buttons and the frames skip plotly's per-property validation on every
    build (it cost more than the rest of a unit change); what is sent must still be what validation accepts."""
    import plotly.graph_objects as go

    unit = np.random.default_rng(8).random((8, 8))
    fig = animation.filtration_animation(unit, start=5)
    assert not fig.layout.sliders and not fig.layout.updatemenus  # not validated at build time
    spec = fig.to_dict()
    assert len(spec["frames"]) == 64 and len(spec["layout"]["sliders"][0]["steps"]) == 64
    assert spec["layout"]["sliders"][0]["active"] == 4
    checked = go.Figure(spec).to_dict()  # raises on anything plotly would reject
    assert checked["layout"]["sliders"] == spec["layout"]["sliders"]
    assert checked["layout"]["updatemenus"] == spec["layout"]["updatemenus"]
    assert [f["name"] for f in checked["frames"]] == [f["name"] for f in spec["frames"]]


def test_the_payload_of_an_8x8_unit_stays_small() -> None:
    """What a unit change sends for the demo's 8 x 8 units (64 frames): 179 KB measured; bound with margin."""
    import plotly.io as pio

    unit = np.random.default_rng(8).random((8, 8))
    payload = pio.to_json(animation.filtration_animation(unit).to_dict(), validate=False)
    assert len(payload) < 220_000


@pytest.mark.parametrize(("m", "focus", "jumps_only"), [(4, None, False), (8, None, True), (16, True, False), (16, True, True)])
def test_start_at_gives_the_figure_a_build_at_that_step_gives(m: int, focus: bool | None, jumps_only: bool) -> None:
    """A start-step change reuses the figure's frames; what is sent equals a fresh build at that step."""
    import json

    import plotly.io as pio

    unit = np.random.default_rng(m).random((m, m))
    reused = animation.filtration_animation(unit, start=2, focus=focus, jumps_only=jumps_only)
    for start in (5, 1, 12, 2):
        fresh = animation.filtration_animation(unit, start=start, focus=focus, jumps_only=jumps_only)
        sent = json.loads(pio.to_json(reused.start_at(start).to_dict(), validate=False))
        assert sent == json.loads(pio.to_json(fresh.to_dict(), validate=False)), f"start {start}"
