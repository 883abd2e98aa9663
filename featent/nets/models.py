"""Where the older flat API lived: the names featent.nets.models exported, re-exported from the
modules that now hold them (zoo, layers, loading, hooks), so existing imports keep working."""

from __future__ import annotations

from torch import nn

from featent.nets.demo import DEMO, DEMO_INPUT_SIZE, DEMO_MEAN, DEMO_STD, DEMO_WEIGHTS, DemoNet
from featent.nets.layers import LayerInfo, legacy_names
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


def layer_modules(module: nn.Module) -> dict[str, nn.Module]:
    """Historical layer name -> the module whose output is that layer (VGG-like nets: the ReLU;
    ResNets: the stem ReLU and each residual block). Other nets: use ``LoadedModel.layers`` and
    featent.nets.hooks with ``LayerInfo.site``."""
    found: dict[str, nn.Module] = {}
    for site, name in legacy_names(module).items():
        path = site.path if site.call == 0 else site.path.rpartition(".")[0]
        found[name] = module.get_submodule(path)
    return found


def __getattr__(name: str) -> object:
    """Older tests and scripts read the memo table as ``featent.nets.models._CACHE``."""
    if name == "_CACHE":
        from featent.nets import loading

        return vars(loading)["_CACHE"]
    raise AttributeError(f"module 'featent.nets.models' has no attribute {name!r}")
