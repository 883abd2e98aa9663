"""Pruning: real surgery equals masking, costs are counted right, unsupported nets are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from featent.errors import FeatentError, ModelError
from featent.experiments.ablation import units_removed
from featent.experiments.pruning import (
    PRUNE_METHODS,
    compare_pruning,
    conv_flops,
    count_parameters,
    finetune,
    images_per_second,
    prunable_layers,
    prune_channels,
    prune_network,
)
from featent.nets import from_module
from featent.spec import Selection


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


def test_prune_network_prunes_every_layer_at_the_ratio(tiny_cnn) -> None:
    g = torch.Generator().manual_seed(4)
    images = {name: torch.rand(4, 3, 16, 16, generator=g) for name in ("a", "b", "c")}
    before = {k: v.clone() for k, v in tiny_cnn.module.state_dict().items()}
    for method in PRUNE_METHODS:
        module, removed = prune_network(tiny_cnn, method, 0.5, images)
        assert {k: len(v) for k, v in removed.items()} == {"block1_conv1": 2, "block1_conv2": 2, "block2_conv1": 3}
        convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
        assert [tuple(c.weight.shape[:2]) for c in convs] == [(2, 3), (2, 2), (3, 2)]
        assert module(torch.zeros(1, 3, 16, 16)).shape == (1, 3)
    after = tiny_cnn.module.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in tiny_cnn.module.modules())


def test_finetune_updates_weights_and_leaves_eval_mode(tiny_cnn) -> None:
    module = prune_channels(tiny_cnn, "block2_conv1", [1])
    before = module.classifier[1].weight.clone()
    g = torch.Generator().manual_seed(5)
    finetune(tiny_cnn, module, torch.rand(16, 3, 16, 16, generator=g), torch.randint(0, 3, (16,), generator=g),
             epochs=1, lr=0.1, batch_size=8)
    assert not torch.equal(before, module.classifier[1].weight)
    assert not module.training and not any(p.requires_grad for p in module.parameters())


def test_bad_inputs_are_refused(tiny_cnn) -> None:
    images = {"a": torch.rand(2, 3, 16, 16), "b": torch.rand(2, 3, 16, 16)}
    for ratio in (0, 1, 1.5, -0.1):
        with pytest.raises(FeatentError, match="ratio must be a number strictly between 0 and 1"):
            prune_network(tiny_cnn, "l1_norm", ratio, images)
    with pytest.raises(FeatentError, match="method must be one of 'h_over_eps'"):
        prune_network(tiny_cnn, "magic", 0.5, images)
    with pytest.raises(ModelError, match="no layer 'nope'"):
        prune_network(tiny_cnn, "l1_norm", 0.5, images, layers=["nope"])
    with pytest.raises(FeatentError, match="keep at least one"):
        prune_channels(tiny_cnn, "block1_conv1", [0, 1, 2, 3])
    with pytest.raises(FeatentError, match="ratio must be a number strictly between 0 and 1"):
        compare_pruning(Selection("demo", "digits", "0", ()), ratio=1.0)
    with pytest.raises(TypeError, match="positional"):
        compare_pruning(Selection("demo", "digits", "0", ()), 0.5)  # parameters after the selection are keyword-only


def test_resnet_pruning_is_declared_unsupported() -> None:
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        resnet = from_module(torchvision.models.resnet18(weights=None, num_classes=3), name="resnet18", input_size=32)
    with pytest.raises(ModelError, match="residual nets such as ResNet are not supported"):
        prunable_layers(resnet)
    with pytest.raises(ModelError, match="ResNet"):
        prune_channels(resnet, "conv2_1_out", [0])


def test_compare_pruning_on_demo_reports_smaller_faster_rows(cache_dir) -> None:
    report = compare_pruning(Selection("demo", "digits", "0", (), n_images=4), ratio=0.5,
                             methods=["l1_norm", "h_over_eps"], classes=["0", "1"],
                             finetune_epochs=1, train_per_class=8, test_per_class=8)
    unpruned, *rows = report.rows
    assert unpruned.method == "unpruned" and unpruned.parameters == 138_330
    for row in rows:
        assert row.parameters < unpruned.parameters and row.flops < unpruned.flops
        assert {k: len(v) for k, v in row.removed.items()}["block3_conv2"] == 32
        assert 0.0 <= row.accuracy <= 1.0
    assert rows[0].parameters == rows[1].parameters  # same architecture whatever the method
    assert (report.n_train, report.n_test) == (80, 80)
    assert [r["method"] for r in report.records()] == ["unpruned", "l1_norm", "h_over_eps"]
    assert report.records()[0]["ratio"] is None and report.selection.model == "demo"


def test_torchvision_vgg_bn_prunes_to_half_with_linear_after_adaptive_pool() -> None:
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vgg = torchvision.models.vgg11_bn(weights=None, num_classes=3)
        vgg.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 3))  # keep the test light
        for m in vgg.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
    model = from_module(vgg, name="vgg11_bn", input_size=32)
    assert prunable_layers(model)[-1] == "block5_conv2"
    g = torch.Generator().manual_seed(6)
    images = {name: torch.rand(2, 3, 32, 32, generator=g) for name in ("a", "b")}
    module, _removed = prune_network(model, "l1_norm", 0.5, images)  # every step checked against the masked net
    widths = [m.out_channels for m in module.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [32, 64, 128, 128, 256, 256, 256, 256]
    assert [m.num_features for m in module.modules() if isinstance(m, nn.BatchNorm2d)] == widths
    assert module.classifier[0].in_features == 256 * 49
    assert conv_flops(module, 32) < conv_flops(vgg, 32) / 3
