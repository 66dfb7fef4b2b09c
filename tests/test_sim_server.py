"""The loopback simulator over real sockets with a raw aiohttp client: subscribe/ack/pushes for every
public channel, the REST-snapshot + U/u recipe, auth, ping/pong, error frames, size typing, and every
fault switch observable on the wire."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from cashup_tui.adapters.gateio.auth import ws_auth_block
from cashup_tui.adapters.sim.faults import Faults
from cashup_tui.adapters.sim.server import SimServer
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(["BTC_USDT", "ETH_USDT"], seed=7, tick_ms=20, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _req(channel: str, payload: list[Any] | None = None, event: str = "subscribe", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"time": int(time.time()), "channel": channel, "event": event}
    if payload is not None:
        out["payload"] = payload
    out.update(extra)
    return out


async def _next(ws: aiohttp.ClientWebSocketResponse, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError("expected frame did not arrive")
        msg = await ws.receive(timeout=left)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"socket ended: {msg.type}")
        frame = json.loads(msg.data)
        if pred(frame):
            return frame


async def _collect(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[dict[str, Any]]:
    out = []
    end = asyncio.get_running_loop().time() + seconds
    while (left := end - asyncio.get_running_loop().time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        out.append(json.loads(msg.data))
    return out


def _is(channel: str, event: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get("channel") == channel and f.get("event") == event


async def _sub(ws: aiohttp.ClientWebSocketResponse, channel: str, payload: list[Any], **extra: Any) -> dict[str, Any]:
    await ws.send_json(_req(channel, payload, **extra))
    return await _next(ws, _is(channel, "subscribe"))


PUBLIC_SUBS = [
    ("futures.tickers", ["BTC_USDT"], "update", list),
    ("futures.trades", ["BTC_USDT"], "update", list),
    ("futures.book_ticker", ["BTC_USDT"], "update", dict),
    ("futures.order_book_update", ["BTC_USDT", "100ms", "20"], "update", dict),
    ("futures.order_book", ["BTC_USDT", "20", "0"], "all", dict),
    ("futures.candlesticks", ["1m", "BTC_USDT"], "update", list),
]


@pytest.mark.parametrize(("channel", "payload", "event", "kind"), PUBLIC_SUBS)
async def test_public_channel_ack_and_push(sim: SimServer, http: aiohttp.ClientSession, channel: str, payload: list, event: str, kind: type) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        ack = await _sub(ws, channel, payload, id=123)
        assert ack["error"] is None and ack["result"] == {"status": "success"} and ack["id"] == 123
        assert isinstance(ack["time"], int) and isinstance(ack["time_ms"], int)
        frame = await _next(ws, _is(channel, event))
        assert isinstance(frame["result"], kind)
        body = frame["result"][0] if kind is list else frame["result"]
        if channel == "futures.tickers":
            assert body["contract"] == "BTC_USDT" and "mark_price" in body and "funding_rate" in body
        elif channel == "futures.trades":
            assert set(body) >= {"id", "create_time", "create_time_ms", "contract", "size", "price"}
            assert isinstance(body["size"], int)  # no X-Gate-Size-Decimal header: integers
        elif channel == "futures.book_ticker":
            assert float(body["b"]) < float(body["a"]) and body["s"] == "BTC_USDT"
        elif channel == "futures.order_book_update":
            assert set(body) >= {"t", "s", "U", "u", "b", "a"} and body["l"] == "20"
        elif channel == "futures.order_book":
            assert len(body["bids"]) == 20 and len(body["asks"]) == 20 and body["contract"] == "BTC_USDT"
        else:
            assert body["n"] == "1m_BTC_USDT" and set(body) >= {"t", "o", "h", "l", "c", "v"}


async def test_size_decimal_header_gives_strings(sim: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url, headers={"X-Gate-Size-Decimal": "1"}) as ws:
        await _sub(ws, "futures.book_ticker", ["BTC_USDT"])
        f = await _next(ws, _is("futures.book_ticker", "update"))
        assert isinstance(f["result"]["B"], str) and isinstance(f["result"]["A"], str)


async def test_ping_pong_and_unsubscribe(sim: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_json({"time": int(time.time()), "channel": "futures.ping", "id": 9})
        pong = await _next(ws, lambda f: f["channel"] == "futures.pong")
        assert pong["event"] == "" and pong["result"] is None and pong["id"] == 9
        await _sub(ws, "futures.book_ticker", ["BTC_USDT", "ETH_USDT"])
        await ws.send_json(_req("futures.book_ticker", ["BTC_USDT"], event="unsubscribe"))
        await _next(ws, _is("futures.book_ticker", "unsubscribe"))
        frames = [f for f in await _collect(ws, 0.3) if f["channel"] == "futures.book_ticker"]
        assert frames and {f["result"]["s"] for f in frames} == {"ETH_USDT"}


@pytest.mark.parametrize(
    ("request_text", "code", "fragment"),
    [
        ("not json", 1, "json"),
        (json.dumps(_req("futures.nope", ["BTC_USDT"])), 2, "Unknown channel"),
        (json.dumps(_req("futures.trades", ["BTC_USDT", "NOPE_USDT"])), 2, "NOPE_USDT"),
        (json.dumps(_req("futures.order_book_update", ["BTC_USDT", "100ms", "30"])), 2, "level"),
        (json.dumps(_req("futures.order_book_update", ["BTC_USDT", "20ms", "100"])), 2, "level"),
        (json.dumps(_req("futures.candlesticks", ["3m", "BTC_USDT"])), 2, "interval"),
    ],
    # stable ids: the requests embed the current time, and xdist workers must collect the same names
    ids=["non-json", "unknown-channel", "unknown-contract", "bad-level", "20ms-needs-20", "bad-interval"],
)
async def test_error_frames(sim: SimServer, http: aiohttp.ClientSession, request_text: str, code: int, fragment: str) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_str(request_text)
        f = await _next(ws, lambda f: f.get("error") is not None)
        assert f["error"]["code"] == code and fragment in f["error"]["message"]
        assert f["result"] == {"status": "fail"}
        # the socket stays open and a failed subscribe streams nothing (even for the valid contract)
        await ws.send_json({"time": int(time.time()), "channel": "futures.ping"})
        rest = await _collect(ws, 0.3)
        assert any(x["channel"] == "futures.pong" for x in rest)
        assert not any(x.get("event") == "update" and x["channel"] != "futures.pong" for x in rest)


async def test_book_sync_recipe_against_rest_snapshot(sim: SimServer, http: aiohttp.ClientSession) -> None:
    """Gate's documented recipe: buffer updates, fetch `order_book?with_id=true`, drop u < id+1, apply."""
    async with http.ws_connect(sim.ws_url, headers={"X-Gate-Size-Decimal": "1"}) as ws:
        await _sub(ws, "futures.order_book_update", ["BTC_USDT", "100ms", "20"])
        buffered = [f["result"] for f in await _collect(ws, 0.2) if f["channel"] == "futures.order_book_update"]
        async with http.get(
            f"{sim.rest_url}/futures/usdt/order_book",
            params={"contract": "BTC_USDT", "limit": "20", "with_id": "true"},
            headers={"X-Gate-Size-Decimal": "1"},
        ) as resp:
            assert resp.status == 200
            snap = await resp.json()
        book = {"b": {x["p"]: x["s"] for x in snap["bids"]}, "a": {x["p"]: x["s"] for x in snap["asks"]}}
        local = snap["id"]
        more = [f["result"] for f in await _collect(ws, 0.5) if f["channel"] == "futures.order_book_update"]
        applied = 0
        for u in buffered + more:
            if u["u"] < local + 1:
                continue
            assert u["U"] <= local + 1 <= u["u"], "gap in the simulator's own chain"
            for side in ("b", "a"):
                for lvl in u[side]:
                    if lvl["s"] == "0":
                        book[side].pop(lvl["p"], None)
                    else:
                        book[side][lvl["p"]] = lvl["s"]
            local = u["u"]
            applied += 1
            bids = sorted(book["b"], key=float, reverse=True)[:20]
            asks = sorted(book["a"], key=float)[:20]
            assert float(bids[0]) < float(asks[0]), "crossed"
        assert applied >= 5
        # the synced book equals a fresh snapshot taken at the same id (poll until the ids meet)
        sim.paused = True
        async with http.get(
            f"{sim.rest_url}/futures/usdt/order_book",
            params={"contract": "BTC_USDT", "limit": "20", "with_id": "true"},
            headers={"X-Gate-Size-Decimal": "1"},
        ) as resp:
            fresh = await resp.json()
        tail = [f["result"] for f in await _collect(ws, 0.3) if f["channel"] == "futures.order_book_update"]
        for u in tail:
            if u["u"] <= fresh["id"] and u["u"] > local:
                for side in ("b", "a"):
                    for lvl in u[side]:
                        if lvl["s"] == "0":
                            book[side].pop(lvl["p"], None)
                        else:
                            book[side][lvl["p"]] = lvl["s"]
                local = u["u"]
        if local == fresh["id"]:
            assert {x["p"]: x["s"] for x in fresh["bids"]} == book["b"]
            assert {x["p"]: x["s"] for x in fresh["asks"]} == book["a"]


async def test_private_auth_success_and_failures(sim: SimServer, http: aiohttp.ClientSession) -> None:
    uid = str(sim.state.user_id)
    async with http.ws_connect(sim.ws_url) as ws:
        t = int(time.time())
        good = {"time": t, "channel": "futures.orders", "event": "subscribe", "payload": [uid, "!all"],
                "auth": ws_auth_block(FAKE_API_KEY, FAKE_API_SECRET, "futures.orders", "subscribe", t)}  # fmt: skip
        await ws.send_json(good)
        ack = await _next(ws, _is("futures.orders", "subscribe"))
        assert ack["error"] is None and ack["result"]["status"] == "success"

        cases = [
            (dict(good, auth=ws_auth_block("wrongkey", FAKE_API_SECRET, "futures.orders", "subscribe", t)), 4, "INVALID_KEY"),
            (dict(good, auth=ws_auth_block(FAKE_API_KEY, "wrongsecret", "futures.orders", "subscribe", t)), 4, "INVALID_SIGNATURE"),
            (dict(good, time=t - 120, auth=ws_auth_block(FAKE_API_KEY, FAKE_API_SECRET, "futures.orders", "subscribe", t - 120)), 4, "REQUEST_EXPIRED"),
            ({k: v for k, v in good.items() if k != "auth"}, 4, "MISSING"),
            (dict(good, payload=["999", "!all"]), 2, "user id"),
            (dict(good, payload=[uid, "NOPE_USDT"]), 2, "NOPE_USDT"),
        ]  # fmt: skip
        for req, code, fragment in cases:
            await ws.send_json(req)
            f = await _next(ws, lambda f: f.get("error") is not None)
            assert f["error"]["code"] == code and fragment in f["error"]["message"], (fragment, f)


async def test_private_order_events_are_pushed(sim: SimServer, http: aiohttp.ClientSession) -> None:
    if sim.state.venue is None:
        pytest.skip("venue.py not available")
    uid = str(sim.state.user_id)
    async with http.ws_connect(sim.ws_url, headers={"X-Gate-Size-Decimal": "1"}) as ws:
        for ch in ("futures.orders", "futures.usertrades", "futures.positions"):
            t = int(time.time())
            await ws.send_json({"time": t, "channel": ch, "event": "subscribe", "payload": [uid, "!all"],
                                "auth": ws_auth_block(FAKE_API_KEY, FAKE_API_SECRET, ch, "subscribe", t)})  # fmt: skip
            await _next(ws, _is(ch, "subscribe"))
        await asyncio.sleep(0.1)  # the venue has a book after a step
        sim.state.venue.place("BTC_USDT", 3, 0, tif="ioc", text="t-simtest1")
        got: dict[str, dict[str, Any]] = {}
        while len(got) < 3:
            f = await _next(ws, lambda f: f.get("event") == "update" and f["channel"] not in got)
            got[f["channel"]] = f["result"][0]
        row = got["futures.orders"]
        assert row["contract"] == "BTC_USDT" and row["text"] == "t-simtest1" and row["size"] == "3"
        assert row["status"] == "finished" and row["finish_as"] == "filled"
        assert isinstance(row["fee"], float) and isinstance(row["id"], int)  # Gate's wire types
        assert got["futures.usertrades"]["size"] == "3"
        assert got["futures.positions"]["contract"] == "BTC_USDT" and got["futures.positions"]["size"] == "3"


# -- faults -------------------------------------------------------------------------------------------


async def _obu_frames(sim: SimServer, http: aiohttp.ClientSession, seconds: float) -> list[dict[str, Any]]:
    async with http.ws_connect(sim.ws_url) as ws:
        await _sub(ws, "futures.order_book_update", ["BTC_USDT", "100ms", "20"])
        return [f["result"] for f in await _collect(ws, seconds) if f["channel"] == "futures.order_book_update"]


def _chain_breaks(frames: list[dict[str, Any]]) -> dict[str, int]:
    out = {"gap": 0, "dup": 0, "back": 0}
    for a, b in itertools.pairwise(frames):
        if b["U"] == a["u"] + 1:
            continue
        if b["U"] == a["U"] and b["u"] == a["u"]:
            out["dup"] += 1
        elif b["U"] > a["u"] + 1:
            out["gap"] += 1
        else:
            out["back"] += 1
    return out


async def test_healthy_stream_has_no_breaks(sim: SimServer, http: aiohttp.ClientSession) -> None:
    frames = await _obu_frames(sim, http, 0.6)
    assert len(frames) > 10 and _chain_breaks(frames) == {"gap": 0, "dup": 0, "back": 0}


@pytest.mark.parametrize(("switch", "kind"), [("gap_every", "gap"), ("duplicate_every", "dup"), ("reorder_every", "back")])
async def test_sequence_faults(sim: SimServer, http: aiohttp.ClientSession, switch: str, kind: str) -> None:
    async with http.post(sim.admin_url, json={switch: 5}) as resp:
        assert resp.status == 200 and (await resp.json())["faults"][switch] == 5
    frames = await _obu_frames(sim, http, 0.8)
    breaks = _chain_breaks(frames)
    assert breaks[kind] >= 2, breaks


async def test_stale_stream_keeps_socket_and_pongs(sim: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        await _sub(ws, "futures.book_ticker", ["BTC_USDT"])
        await _next(ws, _is("futures.book_ticker", "update"))
        sim.faults.set("stale", True)
        await _collect(ws, 0.1)  # frames already queued
        await ws.send_json({"time": int(time.time()), "channel": "futures.ping"})
        frames = await _collect(ws, 0.5)
        assert [f["channel"] for f in frames] == ["futures.pong"]
        assert not ws.closed
        sim.faults.set("stale", False)
        await _next(ws, _is("futures.book_ticker", "update"))


async def test_drop_close_1000_and_abrupt(sim: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        async with http.post(sim.admin_url, json={"action": "drop", "mode": "close"}) as resp:
            assert (await resp.json())["dropped"] == 1
        msg = await ws.receive(timeout=3)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1000
    async with http.ws_connect(sim.ws_url) as ws:
        async with http.post(sim.admin_url, json={"action": "drop", "mode": "abort"}):
            pass
        msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)  # no close frame
        assert ws.close_code != 1000


async def test_drop_after_seconds_switch(sim: SimServer, http: aiohttp.ClientSession) -> None:
    sim.faults.set("drop_after_s", 0.3)
    async with http.ws_connect(sim.ws_url) as ws:
        msg = await _first_non_text(ws)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1000


async def _first_non_text(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    while True:
        msg = await ws.receive(timeout=3)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return msg


async def test_upgrade_notice_and_clock_skew(sim: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        async with http.post(sim.admin_url, json={"action": "upgrade"}) as resp:
            assert (await resp.json())["notified"] == 1
        f = await _next(ws, lambda f: f["channel"] == "futures.system")
        assert f["event"] == "update" and f["result"]["type"] == "upgrade"
        async with http.post(sim.admin_url, json={"clock_skew_ms": 90_000}):
            pass
        await ws.send_json({"time": int(time.time()), "channel": "futures.ping"})
        pong = await _next(ws, lambda f: f["channel"] == "futures.pong")
        assert pong["time_ms"] - time.time() * 1000 > 80_000
        # a correctly signed request with the client's (now 90 s off) clock is refused as expired
        t = int(time.time())
        await ws.send_json({"time": t, "channel": "futures.orders", "event": "subscribe", "payload": [str(sim.state.user_id), "!all"],
                            "auth": ws_auth_block(FAKE_API_KEY, FAKE_API_SECRET, "futures.orders", "subscribe", t)})  # fmt: skip
        f = await _next(ws, lambda f: f.get("error") is not None)
        assert "REQUEST_EXPIRED" in f["error"]["message"]


async def test_http_fault_switches_via_admin(sim: SimServer, http: aiohttp.ClientSession) -> None:
    url = f"{sim.rest_url}/futures/usdt/contracts"
    async with http.post(sim.admin_url, json={"http_5xx_next": 1, "http_429_next": 1}):
        pass
    statuses = []
    for _ in range(3):
        async with http.get(url) as resp:
            statuses.append(resp.status)
    assert statuses == [502, 429, 200]


async def test_admin_rejects_bad_input(sim: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.post(sim.admin_url, json={"no_such_switch": 1}) as resp:
        assert resp.status == 400 and "no_such_switch" in (await resp.json())["message"]
    async with http.post(sim.admin_url, json={"http_5xx_rate": 2}) as resp:
        assert resp.status == 400
    async with http.post(sim.admin_url, data="nope") as resp:
        assert resp.status == 400
    async with http.get(sim.admin_url) as resp:
        body = await resp.json()
        assert "gap_every" in body["switches"] and body["faults"]["gap_every"] == 0


async def test_blast_mode_streams_a_consistent_chain(sim: SimServer, http: aiohttp.ClientSession) -> None:
    sim.paused = True
    async with http.ws_connect(sim.ws_url) as ws:
        await _sub(ws, "futures.order_book_update", ["ETH_USDT", "20ms", "20"])
        sent = await sim.hub.blast("ETH_USDT", 3000)
        assert sent == 3000
        blast: list[dict[str, Any]] = []
        end = asyncio.get_running_loop().time() + 60  # a loaded machine reads 3000 frames slowly: wait for them
        while len(blast) < 3000 and asyncio.get_running_loop().time() < end:
            got = [f["result"] for f in await _collect(ws, 1.0) if f["channel"] == "futures.order_book_update"]
            blast += [f for f in got if f["U"] == f["u"]]
        assert len(blast) >= 3000
        assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(blast))


def test_faults_from_cli_pairs() -> None:
    f = Faults()
    f.apply_pairs(["gap_every=10", "stale=true", "drop_mode=abort", "clock_skew_ms=-5000"])
    assert (f.gap_every, f.stale, f.drop_mode, f.clock_skew_ms) == (10, True, "abort", -5000)
    f.lose_next_acks = 1
    assert f.lose_ack() and not f.lose_ack()
    f.reset()
    assert f.snapshot() == Faults().snapshot()


async def test_upgrade_after_seconds_switch(sim: SimServer, http: aiohttp.ClientSession) -> None:
    sim.faults.set("upgrade_after_s", 0.2)
    async with http.ws_connect(sim.ws_url) as ws:
        f = await _next(ws, lambda f: f["channel"] == "futures.system", timeout=3)
        assert f["result"]["type"] == "upgrade"
        again = [x for x in await _collect(ws, 0.4) if x["channel"] == "futures.system"]
        assert again == []  # once per connection


async def _signed_order(sim: SimServer, http: aiohttp.ClientSession, text: str) -> aiohttp.ClientResponse:
    from cashup_tui.adapters.gateio.auth import rest_headers

    body = json.dumps({"contract": "BTC_USDT", "size": 1, "price": "0", "tif": "ioc", "text": text})
    path = "/api/v4/futures/usdt/orders"
    headers = rest_headers(FAKE_API_KEY, FAKE_API_SECRET, "POST", path, "", body, str(int(time.time())))
    return await http.post(f"{sim.rest_url}/futures/usdt/orders", data=body, headers=headers)


async def test_order_ack_delay_and_loss_switches(sim: SimServer, http: aiohttp.ClientSession) -> None:
    if sim.state.venue is None:
        pytest.skip("venue.py not available")
    await asyncio.sleep(0.1)  # a book exists
    sim.faults.set("ack_delay_ms", 300)
    t0 = time.monotonic()
    resp = await _signed_order(sim, http, "t-delayed1")
    assert resp.status == 201 and time.monotonic() - t0 >= 0.3
    sim.faults.set("ack_delay_ms", 0)
    sim.faults.set("lose_next_acks", 1)
    with pytest.raises(aiohttp.ClientError):
        await _signed_order(sim, http, "t-lostack1")
    # the order was placed even though its ack never came
    assert sim.state.venue.get_order("t-lostack1").text == "t-lostack1"


async def test_lost_order_request_switch(sim: SimServer, http: aiohttp.ClientSession) -> None:
    if sim.state.venue is None:
        pytest.skip("venue.py not available")
    await asyncio.sleep(0.1)
    sim.faults.set("lose_next_requests", 1)
    with pytest.raises(aiohttp.ClientError):
        await _signed_order(sim, http, "t-neverplaced")
    with pytest.raises(Exception, match="ORDER_NOT_FOUND"):
        sim.state.venue.get_order("t-neverplaced")
    resp = await _signed_order(sim, http, "t-placedlater")  # one request only: the next one goes through
    assert resp.status == 201


def test_rate_switches_are_seeded_and_roughly_right() -> None:
    def draws(seed: int) -> list[int | None]:
        f = Faults(seed=seed)
        f.set("http_5xx_rate", 0.3)
        f.set("http_429_rate", 0.2)
        f.set("ack_loss_rate", 0.1)
        return [f.http_error() for _ in range(1000)] + [int(f.lose_ack()) for _ in range(1000)]

    a, b = draws(3), draws(3)
    assert a == b and a != draws(4)
    http, acks = a[:1000], a[1000:]
    assert 250 < http.count(502) < 350
    assert 100 < http.count(429) < 200  # 0.2 of the 70% left
    assert 60 < sum(acks) < 140
