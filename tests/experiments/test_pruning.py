"""Pruning: the layer-by-layer strategy removes the ratio of every layer without touching the model,
bad arguments are refused, and the report compares smaller networks with the unpruned one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from featent.errors import FeatentError, ModelError
from featent.experiments.pruning import PRUNE_METHODS, compare_pruning, prune_network
from featent.experiments.surgery import conv_flops, prunable_layers
from featent.nets import from_module
from featent.spec import Selection


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


def test_bad_inputs_are_refused(tiny_cnn) -> None:
    images = {"a": torch.rand(2, 3, 16, 16), "b": torch.rand(2, 3, 16, 16)}
    for ratio in (0, 1, 1.5, -0.1):
        with pytest.raises(FeatentError, match="ratio must be a number strictly between 0 and 1"):
            prune_network(tiny_cnn, "l1_norm", ratio, images)
    with pytest.raises(FeatentError, match="method must be one of 'h_over_eps'"):
        prune_network(tiny_cnn, "magic", 0.5, images)
    with pytest.raises(ModelError, match="no layer 'nope'"):
        prune_network(tiny_cnn, "l1_norm", 0.5, images, layers=["nope"])
    with pytest.raises(FeatentError, match="ratio must be a number strictly between 0 and 1"):
        compare_pruning(Selection("demo", "digits", "0", ()), ratio=1.0)
    with pytest.raises(TypeError, match="positional"):
        compare_pruning(Selection("demo", "digits", "0", ()), 0.5)  # parameters after the selection are keyword-only


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
