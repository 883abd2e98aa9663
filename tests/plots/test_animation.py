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
        assert (_pieces(hole) == 1) == (v >= 4 and curves[1, v - 1] > 0)  # the born hole while it is open
    assert spec["layout"]["updatemenus"][0]["buttons"][0]["args"][1]["frame"]["duration"] <= 100  # >= 10 steps/s
    assert spec["layout"]["sliders"][0]["active"] == 3  # starts at the birth, step 4


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


def test_png_export_renders_the_first_frame_with_chromium() -> None:
    import struct

    from featent.plots.export import to_png

    png = to_png(animation.filtration_animation(TOY), width=900, height=400, scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (900, 400)
