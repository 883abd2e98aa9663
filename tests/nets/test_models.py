"""featent.nets: the demo, torchvision nets, layer naming, weights loading and its errors."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from featent.data import load_dataset
from featent.errors import ModelError
from featent.nets import DemoNet, LoadedModel, clear_model_cache, layer_modules, list_models, load_model
from featent.nets.demo import DEMO_WEIGHTS


def test_list_models_covers_the_issue():
    names = list_models()
    for required in ["demo", "alexnet", "resnet18", "resnet34", "resnet50"]:
        assert required in names
    for depth in (11, 13, 16, 19):
        assert f"vgg{depth}" in names and f"vgg{depth}_bn" in names


def test_demo_ships_small_weights_and_classifies_fashion_and_digits():
    assert DEMO_WEIGHTS.stat().st_size <= 2 * 2**20
    model = load_model("demo")
    assert isinstance(model, LoadedModel)
    assert model.weights_source == "shipped demo weights"
    assert not model.module.training and model.input_size == 32 and model.n_classes == 10
    assert [(i.name, i.n_units, i.unit_size) for i in model.layers] == [
        ("block1_conv1", 16, 32), ("block1_conv2", 16, 32),
        ("block2_conv1", 32, 16), ("block2_conv2", 32, 16),
        ("block3_conv1", 64, 8), ("block3_conv2", 64, 8),
    ]
    x, y = load_dataset("fashion-subset").split_arrays("test", 32)
    with torch.inference_mode():
        accuracy = (model.module(model.preprocess(x)).argmax(1) == y).float().mean().item()
    assert accuracy >= 0.90  # 93.0% here, 91.7% on the full 10k test set
    digits = load_model("demo-digits")
    assert digits.spec == "demo-digits" and digits.fingerprint != model.fingerprint
    x, y = load_dataset("digits").split_arrays("test", 32)
    with torch.inference_mode():
        accuracy = (digits.module(digits.preprocess(x)).argmax(1) == y).float().mean().item()
    assert accuracy >= 0.97


def test_load_model_is_memoized_and_random_init_is_seeded():
    assert load_model("demo") is load_model("demo")
    a = load_model("demo:random")
    assert a.weights_source == "random init (seed 0)"
    assert load_model("demo:random:0").fingerprint == a.fingerprint
    assert load_model("demo:random:1").fingerprint != a.fingerprint
    assert load_model("demo").fingerprint != a.fingerprint
    clear_model_cache()
    assert load_model("demo:random").fingerprint == a.fingerprint


def test_vgg_layers_are_named_by_block_and_conv():
    model = load_model("vgg11:random@32")
    assert [(i.name, i.n_units, i.unit_size) for i in model.layers] == [
        ("block1_conv1", 64, 32), ("block2_conv1", 128, 16),
        ("block3_conv1", 256, 8), ("block3_conv2", 256, 8),
        ("block4_conv1", 512, 4), ("block4_conv2", 512, 4),
        ("block5_conv1", 512, 2), ("block5_conv2", 512, 2),
    ]
    bn = load_model("vgg11_bn:random@32")
    assert [i.name for i in bn.layers] == [i.name for i in model.layers]
    # a layer is the ReLU output (after BN for _bn nets)
    assert all(isinstance(m, torch.nn.ReLU) for m in layer_modules(bn.module).values())


def test_resnet_layers_are_named_by_block():
    model = load_model("resnet18:random@64")
    # the stem and every block output keep their historical names; the ReLU after each block's
    # first conv is a layer too, named by its module path
    assert [i.name for i in model.layers if not i.name.startswith("layer")] == [
        "conv1", "conv2_1_out", "conv2_2_out", "conv3_1_out", "conv3_2_out",
        "conv4_1_out", "conv4_2_out", "conv5_1_out", "conv5_2_out",
    ]
    assert [i.name for i in model.layers][:3] == ["conv1", "layer1.0.relu", "conv2_1_out"]
    assert len(model.layers) == 17
    assert model.layer("conv1").unit_size == 32 and model.layer("conv5_2_out").n_units == 512
    assert model.layer("conv5_2_out").unit_size == 2


def test_size_may_come_before_or_after_random():
    assert load_model("vgg11@32:random").fingerprint == load_model("vgg11:random@32").fingerprint


def test_units_smaller_than_2x2_are_not_offered():
    model = load_model("resnet18:random@32")
    assert "conv5_2_out" not in [i.name for i in model.layers]


def test_torchvision_default_input_is_224():
    model = load_model("alexnet:random")
    assert model.input_size == 224
    assert [(i.name, i.unit_size) for i in model.layers][:2] == [("block1_conv1", 55), ("block2_conv1", 27)]


def test_preprocess_normalizes_and_resizes():
    model = load_model("vgg11:random@32")
    images = torch.full((2, 3, 16, 16), 0.5)
    x = model.preprocess(images)
    assert x.shape == (2, 3, 32, 32)
    expected = (0.5 - torch.tensor(model.mean)) / torch.tensor(model.std)
    torch.testing.assert_close(x[0, :, 5, 5], expected)


def test_pretrained_missing_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("FEATENT_OFFLINE", "1")
    folder = str(tmp_path / "hub" / "checkpoints")
    with pytest.raises(ModelError, match=rf"Offline mode is on .*resnet18-.*\.pth.* put the file in {folder}"):
        load_model("resnet18")


def test_pretrained_unreachable_network_is_a_clear_error(tmp_path, monkeypatch):
    import socket
    import time

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("FEATENT_OFFLINE", raising=False)

    def unreachable(*_args, **_kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    start = time.monotonic()
    with pytest.raises(ModelError, match=r"Cannot reach download.pytorch.org to fetch the pretrained weights resnet18-.*\.pth"):
        load_model("resnet18")
    assert time.monotonic() - start < 10


def test_pretrained_from_torch_cache(tmp_path, monkeypatch):
    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = load_model("resnet18:random:3@64")
    url = tvm.get_model_weights("resnet18").DEFAULT.url
    target = tmp_path / "hub" / "checkpoints" / os.path.basename(url)
    target.parent.mkdir(parents=True)
    torch.save(reference.module.state_dict(), target)
    # same weights, same input size -> same fingerprint
    try:
        loaded = load_model("resnet18@64")
        assert loaded.weights_source == "torch cache"
        assert loaded.fingerprint == reference.fingerprint
    finally:
        clear_model_cache()  # do not leave this fake "pretrained" model memoized for other tests


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "module_prefix"])
def test_weights_file_forms(tmp_path, wrap):
    state = load_model("demo:random:4").module.state_dict()
    obj = {
        "plain": state,
        "state_dict": {"state_dict": state, "epoch": 3},
        "module_prefix": {f"module.{k}": v for k, v in state.items()},
    }[wrap]
    path = tmp_path / f"{wrap}.pt"
    torch.save(obj, path)
    model = load_model("demo", weights=str(path))
    assert model.fingerprint == load_model("demo:random:4").fingerprint
    assert model.weights_source == str(path.resolve())


def test_checkpoint_with_other_class_count_is_accepted(tmp_path):
    path = tmp_path / "ten.pt"
    torch.save(DemoNet(n_classes=3).state_dict(), path)
    assert load_model("demo", weights=str(path)).n_classes == 3


def _saved(tmp_path, state, name="ckpt.pt"):
    path = tmp_path / name
    torch.save(state, path)
    return str(path)


def test_mismatching_checkpoints_name_the_first_bad_key(tmp_path):
    state = DemoNet().state_dict()
    missing = {k: v for k, v in state.items() if k != "features.2.weight"}
    with pytest.raises(ModelError, match=r"key 'features.2.weight' is missing"):
        load_model("demo", weights=_saved(tmp_path, missing, "a.pt"))
    shaped = dict(state, **{"features.0.weight": torch.zeros(16, 3, 5, 5)})
    with pytest.raises(ModelError, match=r"key 'features.0.weight' has shape \(16, 3, 5, 5\)"):
        load_model("demo", weights=_saved(tmp_path, shaped, "b.pt"))
    extra = dict(state, **{"head.weight": torch.zeros(1)})
    with pytest.raises(ModelError, match=r"unexpected key 'head.weight'"):
        load_model("demo", weights=_saved(tmp_path, extra, "c.pt"))
    with pytest.raises(ModelError, match=r"key 'conv1.weight' is missing"):
        load_model("resnet18", weights=_saved(tmp_path, state, "d.pt"))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"not a checkpoint", r"Cannot load weights file .* as a PyTorch state_dict \(loaded with weights_only=True\)"),
        (pickle.dumps(_Evil()), r"Cannot load weights file .* as a PyTorch state_dict \(loaded with weights_only=True\)"),
    ],
    ids=["garbage", "arbitrary-pickle"],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unreadable_or_unsafe_weights_files(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=match):
        load_model("demo", weights=str(path))


def test_weights_file_that_is_not_a_state_dict(tmp_path):
    with pytest.raises(ModelError, match=r"does not hold a state_dict"):
        load_model("demo", weights=_saved(tmp_path, [1, 2, 3]))
    with pytest.raises(ModelError, match=r"does not exist"):
        load_model("demo", weights=str(tmp_path / "nope.pt"))


@pytest.mark.parametrize(
    ("spec", "weights", "match"),
    [
        ("", None, r"No model given"),
        ("lenet", None, r"Unknown model 'lenet'; use 'demo', a torchvision classifier"),
        ("vgg11:pretrained", None, r"Cannot read model spec 'vgg11:pretrained'"),
        ("vgg11:random:x", None, r"seed in 'vgg11:random:x' must be an integer from 0 to 4294967295"),
        ("vgg11:random:99999999999999999999", None, r"seed in .* is too large"),
        ("vgg11:random@8", None, r"input size in 'vgg11:random@8' must be an integer from 16 to 1024"),
        ("vgg11:random@abc", None, r"input size .* must be an integer"),
        ("vgg11@", None, r"nothing after '@'"),
        ("demo@64", None, r"demo model only takes 32x32 inputs"),
        ("alexnet:random@32", None, r"alexnet:random@32 cannot run on 32x32 inputs"),
        ("demo:random", "x.pt", r"either 'demo:random' \(random init\) or a weights file"),
    ],
)
def test_bad_model_specs(spec, weights, match):
    with pytest.raises(ModelError, match=match):
        load_model(spec, weights)


def test_unknown_layer_lists_the_layers():
    with pytest.raises(ModelError, match=r"has no layer 'block9_conv9'; its layers are: block1_conv1, block1_conv2"):
        load_model("demo").layer("block9_conv9")


def test_rewritten_weights_file_is_reloaded(tmp_path):
    path = tmp_path / "w.pt"
    torch.save(load_model("demo:random:6").module.state_dict(), path)
    first = load_model("demo", weights=str(path))
    assert load_model("demo", weights=str(path)) is first
    torch.save(load_model("demo:random:7").module.state_dict(), path)
    os.utime(path, ns=(first_ns := path.stat().st_mtime_ns + 10**9, first_ns))
    second = load_model("demo", weights=str(path))
    assert second.fingerprint == load_model("demo:random:7").fingerprint != first.fingerprint


def test_concurrent_loads_build_one_model(monkeypatch):
    import threading
    import time

    import featent.nets.loading as models

    builds = []
    real = models._load_uncached

    def slow_counting_build(*args):
        builds.append(str(args[0]))
        time.sleep(0.2)  # make the requests overlap
        return real(*args)

    monkeypatch.setattr(models, "_load_uncached", slow_counting_build)
    clear_model_cache()
    got = []
    threads = [threading.Thread(target=lambda: got.append(load_model("demo:random:9"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == ["demo:random:9"]
    assert len(got) == 4 and all(m is got[0] for m in got)


def test_checkpoint_holding_a_pickled_module_is_refused_with_how_to_save_a_state_dict(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(DemoNet(), path)  # the whole module, pickled
    with pytest.raises(ModelError, match=r"holds a whole pickled module.*torch.save\(model.state_dict\(\), PATH\)"):
        load_model("demo", weights=str(path))


def test_offline_mode_still_uses_the_cached_file(tmp_path, monkeypatch):
    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("FEATENT_OFFLINE", "1")
    url = tvm.get_model_weights("squeezenet1_1").DEFAULT.url
    target = tmp_path / "hub" / "checkpoints" / os.path.basename(url)
    target.parent.mkdir(parents=True)
    torch.save(load_model("squeezenet1_1:random:5@64").module.state_dict(), target)
    cached = load_model("squeezenet1_1@64")
    assert cached.weights_source == "torch cache"
    assert cached.fingerprint == load_model("squeezenet1_1:random:5@64").fingerprint


def test_a_download_with_the_wrong_hash_is_refused_and_not_kept(tmp_path, monkeypatch):
    """torchvision's published sha256 prefix (in the file name) is checked on download, as check_hash=True does."""
    from featent.nets import zoo

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("FEATENT_OFFLINE", raising=False)
    monkeypatch.setattr(zoo, "_check_network", lambda *_args: None)
    impostor = tmp_path / "impostor.pth"
    impostor.write_bytes(b"not the published weights")
    real_download = torch.hub.download_url_to_file
    seen = {}

    def from_local_file(url, dst, hash_prefix=None, progress=True):
        seen["hash_prefix"] = hash_prefix
        real_download(impostor.as_uri(), dst, hash_prefix=hash_prefix, progress=False)  # the real check, no network

    monkeypatch.setattr(torch.hub, "download_url_to_file", from_local_file)
    expected = zoo.torchvision_weights_file("resnet18")
    with pytest.raises(ModelError, match=r"Cannot download resnet18-.*invalid hash value"):
        zoo.pretrained_state("resnet18")
    assert seen["hash_prefix"] and expected.name.split("-")[1].startswith(seen["hash_prefix"])
    assert not expected.exists()
