"""featent.plots.story: the page's data is the clique complex itself, and a sentence's numbers are its table's."""

from __future__ import annotations

import re

import numpy as np
import pytest

from featent.core import cycles, topology
from featent.plots import story


@pytest.mark.parametrize("case", ["toy", 5, 8])
def test_story_data_sends_exactly_the_clique_complex_of_every_step(case) -> None:
    unit = story.PAPER_TOY if case == "toy" else np.random.default_rng(case).random((case, case))
    data = story.story_data(unit)
    m = unit.shape[0]
    tris = np.array(data["tris"]).reshape(-1, 4)
    edges = np.array(data["edges"])
    for v in range(1, m * m + 1):
        cx = topology.clique_complex(unit, v)
        assert {tuple(sorted(t[:3])) for t in tris[tris[:, 3] <= v].tolist()} == {tuple(t) for t in cx.triangles.tolist()}
        assert {tuple(e[:2]) for e in edges[edges[:, 2] <= v].tolist()} == {tuple(e) for e in cx.edges.tolist()}
    assert data["curves"] == topology.betti_curves(unit).tolist()
    assert data["birth"] == topology.birth_time(unit)
    if data["birth"]:
        assert data["ring"] == cycles.hole_cycle(unit, data["birth"])
        assert data["filled"] == 0 or data["filled"] > data["birth"]


def test_stage_9_quotes_the_numbers_of_its_own_table() -> None:
    numbers = story.story_numbers(story.PAPER_TOY)
    random_row = numbers.rows[1]
    text = story.stage_text(8, story.PAPER_TOY, numbers)
    quoted = dict((int(m), float(h)) for m, h in re.findall(r"m = (\d+): ([0-9.]+)", text))
    assert quoted[4] == round(random_row["FE H"], 3)  # one computation: the sentence says what the table says
    assert "<abbr title=" in text  # equation references carry their equation


def test_the_page_is_self_contained_and_refuses_too_large_units() -> None:
    page = story.story_html(story.PAPER_TOY)
    assert 'src="http' not in page and "cdn.plot.ly" not in page.split("const D=")[1]
    assert "Plotly" in page and len(page.encode()) < 5_000_000
    with pytest.raises(ValueError, match="up to 32"):
        story.story_data(np.random.default_rng(0).random((33, 33)))
