"""Compiled kernel for the birth time b(U, 1): early-terminating, exact, tie-aware.

Why it is exact (docs/method.md): edges enter in descending weight.
While beta_1 = 0, adding one edge (u, v)

* that joins two components keeps beta_1 = 0;
* inside one component whose endpoints share a neighbour keeps beta_1 = 0 (the new cycle is
  the boundary of the new triangle plus an old boundary);
* inside one component with no common neighbour makes beta_1 = 1 (the edge lies in no
  triangle, so no 2-chain can bound a cycle through it).

Edges of equal weight enter together, so beta_1 is only observed at the end of a tie group.
Inside a group we add, greedily and in any order, every edge that the two rules above allow;
those additions keep beta_1 = 0. If edges remain that are all "stuck" (same component, no
common neighbour yet), the group's end complex K' = K* + S has, over Z/2 (ripser's field),

    beta_1(K') = |S| - rank(M_S)

where M_S holds, for every new triangle, its incidence on the stuck edges S (derivation: the
cycle space of K* equals its boundary space because beta_1(K*) = 0, so the quotient of the
chains by it is parametrised by the S-part of a chain alone). The last tie group completes the
graph, whose clique complex is a simplex, so it never gives a birth: its edges are never
sorted, which makes ReLU zeros free. More generally, once one vertex is joined to every other
(a cone), every later edge has it as a common neighbour, so no later group can give a birth:
edges lighter than the first moment a cone exists are never ranked either, which shortens the
scan of units that are never born.

Edges are ranked only as far as needed: a binary max-heap is built in O(E) and edges are
popped one tie group at a time, so the cost is O(E + b log E) for a birth after b edges,
not the O(E log E) of a full sort.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_ONE = np.uint64(1)


@njit(cache=True, nogil=True, inline="always")
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True, inline="always")
def _share_neighbour(adj, u, v):
    # an explicit loop: numba compiles it, while any() over a generator it cannot
    for k in range(adj.shape[1]):  # noqa: SIM110
        if adj[u, k] & adj[v, k]:
            return True
    return False


@njit(cache=True, nogil=True, inline="always")
def _connect(adj, u, v):
    adj[u, v >> 6] |= _ONE << np.uint64(v & 63)
    adj[v, u >> 6] |= _ONE << np.uint64(u & 63)


@njit(cache=True, nogil=True, inline="always")
def _lowest_bit(x):
    """Index of the lowest set bit of a nonzero uint64 (powers of two are exact in float64)."""
    low = x & (~x + _ONE)
    return np.int64(np.log2(np.float64(low)) + 0.5)


@njit(cache=True, nogil=True)
def _stuck_edges_leave_cycle(adj, su, sv, m):
    """beta_1 > 0 after adding the stuck edges S (already in adj)? Z/2 rank of M_S vs |S|."""
    s = su.shape[0]
    for c in range(s):
        if not _share_neighbour(adj, su[c], sv[c]):
            return True  # a column of M_S that is zero: rank < |S|
    col = np.full((m, m), -1, np.int32)
    for c in range(s):
        col[su[c], sv[c]] = c
        col[sv[c], su[c]] = c
    words = (s + 63) // 64
    basis = np.zeros((s, words), np.uint64)
    has_pivot = np.zeros(s, np.bool_)
    row = np.zeros(words, np.uint64)
    rank = 0
    for c in range(s):
        u = su[c]
        v = sv[c]
        for k in range(adj.shape[1]):
            common = adj[u, k] & adj[v, k]
            while common:
                x = k * 64 + _lowest_bit(common)
                common &= common - _ONE
                c1 = col[u, x]
                c2 = col[v, x]
                # Each triangle is one row: emit it from its smallest stuck edge only.
                if (c1 >= 0 and c1 < c) or (c2 >= 0 and c2 < c):
                    continue
                row[:] = 0
                row[c >> 6] |= _ONE << np.uint64(c & 63)
                if c1 >= 0:
                    row[c1 >> 6] |= _ONE << np.uint64(c1 & 63)
                if c2 >= 0:
                    row[c2 >> 6] |= _ONE << np.uint64(c2 & 63)
                start = c >> 6
                while True:
                    pivot = -1
                    for q in range(start, words):
                        if row[q]:
                            pivot = q * 64 + _lowest_bit(row[q])
                            break
                    if pivot < 0:
                        break  # dependent row
                    if has_pivot[pivot]:
                        for q in range(pivot >> 6, words):
                            row[q] ^= basis[pivot, q]
                        start = pivot >> 6
                    else:
                        basis[pivot, :] = row
                        has_pivot[pivot] = True
                        rank += 1
                        break
                if rank == s:
                    return False
    return True


@njit(cache=True, nogil=True)
def _group_gives_birth(group, eu, ev, adj, parent, m):
    """Add one tie group; True iff beta_1 > 0 at its end (beta_1 = 0 before it)."""
    n = group.shape[0]
    if n == 1:
        u = eu[group[0]]
        v = ev[group[0]]
        ru = _find(parent, u)
        rv = _find(parent, v)
        if ru != rv:
            parent[ru] = rv
        elif not _share_neighbour(adj, u, v):
            return True
        _connect(adj, u, v)
        return False
    pending = group.copy()
    n_pending = n
    while n_pending > 0:
        kept = 0
        for i in range(n_pending):
            e = pending[i]
            u = eu[e]
            v = ev[e]
            ru = _find(parent, u)
            rv = _find(parent, v)
            if ru != rv:
                parent[ru] = rv
                _connect(adj, u, v)
            elif _share_neighbour(adj, u, v):
                _connect(adj, u, v)
            else:
                pending[kept] = e
                kept += 1
        if kept == n_pending:
            break  # no progress: the remaining edges are stuck
        n_pending = kept
    if n_pending == 0:
        return False
    su = np.empty(n_pending, np.int32)
    sv = np.empty(n_pending, np.int32)
    for i in range(n_pending):
        su[i] = eu[pending[i]]
        sv[i] = ev[pending[i]]
        _connect(adj, su[i], sv[i])
    return _stuck_edges_leave_cycle(adj, su, sv, m)


@njit(cache=True, nogil=True, inline="always")
def _sift_down(heap, n, i, w):
    """Restore the max-heap property (by weight) below position i."""
    item = heap[i]
    key = w[item]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        right = child + 1
        if right < n and w[heap[right]] > w[heap[child]]:
            child = right
        if w[heap[child]] > key:
            heap[i] = heap[child]
            i = child
        else:
            break
    heap[i] = item


@njit(cache=True, nogil=True)
def _birth_weight(unit):
    """(1, t) with t the edge weight of the birth group; (0, .) no birth; (-1, .) non-finite unit."""
    m = unit.shape[0]
    for i in range(m):
        if not np.isfinite(unit[i, i]):
            return -1, 0.0
    n_edges = m * (m - 1) // 2
    eu = np.empty(n_edges, np.int32)
    ev = np.empty(n_edges, np.int32)
    w = np.empty(n_edges, unit.dtype)
    lightest = np.full(m, np.inf, unit.dtype)  # per vertex: the weight of its lightest edge
    e = 0
    for i in range(m):
        for j in range(i + 1, m):
            a = unit[i, j]
            b = unit[j, i]
            if not (np.isfinite(a) and np.isfinite(b)):
                return -1, 0.0
            x = a if a > b else b
            eu[e] = i
            ev[e] = j
            w[e] = x
            if x < lightest[i]:
                lightest[i] = x
            if x < lightest[j]:
                lightest[j] = x
            e += 1
    w_min = w.min()
    # Once some vertex c is joined to every other (a cone: after the group of weight
    # cone = max_c lightest[c]), every later edge (u, v) has c as a common neighbour, so no later
    # group can give a birth: only edges of weight >= cone are ranked. The last tie group (weight
    # w_min) completes the graph, so it is the case cone = w_min: ReLU zeros are never ranked.
    cone = lightest.max()
    heap = np.empty(n_edges, np.int32)
    n = 0
    for e in range(n_edges):
        if w[e] > w_min and w[e] >= cone:
            heap[n] = e
            n += 1
    # Heapify is O(E); each edge actually examined costs O(log E): only the prefix of the
    # filtration before the birth is ever ranked.
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(heap, n, i, w)
    adj = np.zeros((m, (m + 63) // 64), np.uint64)
    parent = np.arange(m)
    group = np.empty(max(n, 1), np.int32)
    while n > 0:
        value = w[heap[0]]
        g = 0
        while n > 0 and w[heap[0]] == value:
            group[g] = heap[0]
            g += 1
            n -= 1
            heap[0] = heap[n]
            _sift_down(heap, n, 0, w)
        if _group_gives_birth(group[:g], eu, ev, adj, parent, m):
            return 1, np.float64(value)
    return 0, 0.0


@njit(cache=True, nogil=True)
def birth_step(unit):
    """b(U, 1): 1 + #entries of U strictly above the birth weight; 0 = no birth, -1 = non-finite."""
    status, value = _birth_weight(unit)
    if status <= 0:
        return status
    above = 0
    m = unit.shape[0]
    for i in range(m):
        for j in range(m):
            if unit[i, j] > value:
                above += 1
    return above + 1


@njit(cache=True, parallel=True)
def birth_steps_batch(units, out):
    """Birth steps of a C-contiguous stack [n, m, m], in parallel over units (-1 = non-finite)."""
    for b in prange(units.shape[0]):
        out[b] = birth_step(units[b])


# --------------------------------------------------------------------------- null births: seeded in-kernel shuffle
# The null baseline shuffles each map's m*m entries on their own. The permutation is Fisher-Yates
# driven by a counter-based generator (splitmix64 of a per-map key plus the position), so each
# map's shuffle depends only on (seed, image index, unit index): the same on every machine, for
# any thread count and any chunking, and computed inside the parallel loop with no Python per image.

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True, inline="always")
def _mix64(z):
    """splitmix64's finaliser: a bijection of uint64 with full avalanche."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def map_key(seed, image, unit):
    """The shuffle key of one map: a hash of (seed, image index, unit index)."""
    h = _mix64(np.uint64(seed) + _GOLDEN)
    h = _mix64((h ^ np.uint64(image)) + _GOLDEN)
    return _mix64((h ^ np.uint64(unit)) + _GOLDEN)


@njit(cache=True, nogil=True, inline="always")
def _below(r, bound):
    """A uniform integer in [0, bound) from the 64-bit draw r (bound < 2**32): Lemire's
    multiply-shift on r's high 32 bits, rejecting the rare biased draws and redrawing from r."""
    bound = np.uint64(bound)
    low_mask = np.uint64(0xFFFFFFFF)
    product = (r >> np.uint64(32)) * bound
    low = product & low_mask
    if low < bound:
        threshold = (np.uint64(0x100000000) - bound) % bound
        while low < threshold:
            r = _mix64(r + _GOLDEN)
            product = (r >> np.uint64(32)) * bound
            low = product & low_mask
    return np.int64(product >> np.uint64(32))


@njit(cache=True, nogil=True)
def shuffle_into(src, dst, key):
    """dst = src (both 1-D, same length < 2**32) with its entries permuted by Fisher-Yates under ``key``.

    Draw i is uniform in [0, i] (exactly: biased draws are rejected) from splitmix64(key + i * golden).
    """
    n = src.shape[0]
    for i in range(n):
        dst[i] = src[i]
    for i in range(n - 1, 0, -1):
        j = _below(_mix64(key + np.uint64(i) * _GOLDEN), i + 1)
        t = dst[i]
        dst[i] = dst[j]
        dst[j] = t


@njit(cache=True, parallel=True)
def shuffle_maps_batch(units, out, seed, first_image, n_units):
    """Each map of a C-contiguous stack [n_images * n_units, m, m] shuffled into ``out`` (same shape)."""
    m = units.shape[1]
    for b in prange(units.shape[0]):
        key = map_key(seed, first_image + b // n_units, b % n_units)
        shuffle_into(units[b].reshape(m * m), out[b].reshape(m * m), key)


@njit(cache=True, parallel=True)
def null_birth_steps_batch(units, out, seed, first_image, n_units):
    """Birth steps of each map of [n_images * n_units, m, m] after its seeded shuffle, in parallel over maps."""
    m = units.shape[1]
    for b in prange(units.shape[0]):
        key = map_key(seed, first_image + b // n_units, b % n_units)
        buf = np.empty((m, m), units.dtype)
        shuffle_into(units[b].reshape(m * m), buf.reshape(m * m), key)
        out[b] = birth_step(buf)


@njit(cache=True, parallel=True)
def births_and_null_steps_batch(units, out, null_out, seed, first_image, n_units):
    """Birth steps and null birth steps of each map of [n_images * n_units, m, m] in ONE parallel launch.

    The same per-map work as ``birth_steps_batch`` and ``null_birth_steps_batch`` (so the same values),
    but one barrier instead of two: a sweep needs both for every layer, and on a busy machine the
    threads idle at each barrier while the slowest unit of the launch finishes.
    """
    m = units.shape[1]
    for i in prange(2 * units.shape[0]):
        b = i >> 1
        if i & 1 == 0:
            out[b] = birth_step(units[b])
        else:
            key = map_key(seed, first_image + b // n_units, b % n_units)
            buf = np.empty((m, m), units.dtype)
            shuffle_into(units[b].reshape(m * m), buf.reshape(m * m), key)
            null_out[b] = birth_step(buf)
