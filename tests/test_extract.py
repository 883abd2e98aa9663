"""featent.extract: hooked, chunked, early-stopping extraction; shared-model safety; errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from featent.errors import ActivationError, ModelError
from featent.extract import default_batch_size, extract_activations, iter_activations
from featent.nets import load_model


def _images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _manual(model, images: torch.Tensor, upto: int) -> np.ndarray:
    """Run features[:upto] with out-of-place ReLUs: the ground truth for a layer."""
    x = model.preprocess(images)
    with torch.no_grad():
        for layer in list(model.module.features)[:upto]:
            x = torch.relu(x) if isinstance(layer, nn.ReLU) else layer(x)
    return x.numpy()


def test_activations_match_a_plain_forward(tiny_cnn):
    images = _images(5, 16)
    acts = extract_activations(tiny_cnn, images, ["block1_conv1", "block1_conv2", "block2_conv1"])
    assert set(acts) == {"block1_conv1", "block1_conv2", "block2_conv1"}
    assert acts["block1_conv1"].shape == (5, 4, 16, 16) and acts["block1_conv1"].dtype == np.float32
    assert acts["block2_conv1"].shape == (5, 6, 8, 8)
    # in-place ReLUs downstream must not alter what was captured
    np.testing.assert_allclose(acts["block1_conv1"], _manual(tiny_cnn, images, 2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["block1_conv2"], _manual(tiny_cnn, images, 4), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["block2_conv1"], _manual(tiny_cnn, images, 7), rtol=1e-5, atol=1e-6)
    assert (acts["block1_conv1"] >= 0).all()


def test_chunks_cover_all_images_in_order(tiny_cnn):
    images = _images(7, 16)
    whole = extract_activations(tiny_cnn, images, ["block1_conv2"], batch_size=7)
    starts = []
    for start, chunk in iter_activations(tiny_cnn, images, ["block1_conv2"], batch_size=3):
        starts.append(start)
        np.testing.assert_allclose(chunk["block1_conv2"], whole["block1_conv2"][start : start + 3], rtol=1e-5, atol=1e-6)
    assert starts == [0, 3, 6]


def test_hooks_are_removed_even_after_an_error(tiny_cnn):
    extract_activations(tiny_cnn, _images(2, 16), ["block1_conv1"])
    modules = list(tiny_cnn.module.modules())
    assert all(not m._forward_hooks for m in modules)
    bad = _images(2, 16)
    bad[1, 0, 0, 0] = float("nan")
    with pytest.raises(ActivationError):
        extract_activations(tiny_cnn, bad, ["block1_conv1"])
    assert all(not m._forward_hooks for m in modules)
    taken = []
    probe = threading.Thread(target=lambda: taken.append(tiny_cnn.lock.acquire(timeout=1)) or tiny_cnn.lock.release())
    probe.start()
    probe.join()
    assert taken == [True]  # the lock was released


def test_a_caller_holding_the_lock_can_still_extract(tiny_cnn):
    with tiny_cnn.lock:
        acts = extract_activations(tiny_cnn, _images(2, 16), ["block1_conv1"])
    assert acts["block1_conv1"].shape == (2, 4, 16, 16)


def test_hooks_ignore_forwards_from_other_threads(tiny_cnn):
    """A lock-less forward elsewhere must neither be captured nor cut short by our hooks."""
    images = _images(2, 16)
    outputs: list[torch.Tensor] = []
    original = tiny_cnn.module.forward
    intruded = threading.Event()

    def intruder() -> None:  # runs while our hooks are registered
        with torch.inference_mode():
            outputs.append(tiny_cnn.module(tiny_cnn.preprocess(images)))

    def forward_with_intruder(x):
        if not intruded.is_set():
            intruded.set()
            t = threading.Thread(target=intruder)
            t.start()
            t.join(timeout=30)
        return original(x)

    tiny_cnn.module.forward = forward_with_intruder
    try:
        acts = extract_activations(tiny_cnn, images, ["block1_conv1"])
    finally:
        del tiny_cnn.module.forward
    assert len(outputs) == 1 and outputs[0].shape == (2, 3)  # the intruder's forward ran to the end
    np.testing.assert_allclose(acts["block1_conv1"], _manual(tiny_cnn, images, 2), rtol=1e-5, atol=1e-6)


def test_forward_stops_after_the_last_requested_layer(tiny_cnn):
    calls = []
    handle = tiny_cnn.module.classifier.register_forward_hook(lambda *a: calls.append("classifier"))
    try:
        extract_activations(tiny_cnn, _images(2, 16), ["block1_conv1"])
        assert calls == []
        with torch.inference_mode():
            tiny_cnn.module(tiny_cnn.preprocess(_images(1, 16)))
        assert calls == ["classifier"]
    finally:
        handle.remove()


def test_progress_reports_each_chunk(tiny_cnn):
    seen = []
    extract_activations(tiny_cnn, _images(5, 16), ["block1_conv1"], batch_size=2, progress=lambda f, m: seen.append((f, m)))
    assert [round(f, 2) for f, _ in seen] == [0.4, 0.8, 1.0]
    assert seen[-1][1] == "activations 5/5"


def test_shared_model_concurrent_callers_get_their_own_results(tiny_cnn):
    inputs = [_images(4, 16, seed=s) for s in range(4)]
    expected = [extract_activations(tiny_cnn, x, ["block2_conv1"])["block2_conv1"] for x in inputs]
    layers = [["block2_conv1"], ["block1_conv1", "block2_conv1"], ["block2_conv1"], ["block1_conv2", "block2_conv1"]]
    got: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                got[i] = extract_activations(tiny_cnn, inputs[i], layers[i], batch_size=1)["block2_conv1"]
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(4):
        np.testing.assert_allclose(got[i], expected[i], rtol=1e-5, atol=1e-6)
    assert all(not m._forward_hooks for m in tiny_cnn.module.modules())


def test_nan_activations_name_layer_and_image(tiny_cnn):
    with torch.no_grad():
        conv = tiny_cnn.module.features[2]
        saved = conv.weight.clone()
        conv.weight[0, 0, 0, 0] = float("inf")
    try:
        with pytest.raises(ActivationError, match=r"Layer block1_conv2 has NaN or infinite activations on image img-3"):
            extract_activations(
                tiny_cnn, _images(4, 16)[:, :, :, :] + 0.1, ["block1_conv2"], ids=[f"img-{i}" for i in range(3, 7)]
            )
    finally:
        with torch.no_grad():
            conv.weight.copy_(saved)


def test_nan_without_ids_names_the_index(tiny_cnn):
    images = _images(3, 16)
    images[2] = float("nan")
    with pytest.raises(ActivationError, match=r"block1_conv1 has NaN or infinite activations on image #2"):
        extract_activations(tiny_cnn, images, ["block1_conv1"], batch_size=2)


@pytest.mark.parametrize(
    ("layers", "images", "batch", "error", "match"),
    [
        (["nope"], _images(1, 16), None, ModelError, r"has no layer 'nope'; its layers are: block1_conv1"),
        ([], _images(1, 16), None, ModelError, r"No layer given"),
        (["block1_conv1"], torch.rand(2, 1, 16, 16), None, ActivationError, r"Images must be a float tensor \[n, 3, S, S\]"),
        (["block1_conv1"], np.zeros((1, 3, 16, 16)), None, ActivationError, r"Images must be a float tensor"),
        (["block1_conv1"], torch.rand(0, 3, 16, 16), None, ActivationError, r"No images given"),
        (["block1_conv1"], _images(1, 16), 0, ModelError, r"batch_size must be an integer >= 1, got 0"),
    ],
)
def test_bad_extraction_input(tiny_cnn, layers, images, batch, error, match):
    with pytest.raises(error, match=match):
        extract_activations(tiny_cnn, images, layers, batch_size=batch)


def test_torchvision_vgg_and_resnet_small_inputs():
    vgg = load_model("vgg11:random@32")
    acts = extract_activations(vgg, _images(3, 32), ["block1_conv1", "block5_conv2"])
    assert acts["block1_conv1"].shape == (3, 64, 32, 32) and acts["block5_conv2"].shape == (3, 512, 2, 2)
    assert all((a >= 0).all() for a in acts.values())
    resnet = load_model("resnet18:random@64")
    acts = extract_activations(resnet, _images(2, 64), ["conv1", "conv3_2_out"])
    assert acts["conv1"].shape == (2, 64, 32, 32) and acts["conv3_2_out"].shape == (2, 128, 8, 8)
    # the block output is post-ReLU
    assert (acts["conv3_2_out"] >= 0).all()
    # conv3_2_out is the second call of block layer2[1]'s ReLU: after the residual addition
    info = resnet.layer("conv3_2_out")
    assert (info.site.path, info.site.call) == ("layer2.1.relu", 1)
    assert resnet.layer("layer2.1.relu#1") is info


def test_default_batch_size_bounds_memory(tiny_cnn):
    assert default_batch_size(load_model("demo")) == 256
    assert 1 <= default_batch_size(load_model("alexnet:random")) <= 16
