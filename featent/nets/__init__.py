"""Networks: the model zoo, layer discovery, loading with fingerprints, and the hooks on them."""

from featent.nets.models import (
    DemoNet,
    LayerInfo,
    LoadedModel,
    clear_model_cache,
    forget_model,
    from_module,
    layer_modules,
    list_models,
    load_model,
    pick_device,
    register_spec_resolver,
)

__all__ = [
    "DemoNet",
    "LayerInfo",
    "LoadedModel",
    "clear_model_cache",
    "forget_model",
    "from_module",
    "layer_modules",
    "list_models",
    "load_model",
    "pick_device",
    "register_spec_resolver",
]
