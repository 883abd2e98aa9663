"""featent.training.loop: deterministic demo training (the recipe that rebuilds the shipped weights bit for bit,
on a short run), checkpoints every epoch and at given steps, label noise, bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from featent.errors import FeatentError
from featent.pipeline import load_model
from featent.training.loop import DEMO_RECIPE, noisy_labels, save_weights, train, train_demo

#: The shipped demo's recipe on a short run: 100 images per class of the shipped subset, one epoch.
SHORT = replace(DEMO_RECIPE, data="fashion-subset", train_per_class=100, epochs=1, full_data=False)


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt")
    return directory, train_demo(seed=3, checkpoint_dir=directory, recipe=SHORT)


def test_training_is_deterministic_and_restores_torch_settings(one_epoch):
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    state = torch.random.get_rng_state()
    again = train_demo(seed=3, recipe=SHORT)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.equal(torch.random.get_rng_state(), state)
    first = one_epoch[1].model.state_dict()
    for key, value in again.model.state_dict().items():
        assert torch.equal(value, first[key]), key
    assert [e.loss for e in again.epochs] == [e.loss for e in one_epoch[1].epochs]


def test_two_trainings_at_once_give_their_seeds_weights_and_restore_torch_settings(one_epoch):
    """Two app sessions training at the same time (threads of one server) take turns: each gets the
    weights it gets alone, and torch's global settings end as they began."""
    import threading

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    runs: dict = {}
    workers = [threading.Thread(target=lambda s=s: runs.__setitem__(s, train_demo(seed=s, recipe=SHORT))) for s in (3, 4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(600)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    first = one_epoch[1].model.state_dict()
    for key, value in runs[3].model.state_dict().items():
        assert torch.equal(value, first[key]), key
    assert [e.loss for e in runs[3].epochs] == [e.loss for e in one_epoch[1].epochs]


def test_history_and_checkpoints(one_epoch):
    directory, history = one_epoch
    assert [e.epoch for e in history.epochs] == [0, 1]
    assert history.epochs[1].train_accuracy > history.epochs[0].train_accuracy + 0.2
    assert (directory / "epoch_000.pt").is_file() and (directory / "epoch_001.pt").is_file()
    assert history.epochs[1].checkpoint == str(directory / "epoch_001.pt")
    saved = json.loads((directory / "history.json").read_text())
    assert saved["seed"] == 3 and [row["epoch"] for row in saved["epochs"]] == [0, 1]
    assert saved["epochs"][1]["loss"] == pytest.approx(history.epochs[1].loss)
    # a checkpoint loads back as demo weights
    model = load_model("demo", weights=str(directory / "epoch_001.pt"))
    for key, value in history.model.state_dict().items():
        assert torch.equal(model.module.state_dict()[key].cpu(), value)


def test_different_seeds_give_different_weights(one_epoch):
    other = train_demo(seed=4, recipe=SHORT, augment=True)
    assert not torch.equal(other.model.state_dict()["features.0.weight"], one_epoch[1].model.state_dict()["features.0.weight"])


def test_noisy_labels_change_exactly_that_fraction_to_other_classes():
    labels = torch.arange(200) % 10
    noisy = noisy_labels(labels, 0.25, seed=0)
    changed = noisy != labels
    assert int(changed.sum()) == 50
    assert torch.equal(noisy_labels(labels, 0.25, seed=0), noisy)
    assert not torch.equal(noisy_labels(labels, 0.25, seed=1), noisy)
    assert ((noisy >= 0) & (noisy < 10)).all()
    assert torch.equal(noisy_labels(labels, 0.0, seed=0), labels)


def test_save_weights(tmp_path, one_epoch):
    target = save_weights(one_epoch[1].model, tmp_path / "sub" / "w.pt")
    assert target.is_file()
    assert set(torch.load(target, weights_only=True)) == set(one_epoch[1].model.state_dict())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, r"^epochs must be an integer >= 1, got 0\.$"),
        ({"seed": -1}, r"^seed must be an integer >= 0, got -1\.$"),
        ({"seed": True}, r"^seed must be an integer >= 0, got True\.$"),
        ({"label_noise": 1.5}, r"^label_noise must be a number from 0 to 1, got 1\.5\.$"),
    ],
)
def test_bad_training_arguments(kwargs, match):
    with pytest.raises(FeatentError, match=match):
        train_demo(recipe=SHORT, **kwargs)


def test_unwritable_checkpoint_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FeatentError, match=r"Cannot create checkpoint folder"):
        train_demo(recipe=SHORT, checkpoint_dir=blocker / "ckpt")
    with pytest.raises(FeatentError, match=r"Cannot save weights to"):
        save_weights(torch.nn.Linear(1, 1), blocker / "w.pt")


def test_checkpoints_at_given_steps_and_only_the_epochs_asked(tmp_path):
    history = train(SHORT, seed=0, checkpoint_dir=tmp_path, checkpoint_iters=(2, 5), checkpoint_epochs=(1,))
    assert [(row.epoch, row.iteration) for row in history.iterations] == [(0, 2), (0, 5)]
    assert history.epochs[-1].iteration == (10 * 100 + SHORT.batch_size - 1) // SHORT.batch_size
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["epoch_001.pt", "iter_00002.pt", "iter_00005.pt"]
    saved = json.loads((tmp_path / "history.json").read_text())
    assert [row["iteration"] for row in saved["iterations"]] == [2, 5]
    assert saved["recipe"]["train_per_class"] == 100 and saved["data"].startswith("fashion-subset-")
    # checkpoints along the way do not change the trained weights
    plain = train(SHORT, seed=0)
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, history.model.state_dict()[key]), key


def test_full_recipe_refuses_the_subset(monkeypatch, tmp_path):
    from featent.data import clear_dataset_cache

    monkeypatch.setenv("FEATENT_FASHION_DIR", str(tmp_path))
    clear_dataset_cache()
    try:
        with pytest.raises(FeatentError, match=r"full Fashion-MNIST, which is not installed"):
            train(replace(DEMO_RECIPE, epochs=1))
    finally:
        clear_dataset_cache()


def test_training_reports_counted_batches_an_eta_can_be_measured_from():
    from featent.progress import PhaseEta

    reports: list[tuple[float, str]] = []
    train(SHORT, seed=0, progress=lambda fraction, message: reports.append((fraction, message)))
    fractions, messages = zip(*reports, strict=True)
    assert list(fractions) == sorted(fractions) and fractions[-1] == 1.0
    assert messages[-1] == f"training (1 epoch): {len(messages)}/{len(messages)} batches"
    clock = iter(range(len(messages)))
    eta = PhaseEta(lambda: float(next(clock)))
    shown = [eta(message) for message in messages]
    assert shown[-1].endswith("batches/s, phase ETA 0:00") and "batches/s" in shown[len(shown) // 2]
