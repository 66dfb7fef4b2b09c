"""A headless Chromium driven over the DevTools protocol (aiohttp's websocket client; nothing to
download: the system's chromium, which .ci/run installs with apt-get)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("no Chromium on this CI machine (.ci/run installs it with apt-get)")
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")


class Page:
    """One tab: commands by id, events collected (websocket frames, requests)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.json()
            fut = self._waiting.pop(data.get("id", -1), None)
            if fut is not None and not fut.done():
                fut.set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        i = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[i] = fut
        await self.ws.send_json({"id": i, "method": method, "params": params})
        reply = await asyncio.wait_for(fut, 60)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def received_text(self) -> bytes:
        """Every websocket frame the page received from the app, decoded (binary frames are base64)."""
        out = bytearray()
        for e in self.events:
            if e["method"] == "Network.webSocketFrameReceived":
                frame = e["params"]["response"]
                data = frame["payloadData"]
                out += base64.b64decode(data) if frame.get("opcode") == 2 else data.encode()
        return bytes(out)

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    async def type(self, text: str) -> None:
        for ch in text:
            await self.send("Input.dispatchKeyEvent", type="keyDown", text=ch, key=ch, unmodifiedText=ch)
            await self.send("Input.dispatchKeyEvent", type="keyUp", key=ch)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()


@contextlib.asynccontextmanager
async def chromium(profile: Path, width: int = 1280, height: int = 800) -> AsyncIterator[Page]:
    """A headless Chromium with one blank tab, closed (and killed) on exit."""
    exe = find_chromium()
    proc = subprocess.Popen(
        [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        port = await asyncio.to_thread(_devtools_port, proc)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as r:
                targets = await r.json()
            page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            ws = await session.ws_connect(page_ws, max_msg_size=0)
            page = Page(ws)
            try:
                await page.send("Network.enable")
                await page.send("Page.enable")
                yield page
            finally:
                await page.close()
    finally:
        proc.kill()
        proc.wait(10)


def _devtools_port(proc: subprocess.Popen[str]) -> int:
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..."
        lines.append(line)
        m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if m:
            threading_drain(proc)
            return int(m.group(1))
    raise AssertionError("Chromium did not start: " + "".join(lines[-20:]))


def threading_drain(proc: subprocess.Popen[str]) -> None:
    """Keep reading Chromium's stderr so a full pipe never blocks it."""
    import threading

    def drain() -> None:
        assert proc.stderr is not None
        for _ in proc.stderr:
            pass

    threading.Thread(target=drain, daemon=True).start()
