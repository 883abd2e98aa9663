"""The first line a person sees, ``featent: COMMAND: starting …``, printed from ``argv`` alone.

Why a module of its own, on the standard library only: the line must appear before anything heavy is
imported (numpy takes a quarter of a second, torch seconds), so the package ``featent.cli`` prints it
before it imports the program when it is the running ``featent`` command (the console script or
``python -m featent``), and ``main`` prints it when called directly.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["GLOBAL_FLAGS", "INSTANT", "announce", "first_line", "invoked_as_command"]

#: Flags that may come before or after the command: (flag, takes a value).
GLOBAL_FLAGS = {"--offline": False, "--quiet": False, "--format": True}
#: Commands that answer at once (listings, the store) or print their own first lines (the app).
INSTANT = ("models", "classes", "cache", "app")

_announced: list[list[str]] = []  # the argv announced ahead of main, so main does not repeat its line


def first_line(quiet: bool, text: str) -> None:
    """``featent: TEXT`` on stderr at once (shown where the bar would be: on a terminal, not with ``--quiet``)."""
    if not quiet and sys.stderr.isatty():
        print(f"featent: {text}", file=sys.stderr, flush=True)


def command_of(argv: Sequence[str]) -> str | None:
    """The command word of ``argv``: the first word that is neither a flag nor a global flag's value."""
    words = iter(argv)
    for word in words:
        if word.startswith("-"):
            if GLOBAL_FLAGS.get(word.partition("=")[0]) and "=" not in word:
                next(words, None)
            continue
        return word
    return None


def announce(argv: Sequence[str], ahead: bool = False) -> None:
    """The first line for ``argv`` (none for --help, --version, --quiet or an instant command), once:
    a line printed ``ahead`` of ``main`` is not printed again by ``main`` for the same argv."""
    argv = list(argv)
    if not ahead and argv in _announced:
        _announced.remove(argv)
        return
    if any(a in ("-h", "--help", "--version", "--quiet") for a in argv):
        return
    command = command_of(argv)
    if command is None or command in INSTANT or not command.replace("-", "").isalpha():
        return
    first_line(False, f"{command}: starting …")
    if ahead:
        _announced.append(argv)


def invoked_as_command() -> bool:
    """True when this process is the ``featent`` command: the console script or ``python -m featent``."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if program is None:
        return False
    return program.name == "featent" or program.resolve() == Path(__file__).resolve().parents[1] / "__main__.py"
