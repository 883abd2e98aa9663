"""Models from the user's own code: spec forms, one-sentence errors, fresh fingerprints, the caller's mode kept."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from featent.errors import ModelError
from featent.nets import from_module, load_model
from featent.pipeline import compute_births, layer_results
from featent.spec import ModelSpec, Selection

NET = textwrap.dedent('''
    import torch.nn.functional as F
    from torch import nn

    class Net(nn.Module):
        input_size = 16
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.b = nn.Conv2d(4, 6, 3, padding=1)
            self.fc = nn.Linear(6, 10)
        def forward(self, x):
            x = F.gelu(self.bn(self.a(x)))
            return self.fc(F.relu(self.b(x)).mean((2, 3)))

    def make():
        return Net()

    def broken():
        raise RuntimeError("no GPU here")

    number = 3
''')


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET)
    return path


def test_code_specs_parse_round_trip_and_say_they_run_code(net_file):
    for text in (f"{net_file}:Net", "mypackage.nets:make@32"):
        spec = ModelSpec.parse(text)
        assert spec.runs_code and ModelSpec.parse(str(spec)) == spec
    assert not ModelSpec.parse("vgg11:random:3@64").runs_code
    assert not ModelSpec.parse("demo-corrupt-0.4").runs_code


def test_class_and_factory_load_with_the_objects_input_size(net_file):
    by_class = load_model(f"{net_file}:Net")
    by_factory = load_model(f"{net_file}:make")
    assert by_class.runs_code and by_class.input_size == 16
    assert [i.name for i in by_class.layers] == ["gelu", "relu"]
    assert by_class.fingerprint == by_factory.fingerprint  # same seed-0 init, same layers


@pytest.mark.parametrize("spec, words", [
    ("{d}/missing.py:Net", "does not exist"),
    ("{d}/notes.txt:Net", "is not a .py file"),
    ("{d}/net.py:Nope", "has no 'Nope'"),
    ("{d}/net.py:number", "not an nn.Module subclass, a factory or a module"),
    ("{d}/net.py:broken", "RuntimeError: no GPU here"),
    ("featent_no_such_package.nets:Net", "No module"),
])
def test_bad_code_specs_say_what_is_wrong(net_file, spec, words):
    (net_file.parent / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match=words):
        load_model(spec.format(d=net_file.parent))


def test_weights_changed_in_place_give_new_births(tiny_cnn, image_folder, cache_dir):
    selection = Selection(model=tiny_cnn, data=str(image_folder), class_name="cat", layers=("features.1",), n_images=4)
    before_key = tiny_cnn.fingerprint
    before = compute_births(selection)["features.1"]
    assert tiny_cnn.fingerprint == before_key  # unchanged weights: the same key, no rehash needed
    with torch.no_grad():
        tiny_cnn.module.features[0].weight.mul_(-1)
    assert tiny_cnn.fingerprint != before_key
    after = compute_births(selection)["features.1"]
    direct = compute_births(selection, cache=False)["features.1"]
    assert np.array_equal(after, direct) and not np.array_equal(before, after)


def test_memoized_zoo_model_changed_in_place_gets_a_new_fingerprint():
    demo = load_model("demo")
    original = demo.fingerprint
    weight = demo.module.get_parameter(next(n for n, _ in demo.module.named_parameters()))
    with torch.no_grad():
        weight.mul_(-1)
        try:
            assert demo.fingerprint != original
        finally:
            weight.mul_(-1)
    assert demo.fingerprint == original


def test_callers_train_mode_kept_and_batchnorm_statistics_untouched(net_file, image_folder, cache_dir):
    net = load_model(f"{net_file}:Net").module
    net.train()
    model = from_module(net, input_size=16)
    stats = {k: v.clone() for k, v in net.bn.state_dict().items()}
    selection = Selection(model=model, data=str(image_folder), class_name="cat", layers=("gelu",), n_images=4)
    first = compute_births(selection, cache=False)["gelu"]
    second = compute_births(selection, cache=False)["gelu"]
    assert np.array_equal(first, second)
    assert net.training and all(m.training for m in net.modules())
    assert all(torch.equal(v, net.bn.state_dict()[k]) for k, v in stats.items())


class Shrinking(nn.Module):
    """Maps of 8x8, 4x4, 3x3 and 2x2: only the first two can hold a hole."""

    def __init__(self) -> None:
        super().__init__()
        self.c8 = nn.Conv2d(3, 3, 3, padding=1)
        self.c4 = nn.Conv2d(3, 3, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(3, 3, 2)
        self.c2 = nn.Conv2d(3, 3, 2)

    def forward(self, x):
        return self.c2(self.c3(self.c4(self.c8(x)))).mean((2, 3))


def test_layers_too_small_for_a_hole_are_marked(image_folder, cache_dir):
    model = from_module(Shrinking(), input_size=8)
    assert [i.unit_size for i in model.layers] == [8, 4, 3, 2]
    selection = Selection(model=model, data=str(image_folder), class_name="cat", layers=("c8", "c4", "c3", "c2"),
                          n_images=3)
    found = {name: r.hole_possible for name, r in layer_results(selection, baselines=False).items()}
    assert found == {"c8": True, "c4": True, "c3": False, "c2": False}


def test_dtype_problem_names_the_dtype():
    with pytest.raises(ModelError, match="float64 parameters; featent runs models in float32"):
        from_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).double(), input_size=16)


def test_demo_variant_random_init_takes_the_demo_input_size():
    from featent.nets.demo import DEMO_INPUT_SIZE

    assert load_model("demo-digits:random").input_size == load_model("demo:random").input_size == DEMO_INPUT_SIZE


def test_a_from_module_result_in_a_file_keeps_its_input_size_and_layers(tmp_path):
    path = tmp_path / "wrapped.py"
    path.write_text(NET + "\nfrom featent import from_module\nwrapped = from_module(Net(), input_size=12, layers=['relu'])\n")
    model = load_model(f"{path}:wrapped")
    assert model.runs_code and model.input_size == 12 and [i.name for i in model.layers] == ["relu"]
