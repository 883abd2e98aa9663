"""``featent app``: start the Streamlit app from an installed package (no checkout, no ``make``).

Streamlit runs in a child process (``featent.app.launch``) headless, with its file watcher and usage
statistics off: an installed app has no source to watch, and featent never phones home. Any option
featent does not know (``--server.maxUploadSize 50``, ``--theme.base dark``) or anything after
``--`` goes to Streamlit as it is.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
from collections.abc import Callable, Sequence

from featent.app.mode import PUBLIC_ENV
from featent.cli.common import add_offline_flag, positive_int
from featent.errors import FeatentError

__all__ = ["QUIET_OPTIONS", "register", "streamlit_command_options"]

#: Streamlit options every ``featent app`` (and ``make run``) passes: no file watcher, no usage statistics.
QUIET_OPTIONS = ("--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false")


#: Exit statuses of a server stopped as asked (Ctrl+C, ``kill``, a closed terminal): not an error.
STOPPED = tuple(-getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def streamlit_command_options(host: str | None, passthrough: Sequence[str], quiet: bool = False) -> list[str]:
    """The Streamlit options of one ``featent app`` call: the quiet ones, the address, then the user's own
    (which come last, so they win over featent's). ``quiet`` keeps only errors in the server log."""
    rest = list(passthrough)
    if "--" in rest:
        rest.remove("--")  # the separator itself is featent's, not Streamlit's
    options = list(QUIET_OPTIONS)
    if host is not None:
        options += ["--server.address", host]
    if quiet:
        options += ["--logger.level", "error"]
    return options + rest


def _cmd_app(args: argparse.Namespace) -> str:
    from featent.app import launch

    if importlib.util.find_spec("streamlit") is None:
        raise FeatentError("featent app needs Streamlit; install the app extra with: pip install 'featent[app]'.")
    env = dict(os.environ)
    if args.public:
        env[PUBLIC_ENV] = "1"
    status = launch(args.port, headless=True, options=streamlit_command_options(args.host, args.passthrough, args.quiet), env=env)
    if status not in (0, *STOPPED):
        raise FeatentError(f"Streamlit stopped with exit status {status}; its message is above.")
    return ""


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], str]]:
    """Add ``featent app`` to ``featent``'s subparsers; returns name -> handler."""
    p = sub.add_parser(
        "app",
        help="open the featent app in the browser (Streamlit); unknown options and anything after -- go to Streamlit",
        description="Start the featent app (Streamlit, headless). Options featent does not know, e.g. "
        "--server.maxUploadSize 50, and anything after -- are passed to 'streamlit run' as they are.",
    )
    p.add_argument("--port", type=positive_int, default=None, metavar="N", help="port to serve on (default 8501)")
    p.add_argument("--host", default=None, metavar="ADDR",
                   help="address to listen on (default: Streamlit's, all interfaces); 127.0.0.1 for this machine only")
    p.add_argument("--public", action="store_true",
                   help="public mode for a shared server (sets FEATENT_PUBLIC=1): no typed paths, code or store clearing")
    p.add_argument("--quiet", action="store_true", help="only errors in the server log (Streamlit's --logger.level error)")
    add_offline_flag(p)
    p.set_defaults(passthrough=[])
    return {"app": _cmd_app}
