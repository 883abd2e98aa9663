"""featent.app.server_address: page HTML names the server's root for Streamlit's client; nothing else changes."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from featent.app.server_address import ServerAddressInPage, address_script, is_page_path, with_address

PAGE = ("<!DOCTYPE html><html><head><title>t</title><script src='./static/js/index.js'></script></head><body>"
        + "x" * 2000 + "</body></html>")


@pytest.mark.parametrize(("path", "base", "page"), [
    ("/", "", True), ("/Unit_inspector", "", True), ("/Unit_inspector/", "", True),
    ("/Unit_inspector/_stcore/health", "", False), ("/_stcore/health", "", False), ("/static/js/index.js", "", False),
    ("/favicon.png", "", False), ("/media/abc.png", "", False), ("/component/x/index.html", "", False),
    ("/featent", "/featent", True), ("/featent/How_it_works", "/featent", True), ("/How_it_works", "/featent", False),
    ("/featent/_stcore/health", "/featent", False),
])
def test_page_paths_are_the_root_and_one_name_below_it(path: str, base: str, page: bool) -> None:
    assert is_page_path(path, base) is page


def test_the_script_goes_first_in_the_head_and_cannot_close_itself_early() -> None:
    script = address_script("/a</script><b")
    assert b"</script><b" not in script[:-len(b"</script>")] and script.count(b"</script>") == 1
    edited = with_address(PAGE.encode(), script)
    assert edited.index(script) == PAGE.index("<head>") + len("<head>") < edited.index(b"index.js")
    assert with_address(b"no head here", script) == b"no head here"


def _client(base: str = "") -> TestClient:
    async def page(request):
        return HTMLResponse(PAGE)

    async def health(request):
        return PlainTextResponse("ok" * 1000)

    app = Starlette(routes=[Route("/_stcore/health", health), Route("/", page), Route("/{name}", page),
                            Route("/{name}/_stcore/health", health)],
                    middleware=[Middleware(ServerAddressInPage, base=base), Middleware(GZipMiddleware, minimum_size=10)])
    return TestClient(app)


def test_pages_get_the_root_address_uncompressed_with_a_right_length() -> None:
    client = _client()
    for path in ("/", "/Unit_inspector"):
        response = client.get(path, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200 and "content-encoding" not in response.headers
        assert response.content.startswith(with_address(PAGE.encode(), address_script(""))[:200])
        assert b"BACKEND_BASE_URL: window.location.origin + \"/\"" in response.content
        assert int(response.headers["content-length"]) == len(response.content) == len(PAGE) + len(address_script(""))


def test_other_responses_pass_through_untouched_and_still_compressed() -> None:
    client = _client()
    response = client.get("/_stcore/health", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip" and response.text == "ok" * 1000
    deep = client.get("/Unit_inspector/_stcore/health", headers={"accept-encoding": "gzip"})
    assert deep.headers["content-encoding"] == "gzip" and deep.text == "ok" * 1000
    assert client.post("/Unit_inspector").status_code == 405  # only GET pages are edited; the rest is the app's own answer


def test_a_base_url_path_is_part_of_the_address() -> None:
    response = _client("/featent").get("/featent")
    assert b"window.location.origin + \"/featent/\"" in response.content
