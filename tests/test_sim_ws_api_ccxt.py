"""An UNMODIFIED ccxt.pro `gate` client's websocket order methods against the simulator's WS trading API.

Only its URLs are pointed at the SimServer (REST for load_markets, the futures websocket for orders) and
the keys are made up; login, request signing, the ack-then-result frames and the parsing are all ccxt's.
Also: the signing test vector of the protocol doc, and the simulator's refusals (bad signature, no login).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import ccxt.pro as ccxtpro
import orjson
import pytest
from ccxt.base import errors as cx

from cashup_tui.adapters.gateio.auth import ws_api_sign
from cashup_tui.adapters.sim.rest import REST_HITS
from cashup_tui.adapters.sim.server import SimServer

SYM = "BTC/USDT:USDT"
VECTOR = ("f39035057b3528fc2c5aff4b9cfa9f43673c88d3ff823c55468608173205809999a8b45d7ed898ebf49c15a4f6e5131de1"
          "75ded143be5eeb58431f600e1d4085")


def test_ws_api_signing_vector() -> None:
    """docs/gateio-protocol.md §6: `api\\nfutures.login\\n\\n1700000000`, secret `secret`."""
    sig = ws_api_sign("secret", "futures.login", "", 1700000000)
    assert sig.startswith("f39035057b3528fc")
    assert sig == VECTOR


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(["BTC_USDT", "ETH_USDT"], seed=7, run_loop=False, backfill=300)
    await server.start()
    for _ in range(5):
        server.step()
    try:
        yield server
    finally:
        await server.stop()


def pro_gate(sim: SimServer) -> ccxtpro.gate:
    ex = ccxtpro.gate({"apiKey": sim.api_key, "secret": sim.api_secret})
    for access in (ex.urls["api"]["public"], ex.urls["api"]["private"]):
        for family in access:
            access[family] = sim.rest_url
    ex.urls["api"]["swap"]["usdt"] = sim.ws_url
    return ex


async def test_unmodified_ccxt_pro_create_edit_cancel_over_ws(sim: SimServer) -> None:
    ex = pro_gate(sim)
    try:
        await ex.load_markets()
        book = await ex.fetch_order_book(SYM, 20)
        tick = float(sim.state.contracts["BTC_USDT"]["order_price_round"])
        price = round(round(book["bids"][0][0] * 0.99 / tick) * tick, 8)
        rest_hits_before = sum(sim.app[REST_HITS].values())

        order = await ex.create_order_ws(SYM, "limit", "buy", 3, price, {"text": "t-pro-ws-1"})
        assert order["status"] == "open" and order["clientOrderId"] == "t-pro-ws-1" and order["amount"] == 3
        assert [o.text for o in sim.state.venue.list_orders("BTC_USDT", "open")] == ["t-pro-ws-1"]

        edited = await ex.edit_order_ws(order["id"], SYM, "limit", "buy", 4, round(price - tick, 8))
        assert edited["id"] == order["id"] and edited["amount"] == 4
        assert edited["price"] == pytest.approx(price - tick)

        cancelled = await ex.cancel_order_ws(order["id"], SYM)
        assert cancelled["id"] == order["id"] and cancelled["status"] == "canceled"
        assert sim.state.venue.list_orders("BTC_USDT", "open") == []

        filled = await ex.create_order_ws(SYM, "market", "sell", 2)
        assert filled["status"] == "closed" and filled["filled"] == 2
        # none of the order calls went over REST
        assert sum(sim.app[REST_HITS].values()) == rest_hits_before
        assert sim.hub.api.requests == 5  # login + 4 order calls on one socket
    finally:
        await ex.close()


async def test_ccxt_pro_bad_secret_is_refused_at_login(sim: SimServer) -> None:
    ex = pro_gate(sim)
    ex.secret = "0" * 64
    try:
        await ex.load_markets()
        with pytest.raises(cx.AuthenticationError):
            await asyncio.wait_for(ex.create_order_ws(SYM, "market", "buy", 1), 10)
        assert sim.state.venue.list_orders("BTC_USDT", "finished") == []
    finally:
        await ex.close()


async def test_order_without_login_is_refused_and_req_id_echoed(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_url) as ws:
        t = sim.state.now_s()
        param = {"contract": "BTC_USDT", "size": 1, "price": "0", "tif": "ioc", "text": "t-nologin"}
        sig = ws_api_sign(sim.api_secret, "futures.order_place", orjson.dumps(param).decode(), t)
        await ws.send_str(orjson.dumps({"time": t, "channel": "futures.order_place", "event": "api", "payload": {
            "req_id": "77", "api_key": sim.api_key, "timestamp": str(t), "signature": sig, "req_param": param}}).decode())
        m = orjson.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        assert m["request_id"] == "77" and m["header"]["status"] == "401"
        assert m["data"]["errs"]["label"] == "AUTHENTICATION_FAILED"
        await ws.send_str(orjson.dumps({"time": t, "channel": "futures.order_place", "event": "api", "payload": {
            "req_id": "76", "req_param": param}}).decode())  # unsigned, as after a login: refused all the same
        m = orjson.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        assert m["request_id"] == "76" and m["data"]["errs"]["label"] == "AUTHENTICATION_FAILED"
        # a bad login signature: INVALID_SIGNATURE, still not logged in
        await ws.send_str(orjson.dumps({"time": t, "channel": "futures.login", "event": "api", "payload": {
            "req_id": "78", "api_key": sim.api_key, "timestamp": str(t), "signature": "00"}}).decode())
        m = orjson.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        assert m["request_id"] == "78" and m["data"]["errs"]["label"] == "INVALID_SIGNATURE"
    assert sim.state.venue.list_orders("BTC_USDT", "finished") == []
