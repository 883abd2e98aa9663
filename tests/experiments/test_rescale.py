"""featent.experiments.rescale: rescaling by hand, the model left bit-identical, and the experiment contract
(the key follows every parameter, a stored result is served without recomputing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from featent import indicators as ind
from featent.core.topology import birth_times
from featent.data import load_dataset
from featent.errors import DataError, FeatentError
from featent.experiments import rescale as ex
from featent.nets import fingerprint_module, from_module, load_model
from featent.spec import Selection
from featent.store import ResultStore

LAYER = "block2_conv1"  # DemoNet.features[5]
CONV_INDEX = 5


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _layer_acts(module: nn.Module, model, images: torch.Tensor, conv_index: int, input_scale: float = 1.0) -> np.ndarray:
    """Post-ReLU output of features[conv_index] computed by hand (no hooks), input tensor x input_scale."""
    x = model.preprocess(images) * input_scale
    with torch.no_grad():
        for k, child in enumerate(module.features):
            x = child(x) if not isinstance(child, nn.ReLU) else torch.relu(x)
            if k == conv_index + 1:
                return x.numpy()
    raise AssertionError("layer not reached")


def test_scaled_copy_halves_exactly_that_layer_and_leaves_the_model_alone():
    model = load_model("demo")
    before = _state(model.module)
    fp = model.fingerprint
    copy = ex.scaled_copy(model, LAYER, 0.5)
    assert copy.module is not model.module and copy.fingerprint != fp
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    original = _layer_acts(model.module, model, images, CONV_INDEX)
    halved = _layer_acts(copy.module, copy, images, CONV_INDEX)
    np.testing.assert_allclose(halved, 0.5 * original, rtol=1e-5, atol=1e-6)  # ReLU(x/2) = ReLU(x)/2
    for key, tensor in model.module.state_dict().items():
        assert torch.equal(tensor, before[key]), key
    assert fingerprint_module(model.module, "demo", model.input_size) == fp


def test_scaled_copy_scales_the_batchnorm_affine_when_present():
    torch.manual_seed(0)
    module = nn.Sequential()
    module.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
    module.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    with torch.no_grad():
        module.features[1].running_mean.uniform_(-0.5, 0.5)
        module.features[1].running_var.uniform_(0.5, 2.0)
        module.features[1].bias.uniform_(-0.5, 0.5)
    model = from_module(module, name="bn", input_size=8, mean=(0.0,) * 3, std=(1.0,) * 3)
    copy = ex.scaled_copy(model, "block1_conv1", 0.5)
    images = torch.rand(2, 3, 8, 8)
    a = ind.forward_capture(model, images, "block1_conv1")[0]
    b = ind.forward_capture(copy, images, "block1_conv1")[0]
    np.testing.assert_allclose(b, 0.5 * a, rtol=1e-5, atol=1e-6)
    assert torch.equal(copy.module.features[0].weight, module.features[0].weight)


def test_pixel_space_scaling_undoes_and_redoes_the_normalization():
    model = load_model("demo")  # mean = std = 0.5
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    transform = ex.scaled_images(0.5, model, "pixels")
    torch.testing.assert_close(transform(model.preprocess(images)), model.preprocess(images * 0.5))
    with pytest.raises(FeatentError, match="space must be one of 'input' or 'pixels', got 'colour'"):
        ex.scaled_images(0.5, model, "colour")


def test_bad_factor_is_refused():
    with pytest.raises(FeatentError, match=r"factor must be a number > 0, got 0\.0"):
        ex.scaled_images(0.0)
    with pytest.raises(FeatentError, match="factor must be a number > 0"):
        ex.scaled_copy(load_model("demo"), LAYER, -1.0)


def test_rescale_experiment_equals_rescaling_by_hand(cache_dir):
    model = load_model("demo")
    before = _state(model.module)
    selection = Selection("demo", "digits", "3", (LAYER,), n_images=6, seed=1)
    result = ex.rescale_experiment(selection, layer=LAYER, scale=0.5, classes=["3", "8"], images_per_class=4)
    assert result.conditions == [(1.0, 1.0), (0.5, 1.0), (1.0, 0.5), (0.5, 0.5)]

    # by hand: a copy with features[5] weight and bias halved, fed its normalized input x 0.5
    from featent.data import load_dataset

    images = load_dataset("digits").sample("3", 6, 1, "train", 32).images
    others = load_dataset("digits").sample("8", 4, 1, "train", 32).images
    hand = type(model.module)()
    hand.load_state_dict(model.module.state_dict())
    hand.eval()
    with torch.no_grad():
        hand.features[CONV_INDEX].weight.mul_(0.5)
        hand.features[CONV_INDEX].bias.mul_(0.5)
    acts = _layer_acts(hand, model, images, CONV_INDEX, 0.5)
    acts_other = _layer_acts(hand, model, others, CONV_INDEX, 0.5)
    both = result.values[3]
    np.testing.assert_allclose(both["l1_norm"], ind.l1_norm(acts), rtol=1e-5)
    np.testing.assert_allclose(both["apoz"], ind.apoz(acts))
    means = np.stack([ind.class_means(acts), ind.class_means(acts_other)])
    np.testing.assert_allclose(both["class_selectivity"], ind.class_selectivity(means, 0), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(both["fpgm"], ind.fpgm(hand.features[CONV_INDEX].weight.detach().numpy()), rtol=1e-6)
    from featent.core.entropy import feature_entropy

    np.testing.assert_allclose(both["feature_entropy"], feature_entropy(birth_times(acts)))
    # filters x0.5 alone: FPGM halves exactly, FE is unchanged (the filtration only depends on order)
    np.testing.assert_allclose(result.values[2]["fpgm"], 0.5 * result.values[0]["fpgm"], rtol=1e-6)
    np.testing.assert_allclose(result.values[2]["feature_entropy"], result.values[0]["feature_entropy"])
    rows = result.to_frame(unit=0)
    assert list(zip(rows["images"], rows["filters"])) == result.conditions
    assert rows["feature_entropy"].tolist() == [float(v["feature_entropy"][0]) for v in result.values]
    assert list(result.to_frame().columns) == ["images", "filters", "accuracy", *ind.INDICATOR_COLUMNS]
    assert len(result.records()) == 4 and result.selection.layers == (LAYER,)
    with pytest.raises(FeatentError, match=r"unit must be an integer from 0 to \d+, got 10000"):
        result.to_frame(unit=10_000)
    for key, tensor in model.module.state_dict().items():  # the model itself is bit-identical
        assert torch.equal(tensor, before[key]), key


def test_bad_parameters_are_refused_with_one_message():
    selection = Selection("demo", "digits", "3", (LAYER,), n_images=4)
    with pytest.raises(FeatentError, match="scale must be a number > 0, got -1"):
        ex.rescale_experiment(selection, scale=-1)
    with pytest.raises(FeatentError, match="image_space must be one of"):
        ex.rescale_experiment(selection, image_space="colour")
    with pytest.raises(FeatentError, match="selection must be a Selection"):
        ex.rescale_experiment("demo")


def test_key_follows_every_parameter(cache_dir):
    selection = Selection("demo", "digits", "3", (LAYER,), n_images=6, seed=1)
    key = ex.rescale_experiment.key
    base = key(selection)
    assert key(selection, progress=lambda f, m: None) == base  # how progress is shown is not part of the result
    assert key(selection, scale=0.5, image_space="input") == base  # defaults spelled out
    changed = [
        key(selection.replace(n_images=7)), key(selection.replace(seed=2)), key(selection.with_class("4")),
        key(selection, layer="block3_conv2"), key(selection, scale=0.25), key(selection, classes=["3", "8"]),
        key(selection, images_per_class=3), key(selection, image_space="pixels"),
        key(selection.replace(model="demo:random")),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_cached_computes_once_and_recall_finds_it(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "store")
    selection = Selection("demo", "digits", "3", (LAYER,), n_images=4, seed=0)
    arguments = {"classes": ["3", "8"], "images_per_class": 2}
    calls = []
    measured = ind.model_indicators

    def counted(*args, **kwargs):
        calls.append(1)
        return measured(*args, **kwargs)

    monkeypatch.setattr(ex.ind, "model_indicators", counted)
    assert ex.rescale_experiment.recall(selection, store=store, **arguments) is None
    first = ex.rescale_experiment.cached(selection, store=store, **arguments)
    assert len(calls) == 4  # one pass per condition
    key = ex.rescale_experiment.key(selection, **arguments)
    assert first.store_key == key and store.get_result(key) is not None
    second = ex.rescale_experiment.cached(selection, store=store, **arguments)
    again = ex.rescale_experiment.recall(selection, store=store, **arguments)
    assert len(calls) == 4  # served from the store
    for other in (second, again):
        assert isinstance(other, ex.RescaleResult) and other.selection == first.selection
        assert other.conditions == first.conditions and other.accuracy == first.accuracy
        assert all(np.array_equal(a[k], b[k], equal_nan=True) for a, b in zip(first.values, other.values) for k in a)
        assert other.to_frame().equals(first.to_frame())
    assert ex.rescale_experiment.recall(selection, store=store, scale=0.25, **arguments) is None


def _small(n_out: int, name: str):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                               nn.Linear(4, n_out))
    return from_module(module, name=name, input_size=16)


def _named_folder(root, classes):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return str(root)


def test_rescale_accuracy_maps_classes_by_name_by_map_and_by_index(tmp_path, cache_dir):
    """A module labelled ``resnet18`` knows torchvision's class names, so 'goldfish' scores output 1;
    a nameless 3-output module needs a map, and is refused the accuracy (not the indicators) without one."""
    data = _named_folder(tmp_path / "fish", ["goldfish", "tench"])
    named = _small(1000, "resnet18")
    result = ex.rescale_experiment(Selection(named, data, "goldfish", ("1",), n_images=4))
    assert "Classes mapped to the model's outputs by name." in result.notes
    images = load_dataset(data).sample("goldfish", 4, 0, "train", 16).images
    with torch.no_grad():
        hit = float((named.module(named.preprocess(images)).argmax(1) == 1).float().mean())
    assert result.accuracy[0] == hit

    nameless = _small(3, "nameless")
    refused = ex.rescale_experiment(Selection(nameless, data, "tench", ("1",), n_images=4))
    assert all(np.isnan(a) for a in refused.accuracy) and np.isfinite(refused.to_frame()["h_over_eps"]).all()
    assert any(n.startswith("Class accuracy is not reported: The model has 3 outputs") and "--class-map FILE.json" in n
               for n in refused.notes)
    mapped = ex.rescale_experiment(Selection(nameless, data, "tench", ("1",), n_images=4), class_map={"goldfish": 2,
                                   "tench": 0})
    assert "Classes mapped to outputs by the given class map (2 classes)." in mapped.notes
    with torch.no_grad():
        tench = load_dataset(data).sample("tench", 4, 0, "train", 16).images
        assert mapped.accuracy[0] == float((nameless.module(nameless.preprocess(tench)).argmax(1) == 0).float().mean())
    with pytest.raises(DataError, match="no output for 'tench'"):
        ex.rescale_experiment(Selection(nameless, data, "tench", ("1",), n_images=4), class_map={"goldfish": 2})
