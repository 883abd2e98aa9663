"""Show every failure in place, as one readable sentence, and keep the app running."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from featent.errors import FeatentError

log = logging.getLogger("featent.app")

#: Library messages written for the command line, and what an app user does instead.
CLI_TO_APP = (
    ("--weights PATH", "a checkpoint under 'Weights' in the sidebar"),
    ("--weights", "a checkpoint under 'Weights' in the sidebar"),
)


def app_wording(message: str) -> str:
    """A library message as an app user can act on it (no command-line options)."""
    for cli, app in CLI_TO_APP:
        message = message.replace(cli, app)
    return message


@contextmanager
def shown_in_place(stop: bool = True) -> Iterator[None]:
    """Turn exceptions into ``st.error`` where they happen; never a traceback on the page.

    A ``FeatentError`` already says what is wrong and what to do. Anything else is a bug: the
    page says so in one line and the traceback goes to the server log. Streamlit's own control
    flow (st.stop, st.rerun) derives from BaseException and passes through untouched.
    """
    try:
        yield
    except FeatentError as error:
        st.error(app_wording(str(error)), icon=":material/error:")
        if stop:
            st.stop()
    except Exception as error:  # the page must survive any failure
        log.exception("unexpected error in the app")
        st.error(
            f"Unexpected error ({type(error).__name__}: {error}). The details are in the server log; "
            "try another selection or clear the cache on the home page.",
            icon=":material/bug_report:",
        )
        if stop:
            st.stop()
