"""Seeded random inits that other threads cannot disturb.

A module's random init draws from torch's one global generator. The app runs each visitor's work in
its own thread of one process, so a seeded init (``vgg11:random:3``, a random variant, the training
recipe's initial weights) could take some of its draws from another seed, or lend some to another
thread's model, and give weights that match neither the seed nor a rerun. Every draw featent makes
from the global generator therefore holds :data:`RNG_LOCK`: seeded sections through :func:`seeded`,
model construction through :func:`featent.nets.zoo.build`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: Held by whoever draws from torch's global generator (re-entrant: a seeded section builds models).
RNG_LOCK = threading.RLock()


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global generator seeded with ``seed`` for this block only, for this thread only: the
    caller's generator state is restored on exit, and no other featent thread draws meanwhile."""
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield
