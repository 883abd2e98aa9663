"""Channel surgery: the pruned copy equals the masked original, costs are counted right, fine-tuning
trains in place, unsupported nets are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from featent.errors import FeatentError, ModelError
from featent.experiments.masking import units_removed
from featent.experiments.surgery import (
    conv_flops,
    count_parameters,
    finetune,
    images_per_second,
    prunable_layers,
    prune_channels,
)
from featent.nets import from_module


def _bn_net():
    """A VGG_bn-like net (conv-BN-ReLU) with non-trivial running statistics."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        module = nn.Sequential()
        module.features = nn.Sequential(
            nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(5, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        module.classifier = nn.Sequential(nn.Flatten(), nn.Linear(6 * 2 * 2, 4))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
    return from_module(module, name="bn", input_size=8)


def _outputs(model, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return module(model.preprocess(x))


def _masked(model, layer: str, units: list[int], x: torch.Tensor) -> torch.Tensor:
    with units_removed(model, layer, units), torch.inference_mode():
        return model.module(model.preprocess(x))


def test_params_and_flops_of_a_tiny_net_by_hand() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1, stride=2, bias=False),
                        nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    # conv1: 4*3*9 + 4; conv2: 2*4*1; linear: 32*3 + 3
    assert count_parameters(net) == 112 + 8 + 99
    # conv1 on 8x8 -> 8x8x4 outputs, 27 MACs each; conv2 -> 4x4x2 outputs, 4 MACs each; 2 FLOPs per MAC
    assert conv_flops(net, 8) == 2 * (8 * 8 * 4 * 27 + 4 * 4 * 2 * 4)
    grouped = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=2))
    assert conv_flops(nn.Sequential(nn.Conv2d(3, 4, 1), *grouped), 4) == 2 * (16 * 4 * 3 + 16 * 4 * 2 * 9)
    assert images_per_second(net, 8, batch_size=4, min_seconds=0.01) > 0


def test_pruned_conv_layer_has_the_expected_shapes_and_equals_the_masked_model(tiny_cnn) -> None:
    x = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    pruned = prune_channels(tiny_cnn, "block1_conv2", [1, 3], check=False)
    convs = [m for m in pruned.modules() if isinstance(m, nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(4, 3, 3, 3), (2, 4, 3, 3), (6, 2, 3, 3)]
    assert tuple(convs[1].bias.shape) == (2,)
    torch.testing.assert_close(_outputs(tiny_cnn, pruned, x), _masked(tiny_cnn, "block1_conv2", [1, 3], x))
    # the original is untouched
    assert tiny_cnn.module.features[2].weight.shape == (4, 4, 3, 3)


def test_pruning_the_last_conv_removes_linear_columns_channel_by_channel(tiny_cnn) -> None:
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    pruned = prune_channels(tiny_cnn, "block2_conv1", [0, 2, 5], check=False)
    linear = next(m for m in pruned.modules() if isinstance(m, nn.Linear))
    assert tuple(linear.weight.shape) == (3, 3 * 4 * 4)
    original = tiny_cnn.module.classifier[1].weight.view(3, 6, 16)
    torch.testing.assert_close(linear.weight.view(3, 3, 16), original[:, [1, 3, 4]])
    torch.testing.assert_close(_outputs(tiny_cnn, pruned, x), _masked(tiny_cnn, "block2_conv1", [0, 2, 5], x))


def test_batchnorm_channels_are_pruned_with_their_filters() -> None:
    model = _bn_net()
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    pruned = prune_channels(model, "block1_conv1", [0, 3], check=False)
    bn = next(m for m in pruned.modules() if isinstance(m, nn.BatchNorm2d))
    assert tuple(bn.running_mean.shape) == (3,)
    torch.testing.assert_close(bn.running_var, model.module.features[1].running_var[[1, 2, 4]])
    torch.testing.assert_close(_outputs(model, pruned, x), _masked(model, "block1_conv1", [0, 3], x))
    assert count_parameters(pruned) < count_parameters(model.module)


def test_finetune_updates_weights_and_leaves_eval_mode(tiny_cnn) -> None:
    module = prune_channels(tiny_cnn, "block2_conv1", [1])
    before = module.classifier[1].weight.clone()
    g = torch.Generator().manual_seed(5)
    finetune(tiny_cnn, module, torch.rand(16, 3, 16, 16, generator=g), torch.randint(0, 3, (16,), generator=g),
             epochs=1, lr=0.1, batch_size=8)
    assert not torch.equal(before, module.classifier[1].weight)
    assert not module.training and not any(p.requires_grad for p in module.parameters())


def test_prune_channels_refuses_to_empty_a_layer_or_name_a_missing_unit(tiny_cnn) -> None:
    with pytest.raises(FeatentError, match="keep at least one"):
        prune_channels(tiny_cnn, "block1_conv1", [0, 1, 2, 3])
    with pytest.raises(FeatentError, match=r"Units to prune must lie in 0\.\.3"):
        prune_channels(tiny_cnn, "block1_conv1", [4])


def test_resnet_surgery_is_refused_and_its_layers_go_to_torch_pruning() -> None:
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        resnet = from_module(torchvision.models.resnet18(weights=None, num_classes=3), name="resnet18", input_size=32)
    assert prunable_layers(resnet)[0] == "conv1"  # pruned through Torch-Pruning (tests/test_prune.py)
    with pytest.raises(ModelError, match="ResNet"):
        prune_channels(resnet, "conv2_1_out", [0])
