"""Our websocket client and MarketData port against the colleague-built Gate simulator
(cashup_tui/adapters/sim): the real protocol end to end on loopback, with its fault switches."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

sim_server = pytest.importorskip("cashup_tui.adapters.sim.server", reason="simulator not built yet")

from cashup_tui.adapters.gateio import constants as C  # noqa: E402
from cashup_tui.adapters.gateio.connection import GateWsClient  # noqa: E402
from cashup_tui.adapters.gateio.market_data import GateMarketData, rest_snapshot_fetcher  # noqa: E402
from cashup_tui.domain.events import BookResynced, FeedDisconnected, FeedStale, VenueErrorReceived  # noqa: E402
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET  # noqa: E402


class Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, e: Any) -> None:
        self.events.append(e)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


async def until(cond: Any, timeout: float = 8.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sim():
    server = sim_server.SimServer(["BTC_USDT"], seed=7, tick_ms=50, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def running(obj: Any):
    task = asyncio.create_task(obj.run())
    try:
        yield
    finally:
        await obj.stop()
        try:
            await asyncio.wait_for(task, 5)
        except (asyncio.CancelledError, TimeoutError):
            task.cancel()


def md_for(sim: Any, sink: Sink, **kw: Any) -> GateMarketData:
    kw.setdefault("backoff_base_s", 0.05)
    kw.setdefault("backoff_max_s", 0.2)
    return GateMarketData(sim.ws_url, rest_snapshot_fetcher(sim.rest_url), sink=sink, depth=20, **kw)


async def test_subscribe_receive_book_ticker_trades(sim: Any) -> None:
    sink = Sink()
    md = md_for(sim, sink)
    await md.subscribe(["BTC_USDT"], ["tickers", "trades", "book"])
    async with running(md):
        await until(lambda: md.ticker("BTC_USDT") is not None, what="ticker")
        await until(lambda: md.book("BTC_USDT") is not None, what="book sync via REST snapshot")
        await until(lambda: len(md.trades("BTC_USDT")) > 0, what="trades")
        snap = md.book("BTC_USDT")
        assert snap is not None and snap.bids and snap.asks and snap.bids[0].price < snap.asks[0].price
        assert all(s.acked for s in md.client.subscriptions)
        assert md.client.stats.parse_errors == 0 and not sink.of(VenueErrorReceived)


@pytest.mark.parametrize("mode", ["close", "abort"])
async def test_reconnect_after_drop(sim: Any, mode: str) -> None:
    sink = Sink()
    md = md_for(sim, sink)
    await md.subscribe(["BTC_USDT"], ["tickers", "book"])
    async with running(md):
        await until(lambda: md.book("BTC_USDT") is not None)
        await sim.admin_action("drop", {"mode": mode})
        await until(lambda: md.client.stats.reconnects >= 1, what="reconnect")
        await until(lambda: md.client.stats.connected and all(s.acked for s in md.client.subscriptions),
                    what="resubscribed")
        await until(lambda: any(e.reason == "reconnected" for e in sink.of(BookResynced)), what="book rebuilt")
        assert md.book("BTC_USDT") is not None
        assert sink.of(FeedDisconnected)


async def test_resync_after_injected_gap(sim: Any) -> None:
    sink = Sink()
    md = md_for(sim, sink)
    await md.subscribe(["BTC_USDT"], ["book"])
    async with running(md):
        await until(lambda: md.book("BTC_USDT") is not None)
        sim.faults.set("gap_every", 5)
        await until(lambda: md.books["BTC_USDT"].gaps >= 1 and sink.of(BookResynced), what="gap then resync")
        sim.faults.set("gap_every", 0)
        await until(lambda: md.book("BTC_USDT") is not None, what="in sync again")
        assert any("gap" in e.reason for e in sink.of(BookResynced))
        b = md.book("BTC_USDT")
        assert b is not None and b.bids[0].price < b.asks[0].price


async def test_stale_stream_detected(sim: Any) -> None:
    sink = Sink()
    md = md_for(sim, sink, ping_interval_s=0.1, dead_after_s=10, stream_stale_after_s=0.5)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: md.ticker("BTC_USDT") is not None)
        sim.faults.set("stale", True)
        await until(lambda: any(e.stream == "futures.tickers:BTC_USDT" for e in sink.of(FeedStale)), what="stale")
        assert md.client.stats.reconnects == 0  # pongs still come: quiet stream, live socket
        sim.faults.set("stale", False)
        await until(lambda: md.client.stats.stale_streams == [], what="fresh again")


async def test_private_auth_success_and_wrong_key(sim: Any) -> None:
    got: list[Any] = []
    sink = Sink()
    ok = GateWsClient(sim.ws_url, lambda ch, v: got.extend(v), sink=sink, api_key=FAKE_API_KEY,
                      api_secret=FAKE_API_SECRET, user_id=str(sim.state.user_id), backoff_base_s=0.05)
    await ok.subscribe_private(C.ORDERS)
    await ok.subscribe_private(C.BALANCES)
    async with running(ok):
        await until(lambda: all(s.acked for s in ok.subscriptions), what="private acks")
    assert not sink.of(VenueErrorReceived) and ok.stats.auth_error == ""

    bad_sink = Sink()
    bad = GateWsClient(sim.ws_url, lambda ch, v: None, sink=bad_sink, api_key="wrong", api_secret="wrong",
                       user_id=str(sim.state.user_id), backoff_base_s=0.05)
    await bad.subscribe_private(C.ORDERS)
    async with running(bad):
        await until(lambda: bool(bad_sink.of(VenueErrorReceived)), what="auth error")
    err = bad_sink.of(VenueErrorReceived)[0]
    assert str(err.code) == "4" and "authentication failed" in err.message
    assert bad.stats.auth_error and not bad.subscriptions[0].acked


async def test_upgrade_notice_reconnects(sim: Any) -> None:
    sink = Sink()
    md = md_for(sim, sink)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: md.client.stats.connected)
        await sim.admin_action("upgrade", {})
        await until(lambda: md.client.stats.reconnects >= 1, what="reconnect on upgrade")
        assert any("upgrade" in e.reason for e in sink.of(FeedDisconnected))
