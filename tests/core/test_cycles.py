"""featent.core.cycles: the hole born at the birth step is a new chordless ring."""

from __future__ import annotations

import numpy as np
import pytest

from featent.core import cycles, topology


@pytest.mark.parametrize("seed", [1, 2, 5, 9, 11])
def test_hole_cycle_is_a_new_chordless_ring_at_the_birth_step(seed: int) -> None:
    unit = np.random.default_rng(seed).random((7, 7))
    birth = topology.birth_time(unit)
    cycle = cycles.hole_cycle(unit, birth)
    graph, before = topology.graph_at_step(unit, birth), topology.graph_at_step(unit, birth - 1)
    ring = list(zip(cycle, cycle[1:] + cycle[:1]))
    assert len(cycle) >= 4 and len(set(cycle)) == len(cycle)
    assert all(graph[a, b] for a, b in ring) and not all(before[a, b] for a, b in ring)
    ring_pairs = {frozenset(p) for p in ring}
    chords = [(a, b) for k, a in enumerate(cycle) for b in cycle[k + 1 :] if frozenset((a, b)) not in ring_pairs]
    assert not any(graph[a, b] for a, b in chords)
    order = cycles.hole_first_order(unit, birth)
    assert order[: len(cycle)] == cycle and sorted(order) == list(range(7))
    assert cycles.hole_cycle(unit, 0) == [] and cycles.hole_first_order(unit, 0) == list(range(7))
