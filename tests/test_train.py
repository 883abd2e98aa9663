"""featent.training.loop: deterministic demo training, checkpoints every epoch, label noise, bad input."""

from __future__ import annotations

import json

import pytest
import torch

from featent.errors import FeatentError
from featent.nets.models import load_model
from featent.training.loop import noisy_labels, save_weights, train_demo


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt")
    return directory, train_demo(seed=3, epochs=1, checkpoint_dir=directory)


def test_training_is_deterministic_and_restores_torch_settings(one_epoch):
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    state = torch.random.get_rng_state()
    again = train_demo(seed=3, epochs=1)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.equal(torch.random.get_rng_state(), state)
    first = one_epoch[1].model.state_dict()
    for key, value in again.model.state_dict().items():
        assert torch.equal(value, first[key]), key
    assert [e.loss for e in again.epochs] == [e.loss for e in one_epoch[1].epochs]


def test_history_and_checkpoints(one_epoch):
    directory, history = one_epoch
    assert [e.epoch for e in history.epochs] == [0, 1]
    assert history.epochs[1].loss < history.epochs[0].loss
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
    other = train_demo(seed=4, epochs=1, augment=False)
    assert not torch.equal(other.model.state_dict()["features.0.weight"], one_epoch[1].model.state_dict()["features.0.weight"])


def test_noisy_labels_change_exactly_that_fraction_to_other_classes():
    labels = torch.arange(200) % 10
    noisy = noisy_labels(labels, 0.25, seed=0)
    changed = noisy != labels
    assert int(changed.sum()) == 50
    assert torch.equal(noisy_labels(labels, 0.25, seed=0), noisy)
    assert not torch.equal(noisy_labels(labels, 0.25, seed=1), noisy)
    assert ((0 <= noisy) & (noisy < 10)).all()
    assert torch.equal(noisy_labels(labels, 0.0, seed=0), labels)


def test_save_weights(tmp_path, one_epoch):
    target = save_weights(one_epoch[1].model, tmp_path / "sub" / "w.pt")
    assert target.is_file()
    assert set(torch.load(target, weights_only=True)) == set(one_epoch[1].model.state_dict())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, r"number of epochs must be a positive integer"),
        ({"seed": -1}, r"training seed must be a non-negative integer"),
        ({"label_noise": 1.5}, r"Label noise must be a fraction between 0 and 1"),
    ],
)
def test_bad_training_arguments(kwargs, match):
    with pytest.raises(FeatentError, match=match):
        train_demo(**kwargs)


def test_unwritable_checkpoint_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FeatentError, match=r"Cannot create checkpoint folder"):
        train_demo(epochs=1, checkpoint_dir=blocker / "ckpt")
    with pytest.raises(FeatentError, match=r"Cannot save weights to"):
        save_weights(torch.nn.Linear(1, 1), blocker / "w.pt")
