"""featent.nets.seeding: a seeded init made while other threads build their models gets its own seed's
weights (app sessions share one process and torch's one global generator)."""

from __future__ import annotations

import threading

import torch
from torch import nn

from featent.nets import load_model
from featent.nets.loading import forget_model
from featent.nets.seeding import seeded
from featent.nets.zoo import build


class Interleaves(nn.Module):
    """Two convs built with a pause between them, in which another thread gets the chance to draw."""

    def __init__(self, pause=lambda: None) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 8, 3)
        pause()
        self.second = nn.Conv2d(8, 8, 3)


def _made_alone(seed: int) -> dict[str, torch.Tensor]:
    with seeded(seed):
        return Interleaves().state_dict()


def test_a_seeded_init_is_not_reseeded_by_another_thread_in_the_middle() -> None:
    """Thread B enters its own seeded section while A has drawn half its weights; were B let in, A's
    second conv would come from B's seed (and B's draws would start where A left off)."""
    b_entered, a_done = threading.Event(), threading.Event()
    got: dict[str, torch.Tensor] = {}

    def other_thread() -> None:
        with seeded(7):
            b_entered.set()
            a_done.wait(2)
            got["b"] = torch.rand(16)

    worker = threading.Thread(target=other_thread)

    def pause() -> None:
        worker.start()
        b_entered.wait(0.5)  # B cannot enter while A holds the generator: this times out

    with seeded(3):
        made = Interleaves(pause).state_dict()
    a_done.set()
    worker.join(10)
    alone = _made_alone(3)
    assert all(torch.equal(made[k], alone[k]) for k in alone)
    with seeded(7):
        assert torch.equal(got["b"], torch.rand(16))


def test_building_a_model_waits_for_a_seeded_section_of_another_thread() -> None:
    """zoo.build draws its init from the global generator too, so it waits its turn."""
    built = threading.Event()

    def other_thread() -> None:
        build("demo")
        built.set()

    worker = threading.Thread(target=other_thread)

    def pause() -> None:
        worker.start()
        assert not built.wait(0.5)  # held off while the seeded init draws

    with seeded(5):
        made = Interleaves(pause).state_dict()
    worker.join(60)
    assert built.is_set()
    alone = _made_alone(5)
    assert all(torch.equal(made[k], alone[k]) for k in alone)


def test_seeded_random_models_are_the_same_whether_built_alone_or_side_by_side() -> None:
    """Two random inits of the demo, built at the same time in two threads, equal the ones built alone."""
    specs = ["demo:random:11", "demo:random:12"]
    side_by_side: dict[str, dict[str, torch.Tensor]] = {}

    def load(spec: str) -> None:
        side_by_side[spec] = {k: v.clone() for k, v in load_model(spec).module.state_dict().items()}
        forget_model(spec)

    workers = [threading.Thread(target=load, args=(spec,)) for spec in specs]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    for spec in specs:
        alone = load_model(spec).module.state_dict()
        forget_model(spec)
        assert side_by_side[spec].keys() == alone.keys()
        assert all(torch.equal(side_by_side[spec][k], alone[k]) for k in alone), spec
