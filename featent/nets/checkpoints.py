"""Weights files: read a state_dict safely (``weights_only``), find its class count, load it strictly
with a message naming the first key that does not fit."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from featent.errors import ModelError

__all__ = ["read_checkpoint", "n_classes_in", "load_state"]


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict from a file: a plain state_dict or a dict holding one; 'module.' prefixes dropped."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ModelError(f"Weights file {str(file)!r} does not exist.")
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for unreadable / unsafe files
        text = str(exc).strip()
        # torch's own messages run to paragraphs; its first sentence says what went wrong.
        first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__
        raise ModelError(
            f"Cannot load weights file {str(file)!r} as a PyTorch state_dict (loaded with weights_only=True): "
            f"{first[:160]}."
        ) from exc
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"Weights file {str(file)!r} does not hold a state_dict (a dict of tensors).")
    if all(k.startswith("module.") for k in obj):
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
    """Load strictly; on misfit name the first mismatching key (missing, unexpected or shape)."""
    own = module.state_dict()
    for key, tensor in own.items():
        if key not in state:
            raise ModelError(f"Weights {source!r} do not fit this model: key {key!r} is missing.")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ModelError(
                f"Weights {source!r} do not fit this model: key {key!r} has shape {tuple(state[key].shape)}, "
                f"the model expects {tuple(tensor.shape)}."
            )
    for key in state:
        if key not in own:
            raise ModelError(f"Weights {source!r} do not fit this model: unexpected key {key!r}.")
    # assign=True: a module built on the meta device takes the loaded tensors as its parameters
    module.load_state_dict(state, strict=True, assign=True)
