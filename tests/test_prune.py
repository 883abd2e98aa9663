"""Torch-Pruning through featent: identical channels removed on plain nets, residual and depthwise nets
pruned by every order and by FEImportance in a Torch-Pruning pruner, FLOPs from torch's counter."""

from __future__ import annotations

import pytest
import torch
import torch_pruning as tp

from featent.errors import FeatentError
from featent.experiments.pruning import PRUNE_METHODS, prune_network
from featent.experiments.surgery import count_flops, count_parameters, prune_channels
from featent.indicators.registry import RANDOM
from featent.nets import load_model
from featent.prune import FEImportance, conv_layers, prune_channels_tp, trainable_copy

CLASSES = ["T-shirt/top", "Trouser"]


def test_torch_pruning_removes_the_same_channels_as_the_surgery_on_the_demo() -> None:
    demo = load_model("demo")
    for layer, conv in [(v, k) for k, v in conv_layers(demo).items()][::2]:
        drop = list(range(0, demo.layer(layer).n_units, 3))
        ours = prune_channels(demo, layer, drop)
        theirs = prune_channels_tp(demo.module, conv, drop, demo.input_size)
        x = demo.preprocess(torch.rand(4, 3, demo.input_size, demo.input_size))
        with torch.inference_mode():
            assert float((ours(x) - theirs(x)).abs().max()) == 0.0
        assert count_parameters(ours) == count_parameters(theirs) < count_parameters(demo.module)
    assert all(not p.requires_grad for p in demo.module.parameters())  # the memoized model is untouched


@pytest.mark.parametrize("spec", ["resnet18:random@32", "mobilenet_v2:random@32"])
def test_fe_importance_in_a_torch_pruning_pruner_halves_a_net_that_still_runs(cache_dir, spec) -> None:
    model = load_model(spec)
    importance = FEImportance(model, "fashion", CLASSES, n_images=4)
    net = trainable_copy(model.module)
    before_params, before_flops = count_parameters(net), count_flops(net, 32)
    pruner = tp.pruner.MetaPruner(net, torch.zeros(1, 3, 32, 32), importance=importance, pruning_ratio=0.5,
                                  ignored_layers=[m for m in net.modules() if isinstance(m, torch.nn.Linear)])
    pruner.step()
    assert count_parameters(net) < 0.9 * before_params and count_flops(net, 32) < 0.6 * before_flops
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 1000)
    assert count_parameters(model.module) == before_params  # the loaded model is not pruned
    stem = next(iter(importance.layers))
    assert net.get_submodule(stem).out_channels < model.module.get_submodule(stem).out_channels


@pytest.mark.parametrize(("spec", "layer", "conv", "methods"), [
    ("resnet18:random@32", "layer1.0.relu", "layer1.0.conv1", [*PRUNE_METHODS, RANDOM]),
    ("mobilenet_v2:random@32", "features.2.conv.0.2", "features.2.conv.0.0", [*PRUNE_METHODS, RANDOM]),
])
def test_prune_network_prunes_residual_and_depthwise_nets_by_each_order(spec, layer, conv, methods) -> None:
    model = load_model(spec)
    images = {c: torch.rand(2, 3, 32, 32) for c in CLASSES}
    n = model.layer(layer).n_units
    kept = set()
    for method in methods:
        if method == "nisp":  # NISP needs the class Linear right after the layer's block
            with pytest.raises(FeatentError, match="NISP is not available"):
                prune_network(model, method, 0.5, images, [layer])
            continue
        module, removed = prune_network(model, method, 0.5, images, [layer])
        assert removed == {} and module.get_submodule(conv).out_channels == n // 2
        assert module(torch.rand(1, 3, 32, 32)).shape == (1, 1000)
        kept.add(tuple(module.get_submodule(conv).weight[:, 0, 0, 0].tolist()))
    assert len(kept) > 1  # the orders keep different channels


def test_vgg16_flops_at_224_match_the_paper() -> None:
    import torchvision

    flops = count_flops(torchvision.models.vgg16(weights=None), 224)
    # 2 x 15.47 G multiply-adds (convs 30.69 G, Linears 0.25 G); Table 12 reports 30.96 B
    assert round(flops / 1e9, 2) == 30.94 and abs(flops / 30.96e9 - 1) < 1e-3
