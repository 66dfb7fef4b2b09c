"""`cashup serve` in a real headless Chromium: the page loads only from the local server, the
workstation renders (xterm.js paints what the app sends) and keys typed in the page reach the app."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import pytest

from tests.cdp import chromium
from tests.serve_support import Served

pytest.importorskip("textual_serve", reason="cashup serve needs the 'serve' extra (in the test extra)")
pytestmark = pytest.mark.timeout(300)


async def _wait_for_bytes(page, needle: bytes, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while needle not in page.received_text():
        if time.monotonic() > deadline:
            tail = page.received_text()[-300:]
            raise AssertionError(f"the page never received {needle!r}; tail: {tail!r}")
        await asyncio.sleep(0.2)


async def test_the_workstation_renders_and_takes_keys_in_chromium(served: Served, tmp_path: Path) -> None:
    async with chromium(tmp_path / "profile") as page:
        await page.send("Page.navigate", url=served.url + "/?fontsize=14")
        await _wait_for_bytes(page, b"priv", timeout=120)  # the app is up and drawing into the page
        # xterm.js painted it: the terminal element has a size and the screenshot is not one flat colour
        box = await page.send("Runtime.evaluate", returnByValue=True, expression=(
            "(() => { const r = document.querySelector('.xterm-screen').getBoundingClientRect();"
            " return [r.width, r.height, document.body.classList.contains('-first-byte')]; })()"))
        width, height, first_byte = box["result"]["value"]
        assert width > 400 and height > 200 and first_byte
        shot = base64.b64decode((await page.send("Page.captureScreenshot", format="png"))["data"])
        assert len(shot) > 20_000, f"a blank page compresses to a few kB, this one is {len(shot)} bytes"
        # keys typed in the page: `?` opens the help, whose title comes back over the websocket
        await page.send("Runtime.evaluate", expression="document.querySelector('.xterm-helper-textarea').focus()")
        await page.type("?")
        await _wait_for_bytes(page, b"CashUp keys", timeout=30)
        urls = page.requested_urls()
        assert urls and all(u.startswith(served.url) or u.startswith(("about:", "data:")) for u in urls), urls
