"""Layer discovery for any ``nn.Module``.

A *layer* is a place in the forward pass whose output is a feature map [N, C, H, W] with
H = W >= 2; its C channels are the units. The default layers are the activated outputs of every
convolution, in forward order: a conv's output followed through its norm and activation (ReLU,
ReLU6, SiLU, GELU, Hardswish, ...), and through a residual addition to the block output where the
net has one.

The graph is traced with torch.fx (torchvision's feature-extraction tracer, which names nodes by
module path); a model that cannot be traced is probed with hooks instead, following each conv
through the norm and activation modules that run right after it. Either way the result is a list
of :class:`LayerInfo` whose ``site`` says where a hook reads the layer (see featent.nets.hooks).
A layer computed by a function rather than a module (``F.relu(x)``, ``x + y``) is given a tap: an
``nn.Identity`` inserted after that node in a traced copy of the graph (the ``runner``), which
shares every parameter with the original module.

VGG-like nets (a ``features`` Sequential) and torchvision ResNets keep their historical names,
``block{b}_conv{c}`` and ``conv1`` / ``conv{stage}_{block}_out``, as the layer names, with the
module path as an alias; every other net names its layers by node path (``features.3.conv.2``).
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.fx
from torch import nn

from featent.errors import ModelError
from featent.nets.hooks import Site, evaluating, probe_modules

__all__ = ["LayerInfo", "Discovery", "discover_layers", "describe_shape"]

TAP_ROOT = "featent_taps"

_NORMS = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
)
_ACTS = (
    nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish, nn.LeakyReLU, nn.ELU, nn.PReLU, nn.Mish, nn.SELU, nn.CELU,
    nn.Softplus, nn.Hardtanh, nn.Tanh,
)
# nn.Linear passes too: ConvNeXt-style blocks run their pointwise convs as Linear on channels-last maps.
_PASS_MODULES = (*_NORMS, *_ACTS, nn.Dropout, nn.Dropout2d, nn.Identity, nn.Linear)
_PASS_NAMES = ("Norm", "Act", "Swish", "Mish", "GELU", "ReLU", "DropPath", "StochasticDepth", "Permute", "LayerScale", "Identity")
_PASS_FUNCTIONS = {
    torch.relu, torch.relu_, torch.nn.functional.relu, torch.nn.functional.relu6, torch.nn.functional.silu,
    torch.nn.functional.gelu, torch.nn.functional.hardswish, torch.nn.functional.leaky_relu, torch.nn.functional.elu,
    torch.nn.functional.mish, torch.nn.functional.dropout, torch.nn.functional.batch_norm, torch.nn.functional.layer_norm,
    torch.nn.functional.group_norm, torch.add, operator.add, operator.iadd, operator.mul, torch.mul, torch.permute,
}
_PASS_METHODS = {"relu", "relu_", "add", "add_", "permute", "contiguous", "mul", "mul_"}


@dataclass(frozen=True)
class LayerInfo:
    """One layer: its name, number of units (channels), unit side m, where to hook it, and other names."""

    name: str
    n_units: int
    unit_size: int
    site: Site = field(default=Site(""), compare=False)
    aliases: tuple[str, ...] = field(default=(), compare=False)
    conv: str | None = field(default=None, compare=False)  # path of the conv whose output this layer activates


@dataclass
class Discovery:
    """The layers found in a module and the module to run forward for hooks to see them."""

    layers: list[LayerInfo]
    runner: nn.Module
    method: str  # "fx" or "hooks"


def describe_shape(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "not a tensor"
    return "x".join(str(int(s)) for s in shape)


def _usable(shape: Sequence[int] | None) -> bool:
    return shape is not None and len(shape) == 4 and shape[2] == shape[3] and shape[2] >= 2


def _passes(module: nn.Module) -> bool:
    return isinstance(module, _PASS_MODULES) or any(key in type(module).__name__ for key in _PASS_NAMES)


# -- tracing --------------------------------------------------------------------------------


#: torch.fx patches ``nn.Module.__call__`` and ``__getattr__`` for the whole process while it traces,
#: and restores what it found when done: two traces at once (two app sessions loading models) would
#: restore each other's patches, so they take turns.
_TRACING = threading.Lock()


def _this_thread_only(tracer_class: type) -> type:
    """``tracer_class`` recording only the tracing thread's module calls: while it traces, a forward
    pass in another thread (another session's model) goes through the same patched ``nn.Module``
    methods and would fail ("module is not installed as a submodule") or land in this graph; here
    it runs as if nothing were traced."""

    class ThisThreadOnly(tracer_class):  # type: ignore[misc,valid-type]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.owner = threading.get_ident()

        def call_module(self, m, forward, args, kwargs):
            if threading.get_ident() != self.owner:
                return forward(*args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

        def getattr(self, attr, attr_val, parameter_proxy_cache):
            if threading.get_ident() != self.owner:
                return attr_val
            return super().getattr(attr, attr_val, parameter_proxy_cache)

    return ThisThreadOnly


def _trace(module: nn.Module):  # -> (torch.fx.GraphModule, {node name: qualified name}) | None
    """Trace with torchvision's NodePathTracer, which names nodes by module path (``layer1.0.relu_1``)."""
    try:
        import math

        import torchvision.ops
        from torchvision.models.feature_extraction import NodePathTracer
    except ImportError:  # torchvision is a dependency; the hook probe still works without it
        return None
    # torchvision's own ops stay leaves (as its feature extraction does), except the blocks that hold convs.
    ops_modules = [
        v
        for v in vars(torchvision.ops).values()
        if isinstance(v, type) and issubclass(v, nn.Module) and not issubclass(v, nn.Sequential)
        and v.__name__ not in ("SqueezeExcitation",)
    ]
    try:
        tracer = _this_thread_only(NodePathTracer)(autowrap_modules=(math, torchvision.ops), leaf_modules=ops_modules)
        with _TRACING:
            graph = tracer.trace(module)
        graph_module = torch.fx.GraphModule(tracer.root, graph, type(module).__name__)
    except Exception:  # noqa: BLE001 - any tracing failure means: use the hook probe
        return None
    names = {node.name: qual for node, qual in tracer.node_to_qualname.items()}
    return graph_module, names


def _introspects(node) -> bool:
    """A node that only reads a tensor's shape (``x.ndim`` in a check): not a use of its values."""
    if node.op == "call_method":
        return node.target in ("size", "dim")
    return node.op == "call_function" and node.target is getattr and len(node.args) > 1 and node.args[1] in (
        "shape", "ndim", "dtype", "device",
    )


def _node_passes(node, graph_module) -> bool:
    if node.op == "call_module":
        return _passes(graph_module.get_submodule(node.target))
    if node.op == "call_function":
        return node.target in _PASS_FUNCTIONS or getattr(node.target, "__name__", "") in ("stochastic_depth", "drop_path")
    if node.op == "call_method":
        return node.target in _PASS_METHODS
    return False


def _shapes(graph_module, inputs: torch.Tensor) -> dict[str, tuple[int, ...] | None]:
    """Output shape of every node on one pass of ``inputs`` (None where the output is not a tensor)."""
    shapes: dict[str, tuple[int, ...] | None] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):  # type: ignore[no-untyped-def]
            value = super().run_node(n)
            shapes[n.name] = tuple(value.shape) if isinstance(value, torch.Tensor) else None
            return value

    with evaluating(graph_module), torch.inference_mode():
        Recorder(graph_module).run(inputs)
    return shapes


#: One found layer: (name, output shape, hook site, path of the conv whose filters produce it).
LayerRow = tuple[str, "tuple[int, ...] | None", Site, "str | None"]


def _fx_layers(module: nn.Module, traced, inputs: torch.Tensor, requested: Sequence[str] | None):
    graph_module, qualnames = traced
    shapes = _shapes(graph_module, inputs)
    nodes = list(graph_module.graph.nodes)
    by_name = {qualnames.get(n.name, n.name): n for n in nodes}
    chosen: list[tuple[torch.fx.Node, str | None]] = []  # (node, conv path)
    labels: dict[str, str] = {}  # node name -> the name a caller asked for
    if requested is None:
        seen: set[str] = set()
        for node in nodes:
            if node.op != "call_module" or not isinstance(graph_module.get_submodule(node.target), nn.Conv2d):
                continue
            end, last_good = node, node if _usable(shapes.get(node.name)) else None
            while len(users := [u for u in end.users if not _introspects(u)]) == 1:
                user = users[0]
                if not _node_passes(user, graph_module):
                    break
                end = user
                if _usable(shapes.get(end.name)):
                    last_good = end
            pick = last_good if last_good is not None else end  # not usable: reported by its shape
            if pick.name not in seen:
                seen.add(pick.name)
                chosen.append((pick, node.target))
    else:
        for name in requested:
            node = by_name.get(name)
            if node is None:
                path, _, call = name.partition("#")
                candidates = [n for n in nodes if n.op == "call_module" and n.target == path]
                index = int(call) if call.isdigit() else 0
                node = candidates[index] if index < len(candidates) else None
            if node is None:
                return None, name
            labels[node.name] = name
            chosen.append((node, None))
    order = {n.name: i for i, n in enumerate(nodes)}
    chosen.sort(key=lambda item: order[item[0].name])
    # Sites: a module node is hooked on its own module (call index = how many earlier nodes called it);
    # a function node gets a tap module.
    calls: dict[str, int] = {}
    module_sites: dict[str, Site] = {}
    for node in nodes:
        if node.op == "call_module":
            index = calls.get(node.target, 0)
            calls[node.target] = index + 1
            module_sites[node.name] = Site(node.target, index)
    taps = [node for node, _ in chosen if node.name not in module_sites]
    runner: nn.Module = module
    tap_sites: dict[str, Site] = {}
    if taps:
        tapped: torch.fx.GraphModule = graph_module
        tapped.add_module(TAP_ROOT, nn.ModuleList([nn.Identity() for _ in taps]))
        for i, node in enumerate(taps):
            with tapped.graph.inserting_after(node):
                tap = tapped.graph.call_module(f"{TAP_ROOT}.{i}", (node,))

            def not_the_tap(user: torch.fx.Node, tap: torch.fx.Node = tap) -> bool:
                return user is not tap

            node.replace_all_uses_with(tap, delete_user_cb=not_the_tap)
            tap_sites[node.name] = Site(f"{TAP_ROOT}.{i}")
        tapped.recompile()
        runner = tapped
    infos: list[LayerRow] = []
    for node, conv in chosen:
        shape = shapes.get(node.name)
        site = tap_sites.get(node.name) or module_sites[node.name]
        infos.append((labels.get(node.name, qualnames.get(node.name, node.name)), shape, site, conv))
    return (infos, runner), None


# -- hook probe -----------------------------------------------------------------------------


def _probe_layers(module: nn.Module, inputs: torch.Tensor, requested: Sequence[str] | None):
    seen = probe_modules(module, inputs, select=lambda _p, m: not list(m.children()) or isinstance(m, nn.Conv2d))
    infos: list[LayerRow] = []
    if requested is None:
        for i, obs in enumerate(seen):
            if not isinstance(obs.module, nn.Conv2d):
                continue
            best = obs
            for later in seen[i + 1 :]:
                if not _passes(later.module) or later.shape != obs.shape:
                    break
                best = later
            if all(best.site != s for _, _, s, _ in infos):
                infos.append((_site_name(best.site), best.shape, best.site, obs.site.path))
        return infos, None
    every = probe_modules(module, inputs)
    for name in requested:
        path, _, call = name.partition("#")
        found = [o for o in every if o.site.path == path and o.site.call == (int(call) if call.isdigit() else 0)]
        if not found:
            return None, name
        infos.append((name, found[0].shape, found[0].site, None))
    return infos, None


def _site_name(site: Site) -> str:
    return site.path if site.call == 0 else f"{site.path}#{site.call}"


# -- historical names -----------------------------------------------------------------------


def legacy_names(module: nn.Module) -> dict[Site, str]:
    """Sites of the historical layer names of VGG-like nets and torchvision ResNets."""
    names: dict[Site, str] = {}
    if all(hasattr(module, a) for a in ("layer1", "layer4", "conv1", "relu")) and not hasattr(module, "features"):
        names[Site("relu", 0)] = "conv1"
        for stage in range(1, 5):
            for index, (child, block) in enumerate(getattr(module, f"layer{stage}").named_children(), start=1):
                relu_calls = 3 if hasattr(block, "conv3") else 2
                names[Site(f"layer{stage}.{child}.relu", relu_calls - 1)] = f"conv{stage + 1}_{index}_out"
        return names
    features = getattr(module, "features", None)
    plain = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d, nn.Dropout, nn.LocalResponseNorm)
    if not isinstance(features, nn.Sequential) or not all(isinstance(c, plain) for c in features.children()):
        return names
    block, conv, pending = 1, 0, False
    for child_name, child in features.named_children():
        if isinstance(child, nn.Conv2d):
            conv += 1
            pending = True
        elif isinstance(child, nn.ReLU) and pending:
            names[Site(f"features.{child_name}", 0)] = f"block{block}_conv{conv}"
            pending = False
        elif isinstance(child, (nn.MaxPool2d, nn.AvgPool2d)):
            if conv:
                block += 1
            conv = 0
    return names


# -- entry point ----------------------------------------------------------------------------


def discover_layers(
    module: nn.Module, input_size: int, model_name: str, layers: Sequence[str] | None = None
) -> Discovery:
    """The layers of ``module`` at ``input_size`` (default list, or the named module paths / nodes).

    Raises ModelError naming the model and what was looked for when no layer is usable, and naming
    the shape of a requested layer that is not a square feature map.
    """
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in module.parameters() if p.dtype != torch.float32})
    if dtypes:
        raise ModelError(
            f"{model_name} has {'/'.join(dtypes)} parameters; featent runs models in float32, so convert it first "
            "(module.float())."
        )
    inputs = torch.zeros(1, 3, input_size, input_size, device=device)
    legacy = legacy_names(module)
    requested = None if layers is None else [_from_alias(name, legacy) for name in layers]
    graph_module = _trace(module)
    method = "fx"
    result, missing = None, None
    try:
        if graph_module is not None:
            try:
                result, missing = _fx_layers(module, graph_module, inputs, requested)
            except Exception:  # noqa: BLE001 - shape propagation failed on the traced graph: probe instead
                result = None
        if result is None:
            method = "hooks"
            found, missing = _probe_layers(module, inputs, requested)
            result = None if found is None else (found, module)
    except RuntimeError as exc:
        raise ModelError(
            f"{model_name} cannot run on {input_size}x{input_size} inputs ({str(exc).splitlines()[0][:120]}); try a larger @SIZE."
        ) from exc
    if result is None:
        raise ModelError(f"{model_name} has no layer or module {missing!r}; list its layers with 'featent layers'.")
    found, runner = result
    infos: list[LayerInfo] = []
    rejected: list[str] = []
    for name, shape, site, conv in found:
        if not _usable(shape):
            if requested is not None:
                raise ModelError(
                    f"Layer {name!r} of {model_name} outputs a {describe_shape(shape)} tensor, not a square feature map "
                    "[N, C, H, W] with H = W >= 2, so it has no units."
                )
            rejected.append(f"{name} ({describe_shape(shape)})")
            continue
        base_site = site
        legacy_name = legacy.get(base_site)
        display = legacy_name or name
        aliases = tuple(a for a in dict.fromkeys([name, _site_name(base_site)]) if a != display)
        infos.append(LayerInfo(display, int(shape[1]), int(shape[-1]), site, aliases, conv))
    if not infos:
        seen = f"; the conv outputs it has are {', '.join(rejected[:4])}" if rejected else ""
        raise ModelError(
            f"{model_name} has no usable layer: featent looks for the activated output of a Conv2d that is a square "
            f"feature map [N, C, H, W] with H = W >= 2 at input {input_size}x{input_size}{seen}."
        )
    return Discovery(infos, runner, method)


def _from_alias(name: str, legacy: dict[Site, str]) -> str:
    for site, old in legacy.items():
        if old == name:
            return site.path if site.call == 0 else f"{site.path}#{site.call}"
    return name


def layer_modules(module: nn.Module) -> dict[str, nn.Module]:
    """Historical layer name -> the module whose output is that layer (VGG-like nets: the ReLU;
    ResNets: the stem ReLU and each residual block). Other nets: use ``LoadedModel.layers`` and
    featent.nets.hooks with ``LayerInfo.site``."""
    found: dict[str, nn.Module] = {}
    for site, name in legacy_names(module).items():
        path = site.path if site.call == 0 else site.path.rpartition(".")[0]
        found[name] = module.get_submodule(path)
    return found
