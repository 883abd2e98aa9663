"""Any CNN: torchvision architectures of every family, timm models, a user's own modules.

Each model lists at least one layer and gives finite feature entropy for one layer on a tiny
generated image folder (random init at a small input size keeps the whole set fast).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from featent.errors import ModelError
from featent.nets import from_module, load_model, timm_available
from featent.pipeline import Selection, layer_results

# (spec, family): one or two per torchvision family, each at a small input
ARCHITECTURES = [
    ("alexnet:random@64", "AlexNet"),
    ("vgg11_bn:random@64", "VGG + BN"),
    ("resnet18:random@64", "ResNet"),
    ("densenet121:random@64", "DenseNet"),
    ("googlenet:random@64", "GoogLeNet (functional ReLU)"),
    ("mobilenet_v2:random@64", "MobileNet v2"),
    ("mobilenet_v3_small:random@64", "MobileNet v3"),
    ("mnasnet0_5:random@64", "MNASNet"),
    ("shufflenet_v2_x0_5:random@64", "ShuffleNet v2"),
    ("squeezenet1_1:random@64", "SqueezeNet"),
    ("efficientnet_b0:random@64", "EfficientNet"),
    ("regnet_y_400mf:random@64", "RegNet"),
    ("convnext_tiny:random@64", "ConvNeXt"),
    ("wide_resnet50_2:random@32", "Wide ResNet"),
]


def _finite_fe(model, folder) -> np.ndarray:
    layer = model.layers[-1].name  # the deepest layer: smallest units, fastest births
    selection = Selection(model=model, data=str(folder), class_name="cat", layers=(layer,), n_images=4, seed=0)
    result = layer_results(selection, cache=False)[layer]
    assert result.births.shape == (4, model.layer(layer).n_units)
    assert np.isfinite(result.feature_entropy).all() and np.isfinite(result.mean_feature_entropy)
    return result.feature_entropy


@pytest.mark.parametrize("spec", [a for a, _ in ARCHITECTURES], ids=[f for _, f in ARCHITECTURES])
def test_torchvision_architecture_has_layers_and_finite_fe(spec, image_folder):
    model = load_model(spec)
    assert len(model.layers) >= 1
    assert len({i.name for i in model.layers}) == len(model.layers)  # names are unique
    for info in model.layers:
        assert info.unit_size >= 2 and info.n_units >= 1
        assert model.layer(info.name) is info
        for alias in info.aliases:
            assert model.layer(alias) is info
    _finite_fe(model, image_folder)


def test_residual_and_functional_layers_are_the_activated_block_outputs():
    resnet = load_model("resnet18:random@64")
    assert resnet.layer("conv2_1_out").aliases == ("layer1.0.relu_1", "layer1.0.relu#1")
    mobilenet = load_model("mobilenet_v2:random@64")
    # an inverted residual block with a skip ends in an addition: its output is the layer
    assert any(i.name.endswith(".add") or "add" in i.name for i in mobilenet.layers) or mobilenet.discovery == "fx"
    googlenet = load_model("googlenet:random@64")
    assert googlenet.layers[0].name == "conv1.relu"  # F.relu inside BasicConv2d, captured through a tap
    assert googlenet.runner is not googlenet.module


@pytest.mark.skipif(not timm_available(), reason="timm is an optional extra (installed by make test)")
@pytest.mark.parametrize("name", ["resnet18", "efficientnet_b0"])
def test_timm_models(name, image_folder):
    model = load_model(f"timm/{name}:random@64")
    assert len(model.layers) >= 5
    _finite_fe(model, image_folder)
    module = from_module(model.module, input_size=64)  # the same module brought from Python
    assert [i.name for i in module.layers] == [i.name for i in model.layers]


class TwoBranch(nn.Module):
    """Two parallel conv branches joined by a sum, with functional ReLUs (not modules)."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Conv2d(3, 4, 3, padding=1)
        self.right = nn.Conv2d(3, 4, 5, padding=2)
        self.merge = nn.Conv2d(4, 6, 3, padding=1)
        self.head = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.left(x)) + F.relu(self.right(x))
        x = F.relu(self.merge(x))
        return self.head(x.mean(dim=(2, 3)))


def test_custom_two_branch_module_with_functional_relu(image_folder):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = from_module(TwoBranch(), input_size=16)
    # both branches end in the sum (their block output), then the merge conv's ReLU
    assert [i.name for i in model.layers] == ["add", "relu_2"]
    assert [i.conv for i in model.layers] == ["left", "merge"]
    assert [i.n_units for i in model.layers] == [4, 6]
    fe = _finite_fe(model, image_folder)
    assert fe.shape == (6,)
    # an explicit list: module paths and graph nodes
    chosen = from_module(TwoBranch(), input_size=16, layers=["merge", "add"])
    assert [(i.name, i.n_units) for i in chosen.layers] == [("add", 4), ("merge", 6)]
    assert chosen.fingerprint != model.fingerprint  # the layer list is part of the store key


class Wide(nn.Module):
    """Its only 4-D outputs are 8x4: no square unit anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x[..., : x.shape[-1] // 2])).flatten(1)


def test_non_square_outputs_are_named_in_the_message():
    with pytest.raises(ModelError, match=r"Wide has no usable layer: .*Conv2d .* square .*relu \(1x4x8x4\)"):
        from_module(Wide(), input_size=8)
    with pytest.raises(ModelError, match=r"Layer 'conv' of Wide outputs a 1x4x8x4 tensor, not a square feature map"):
        from_module(Wide(), input_size=8, layers=["conv"])


class TinyTransformer(nn.Module):
    """Patches by reshaping and a transformer encoder: no convolution at all."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(48, 16)
        self.encoder = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        patches = x.unfold(2, 4, 4).unfold(3, 4, 4).permute(0, 2, 3, 1, 4, 5).reshape(n, -1, 48)
        return self.head(self.encoder(self.embed(patches)).mean(1))


def test_vision_transformers_are_refused_or_offer_their_conv_stem():
    with pytest.raises(
        ModelError, match=r"TinyTransformer has no usable layer: featent looks for the activated output of a Conv2d"
    ):
        from_module(TinyTransformer(), input_size=16)
    vit = load_model("vit_b_16:random")
    assert [(i.name, i.n_units, i.unit_size) for i in vit.layers] == [("conv_proj", 768, 14)]
    with pytest.raises(ModelError, match=r"vit_b_16 is a transformer with a fixed input size"):
        load_model("vit_b_16:random@64")


def test_unknown_module_path_and_non_module():
    model = load_model("vgg11:random@32")
    with pytest.raises(ModelError, match=r"has no layer 'features.99'"):
        model.layer("features.99")
    assert model.layer("features.6").n_units == 256  # a pre-activation conv output, asked for by path
    assert "features.6" not in [i.name for i in model.layers]
    with pytest.raises(ModelError, match=r"needs a torch.nn.Module"):
        from_module("vgg11")  # type: ignore[arg-type]
