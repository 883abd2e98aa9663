"""featent.nets.layers: tracing a model while other threads use theirs (app sessions share a process).

torch.fx patches ``nn.Module`` for the whole process while it traces, so these tests run another
thread's forward pass, or another trace, in the middle of a trace and check both come out as alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import torch
from torch import nn

from featent.nets.layers import Discovery, discover_layers


class PausesWhileTraced(nn.Module):
    """A conv block that calls ``during`` when its forward runs on fx proxies (that is, mid-trace)."""

    def __init__(self, during: Callable[[], None]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.during = during

    def forward(self, x):
        if isinstance(x, torch.fx.Proxy):
            self.during()
        return torch.relu(self.conv(x))


def _net(during: Callable[[], None] = lambda: None) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(PausesWhileTraced(during), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU()).eval()


def _summary(found: Discovery) -> tuple:
    return found.method, [(i.name, i.n_units, i.unit_size, i.site, i.aliases, i.conv) for i in found.layers]


def test_another_threads_forward_pass_mid_trace_runs_untouched_and_stays_out_of_the_graph() -> None:
    other = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU()).eval()
    x = torch.randn(2, 3, 9, 9)
    with torch.inference_mode():
        expected = other(x)
    got: dict[str, object] = {}

    def forward_elsewhere() -> None:
        try:
            with torch.inference_mode():
                got["out"] = other(x)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            got["error"] = exc

    def during() -> None:
        worker = threading.Thread(target=forward_elsewhere)
        worker.start()
        worker.join()

    traced = discover_layers(_net(during), 8, "paused")
    assert "error" not in got, got.get("error")
    assert torch.equal(got["out"], expected)  # type: ignore[arg-type]
    assert _summary(traced) == _summary(discover_layers(_net(), 8, "alone"))
    assert traced.method == "fx"


def test_two_traces_at_once_take_turns_and_leave_nn_module_as_it_was() -> None:
    original_call, original_getattr = nn.Module.__call__, nn.Module.__getattr__
    found: dict[str, object] = {}

    def trace_elsewhere() -> None:
        try:
            found["second"] = discover_layers(_net(lambda: time.sleep(0.6)), 8, "second")  # ends after the first
        except Exception as exc:  # noqa: BLE001 - the test reports it
            found["error"] = exc

    worker = threading.Thread(target=trace_elsewhere)

    def during() -> None:
        worker.start()
        time.sleep(0.3)  # room for the second trace to start, were it not made to wait

    first = discover_layers(_net(during), 8, "first")
    worker.join(120)
    assert "error" not in found, found.get("error")
    alone = _summary(discover_layers(_net(), 8, "alone"))
    assert _summary(first) == alone and _summary(found["second"]) == alone  # type: ignore[arg-type]
    assert nn.Module.__call__ is original_call and nn.Module.__getattr__ is original_getattr
