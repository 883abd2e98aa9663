"""A module in a temporary .py file through the CLI: layers, entropy, sweep and ablate."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from featent.cli.main import main

NET = textwrap.dedent('''
    import torch.nn.functional as F
    from torch import nn

    class Net(nn.Module):
        mean = (0.5, 0.5, 0.5)
        std = (0.25, 0.25, 0.25)
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, padding=1)
            self.b = nn.Conv2d(4, 6, 3, stride=2, padding=1)
            self.fc = nn.Linear(6, 10)
        def forward(self, x):
            x = F.gelu(self.a(x))
            return self.fc(F.relu(self.b(x)).mean((2, 3)))
''')


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(NET)
    return f"{path}:Net"


def run(capsys, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_own_module_through_layers_entropy_sweep_ablate(capsys, cache_dir, tmp_path, spec):
    layers = json.loads(run(capsys, "layers", "--model", spec, "--input-size", "12", "--format", "json"))
    assert [(r["layer"], r["unit_size"]) for r in layers["layers"]] == [("gelu", 12), ("relu", 6)]

    record = json.loads(run(capsys, "entropy", "--model", spec, "--input-size", "12", "--data", "fashion-subset",
                            "--class", "Bag", "--layer", "relu", "--images", "3", "--quiet", "--format", "json"))
    assert record["model"] == spec and record["unit_size"] == 6 and record["hole_possible"] is True
    assert len(record["units"]) == 6

    atlas = tmp_path / "atlas.csv"
    run(capsys, "sweep", "--model", spec, "--input-size", "12", "--data", "fashion-subset", "--classes", "1",
        "--layers", "relu", "--images", "3", "--quiet", "--out", str(atlas))
    frame = pd.read_csv(atlas, comment="#")
    assert list(frame["layer"]) == ["relu"] and bool(frame["hole_possible"].iloc[0])
    # The sweep reused the births the entropy command stored (same weights, same key).
    assert frame["mean_feature_entropy"].iloc[0] == pytest.approx(record["mean_feature_entropy"])

    ablation = json.loads(run(capsys, "ablate", "--model", spec, "--input-size", "12", "--data", "fashion-subset",
                              "--class", "Bag", "--layer", "relu", "--images", "3", "--test-per-class", "1",
                              "--order", "random", "--quiet", "--format", "json"))
    assert ablation["model"] == spec and ablation["orders"] == ["random"]


def test_code_flags_on_a_zoo_model_are_refused(capsys):
    code = main(["layers", "--model", "demo", "--mean", "0.5,0.5,0.5"])
    assert code == 2 and "only apply to a model from code" in capsys.readouterr().err


def test_a_missing_file_is_one_line(capsys, tmp_path):
    code = main(["layers", "--model", f"{tmp_path}/nope.py:Net"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "does not exist" in err
