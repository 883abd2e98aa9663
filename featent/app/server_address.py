"""An ASGI middleware that writes the server's base address into every page's HTML.

Streamlit's client, opened on ``/<Page>``, probes ``/<Page>/_stcore/health`` and
``/<Page>/_stcore/host-config`` (404 on every deep link) before the server's root, unless the page
sets ``window.__streamlit.BACKEND_BASE_URL``, the client's setting for apps embedded elsewhere. The
middleware sets it to the server's own root (``server.baseUrlPath`` included) in the HTML of page
addresses only; every other response passes through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Path parts of Streamlit's own endpoints and files (never a page).
NOT_PAGES = ("_stcore", "static", "media", "component")


def base_url_path() -> str:
    """Streamlit's ``server.baseUrlPath`` as ``/prefix`` (empty when served at the root)."""
    from streamlit import config

    prefix = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{prefix}" if prefix else ""


def address_script(base: str) -> bytes:
    """The ``<script>`` that tells Streamlit's client its server is at ``origin + base + "/"``."""
    value = json.dumps(base + "/").replace("</", "<\\/")
    return (f"<script>window.__streamlit = Object.assign({{}}, window.__streamlit, "
            f"{{BACKEND_BASE_URL: window.location.origin + {value}}});</script>").encode()


def is_page_path(path: str, base: str) -> bool:
    """Whether ``path`` can be a page's address: the root or one name under the base, no file suffix."""
    if base and not (path == base or path.startswith(base + "/")):
        return False
    parts = [part for part in path[len(base):].split("/") if part]
    return len(parts) <= 1 and not any(part in NOT_PAGES or "." in part for part in parts)


def with_address(html: bytes, script: bytes) -> bytes:
    """``html`` with ``script`` as the first element of its head (before Streamlit's own scripts)."""
    head = html.find(b"<head>")
    if head < 0:
        return html
    at = head + len(b"<head>")
    return html[:at] + script + html[at:]


class ServerAddressInPage:
    """Pure ASGI middleware: page HTML gets :func:`address_script`; everything else is passed on as it is."""

    def __init__(self, app: ASGIApp, base: str | None = None) -> None:
        self.app = app
        self._base = base

    @property
    def base(self) -> str:
        if self._base is None:
            self._base = base_url_path()
        return self._base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or not is_page_path(scope["path"], self.base):
            await self.app(scope, receive, send)
            return
        # The page must arrive uncompressed to be edited; it is a few kilobytes.
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"])
        start: Message | None = None
        chunks: list[bytes] = []
        script = address_script(self.base)

        async def edit(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                named = {k.lower(): v for k, v in message.get("headers", [])}
                is_html = named.get(b"content-type", b"").startswith(b"text/html")
                if is_html and b"content-encoding" not in named:
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = with_address(b"".join(chunks), script)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
            headers.append((b"content-length", str(len(body)).encode()))
            await send(dict(start, headers=headers))
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, edit)
