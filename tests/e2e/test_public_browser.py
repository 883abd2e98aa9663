"""Public mode in Chromium, three sessions at once: each keeps its own selection, a link naming a
server path or over a limit is refused with a warning, no control clears the shared store, and a zip
uploaded by one session is gone when it ends."""

from __future__ import annotations

import io
import re
import time
import zipfile

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from featent.app import public

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 180_000


def _class_shown(page: Page) -> str:
    box = page.locator('[data-testid="stSidebar"] input[aria-label="Class"]')
    expect(box).to_be_attached(timeout=TIMEOUT_MS)
    return box.input_value()


def _open(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_text("What each page shows")).to_be_visible(timeout=TIMEOUT_MS)


def _zip() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("left", "right"):
            for i in range(3):
                image = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(image, "PNG")
                archive.writestr(f"mine/{name}/{i}.png", image.getvalue())
    return buffer.getvalue()


def test_three_public_sessions_keep_their_own_selection_and_uploads_go_with_them(browser: Browser, public_server) -> None:
    url = public_server.url
    contexts = [browser.new_context() for _ in range(3)]
    pages = [c.new_page() for c in contexts]
    links = [("?model=demo&data=fashion&class=Trouser&images=20", "Trouser"),
             ("?model=demo&data=digits&class=3&images=20", "3"),
             ("?model=demo&data=shapes&class=squares&images=4", "squares")]
    for page, (query, _) in zip(pages, links, strict=True):
        page.goto(url + "/" + query)  # all three load at once
    for page, (_, klass) in zip(pages, links, strict=True):
        expect(page.get_by_text("What each page shows")).to_be_visible(timeout=TIMEOUT_MS)
        assert _class_shown(page) == klass
    assert "data=shapes" in pages[2].url  # the root's folder by name, never its path

    _open(pages[1], url + "/?data=/&images=500")
    expect(pages[1].get_by_text("The link's data='/' is not offered on this server")).to_be_visible(timeout=TIMEOUT_MS)
    expect(pages[1].get_by_text("The link's images=500 cannot be used (This server allows at most 200 images per "
                                "selection)")).to_be_visible(timeout=TIMEOUT_MS)
    expect(pages[1].get_by_role("button", name="Clear cache")).to_have_count(0)  # the shared store stays
    expect(pages[1]).to_have_url(re.compile(r"[?&]data=fashion(&|$)"), timeout=TIMEOUT_MS)  # once the run ends

    page = pages[0]
    data_box = page.locator('[data-testid="stSidebar"] input[aria-label="Data"]')
    data_box.click()
    data_box.fill("Upload zip")  # filter the list: a long list of root folders may scroll the option out of view
    page.get_by_role("option", name="Upload zip").click()
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
        files=[{"name": "mine.zip", "mimeType": "application/zip", "buffer": _zip()}])
    expect(page.locator('[data-testid="stSidebar"] input[aria-label="Class"]')).to_have_value("left", timeout=TIMEOUT_MS)
    folders = [f for f in public.sessions_root().iterdir() if any(f.rglob("*.png"))]
    assert len(folders) == 1
    contexts[0].close()  # the tab closes; the server drops the session after its 2 s TTL
    deadline = time.monotonic() + 60
    while folders[0].exists() and time.monotonic() < deadline:
        pages[2].reload()  # another session's run also sweeps folders of ended sessions
        expect(pages[2].get_by_text("What each page shows")).to_be_visible(timeout=TIMEOUT_MS)
        time.sleep(2)
    assert not folders[0].exists()
    for context in contexts[1:]:
        context.close()
