"""An UNMODIFIED ccxt `gate` client against the simulator's REST endpoints.

The client is plain `ccxt.async_support.gate` with only its URLs pointed at the SimServer and made-up
keys; every call below goes through ccxt's own signing and parsing, so a wrong path, shape or signature
check in the simulator fails here. Also covers Gate's auth errors, parameter rules and HTTP faults with
raw signed requests (the way a non-ccxt client would see them).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from ccxt.base import errors as cx

from cashup_tui.adapters.gateio.auth import rest_headers
from cashup_tui.adapters.sim.rest import REST_HITS
from cashup_tui.adapters.sim.server import SimServer

SYM = "BTC/USDT:USDT"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(["BTC_USDT", "ETH_USDT"], seed=7, run_loop=False, backfill=300)
    await server.start()
    for _ in range(5):  # a few market steps so the venue has a book and a mark
        server.step()
    try:
        yield server
    finally:
        await server.stop()


def plain_gate(rest_url: str, key: str, secret: str) -> ccxt_async.gate:
    ex = ccxt_async.gate({"apiKey": key, "secret": secret})
    for access in ex.urls["api"].values():
        for family in access:
            access[family] = rest_url
    return ex


@pytest.fixture
async def gate(sim: SimServer) -> AsyncIterator[ccxt_async.gate]:
    ex = plain_gate(sim.rest_url, sim.api_key, sim.api_secret)
    try:
        yield ex
    finally:
        await ex.close()


async def test_unmodified_ccxt_full_session(sim: SimServer, gate: ccxt_async.gate) -> None:
    markets = await gate.load_markets()
    assert set(markets) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    m = markets[SYM]
    assert m["swap"] and m["settle"] == "USDT" and m["contractSize"] == float(sim.state.contracts["BTC_USDT"]["quanto_multiplier"])

    book = await gate.fetch_order_book(SYM, 20)
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
    assert isinstance(book["nonce"], int) and book["nonce"] > 0  # with_id: the id the WS sync needs

    bars = await gate.fetch_ohlcv(SYM, "1m", limit=50)
    assert len(bars) == 50
    assert all(b[2] >= max(b[1], b[4]) and b[3] <= min(b[1], b[4]) for b in bars)
    assert [b[0] for b in bars] == sorted(b[0] for b in bars)

    since = bars[0][0]
    paged = await gate.fetch_ohlcv(SYM, "1m", since=since, limit=10)  # from/to form
    assert [b[0] for b in paged] == [b[0] for b in bars[:10]]

    bid = book["bids"][0][0]
    tick = float(sim.state.contracts["BTC_USDT"]["order_price_round"])
    price = round(round(bid * 0.99 / tick) * tick, 8)
    order = await gate.create_order(SYM, "limit", "buy", 3, price, {"text": "t-ccxt-one"})
    assert order["status"] == "open" and order["clientOrderId"] == "t-ccxt-one"
    assert int(order["id"]) > 2**53  # big venue ids survive ccxt's parsing as text

    opened = await gate.fetch_open_orders(SYM)
    assert [o["id"] for o in opened] == [order["id"]]
    fetched = await gate.fetch_order(order["id"], SYM)
    assert fetched["price"] == pytest.approx(price) and fetched["amount"] == 3

    edited = await gate.edit_order(order["id"], SYM, "limit", "buy", 4, round(price - tick, 8))
    assert edited["amount"] == 4 and edited["price"] == pytest.approx(price - tick)

    cancelled = await gate.cancel_order(order["id"], SYM)
    assert cancelled["status"] == "canceled"
    assert await gate.fetch_open_orders(SYM) == []

    filled = await gate.create_order(SYM, "market", "buy", 2)
    assert filled["status"] == "closed" and filled["filled"] == 2

    positions = await gate.fetch_positions([SYM])
    long = [p for p in positions if p["symbol"] == SYM]
    assert long and long[0]["contracts"] == 2 and long[0]["side"] == "long"

    balance = await gate.fetch_balance({"type": "swap"})
    assert 0 < balance["USDT"]["free"] < balance["USDT"]["total"] <= 100_000

    lev = await gate.set_leverage(5, SYM)
    assert lev["leverage"] == "5"

    trades = await gate.fetch_my_trades(SYM)
    assert sum(t["amount"] for t in trades) == 2 and all(t["side"] == "buy" for t in trades)

    funding = await gate.fetch_funding_rate_history(SYM)
    assert isinstance(funding, list)
    rate = await gate.fetch_funding_rate(SYM)  # contracts/{contract}
    assert rate["markPrice"] > 0

    closed = await gate.fetch_closed_orders(SYM)
    assert {o["id"] for o in closed} >= {order["id"], filled["id"]}
    ticker = await gate.fetch_ticker(SYM)
    assert ticker["bid"] <= ticker["ask"] and ticker["last"] > 0
    prints = await gate.fetch_trades(SYM, limit=5)
    assert len(prints) == 5 and all(p["amount"] > 0 for p in prints)
    assert abs(await gate.fetch_time() - time.time() * 1000) < 5_000  # spot/time

    hits = sim.app[REST_HITS]
    # load_markets touched the other market families, which answer [] rather than 404
    for path in ("spot/currency_pairs", "futures/btc/contracts", "delivery/usdt/contracts", "options/underlyings"):
        assert hits[f"GET /api/v4/{path}"] == 1
    assert hits["POST /api/v4/futures/usdt/positions/BTC_USDT/leverage"] == 1  # query-param signed POST


async def test_ccxt_cancel_all_and_client_id_rules(sim: SimServer, gate: ccxt_async.gate) -> None:
    await gate.load_markets()
    book = await gate.fetch_order_book(SYM, 5)
    low = book["bids"][-1][0]
    for i in range(3):
        await gate.create_order(SYM, "limit", "buy", 1, low, {"text": f"t-many-{i}"})
    cancelled = await gate.cancel_all_orders(SYM)
    assert len(cancelled) == 3
    # ccxt only prefixes "t-" when the id does not start with "t": `tabc` goes out raw and Gate refuses it
    with pytest.raises(cx.BadRequest, match="INVALID_PARAM_VALUE"):
        await gate.create_order(SYM, "limit", "buy", 1, low, {"text": "tabc"})
    assert await gate.fetch_open_orders(SYM) == []


async def test_ccxt_wrong_key_and_secret(sim: SimServer) -> None:
    for key, secret, label in (("nosuchkey", sim.api_secret, "INVALID_KEY"), (sim.api_key, "wrong", "INVALID_SIGNATURE")):
        ex = plain_gate(sim.rest_url, key, secret)
        try:
            with pytest.raises(cx.AuthenticationError, match=label):
                await ex.fetch_balance({"type": "swap"})
        finally:
            await ex.close()


# -- raw signed requests: the Gate wire rules ----------------------------------------------------------------
async def signed(
    session: aiohttp.ClientSession,
    sim: SimServer,
    method: str,
    path: str,
    query: str = "",
    body: str = "",
    *,
    key: str | None = None,
    secret: str | None = None,
    ts: str | None = None,
) -> tuple[int, object]:
    ts = ts or str(int(time.time()))
    headers = rest_headers(key or sim.api_key, secret or sim.api_secret, method, "/api/v4" + path, query, body, ts)
    url = f"{sim.rest_url}{path}" + (f"?{query}" if query else "")
    async with session.request(method, url, data=body or None, headers=headers) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def test_auth_errors_statuses_and_labels(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s:
        status, body = await signed(s, sim, "GET", "/futures/usdt/accounts")
        assert status == 200 and body["currency"] == "USDT"
        async with s.get(f"{sim.rest_url}/futures/usdt/accounts") as resp:
            assert resp.status == 401 and (await resp.json())["label"] == "MISSING_REQUIRED_HEADER"
        status, body = await signed(s, sim, "GET", "/futures/usdt/accounts", key="bogus")
        assert (status, body["label"]) == (401, "INVALID_KEY")
        status, body = await signed(s, sim, "GET", "/futures/usdt/accounts", secret="bogus")
        assert (status, body["label"]) == (401, "INVALID_SIGNATURE")
        # stale timestamp: checked before the key (Gate's order), 403
        old = str(int(time.time()) - 120)
        status, body = await signed(s, sim, "GET", "/futures/usdt/accounts", key="bogus", ts=old)
        assert (status, body["label"]) == (403, "REQUEST_EXPIRED")
        # the query is part of the signature: a signature for another query fails
        ts = str(int(time.time()))
        headers = rest_headers(
            sim.api_key, sim.api_secret, "GET", "/api/v4/futures/usdt/orders", "status=open", "", ts
        )
        async with s.get(f"{sim.rest_url}/futures/usdt/orders?status=finished", headers=headers) as resp:
            assert resp.status == 401 and (await resp.json())["label"] == "INVALID_SIGNATURE"
        # Gate's SDK and ccxt sign the decoded query while sending it percent-encoded: accepted
        headers = rest_headers(
            sim.api_key, sim.api_secret, "GET", "/api/v4/futures/usdt/orders", "status=open&note=a b", "", ts
        )
        async with s.get(f"{sim.rest_url}/futures/usdt/orders?status=open&note=a%20b", headers=headers) as resp:
            assert resp.status == 200
        # the body is signed too: a different body than the one signed is refused
        body = '{"contract":"BTC_USDT","size":1,"price":"1","text":"t-body"}'
        headers = rest_headers(sim.api_key, sim.api_secret, "POST", "/api/v4/futures/usdt/orders", "", "{}", ts)
        async with s.post(f"{sim.rest_url}/futures/usdt/orders", data=body, headers=headers) as resp:
            assert resp.status == 401 and (await resp.json())["label"] == "INVALID_SIGNATURE"


async def test_clock_skew_fault_expires_requests(sim: SimServer) -> None:
    sim.faults.set("clock_skew_ms", 90_000)
    async with aiohttp.ClientSession() as s:
        status, body = await signed(s, sim, "GET", "/futures/usdt/positions")
        assert (status, body["label"]) == (403, "REQUEST_EXPIRED")
        status, _ = await signed(s, sim, "GET", "/futures/usdt/positions", ts=str(int(time.time()) + 90))
        assert status == 200  # a client that follows the server clock is accepted


async def test_public_parameter_rules(sim: SimServer) -> None:
    base = sim.rest_url + "/futures/usdt"
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/candlesticks?contract=BTC_USDT&interval=1m&limit=10&from=1") as r:
            assert r.status == 400 and (await r.json())["label"] == "INVALID_PARAM_VALUE"
        to = int(time.time()) - 3600
        async with s.get(f"{base}/candlesticks?contract=BTC_USDT&interval=1m&to={to}") as r:
            rows = await r.json()
            assert len(rows) == 100 and rows[-1]["t"] <= to and rows[-1]["t"] > to - 120  # default: latest 100
        async with s.get(f"{base}/candlesticks?contract=NOPE_USDT&interval=1m") as r:
            assert r.status == 400 and (await r.json())["label"] == "CONTRACT_NOT_FOUND"
        async with s.get(f"{base}/order_book?contract=BTC_USDT&limit=5&with_id=true") as r:
            book = await r.json()
            assert isinstance(book["id"], int) and len(book["bids"]) == 5 and isinstance(book["current"], float)
        async with s.get(f"{base}/order_book?contract=BTC_USDT&limit=5") as r:
            assert "id" not in await r.json()
        async with s.get(f"{base}/order_book?contract=BTC_USDT&limit=5", headers={"X-Gate-Size-Decimal": "1"}) as r:
            assert isinstance((await r.json())["bids"][0]["s"], str)  # the decimal-size header turns sizes into text
        async with s.get(f"{base}/funding_rate?contract=BTC_USDT&limit=3") as r:
            rows = await r.json()
            assert r.status == 200 and all(set(x) == {"t", "r"} for x in rows)
        async with s.get(f"{sim.rest_url}/spot/currency_pairs") as r:
            assert await r.json() == []
        async with s.get(f"{base}/no_such_endpoint") as r:
            assert r.status == 404 and (await r.json())["label"] == "NOT_FOUND"
        async with s.get(f"{sim.rest_url}/spot/time") as r:
            assert abs((await r.json())["server_time"] - time.time() * 1000) < 5000


async def test_http_faults_502_429_and_lost_ack(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s:
        sim.faults.set("http_5xx_next", 1)
        async with s.get(f"{sim.rest_url}/futures/usdt/tickers") as r:
            assert r.status == 502
        sim.faults.set("http_429_next", 1)
        async with s.get(f"{sim.rest_url}/futures/usdt/tickers") as r:
            assert r.status == 429 and (await r.json())["label"] == "TOO_MANY_REQUESTS"
        async with s.get(f"{sim.rest_url}/futures/usdt/tickers") as r:
            assert r.status == 200 and {t["contract"] for t in await r.json()} == {"BTC_USDT", "ETH_USDT"}

        # lost ack: the order is placed, the connection drops without a response
        sim.faults.set("lose_next_acks", 1)
        book = sim.state.market.order_book("BTC_USDT", 20)
        body = json.dumps({"contract": "BTC_USDT", "size": 1, "price": book["bids"][-1]["p"], "tif": "gtc", "text": "t-lost"})
        with pytest.raises(aiohttp.ClientError):
            await signed(s, sim, "POST", "/futures/usdt/orders", body=body)
        status, order = await signed(s, sim, "GET", "/futures/usdt/orders/t-lost")
        assert status == 200 and order["status"] == "open" and order["text"] == "t-lost"


async def test_batch_orders_and_price_orders(sim: SimServer) -> None:
    book = sim.state.market.order_book("BTC_USDT", 20)
    low, high = book["bids"][-1]["p"], book["asks"][-1]["p"]
    async with aiohttp.ClientSession() as s:
        batch = json.dumps([
            {"contract": "BTC_USDT", "size": 1, "price": low, "text": "t-b1"},
            {"contract": "BTC_USDT", "size": 1, "price": low, "text": "bad text"},
        ])
        status, rows = await signed(s, sim, "POST", "/futures/usdt/batch_orders", body=batch)
        assert status == 200 and [r["succeeded"] for r in rows] == [True, False]
        assert rows[1]["label"] == "INVALID_PARAM_VALUE"

        trig = json.dumps({
            "initial": {"contract": "BTC_USDT", "size": -1, "price": "0", "tif": "ioc", "text": "t-stop1", "reduce_only": False},
            "trigger": {"strategy_type": 0, "price_type": 0, "price": high, "rule": 1, "expiration": 0},
        })
        status, created = await signed(s, sim, "POST", "/futures/usdt/price_orders", body=trig)
        assert status == 201 and created["id"]
        status, listed = await signed(s, sim, "GET", "/futures/usdt/price_orders", "status=open")
        assert [str(t["id"]) for t in listed] == [str(created["id"])]
        status, _ = await signed(s, sim, "DELETE", f"/futures/usdt/price_orders/{created['id']}")
        assert status == 200
        status, listed = await signed(s, sim, "GET", "/futures/usdt/price_orders", "status=open")
        assert listed == []

        status, cd = await signed(s, sim, "POST", "/futures/usdt/countdown_cancel_all", body='{"timeout": 30}')
        assert status == 200 and cd["triggerTime"] > time.time() * 1000
        status, cd = await signed(s, sim, "POST", "/futures/usdt/countdown_cancel_all", body='{"timeout": 2}')
        assert status == 400
