"""A user's model from their own Python file or module (``net.py:Net``, ``mypackage.nets:Net``).

Loading it executes that code, as ``python net.py`` would: only the file or module the user named
is imported (plus whatever it imports itself), nothing else is searched or imported. ``NAME`` may be
an ``nn.Module`` subclass (built with no arguments under seed 0, so its random init is the same
every time), a zero-argument factory returning a module, a module instance or a ``from_module``
result. Input size, mean and std come from the object's ``input_size`` / ``mean`` / ``std``
attributes (or its ``from_module`` call) unless the caller gives them.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from featent.errors import ModelError
from featent.nets.seeding import seeded

__all__ = ["import_source", "build_object", "source_identity"]


def _is_file_source(source: str) -> bool:
    return source.endswith(".py") or os.sep in source or "/" in source or Path(source).expanduser().is_file()


def source_identity(source: str) -> str:
    """The resolved file plus its size and mtime (a rewritten file is imported again); a module path as is."""
    if not _is_file_source(source):
        return source
    file = Path(source).expanduser().resolve()
    try:
        info = file.stat()
    except OSError:
        return str(file)
    return f"{file}|{info.st_size}|{info.st_mtime_ns}"


def import_source(source: str) -> ModuleType:
    """Import exactly the named ``.py`` file or ``package.module``; ModelError in one sentence otherwise."""
    if _is_file_source(source):
        file = Path(source).expanduser()
        if not file.exists():
            raise ModelError(f"The model file {source!r} does not exist; give the path of a .py file, as in 'net.py:Net'.")
        if not file.is_file() or file.suffix != ".py":
            raise ModelError(f"{source!r} is not a .py file; a model from code is given as 'path/to/file.py:NAME'.")
        resolved = file.resolve()
        module_name = "featent_user_" + hashlib.blake2b(str(resolved).encode(), digest_size=6).hexdigest()
        spec = importlib.util.spec_from_file_location(module_name, resolved)
        if spec is None or spec.loader is None:
            raise ModelError(f"Python cannot load {source!r} as a module.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # classes defined in it (dataclasses, pickling) find their module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            raise ModelError(f"Running {source!r} failed: {type(exc).__name__}: {exc}.") from exc
        return module
    try:
        return importlib.import_module(source)
    except ModuleNotFoundError as exc:
        raise ModelError(f"No module {source!r} can be imported ({exc}); give an importable 'package.module:NAME' "
                         "or a file 'path/to/file.py:NAME'.") from exc
    except Exception as exc:
        raise ModelError(f"Importing {source!r} failed: {type(exc).__name__}: {exc}.") from exc


def build_object(source: str, name: str) -> Any:
    """``NAME`` from the source, made into an ``nn.Module`` or a LoadedModel (``from_module`` result)."""
    module = import_source(source)
    if not hasattr(module, name):
        public = sorted(k for k, v in vars(module).items() if not k.startswith("_") and _usable(v))
        hint = f"; it defines {', '.join(public)}" if public else ""
        raise ModelError(f"{source!r} has no {name!r}{hint}.")
    target = getattr(module, name)
    if isinstance(target, nn.Module) or _is_loaded(target):
        return target
    if isinstance(target, type) and not issubclass(target, nn.Module):
        raise ModelError(f"{source}:{name} is a class but not a torch.nn.Module subclass.")
    if not callable(target):
        raise ModelError(f"{source}:{name} is a {type(target).__name__}, not an nn.Module subclass, a factory or a module.")
    with seeded(0):  # the same random init every time; the caller's RNG untouched
        try:
            made = target()
        except Exception as exc:
            raise ModelError(f"Calling {source}:{name}() failed: {type(exc).__name__}: {exc}.") from exc
    if not isinstance(made, nn.Module) and not _is_loaded(made):
        raise ModelError(f"{source}:{name}() returned a {type(made).__name__}, not a torch.nn.Module.")
    return made


def _usable(value: object) -> bool:
    return isinstance(value, nn.Module) or _is_loaded(value) or (isinstance(value, type) and issubclass(value, nn.Module))


def _is_loaded(value: object) -> bool:
    """A ``from_module`` result (recognized by shape: featent.nets.loading imports this module)."""
    return not isinstance(value, type) and all(hasattr(value, a) for a in ("module", "layers", "fingerprint", "input_size"))
