"""Where the older flat API lived: the names featent.nets.models exported, re-exported from the
modules that now hold them (zoo, layers, loading, hooks), so existing imports keep working."""

from __future__ import annotations

from torch import nn

from featent.nets.demo import DEMO, DEMO_INPUT_SIZE, DEMO_MEAN, DEMO_STD, DEMO_WEIGHTS, DemoNet
from featent.nets.layers import LayerInfo
from featent.nets.loading import (
    LoadedModel,
    clear_model_cache,
    fingerprint_module,
    forget_model,
    from_module,
    list_models,
    load_model,
    pick_device,
    register_spec_resolver,
)
from featent.nets.zoo import IMAGENET_MEAN, IMAGENET_STD, TORCHVISION_INPUT_SIZE

__all__ = [
    "DEMO",
    "DEMO_INPUT_SIZE",
    "DEMO_MEAN",
    "DEMO_STD",
    "DEMO_WEIGHTS",
    "DemoNet",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TORCHVISION_INPUT_SIZE",
    "LayerInfo",
    "LoadedModel",
    "clear_model_cache",
    "fingerprint_module",
    "forget_model",
    "from_module",
    "layer_modules",
    "list_models",
    "load_model",
    "pick_device",
    "register_spec_resolver",
]


def layer_modules(module: nn.Module | LoadedModel) -> dict[str, nn.Module]:
    """Layer name -> the submodule whose output is that layer (its first call), for layers that are
    module outputs; use featent.nets.hooks with ``LayerInfo.site`` for the general case."""
    model = module if isinstance(module, LoadedModel) else from_module(module, input_size=_probe_size(module))
    runner = model.runner
    return {info.name: runner.get_submodule(info.site.path) for info in model.layers if info.site.call == 0}


def _probe_size(module: nn.Module) -> int:
    return DEMO_INPUT_SIZE if isinstance(module, DemoNet) else TORCHVISION_INPUT_SIZE
