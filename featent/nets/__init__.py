"""Networks: the model zoo, layer discovery for any nn.Module, loading with fingerprints, and the
hooks on them (featent.nets.hooks is the only place hooks are registered)."""

from featent.nets.demo import DemoNet
from featent.nets.hooks import Site
from featent.nets.layers import LayerInfo, discover_layers, layer_modules
from featent.nets.loading import (
    LoadedModel,
    clear_model_cache,
    fingerprint_module,
    forget_model,
    from_module,
    list_models,
    load_model,
    pick_device,
    random_variant,
)
from featent.nets.zoo import offline, timm_available, torchvision_names

__all__ = [
    "DemoNet",
    "LayerInfo",
    "LoadedModel",
    "Site",
    "clear_model_cache",
    "discover_layers",
    "fingerprint_module",
    "layer_modules",
    "forget_model",
    "from_module",
    "list_models",
    "load_model",
    "offline",
    "pick_device",
    "random_variant",
    "timm_available",
    "torchvision_names",
]
