"""No hook outlives a featent call, after success and after an exception (every hook site)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from featent import indicators
from featent.experiments.masking import units_removed
from featent.experiments.surgery import conv_flops
from featent.extract import extract_activations
from featent.nets import from_module
from featent.nets.hooks import Site, attach, capture_outputs, hook_count, probe_modules, run_forward


class Breakable(nn.Module):
    """A small CNN with a functional ReLU (so it runs through a traced runner)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
        self.classifier = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        return self.classifier(x.flatten(1))


def _model():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = Breakable()
    return module, from_module(module, input_size=8, layers=["features.1", "relu"])


def _images() -> torch.Tensor:
    return torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def _run_extract(model):
    return extract_activations(model, _images(), ["features.1", "relu"])


def _run_units_removed(model):
    with units_removed(model, "features.1", [0]):
        return model.forward(model.preprocess(_images()))


def _run_forward_capture(model):
    return indicators.forward_capture(model, _images(), "features.1")


def _run_attach(model):
    with attach(model.runner, {Site("classifier", 0, inputs=True): lambda v: None}):
        return model.runner(model.preprocess(_images()))


def _run_run_forward(model):
    return run_forward(model.runner, {model.layer("relu").site: lambda v: v * 0}, model.preprocess(_images()))


def _run_capture(model):
    return capture_outputs(model.runner, {"a": model.layer("relu").site}, model.preprocess(_images()), stop_after_last=False)


def _run_probe(model):
    return probe_modules(model.module, model.preprocess(_images()))


def _run_flops(model):
    return conv_flops(model.module, 8)


SITES = {
    "extract": _run_extract,
    "units_removed": _run_units_removed,
    "forward_capture": _run_forward_capture,
    "attach": _run_attach,
    "run_forward": _run_run_forward,
    "capture_outputs": _run_capture,
    "probe_modules": _run_probe,
    "conv_flops": _run_flops,
}


def _hooks(model) -> int:
    return hook_count(model.module) + hook_count(model.runner)


@pytest.mark.parametrize("fail", [False, True], ids=["success", "exception"])
@pytest.mark.parametrize("site", list(SITES))
def test_no_hook_left_behind(site, fail):
    module, model = _model()
    assert model.runner is not model.module  # the functional ReLU is read through a tap
    assert _hooks(model) == 0
    if fail:  # the second conv (shared by the module and its traced runner) now fails in every forward
        module.features[2].weight = nn.Parameter(torch.zeros(4, 5, 3, 3))
        with pytest.raises(RuntimeError, match="channels"):
            SITES[site](model)
    else:
        SITES[site](model)
    assert _hooks(model) == 0


def test_discovery_leaves_no_hook():
    module = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU())
    before = hook_count(module)
    from_module(module, input_size=8)
    assert hook_count(module) == before == 0
