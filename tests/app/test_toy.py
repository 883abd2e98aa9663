"""featent.app.toy: the teaching page's example units (and the hole-first order on the paper's toy)."""

from __future__ import annotations

import itertools

import numpy as np

from featent.app import toy
from featent.core import cycles, topology


def test_paper_toy_is_born_at_step_4_and_its_hole_comes_first() -> None:
    assert topology.birth_time(toy.PAPER_TOY) == 4
    order = cycles.hole_first_order(toy.PAPER_TOY, 4)
    assert sorted(order) == [0, 1, 2, 3]
    graph = topology.graph_at_step(toy.PAPER_TOY, 4)
    ring = order + order[:1]
    assert all(graph[a, b] for a, b in itertools.pairwise(ring))  # 4 vertices around the hole, in order


def test_hole_first_order_is_identity_without_birth() -> None:
    assert cycles.hole_first_order(np.zeros((5, 5)), 0) == [0, 1, 2, 3, 4]


def test_noisy_copies_keep_the_birth_and_random_units_spread_it() -> None:
    copies = topology.birth_times(toy.noisy_copies(toy.PAPER_TOY, 50, 0.05, seed=3))
    assert np.mean(copies == 4) > 0.9 and (toy.noisy_copies(toy.PAPER_TOY, 5, 5.0) >= 0).all()
    assert len(np.unique(topology.birth_times(toy.random_units(6, 200, seed=1)))) > 3
