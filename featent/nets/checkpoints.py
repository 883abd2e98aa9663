"""Weights files: read a state_dict safely (``weights_only``), find its class count, load it strictly
with a message naming the first key that does not fit.

Every failure is one sentence (a ``ModelError``); torch's own multi-paragraph messages and its
warnings (e.g. about pickle protocols) are never shown.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import torch
from torch import nn

from featent.data.folder import path_problem, shown_path
from featent.errors import ModelError

__all__ = ["read_checkpoint", "n_classes_in", "load_state"]

_SAVE_HINT = "save the weights with torch.save(model.state_dict(), PATH)"


def _why_unreadable(file: Path, exc: Exception) -> str:
    """One clause saying what the file is, from torch's exception and the file's first bytes."""
    text = str(exc)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return (f"it holds a pickled {found.group(1)} object (a whole model?), not only tensors, and featent does not "
                f"unpickle objects because that can run code; {_SAVE_HINT}")
    try:
        with open(file, "rb") as handle:
            head = handle.read(4)
    except OSError as err:
        return f"it cannot be read ({err.strerror or err})"
    if not head:
        return "the file is empty"
    if head[:1] == b"\x80":
        return f"it is a plain pickle file, not a torch.save checkpoint, and featent does not unpickle files; {_SAVE_HINT}"
    if head[:2] != b"PK":
        return f"it is not a PyTorch checkpoint (unknown format); {_SAVE_HINT}"
    first = text.strip().splitlines()[0].split(". ")[0].rstrip(".") if text.strip() else type(exc).__name__
    return f"{first[:160]}"


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict from a file: a plain state_dict or a dict holding one; 'module.' prefixes dropped."""
    file = Path(path).expanduser()
    problem = path_problem(file)
    if problem is not None:
        raise ModelError(f"Cannot use weights file {shown_path(file)}: {problem}.")
    if file.is_dir():
        raise ModelError(f"Weights path {shown_path(file)} is a folder; give a .pt/.pth state_dict file.")
    if not file.is_file():
        raise ModelError(f"Weights file {shown_path(file)} does not exist.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before failing
            obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for unreadable / unsafe files
        raise ModelError(
            f"Cannot load weights file {str(file)!r} as a PyTorch state_dict (loaded with weights_only=True): "
            f"{_why_unreadable(file, exc)}."
        ) from exc
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"Weights file {str(file)!r} does not hold a state_dict (a dict of tensors); {_SAVE_HINT}.")
    if all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def n_classes_in(state: dict[str, torch.Tensor], module: nn.Module) -> int | None:
    """Output classes of a checkpoint, read from the shape of the model's last linear layer."""
    last = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not last:
        return None
    weight = state.get(f"{last[-1]}.weight")
    return int(weight.shape[0]) if isinstance(weight, torch.Tensor) and weight.ndim == 2 else None


def load_state(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load strictly; on misfit name the first mismatching key (missing, unexpected or shape).

    Tensors of any real dtype (float16/bfloat16/float64 or integer) are cast to the dtype of
    the model's own tensor, so a half-precision or double checkpoint loads like a float32 one;
    values the cast would turn into inf are refused, naming the key.
    """
    own = module.state_dict()
    cast: dict[str, torch.Tensor] = {}
    for key, tensor in own.items():
        if key not in state:
            raise ModelError(f"Weights {source!r} do not fit this model: key {key!r} is missing.")
        given = state[key]
        if given.is_meta:
            raise ModelError(f"Weights {source!r} hold no values for key {key!r} (a meta tensor, shapes only).")
        if given.is_quantized:
            given = given.dequantize()
        if given.layout != torch.strided:
            given = given.to_dense()  # sparse tensors: the same values
        if tuple(given.shape) != tuple(tensor.shape):
            raise ModelError(
                f"Weights {source!r} do not fit this model: key {key!r} has shape {tuple(given.shape)}, "
                f"the model expects {tuple(tensor.shape)}."
            )
        if given.is_complex():
            raise ModelError(f"Weights {source!r} hold complex numbers in key {key!r}; the model expects real {tensor.dtype}.")
        value = given.detach().to(dtype=tensor.dtype)
        if value.dtype != given.dtype and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            if given.is_floating_point() and not bool(torch.isfinite(given).all()):
                pass  # already NaN/inf in the file: the pages name the layer whose activations break
            else:
                raise ModelError(
                    f"Weights {source!r} do not fit {tensor.dtype}: key {key!r} holds values beyond its range."
                )
        cast[key] = value
    for key in state:
        if key not in own:
            raise ModelError(f"Weights {source!r} do not fit this model: unexpected key {key!r}.")
    # assign=True: a module built on the meta device takes the loaded tensors as its parameters
    module.load_state_dict(cast, strict=True, assign=True)
