"""Forward hooks: the only place featent registers them.

Every helper registers its hooks inside ``try`` and removes them in ``finally``, so a model shared by
several callers (a cached model in the app) never keeps a hook after a call, whether the forward
pass succeeded or raised. A *site* is ``(module path, call index)``: the output of that submodule on
its ``call``-th call within one forward pass (a ReLU module reused inside a residual block is called
twice per pass; its second call is the block output).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Site", "OutputHook", "attach", "evaluating", "capture_outputs", "probe_modules", "run_forward", "StopForward"]


@dataclass(frozen=True)
class Site:
    """The output of submodule ``path`` ('' = the root) on its ``call``-th call (0-based) of a forward pass
    (its first positional input instead, with ``inputs``)."""

    path: str
    call: int = 0
    inputs: bool = False


#: A hook on one site: receives the output, returns a replacement or None to keep it.
OutputHook = Callable[[torch.Tensor], "torch.Tensor | None"]


class StopForward(Exception):
    """Raised from a hook to end a forward pass early (the rest of the net is not needed)."""


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Every submodule in eval mode for the block, each put back in its own train/eval mode after
    (also when the block raises), so featent never leaves a caller's module in another mode and never
    updates BatchNorm running statistics or samples dropout."""
    modes = {sub: sub.training for module in modules for sub in module.modules()}
    try:
        for sub in modes:
            sub.training = False
        yield
    finally:
        for sub, mode in modes.items():
            sub.training = mode


@contextlib.contextmanager
def attach(module: nn.Module, hooks: Mapping[Site, OutputHook]) -> Iterator[None]:
    """Attach output hooks at the given sites for the duration of the ``with`` block.

    Call counts are kept per ``with`` block and per forward pass: run one forward per block, or call
    :func:`run_forward`, which resets them.
    """
    by_path: dict[tuple[str, bool], dict[int, OutputHook]] = {}
    for site, fn in hooks.items():
        by_path.setdefault((site.path, site.inputs), {})[site.call] = fn
    targets = {key: module.get_submodule(key[0]) for key in by_path}
    counts: dict[tuple[str, bool], int] = {key: 0 for key in by_path}
    owner = threading.get_ident()

    def make(key: tuple[str, bool]) -> Callable[..., object]:
        calls = by_path[key]

        def seen(value: object) -> object:
            if threading.get_ident() != owner:
                return None  # a forward by another thread: not ours
            index = counts[key]
            counts[key] = index + 1
            fn = calls.get(index)
            return None if fn is None else fn(value)  # type: ignore[arg-type]

        if key[1]:

            def pre_hook(_m: nn.Module, inputs: tuple) -> object:
                replaced = seen(inputs[0])
                return None if replaced is None else (replaced, *inputs[1:])

            return pre_hook
        return lambda _m, _inputs, output: seen(output)

    def reset(_m: nn.Module, _inputs: object) -> None:
        if threading.get_ident() == owner:
            for path in counts:
                counts[path] = 0

    handles = []
    try:
        handles.append(module.register_forward_pre_hook(reset))
        for key, target in targets.items():
            hook = make(key)
            handles.append(target.register_forward_pre_hook(hook) if key[1] else target.register_forward_hook(hook))
        with evaluating(module):
            yield
    finally:
        for handle in handles:
            handle.remove()


def capture_outputs(
    module: nn.Module, sites: Mapping[str, Site], inputs: torch.Tensor, stop_after_last: bool = True
) -> dict[str, torch.Tensor]:
    """One forward pass of ``inputs``; returns ``{name: detached float32 CPU copy}`` of each site's output.

    Outputs are copied in the hook, so in-place operations downstream cannot change them; with
    ``stop_after_last`` the pass ends once every site has been seen.
    """
    captured: dict[str, torch.Tensor] = {}
    wanted = len(sites)

    def make(name: str) -> OutputHook:
        def hook(output: torch.Tensor) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"the output of {name} is a {type(output).__name__}, not a tensor")
            captured[name] = output.detach().to("cpu", torch.float32, copy=True)
            if stop_after_last and len(captured) == wanted:
                raise StopForward
            return None

        return hook

    hooks: dict[Site, OutputHook] = {}
    for name, site in sites.items():
        hooks[site] = make(name)
    with attach(module, hooks), torch.inference_mode(), contextlib.suppress(StopForward):
        module(inputs)
    return captured


def run_forward(module: nn.Module, hooks: Mapping[Site, OutputHook], inputs: torch.Tensor) -> object:
    """``module(inputs)`` with ``hooks`` attached for this one pass (e.g. to mask units)."""
    with attach(module, hooks):
        return module(inputs)


@dataclass(frozen=True)
class Observed:
    """One call of one submodule during a probe pass: its site, module and output shape."""

    site: Site
    module: nn.Module
    shape: tuple[int, ...] | None


def probe_modules(
    module: nn.Module,
    inputs: torch.Tensor,
    select: Callable[[str, nn.Module], bool] = lambda _p, _m: True,
    pre: bool = False,
) -> list[Observed]:
    """Every call of the selected submodules during one forward pass of ``inputs``, in execution order.

    With ``pre`` the input shape is recorded (a forward pre-hook) instead of the output's.
    """
    seen: list[Observed] = []
    counts: dict[str, int] = {}
    handles = []

    def make(path: str, sub: nn.Module) -> Callable[..., None]:
        def record(value: object) -> None:
            index = counts.get(path, 0)
            counts[path] = index + 1
            if isinstance(value, (tuple, list)) and value:
                value = value[0]
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else None
            seen.append(Observed(Site(path, index), sub, shape))

        if pre:
            return lambda _m, inputs_: record(inputs_)
        return lambda _m, _inputs, output: record(output)

    try:
        for path, sub in module.named_modules():
            if path and select(path, sub):
                fn = make(path, sub)
                handles.append(sub.register_forward_pre_hook(fn) if pre else sub.register_forward_hook(fn))
        with evaluating(module), torch.inference_mode():
            module(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def hook_count(module: nn.Module) -> int:
    """Forward (pre-)hooks currently registered anywhere in ``module`` (0 after every featent call)."""
    total = 0
    for sub in module.modules():
        total += len(sub._forward_hooks) + len(sub._forward_pre_hooks)
    return total


__all__ += ["Observed", "hook_count"]


def sites_of(paths: Sequence[str]) -> dict[str, Site]:
    """``{path: Site(path)}``: the first call of each named submodule."""
    return {path: Site(path) for path in paths}
