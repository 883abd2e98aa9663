"""Hole cycles: which vertices ring the hole born at a unit's birth step.

Kept in core (numpy only) so the figures and the animation draw the same cycle and it is tested
without plotly.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from featent.core import topology


def hole_cycle(unit: np.ndarray, birth: int) -> list[int]:
    """Vertices (0-based) of a cycle born at step ``birth``; empty when there is no birth.

    Takes an edge entering at the birth step that closes a cycle and the shortest path between its
    ends in the graph at that step without it (BFS); a shortest path has no chords, so the ring
    bounds no triangles. Used to lay the hole out as a polygon.
    """
    m = unit.shape[0]
    if birth <= 0:
        return []
    before = topology.graph_at_step(unit, birth - 1) if birth > 1 else np.zeros((m, m), bool)
    after = topology.graph_at_step(unit, birth)
    for u, v in np.argwhere(np.triu(after & ~before, 1)):
        previous = {int(u): -1}
        queue = deque([int(u)])
        while queue and int(v) not in previous:
            x = queue.popleft()
            for y in np.flatnonzero(after[x]):
                if int(y) not in previous and not (x == u and y == v):
                    previous[int(y)] = x
                    queue.append(int(y))
        if int(v) in previous:
            cycle, x = [], int(v)
            while x != -1:
                cycle.append(x)
                x = previous[x]
            if len(cycle) >= 4:  # a triangle is filled at once; only longer cycles are holes
                return cycle
    return []


def hole_first_order(unit: np.ndarray, birth: int) -> list[int]:
    """Vertex order with ``hole_cycle`` first, then the other vertices in index order."""
    cycle = hole_cycle(unit, birth)
    return cycle + [i for i in range(unit.shape[0]) if i not in cycle]
