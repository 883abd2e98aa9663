"""featent.experiments.studies and the demo family: rescaling by hand, bit-identical models, reproducible
training, randomness statistics, model sets and the experiment CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from featent.experiments import studies as ex
from featent.training import family as fam
from featent import indicators as ind
from featent.errors import FeatentError, ModelError
from featent.nets import fingerprint_module, from_module, load_model
from featent.pipeline import Selection
from featent.core.topology import birth_times

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
    with pytest.raises(FeatentError, match="Unknown image space"):
        ex.scaled_images(0.5, model, "colour")


def test_bad_factor_is_refused():
    with pytest.raises(FeatentError, match="positive number"):
        ex.scaled_images(0.0)
    with pytest.raises(FeatentError, match="positive number"):
        ex.scaled_copy(load_model("demo"), LAYER, -1.0)


def test_rescale_experiment_equals_rescaling_by_hand(cache_dir):
    model = load_model("demo")
    before = _state(model.module)
    selection = Selection("demo", "digits", "3", (LAYER,), n_images=6, seed=1)
    result = ex.rescale_experiment(selection, LAYER, 0.5, classes=["3", "8"], images_per_class=4)
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
    rows = result.rows(unit=0)
    assert [(r["images"], r["filters"]) for r in rows] == result.conditions
    assert len(result.rows()) == 4
    with pytest.raises(FeatentError, match="out of range"):
        result.rows(unit=10_000)
    for key, tensor in model.module.state_dict().items():  # the model itself is bit-identical
        assert torch.equal(tensor, before[key]), key


def test_random_spec():
    assert ex.random_spec("demo", 3) == "demo:random:3"
    assert ex.random_spec("demo@epoch4", 1) == "demo:random:1"
    assert ex.random_spec("demo-corrupt-0.4", 0) == "demo:random:0"
    assert ex.random_spec("vgg11:random:7@64", 2) == "vgg11:random:2@64"
    with pytest.raises(FeatentError, match="non-negative"):
        ex.random_spec("demo", -1)


def test_randomness_rows_statistics_by_hand():
    names = ind.INDICATOR_COLUMNS
    trained = {n: np.array([1.0, 2.0]) for n in names}
    random = {n: np.array([[0.0, 4.0], [2.0, 4.0], [4.0, np.inf]]) for n in names}
    result = ex.RandomnessResult("m", "d", "c", "L", 5, [0, 1, 2], trained, random)
    rows = {r["indicator"]: r for r in result.rows(unit=0)}
    # unit 0: random values 0, 2, 4 -> mean 2, std sqrt(8/3); trained 1
    assert rows["l1_norm"]["random_mean"] == pytest.approx(2.0)
    assert rows["l1_norm"]["random_std"] == pytest.approx(np.sqrt(8 / 3))
    assert rows["l1_norm"]["random_better_share"] == pytest.approx(2 / 3)  # higher is better: 2 and 4
    assert rows["feature_entropy"]["random_better_share"] == pytest.approx(1 / 3)  # lower is better: 0
    rows = {r["indicator"]: r for r in result.rows(unit=1)}
    assert rows["l1_norm"]["random_mean"] == pytest.approx(4.0)  # inf left out
    layer = {r["indicator"]: r for r in result.rows()}
    assert layer["l1_norm"]["trained"] == pytest.approx(1.5)  # mean over units; random rows: 2, 3, 4
    assert layer["l1_norm"]["random_mean"] == pytest.approx(3.0)


def test_randomness_experiment_shapes_and_values(cache_dir):
    selection = Selection("demo", "digits", "3", ("block3_conv2",), n_images=6, seed=0)
    result = ex.randomness_experiment(selection, n_models=2, first_seed=4, classes=["3", "7"], images_per_class=3)
    assert result.seeds == [4, 5]
    from featent.nets import loading

    memoized = {spec for spec, _ in vars(loading)["_CACHE"]}
    assert not memoized & {ex.random_spec("demo", 4), ex.random_spec("demo", 5)}  # one at a time
    for name in ind.INDICATOR_COLUMNS:
        assert result.trained[name].shape == (64,)
        assert result.random[name].shape == (2, 64)
    own = ind.compute_indicators(Selection("demo:random:5", "digits", "3", ("block3_conv2",), 6, 0),
                                 classes=["3", "7"], images_per_class=3)
    for name in ("l1_norm", "fpgm", "feature_entropy", "class_selectivity"):
        np.testing.assert_allclose(result.random[name][1], own.values[name], rtol=1e-6)
    assert len(result.rows(unit=3)) == len(ind.INDICATOR_COLUMNS)
    with pytest.raises(FeatentError, match="positive integer"):
        ex.randomness_experiment(selection, n_models=0)


def test_compare_models_and_layer_trend_rows(cache_dir):
    result = ex.compare_models(["demo-digits", "demo:random"], "digits", ["3", "5"], ["block3_conv1", "block3_conv2"], n_images=5)
    assert len(result.profile) == 2 * 2 * 2
    assert {r["layer"] for r in result.last_layer_rows()} == {"block3_conv2"}
    demo_acc = result.accuracy[0]
    assert demo_acc["model"] == "demo-digits" and demo_acc["test_accuracy"] > 0.9
    rows = ex.layer_trend("demo", "digits", ["3"], n_random=2, n_images=5)
    assert {r["group"] for r in rows} == {"trained", "random init"}
    assert {r["seed"] for r in rows} == {None, 0, 1}
    with pytest.raises(FeatentError, match="not in"):
        ex.compare_models(["demo"], "digits", ["eleven"])


def test_dynamics_rows_average_over_classes():
    per_class = [
        {"epoch": e, "loss": 2.0 - e, "train_accuracy": 0.1, "test_accuracy": 0.1, "class_name": c,
         "mean_feature_entropy": fe, "mean_selective_rate": 0.5}
        for e, c, fe in [(0, "a", 3.0), (0, "b", 4.0), (1, "a", 2.0), (1, "b", 2.0), (2, "a", 1.0), (2, "b", 0.0)]
    ]
    result = ex.DynamicsResult("digits", "L", ["a", "b"], 5, per_class)
    rows = result.rows()
    assert [r["mean_feature_entropy"] for r in rows] == [3.5, 2.0, 0.5]
    assert rows[0]["class_name"] == "mean"
    assert result.correlation() == pytest.approx(1.0)  # loss 2, 1, 0 and FE 3.5, 2, 0.5 fall together


def test_family_specs_parse():
    run, epoch = fam.parse_family_spec("demo@epoch5")
    assert epoch == 5 and run == fam.base_run() and not run.augment
    run, epoch = fam.parse_family_spec(" demo-corrupt-0.4 ")
    assert run.label_noise == 0.4 and epoch == run.epochs and run.training_recipe() == fam.corrupt_run(0.0).training_recipe()
    assert fam.corrupt_run(0.0) == fam.base_run()  # one recipe: the clean corrupt level is the base run
    assert fam.family_checkpoint("demo@iter50") == (fam.base_run(), "iter_00050.pt")
    with pytest.raises(ModelError, match="early checkpoints"):
        fam.family_checkpoint("demo@iter7")
    assert fam.parse_family_spec("demo") is None and fam.parse_family_spec("vgg16@64") is None
    with pytest.raises(ModelError, match="epochs 0 to"):
        fam.parse_family_spec("demo@epoch99")
    with pytest.raises(ModelError, match="below 1"):
        fam.parse_family_spec("demo-corrupt-1.5")
    assert "demo-corrupt-0.8" in fam.family_specs() and "demo@epoch0" in fam.family_specs()


def test_family_not_built_is_a_clear_error(cache_dir):
    with pytest.raises(ModelError, match="not built yet"):
        fam.resolve_family_spec("demo-corrupt-0.6", build=False)


def test_training_is_reproducible_for_a_fixed_seed(tmp_path):
    run = fam.FamilyRun(seed=3, epochs=1, label_noise=0.4)
    first = fam.ensure_run(run, root=tmp_path / "a")
    second = fam.ensure_run(run, root=tmp_path / "b")
    a = torch.load(first / "epoch_001.pt", weights_only=True)
    b = torch.load(second / "epoch_001.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    init = torch.load(first / "epoch_000.pt", weights_only=True)
    assert not all(torch.equal(a[k], init[k]) for k in a)  # it did train
    history = fam.run_history(run, root=tmp_path / "a", build=False)
    assert [h["epoch"] for h in history] == [0, 1]
    assert fam.ensure_run(run, root=tmp_path / "a") == first  # found, not retrained
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]  # no scratch left behind


def test_cli_rescale_json_and_errors(cache_dir, capsys):
    from featent.cli.main import main

    code = main(["rescale", "--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2",
                 "--unit", "2", "--images", "5", "--compare-classes", "3", "--compare-classes", "4",
                 "--images-per-class", "3", "--quiet", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    payload = json.loads(out)
    assert payload["unit"] == 2 and payload["scale"] == 0.5 and len(payload["rows"]) == 4
    assert {"images", "filters", "accuracy", "feature_entropy", "nisp"} <= set(payload["rows"][0])
    code = main(["randomness", "--model", "demo", "--data", "digits", "--class", "3", "--layer", "block3_conv2",
                 "--random-models", "0", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--random-models" in err and err.count("\n") == 1
    code = main(["compare-models", "--set", "nope", "--data", "digits"])
    assert code == 2 and "unknown model set" in capsys.readouterr().err


def test_experiment_figures_show_the_numbers_given():
    from featent.plots import experiments as pe

    rows = [
        {"images": 1.0, "filters": 1.0, "accuracy": 0.9, "l1_norm": 8.0, "feature_entropy": 2.0},
        {"images": 0.5, "filters": 1.0, "accuracy": 0.9, "l1_norm": 4.0, "feature_entropy": 2.2},
    ]
    fig = pe.rescale_figure(rows, indicators=("accuracy", "l1_norm", "feature_entropy"))
    assert list(fig.data[1].y) == pytest.approx([1.0, 0.5, 1.1])
    with pytest.raises(ValueError, match="unchanged row"):
        pe.rescale_figure([])
    dyn = [{"epoch": e, "loss": 2.0 - e, "mean_feature_entropy": 3.0 - e, "class_name": "mean"} for e in range(3)]
    fig = pe.dynamics_figure(dyn)
    assert list(fig.data[0].y) == [2.0, 1.0, 0.0] and list(fig.data[-1].y) == [3.0, 2.0, 1.0]
    trend = [{"layer": L, "group": g, "mean_feature_entropy": v, "mean_selective_rate": 0.5}
             for L, g, v in [("a", "trained", 1.0), ("b", "trained", 0.5), ("a", "random init", 3.0),
                             ("a", "random init", 5.0), ("b", "random init", 4.0)]]
    fig = pe.layer_trend_figure(trend)
    lines = {t.name: list(t.y) for t in fig.data if t.mode == "lines+markers"}
    assert lines == {"trained": [1.0, 0.5], "random init": [4.0, 4.0]}
    scatter = pe.model_set_scatter([{"model": m, "class_name": c, "mean_feature_entropy": 1.0, "mean_selective_rate": 0.5}
                                    for m in ("x", "y") for c in ("0", "1")])
    assert [t.name for t in scatter.data] == ["x", "y"]
    values = {k: np.arange(4.0) for k in ind.INDICATOR_COLUMNS}
    assert len(pe.indicator_grid(values, highlight=2).data) == 2 * len(pe.COMPARED)


def test_layer_trend_band_draws_no_markers():
    from featent.plots import experiments as pe

    trend = [{"layer": L, "group": g, "mean_feature_entropy": 1.0, "mean_selective_rate": 0.5}
             for L in ("a", "b") for g in ("trained", "random init")]
    band = [t for t in pe.layer_trend_figure(trend).data if t.fill == "toself"]
    assert len(band) == 1 and band[0].mode == "lines"
