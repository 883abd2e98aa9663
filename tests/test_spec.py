"""ModelSpec: one parse, a round-tripping str(), and one clear sentence for every bad spec."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from featent.errors import ModelError
from featent.spec import SEED_LIMIT, ModelSpec


@pytest.mark.parametrize(
    "text, name, seed, size, tag",
    [
        ("vgg16", "vgg16", None, None, None),
        ("vgg16:random", "vgg16", 0, None, None),
        ("vgg11:random:3@64", "vgg11", 3, 64, None),
        ("vgg11@64:random:3", "vgg11", 3, 64, None),
        ("VGG11@64", "vgg11", None, 64, None),
        ("demo@epoch3", "demo", None, None, "epoch3"),
        ("demo@iter25", "demo", None, None, "iter25"),
        ("demo-corrupt-0.4", "demo-corrupt-0.4", None, None, None),
        ("timm/resnet18:random@64", "timm/resnet18", 0, 64, None),
        (f"resnet18:random:{SEED_LIMIT - 1}", "resnet18", SEED_LIMIT - 1, None, None),
    ],
)
def test_parse_fields(text, name, seed, size, tag):
    spec = ModelSpec.parse(text)
    assert (spec.name, spec.seed, spec.size, spec.tag) == (name, seed, size, tag)
    assert ModelSpec.parse(str(spec)) == spec


@pytest.mark.parametrize(
    "text", ["vgg16", "vgg16:random", "vgg11:random:3@64", "demo@epoch3", "timm/resnet18:random@64", "demo-corrupt-0.4"]
)
def test_canonical_text_round_trips(text):
    assert str(ModelSpec.parse(text)) == text


@given(
    name=st.sampled_from(["demo", "vgg11", "resnet18", "timm/efficientnet_b0", "mobilenet_v3_small"]),
    seed=st.one_of(st.none(), st.integers(0, SEED_LIMIT - 1)),
    size=st.one_of(st.none(), st.integers(16, 1024)),
)
def test_str_round_trips(name, seed, size):
    spec = ModelSpec(name, seed, size)
    assert ModelSpec.parse(str(spec)) == spec


def test_edits():
    spec = ModelSpec.parse("vgg11@64")
    assert str(spec.random(3)) == "vgg11:random:3@64"
    assert str(spec.random()) == "vgg11:random@64"
    assert str(spec.random(3).pretrained()) == "vgg11@64"
    assert str(spec.with_size(128)) == "vgg11@128"
    assert str(spec.with_size(None)) == "vgg11"
    assert str(ModelSpec.parse("demo-corrupt-0.4").random(1)) == "demo:random:1"
    assert str(ModelSpec.parse("demo@epoch3").random(2)) == "demo:random:2"
    assert ModelSpec.parse(spec) is spec
    assert spec.random(0).format(explicit_seed=True) == "vgg11:random:0@64"
    assert ModelSpec.parse(spec.random(0).format(explicit_seed=True)) == spec.random(0)


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "No model given"),
        ("   ", "No model given"),
        ("vgg16:random:-1", "seed"),
        ("vgg16:random:4294967296", "too large"),
        ("vgg16:random:99999999999999999999999999", "too large"),
        ("vgg16:random:x", "seed"),
        ("vgg16:pretrained", "Cannot read"),
        ("vgg16:random:1:2", "Cannot read"),
        ("vgg16@8", "input size"),
        ("vgg16@2048", "input size"),
        ("vgg16@", "nothing after"),
        ("vgg16@64@64", "more than one"),
        ("vgg16@big", "input size"),
        ("demo@epoch3:random", "cannot also be a random init"),
        (":random", "no model name"),
        ("vgg 16", "not a model name"),
    ],
)
def test_bad_specs_raise_one_sentence(text, match):
    with pytest.raises(ModelError, match=match):
        ModelSpec.parse(text)


def test_bad_edits():
    spec = ModelSpec.parse("vgg11")
    with pytest.raises(ModelError, match=r"seed of .vgg11. must be an integer from 0 to 4294967295"):
        spec.random(SEED_LIMIT)
    with pytest.raises(ModelError, match=r"seed of .vgg11. must be an integer from 0 to 4294967295, got -1"):
        spec.random(-1)
    with pytest.raises(ModelError, match="input size"):
        spec.with_size(8)
    with pytest.raises(ModelError, match="No model given"):
        ModelSpec.parse(None)  # type: ignore[arg-type]
