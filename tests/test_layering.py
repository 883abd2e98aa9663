"""The package is layered: imports run only downward, never in a cycle, and never reach private names.

Declared order (each layer may import only from layers before it):
errors < progress < validation < core < spec < data < store < nets < training < extract < births < pipeline < indicators <
prune < experiments < plots < app < cli. ``featent/__init__.py`` and ``__main__`` sit on top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "featent"
ORDER = [
    "errors",
    "progress",
    "validation",
    "core",
    "spec",
    "data",
    "store",
    "nets",
    "training",
    "extract",
    "births",
    "pipeline",
    "indicators",
    "prune",
    "experiments",
    "plots",
    "app",
    "cli",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _rank(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return len(ORDER)  # the package itself: on top
    if parts[1] not in ORDER:
        raise AssertionError(f"{module} is in no declared layer; add it to the order in {__file__}")
    return ORDER.index(parts[1])


def _imports() -> list[tuple[str, str, list[str], bool, int]]:
    """(importer, imported module, imported names, at module level, line) for every featent import."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        importer = _module_name(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "featent":
                        found.append((importer, alias.name, [], id(node) in top_level, node.lineno))
            elif (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.level == 0
                and node.module.split(".")[0] == "featent"
            ):
                    names = [a.name for a in node.names]
                    found.append((importer, node.module, names, id(node) in top_level, node.lineno))
    return found


def _resolve(module: str, name: str) -> str:
    """``from featent.nets import hooks`` imports the module featent.nets.hooks."""
    candidate = f"{module}.{name}"
    parts = candidate.split(".")[1:]
    path = ROOT.joinpath(*parts)
    return candidate if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() else module


def test_imports_only_run_downward():
    upward = []
    for importer, module, names, _, line in _imports():
        for target in [_resolve(module, n) for n in names] or [module]:
            if importer.split(".")[:2] == target.split(".")[:2]:
                continue  # inside one layer
            if _rank(target) > _rank(importer):
                upward.append(f"{importer}:{line} imports {target}")
    assert not upward, "imports running upward:\n" + "\n".join(sorted(set(upward)))


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for importer, module, names, _, _ in _imports():
        for target in [_resolve(module, n) for n in names] or [module]:
            if target != importer and not importer.startswith(target + "."):
                graph.setdefault(importer, set()).add(target)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


#: Known exceptions: (importer, imported name). None today.
ALLOWED_PRIVATE: set[tuple[str, str]] = set()


def test_no_private_names_across_modules():
    private = [
        f"{importer}:{line} imports {module}.{name}"
        for importer, module, names, _, line in _imports()
        for name in names
        if name.startswith("_") and not name.startswith("__") and module != importer
        and (importer, f"{module}.{name}") not in ALLOWED_PRIVATE
    ]
    assert not private, "private names imported across modules:\n" + "\n".join(private)


def test_function_local_imports_are_few():
    """Function-local imports are for optional or heavy dependencies only; featent's own modules
    are imported at the top, where the layering is visible."""
    local = [f"{i}:{line} imports {m}" for i, m, _, top, line in _imports() if not top]
    assert len(local) <= LOCAL_IMPORT_BUDGET, f"{len(local)} function-local featent imports:\n" + "\n".join(local)


#: The CLI defers torch-backed modules until a command needs them (a stored answer never imports torch),
#: and the app/story/prune commands brought a few more such imports; Home defers two so its page paints before torch.
LOCAL_IMPORT_BUDGET = 65


@pytest.mark.parametrize(
    "code",
    [
        "import featent",
        "import featent; featent.birth_times",
        "import featent; featent.feature_entropy",
        "import featent.spec; featent.spec.ModelSpec.parse('vgg11:random@64')",
        "import featent.core.cycles",
        "import featent.progress, featent.validation",
        "import featent.experiments.atlas",
        "import featent.cli.cached",
    ],
)
def test_torch_free_imports(code):
    probe = f"import sys; {code}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=ROOT.parent)
    assert out.stdout.strip() == "False", f"{code!r} imported torch"


def test_streamlit_only_in_the_app_package():
    """The library, CLI and plots import no Streamlit; ``import featent.app`` itself does not either
    (only its views and navigation do), so ``featent app`` can start a server from a plain install."""
    outside = [f"{path.relative_to(ROOT.parent)}" for path in ROOT.rglob("*.py")
               if "app" not in path.relative_to(ROOT).parts
               and any(line.lstrip().startswith(("import streamlit", "from streamlit"))
                       for line in path.read_text().splitlines())]
    assert not outside, "Streamlit imported outside featent/app: " + ", ".join(outside)
    probe = "import sys, featent.app; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT.parent)
    assert out.stdout.strip() == "False"
