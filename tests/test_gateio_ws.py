"""Our websocket client and market-data port against a loopback aiohttp server written here.

The server speaks just enough of Gate's protocol (acks with echoed ids, futures.ping/pong, auth
checked with the real signing rule, error frames, a REST order book with ids) and lets a test
drop the socket cleanly (1000) or abruptly, inject gaps, mute itself or send garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from cashup_tui.adapters.gateio import constants as C
from cashup_tui.adapters.gateio.auth import verify, ws_sign
from cashup_tui.adapters.gateio.connection import GateWsClient
from cashup_tui.adapters.gateio.market_data import GateMarketData, rest_snapshot_fetcher
from cashup_tui.adapters.gateio.parse import OrderUpdate
from cashup_tui.domain.events import (
    BookResynced,
    FeedDisconnected,
    FeedStale,
    FrameRejected,
    VenueErrorReceived,
)
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

UID = "20011"


class Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, event: Any) -> None:
        self.events.append(event)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


class FakeGate:
    """A tiny Gate-like server: WS at /v4/ws/usdt, REST book at /api/v4/futures/usdt/order_book."""

    def __init__(self) -> None:
        self.conns: list[tuple[web.WebSocketResponse, web.Request]] = []
        self.requests: list[dict[str, Any]] = []
        self.handshake_headers: list[dict[str, str]] = []
        self.rest_calls: list[str] = []
        self.connects = 0
        self.answer_pings = True
        self.book_id = 1000
        self.bids = {100.0: 5.0, 99.5: 3.0}
        self.asks = {100.5: 4.0, 101.0: 2.0}
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v4/ws/usdt", self.ws)
        app.router.add_get("/api/v4/futures/usdt/order_book", self.order_book)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for ws, _ in list(self.conns):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def ws_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v4/ws/usdt"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v4"

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connects += 1
        self.handshake_headers.append(dict(request.headers))
        self.conns.append((ws, request))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = json.loads(msg.data)
                except ValueError:
                    await ws.send_json({"time": int(time.time()), "channel": "", "event": "",
                                        "error": {"code": 1, "message": "request message need json scheme"},
                                        "result": {"status": "fail"}})
                    continue
                self.requests.append(req)
                await self._answer(ws, req)
        finally:
            self.conns = [c for c in self.conns if c[0] is not ws]
        return ws

    async def _answer(self, ws: web.WebSocketResponse, req: dict[str, Any]) -> None:
        ch = req.get("channel", "")
        t = int(time.time())
        if ch == C.PING:
            if self.answer_pings:
                await ws.send_json({"time": t, "time_ms": t * 1000, "channel": C.PONG, "event": "", "result": None})
            return
        base = {"time": t, "time_ms": t * 1000, "id": req.get("id"), "channel": ch, "event": req.get("event")}
        if ch in C.PRIVATE_CHANNELS:
            auth = req.get("auth") or {}
            expected = ws_sign(FAKE_API_SECRET, ch, req.get("event", ""), req.get("time", 0))
            ok = auth.get("KEY") == FAKE_API_KEY and verify(expected, auth.get("SIGN", ""))
            if not ok or req.get("payload", [None])[0] != UID:
                msg = '{"label":"INVALID_KEY","message":"Invalid key provided"}'
                await ws.send_json({**base, "error": {"code": 4, "message": msg}, "result": {"status": "fail"}})
                return
        await ws.send_json({**base, "error": None, "result": {"status": "success"}})

    async def push(self, frame: dict[str, Any] | str) -> None:
        data = frame if isinstance(frame, str) else json.dumps(frame)
        for ws, _ in list(self.conns):
            with contextlib.suppress(Exception):
                await ws.send_str(data)

    async def close_clean(self) -> None:
        for ws, _ in list(self.conns):
            await ws.close(code=1000, message=b"bye")

    def drop_abruptly(self) -> None:
        for _, req in list(self.conns):
            req.transport.abort()  # type: ignore[union-attr]

    async def order_book(self, request: web.Request) -> web.Response:
        self.rest_calls.append(str(request.rel_url))
        assert request.query.get("with_id") == "true"
        assert request.headers.get("X-Gate-Size-Decimal") == "1"
        body = {
            "id": self.book_id,
            "current": time.time(),
            "update": time.time(),
            "asks": [{"p": str(p), "s": str(s)} for p, s in sorted(self.asks.items())],
            "bids": [{"p": str(p), "s": str(s)} for p, s in sorted(self.bids.items(), reverse=True)],
        }
        return web.json_response(body)

    async def book_delta(self, bids: dict[float, float], asks: dict[float, float], *, skip: int = 0) -> None:
        """Advance the server book by one update id (plus `skip` ids lost: a gap) and push it."""
        first = self.book_id + 1 + skip
        self.book_id = first
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for p, s in changes.items():
                if s == 0:
                    side.pop(p, None)
                else:
                    side[p] = s
        t = int(time.time() * 1000)
        await self.push({
            "time": t // 1000, "time_ms": t, "channel": C.BOOK_UPDATE, "event": "update", "error": None,
            "result": {"t": t, "s": "BTC_USDT", "U": first, "u": first,
                       "b": [{"p": str(p), "s": str(s)} for p, s in bids.items()],
                       "a": [{"p": str(p), "s": str(s)} for p, s in asks.items()]},
        })


def ticker_frame(last: str, symbol: str = "BTC_USDT") -> dict[str, Any]:
    t = int(time.time() * 1000)
    return {"time": t // 1000, "time_ms": t, "channel": C.TICKERS, "event": "update", "error": None,
            "result": [{"contract": symbol, "last": last, "mark_price": last, "index_price": last,
                        "change_percentage": "0.5", "funding_rate": "0.0001", "total_size": "123",
                        "volume_24h_quote": "1000", "high_24h": last, "low_24h": last}]}


async def until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def gate():
    server = FakeGate()
    await server.start()
    yield server
    await server.close()


@contextlib.asynccontextmanager
async def running(md_or_client: Any):
    task = asyncio.create_task(md_or_client.run())
    try:
        yield task
    finally:
        await md_or_client.stop()
        try:
            await asyncio.wait_for(task, 5)
        except (asyncio.CancelledError, TimeoutError):
            task.cancel()


def market(gate: FakeGate, sink: Sink, **kw: Any) -> GateMarketData:
    kw.setdefault("backoff_base_s", 0.02)
    kw.setdefault("backoff_max_s", 0.1)
    return GateMarketData(gate.ws_url, rest_snapshot_fetcher(gate.rest_url), sink=sink, depth=20, **kw)


async def test_subscribe_receive_and_size_decimal_header(gate: FakeGate) -> None:
    sink = Sink()
    md = market(gate, sink)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: any(r.get("event") == "subscribe" for r in gate.requests), what="subscribe")
        sub = next(r for r in gate.requests if r.get("event") == "subscribe")
        assert sub["channel"] == C.TICKERS and sub["payload"] == ["BTC_USDT"] and isinstance(sub["time"], int)
        assert gate.handshake_headers[0].get("X-Gate-Size-Decimal") == "1"
        await until(lambda: md.client.subscriptions[0].acked, what="ack")
        await gate.push(ticker_frame("27000.5"))
        await until(lambda: md.ticker("BTC_USDT") is not None, what="ticker")
        t = md.ticker("BTC_USDT")
        assert t is not None and t.last == 27000.5 and t.open_interest == 123.0
        assert md.client.stats.msgs >= 2 and md.client.stats.parse_errors == 0


@pytest.mark.parametrize("how", ["clean_1000", "abrupt"])
async def test_reconnects_and_resubscribes_after_drop(gate: FakeGate, how: str) -> None:
    sink = Sink()
    md = market(gate, sink)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: gate.connects == 1 and len(gate.requests) == 1, what="first subscribe")
        if how == "clean_1000":
            await gate.close_clean()
        else:
            gate.drop_abruptly()
        await until(lambda: gate.connects == 2 and len(gate.requests) == 2, what="resubscribe")
        assert gate.requests[1]["channel"] == C.TICKERS and gate.requests[1]["payload"] == ["BTC_USDT"]
        await until(lambda: md.client.stats.connected, what="connected")
        await gate.push(ticker_frame("28000"))
        await until(lambda: getattr(md.ticker("BTC_USDT"), "last", 0) == 28000.0, what="ticker after reconnect")
        assert md.ticker("BTC_USDT").last == 28000.0  # type: ignore[union-attr]
        assert md.client.stats.reconnects == 1
        reasons = [e.reason for e in sink.of(FeedDisconnected)]
        if how == "clean_1000":
            assert any("code 1000" in r for r in reasons), reasons
        else:
            assert reasons, "an abrupt drop is reported too"


async def test_book_syncs_then_resyncs_after_injected_gap(gate: FakeGate) -> None:
    sink = Sink()
    md = market(gate, sink)
    await md.subscribe(["BTC_USDT"], ["book"])
    async with running(md):
        await until(lambda: len(gate.requests) == 1, what="book subscribe")
        assert gate.requests[0]["payload"] == ["BTC_USDT", "100ms", "20"]
        await gate.book_delta({100.0: 6.0}, {})
        await until(lambda: md.book("BTC_USDT") is not None, what="first sync")
        await gate.book_delta({}, {100.5: 0})
        await until(lambda: md.best_bid_ask("BTC_USDT")[1] == (101.0, 2.0), what="delta applied")
        snap = md.book("BTC_USDT")
        assert snap is not None and snap.in_sync and str(snap.best_bid.price) == "100.0"  # type: ignore[union-attr]
        calls = len(gate.rest_calls)
        # a lost update: the book must go out of sync at once and resync from a fresh snapshot
        await gate.book_delta({100.2: 1.0}, {}, skip=1)
        assert md.books["BTC_USDT"].gaps == 0 or md.book("BTC_USDT") is None
        await until(lambda: sink.of(BookResynced), what="resync")
        assert len(gate.rest_calls) > calls
        assert md.best_bid_ask("BTC_USDT")[0] == (100.2, 1.0)
        assert md.books["BTC_USDT"].gaps == 1 and md.resyncs == 1
        assert "gap" in sink.of(BookResynced)[0].reason


async def test_book_is_never_served_while_out_of_sync(gate: FakeGate) -> None:
    sink = Sink()
    md = market(gate, sink)

    async def slow_fetch(symbol: str, depth: int) -> bytes:
        await asyncio.sleep(0.3)
        return await real(symbol, depth)

    real = rest_snapshot_fetcher(gate.rest_url)
    md._fetch = slow_fetch
    await md.subscribe(["BTC_USDT"], ["book"])
    async with running(md):
        await until(lambda: len(gate.requests) == 1)
        await gate.book_delta({100.0: 6.0}, {})
        await until(lambda: md.book("BTC_USDT") is not None)
        await gate.book_delta({100.1: 1.0}, {}, skip=3)
        await until(lambda: md.books["BTC_USDT"].gaps == 1)
        assert md.book("BTC_USDT") is None and md.best_bid_ask("BTC_USDT") == (None, None)
        await until(lambda: md.book("BTC_USDT") is not None, what="resync")
    await real.close()  # type: ignore[attr-defined]


async def test_reconnect_rebuilds_books(gate: FakeGate) -> None:
    sink = Sink()
    md = market(gate, sink)
    await md.subscribe(["BTC_USDT"], ["book"])
    async with running(md):
        await until(lambda: len(gate.requests) == 1)
        await gate.book_delta({100.0: 6.0}, {})
        await until(lambda: md.book("BTC_USDT") is not None)
        gate.drop_abruptly()
        await until(lambda: gate.connects == 2 and len(gate.requests) == 2)
        await until(lambda: md.book("BTC_USDT") is None, what="book invalidated on reconnect")
        await gate.book_delta({99.0: 1.0}, {})
        await until(lambda: md.book("BTC_USDT") is not None, what="rebuilt")
        assert any(e.reason == "reconnected" for e in sink.of(BookResynced))


async def test_stale_stream_detected_while_socket_alive(gate: FakeGate) -> None:
    """Pongs keep coming (socket alive) but the ticker stream is silent: FeedStale, no reconnect."""
    sink = Sink()
    md = market(gate, sink, ping_interval_s=0.05, dead_after_s=5.0, stream_stale_after_s=0.3)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: any(isinstance(e, FeedStale) for e in sink.events), what="stale event")
        ev = sink.of(FeedStale)[0]
        assert ev.stream == "futures.tickers:BTC_USDT" and ev.age_ms >= 300
        assert md.client.stats.stale_streams == ["futures.tickers:BTC_USDT"]
        assert gate.connects == 1
        assert any(r.get("channel") == C.PING for r in gate.requests)
        await gate.push(ticker_frame("1"))
        await until(lambda: md.client.stats.stale_streams == [], what="fresh again")


async def test_dead_socket_is_replaced(gate: FakeGate) -> None:
    """Nothing at all arrives (no pongs either): the watchdog drops the socket and reconnects."""
    gate.answer_pings = False
    sink = Sink()
    md = market(gate, sink, ping_interval_s=0.05, dead_after_s=0.3, stream_stale_after_s=10)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: gate.connects >= 2, what="reconnect after dead socket")
        assert any(e.stream == "connection" for e in sink.of(FeedStale))
        assert any("presumed dead" in e.reason for e in sink.of(FeedDisconnected))


async def test_private_auth_success_and_fresh_signature_on_resubscribe(gate: FakeGate) -> None:
    sink = Sink()
    got: list[Any] = []
    clock = iter(range(1_700_000_000, 1_700_001_000))
    client = GateWsClient(
        gate.ws_url, lambda ch, vals: got.extend(vals), sink=sink, api_key=FAKE_API_KEY,
        api_secret=FAKE_API_SECRET, user_id=UID, backoff_base_s=0.02, time_s=lambda: next(clock),
    )
    await client.subscribe_private(C.ORDERS, ["BTC_USDT"])
    async with running(client):
        await until(lambda: client.subscriptions[0].acked, what="private ack")
        assert not sink.of(VenueErrorReceived) and client.stats.auth_error == ""
        first = gate.requests[0]
        assert first["payload"] == [UID, "BTC_USDT"] and first["auth"]["method"] == "api_key"
        await gate.push({"time": 1, "channel": C.ORDERS, "event": "update", "result": [
            {"id": 299207900263708423, "contract": "BTC_USDT", "size": "2", "left": "2", "price": "27000",
             "status": "open", "finish_as": "_new", "text": "t-x1", "fee": 0, "update_time": 1700000000000}]}
        )
        await until(lambda: bool(got), what="order update")
        assert isinstance(got[0], OrderUpdate) and got[0].venue_order_id == "299207900263708423"
        gate.drop_abruptly()
        await until(lambda: len(gate.requests) >= 2 and client.subscriptions[0].acked, what="re-signed resubscribe")
        second = next(r for r in gate.requests[1:] if r.get("channel") == C.ORDERS)
        assert second["time"] != first["time"] and second["auth"]["SIGN"] != first["auth"]["SIGN"]
        assert verify(ws_sign(FAKE_API_SECRET, C.ORDERS, "subscribe", second["time"]), second["auth"]["SIGN"])


async def test_wrong_key_gives_a_clear_error_and_the_feed_survives(gate: FakeGate) -> None:
    sink = Sink()
    got: list[Any] = []
    client = GateWsClient(gate.ws_url, lambda ch, vals: got.extend(vals), sink=sink, api_key="wrongkey",
                          api_secret="wrongsecret", user_id=UID, backoff_base_s=0.02)
    await client.subscribe_private(C.ORDERS)
    await client.subscribe(C.TICKERS, ["BTC_USDT"])
    async with running(client):
        await until(lambda: bool(sink.of(VenueErrorReceived)), what="auth error event")
        err = sink.of(VenueErrorReceived)[0]
        assert err.code == 4 and "authentication failed" in err.message and "INVALID_KEY" in err.message
        assert "CASHUP_GATE_API_KEY" in err.message
        assert client.stats.auth_error and client.subscriptions[0].failed
        await gate.push(ticker_frame("5"))
        await until(lambda: bool(got), what="public data still flows")


async def test_private_subscribe_without_keys_is_a_clear_error() -> None:
    from cashup_tui.domain.errors import AuthenticationError

    client = GateWsClient("http://127.0.0.1:1/v4/ws/usdt", lambda c, v: None)
    with pytest.raises(AuthenticationError, match="API key"):
        await client.subscribe_private(C.ORDERS)


async def test_upgrade_notice_triggers_reconnect(gate: FakeGate) -> None:
    sink = Sink()
    md = market(gate, sink)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: gate.connects == 1 and len(gate.requests) == 1)
        await gate.push({"time": 1, "channel": C.SYSTEM, "event": "update", "result": {"type": "upgrade", "msg": "bye"}})
        await until(lambda: gate.connects == 2, what="reconnect after upgrade notice")
        assert any("upgrade" in e.reason for e in sink.of(FeedDisconnected))


async def test_garbage_and_error_frames_are_counted_not_fatal(gate: FakeGate) -> None:
    sink = Sink()
    md = market(gate, sink)
    await md.subscribe(["BTC_USDT"], ["tickers"])
    async with running(md):
        await until(lambda: len(gate.requests) == 1)
        await gate.push("this is not json {")
        await gate.push('{"time":1,"channel":"futures.tickers","event":"update","result":[{"contract":"BTC_USDT","last":[1]}]}')
        await gate.push({"time": 1, "channel": C.TICKERS, "event": "subscribe",
                         "error": {"code": 2, "message": "unknown contract FOO_USDT"}, "result": {"status": "fail"}})
        await gate.push(ticker_frame("7"))
        await until(lambda: md.ticker("BTC_USDT") is not None)
        assert md.client.stats.parse_errors == 2 and len(sink.of(FrameRejected)) == 2
        assert md.client.stats.error_frames == 1
        assert "unknown contract FOO_USDT" in sink.of(VenueErrorReceived)[0].message
        assert gate.connects == 1


async def test_unreachable_server_backs_off_without_raising() -> None:
    sink = Sink()
    client = GateWsClient("http://127.0.0.1:9/v4/ws/usdt", lambda c, v: None, sink=sink,
                          backoff_base_s=0.01, backoff_max_s=0.02)
    async with running(client):
        await until(lambda: client.stats.reconnects >= 3, what="retries")
    assert all("connect to" in e.reason for e in sink.of(FeedDisconnected))


def test_backoff_is_exponential_capped_and_jittered() -> None:
    import random

    c = GateWsClient("ws://x", lambda a, b: None, backoff_base_s=0.5, backoff_max_s=30, rng=random.Random(1))
    delays = [c.backoff_delay(a) for a in range(12)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(d <= 30 for d in delays) and delays[10] >= 15
    assert len({round(c.backoff_delay(3), 6) for _ in range(20)}) > 1  # jitter


async def test_connected_flag_is_truthy_only_while_connected(gate: FakeGate) -> None:
    client = GateWsClient(gate.ws_url, lambda c, v: None, backoff_base_s=0.02)
    assert not client.connected
    async with running(client):
        await client.connected.wait()
        assert client.connected and client.stats.connected
        gate.drop_abruptly()
        await until(lambda: client.stats.reconnects >= 1)
    assert not client.connected


def test_unsupported_book_stream_is_a_config_error() -> None:
    from cashup_tui.domain.errors import ConfigError

    with pytest.raises(ConfigError, match="depth 50 every 20ms"):
        GateMarketData("ws://x", rest_snapshot_fetcher("http://x"), depth=50, freq="20ms")
    with pytest.raises(ConfigError):
        GateMarketData("ws://x", rest_snapshot_fetcher("http://x"), depth=30)
