"""`cashup serve` as a user runs it: the page needs nothing from outside, a browser tab's app process
ends (its node stopped cleanly) when the tab closes, and stopping serve ends every tab's process.

Real processes: `cashup serve` on a free loopback port, its websocket driven as textual-serve's page
drives it. Bounds are generous (a loaded CI box); what is checked is that the processes end at all and
that they took the clean path (the app's log), not how fast."""

from __future__ import annotations

import asyncio
import re
import signal

import aiohttp
import pytest

from tests.serve_support import Served, alive, read_until, wait_until

pytest.importorskip("textual_serve", reason="cashup serve needs the 'serve' extra (in the test extra)")
pytestmark = pytest.mark.timeout(240)

READY = b"priv"  # the status bar names the private stream once the demo node is up
GONE_S = 30.0  # the app stops its node within its guard's 4 s; this only bounds a hung test


def test_the_page_loads_nothing_from_outside(served: Served) -> None:
    status, page = served.get("/")
    assert status == 200
    html = page.decode()
    assert "fonts.googleapis" not in html
    external = [u for u in re.findall(r"""(?:src|href)=["']([^"']+)""", html) if "://" in u
                and not u.startswith(served.url)]
    assert external == []
    fonts = re.findall(r"""url\(["']([^"']+\.ttf)["']\)""", html)
    assert fonts, "the page declares its font"
    for url in fonts:
        assert url.startswith(served.url)
        status, body = served.get(url[len(served.url):])
        assert status == 200 and len(body) > 10_000


async def _open_tab(served: Served, session: aiohttp.ClientSession) -> tuple[aiohttp.ClientWebSocketResponse, int]:
    ws = await session.ws_connect(served.url + "/ws?width=100&height=30")
    await read_until(ws, READY, timeout=90)
    pids = served.app_pids()
    assert len(pids) == 1, pids
    return ws, pids[0]


async def test_keys_typed_in_the_page_reach_the_app(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        ws, _ = await _open_tab(served, session)
        await ws.send_json(["stdin", "?"])
        await read_until(ws, b"CashUp keys", timeout=30)
        await ws.close()


async def test_closing_the_tab_stops_its_node_and_ends_its_process(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        ws, pid = await _open_tab(served, session)
        await ws.close()
    await asyncio.to_thread(wait_until, lambda: not alive(pid), GONE_S, "the tab's app process to end")
    log = served.log()
    assert "the browser closed the session: stopping the node" in log
    assert "hard exit" not in log
    assert served.audit()[-1] == "node.stop"  # journal flushed, positions saved, store closed
    assert served.proc.poll() is None, "serve keeps serving other tabs"


async def test_a_tab_whose_connection_drops_ends_its_process(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        ws, pid = await _open_tab(served, session)
        transport = ws._response.connection.transport  # type: ignore[union-attr]
        assert transport is not None
        transport.abort()  # no close frame: the tab's machine went away
        await asyncio.to_thread(wait_until, lambda: not alive(pid), GONE_S, "the dropped tab's app process to end")
    assert "hard exit" not in served.log()


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> bool:
    """Reads what is still buffered; True once the server's close arrives."""
    for _ in range(10_000):
        if ws.closed:
            return True
        msg = await ws.receive(timeout=10)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return True
    return False


@pytest.mark.parametrize("how", ["SIGTERM to serve", "Ctrl-C in serve's terminal"])
async def test_stopping_serve_ends_every_tab_cleanly(served: Served, how: str) -> None:
    async with aiohttp.ClientSession() as session:
        ws1, pid1 = await _open_tab(served, session)
        if how == "SIGTERM to serve":
            served.proc.send_signal(signal.SIGTERM)
        else:
            served.signal_group(signal.SIGINT)  # the terminal sends it to the whole foreground group
        await asyncio.to_thread(wait_until, lambda: served.proc.poll() is not None and not alive(pid1), GONE_S,
                                "serve and its tab's app process to end")
        assert await _closed(ws1), "serve closes the tab's websocket"
    assert served.proc.returncode == 0, served.output.read_text()
    log = served.log()
    assert "stopping the node" in log and "hard exit" not in log
    assert served.audit()[-1] == "node.stop"
