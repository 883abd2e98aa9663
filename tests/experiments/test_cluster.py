"""featent.experiments.cluster: the device a Dask worker uses (the cluster runs are in tests/test_dask_sweep.py)."""

from __future__ import annotations

import torch

from featent.experiments.cluster import worker_device


def test_worker_device(monkeypatch):
    monkeypatch.delenv("FEATENT_DEVICE", raising=False)
    assert worker_device("cuda:1") == "cuda:1"  # asked for: used as given
    if torch.cuda.is_available():
        assert worker_device(None).startswith("cuda:")
    else:
        assert worker_device(None) == "cpu"
    monkeypatch.setenv("FEATENT_DEVICE", "cpu")
    assert worker_device(None) == "cpu"
