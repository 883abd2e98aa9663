"""Checkpoints that lie: other dtypes load by casting, everything else is one sentence with no
third-party warning printed."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

from featent.errors import ModelError
from featent.nets.checkpoints import load_state, read_checkpoint
from featent.nets.demo import DEMO_WEIGHTS, DemoNet


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return torch.load(DEMO_WEIGHTS, map_location="cpu", weights_only=True)


def _reference_output(state) -> torch.Tensor:
    model = DemoNet()
    model.load_state_dict(state)
    torch.manual_seed(0)
    return model.eval()(torch.rand(2, 3, 32, 32))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_float_state_dicts_load_by_casting(tmp_path, state, dtype):
    path = tmp_path / "w.pt"
    torch.save({k: v.to(dtype) for k, v in state.items()}, path)
    model = DemoNet()
    load_state(model, read_checkpoint(path), str(path))
    assert all(p.dtype == torch.float32 for p in model.parameters())
    expected = _reference_output({k: v.to(dtype).float() for k, v in state.items()})
    torch.manual_seed(0)
    assert torch.equal(model.eval()(torch.rand(2, 3, 32, 32)), expected)


def test_integer_state_dict_loads_by_casting(tmp_path, state):
    path = tmp_path / "w.pt"
    torch.save({k: (v * 100).round().long() for k, v in state.items()}, path)
    model = DemoNet()
    load_state(model, read_checkpoint(path), str(path))
    first = next(iter(state))
    assert torch.equal(model.state_dict()[first], (state[first] * 100).round())


def test_load_model_takes_a_half_precision_checkpoint(tmp_path, state):
    from featent.nets import load_model

    path = tmp_path / "half.pt"
    torch.save({k: v.half() for k, v in state.items()}, path)
    model = load_model("demo", weights=str(path))
    assert model.layers  # runs on 32x32 inputs: no dtype mismatch


def test_nan_weights_load_and_fail_later_per_layer(tmp_path, state):
    """NaN in the file is the file's content (the pages name the layer that breaks), not a cast error."""
    path = tmp_path / "nan.pt"
    broken = {k: v.clone() for k, v in state.items()}
    key = list(state)[2]
    broken[key].view(-1)[0] = float("nan")
    torch.save({k: v.double() for k, v in broken.items()}, path)
    model = DemoNet()
    load_state(model, read_checkpoint(path), str(path))
    assert torch.isnan(model.state_dict()[key]).any()


def test_float64_overflowing_float32_is_refused(tmp_path, state):
    path = tmp_path / "huge.pt"
    big = {k: v.double() for k, v in state.items()}
    key = next(iter(big))
    big[key].view(-1)[0] = 1e300
    torch.save(big, path)
    with pytest.raises(ModelError, match=rf"do not fit torch.float32: key '{key}' holds values beyond its range"):
        load_state(DemoNet(), read_checkpoint(path), str(path))


def test_complex_weights_are_refused(tmp_path, state):
    path = tmp_path / "c.pt"
    torch.save({k: v.to(torch.complex64) for k, v in state.items()}, path)
    with pytest.raises(ModelError, match=r"hold complex numbers in key"):
        load_state(DemoNet(), read_checkpoint(path), str(path))


def _write(tmp_path, name, make):
    path = tmp_path / name
    make(path)
    return path


FILES = {
    "whole-module": (
        lambda p: torch.save(DemoNet(), p),
        r"holds a pickled featent.nets.demo.DemoNet object \(a whole model\?\).*torch.save\(model.state_dict\(\), PATH\)",
    ),
    "raw-pickle-of-tensors": (
        lambda p: p.write_bytes(pickle.dumps({"w": torch.zeros(2)}, protocol=4)),
        r"plain pickle file, not a torch.save checkpoint",
    ),
    "raw-pickle-of-numpy": (lambda p: p.write_bytes(pickle.dumps({"w": np.zeros(2)})), r"plain pickle file"),
    "empty": (lambda p: p.write_bytes(b""), r"the file is empty"),
    "garbage": (lambda p: p.write_bytes(b"\x00garbage" * 9), r"not a PyTorch checkpoint \(unknown format\)"),
    "truncated-zip": (lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 30), r"Cannot load weights file"),
    "a-list": (lambda p: torch.save([torch.zeros(1)], p), r"does not hold a state_dict \(a dict of tensors\)"),
    "numbers": (lambda p: torch.save({"a": 1}, p), r"does not hold a state_dict"),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_unusable_files_are_one_sentence_without_warnings(tmp_path, capfd, name):
    make, match = FILES[name]
    path = _write(tmp_path, name + ".pt", make)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's pickle-protocol warning must not escape
        with pytest.raises(ModelError, match=match) as info:
            read_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert capfd.readouterr().err == ""


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(ModelError, match=r"is a folder; give a .pt/.pth state_dict file"):
        read_checkpoint(tmp_path)


def test_cli_raw_pickle_is_one_line(tmp_path, capsys):
    from featent.cli.main import main

    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps({"w": torch.zeros(2)}, protocol=4))
    assert main(["layers", "--model", "demo", "--weights", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plain pickle file" in err and "UserWarning" not in err


def test_sparse_tensors_load_as_their_dense_values(tmp_path, state):
    path = tmp_path / "sparse.pt"
    key = next(iter(state))
    torch.save({**state, key: state[key].to_sparse()}, path)
    model = DemoNet()
    load_state(model, read_checkpoint(path), str(path))
    assert torch.equal(model.state_dict()[key], state[key])


def test_meta_tensors_are_refused(tmp_path, state):
    path = tmp_path / "meta.pt"
    torch.save({k: torch.empty_like(v, device="meta") for k, v in state.items()}, path)
    with pytest.raises(ModelError, match=r"hold no values for key .* \(a meta tensor, shapes only\)"):
        load_state(DemoNet(), read_checkpoint(path), str(path))
