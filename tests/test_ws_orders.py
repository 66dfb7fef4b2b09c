"""Orders over Gate's websocket API, through the full engine (risk gate, write-ahead journal, order manager)
and the real client, against the simulator over loopback: place/amend/cancel over WS; an answer lost on the
socket -> UNKNOWN -> settled by lookup (never re-sent, no duplicate); socket down -> REST; our limiter
refuses past Gate's limit (nothing is sent)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from cashup_tui.adapters.gateio.ws_orders import (
    GateWsOrders,
    WindowLimiter,
    WsOrdersUnavailable,
    gate_ws_limiter,
)
from cashup_tui.adapters.sim.rest import REST_HITS
from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.errors import OrderRejected
from cashup_tui.domain.secret import Secret
from cashup_tui.runtime import build_node
from cashup_tui.settings import Settings, replace_section
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.notify_helpers import wait_for

D = Decimal
S = OrderStatus
pytestmark = pytest.mark.timeout(90)
POST_ORDERS = "POST /api/v4/futures/usdt/orders"


async def _until(pred: Any, timeout: float = 10.0) -> bool:
    return await wait_for(pred, timeout, 0.02)


def _count(venue: Any, text: str) -> int:
    rows = venue.list_orders(status="open", limit=1000) + venue.list_orders(status="finished", limit=1000)
    return sum(1 for o in rows if o.text == text)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(["BTC_USDT"], seed=5, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def node(sim: SimServer) -> AsyncIterator[Any]:
    s = replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url, request_timeout_s=2.0,
                        api_key=Secret(FAKE_API_KEY), api_secret=Secret(FAKE_API_SECRET))
    n = build_node(s, "testnet", symbols=["BTC_USDT"])
    await n.start()
    n.risk.limits = replace(n.risk.limits, max_errors_per_min=1000, duplicate_window_ms=0)
    n.om.lookup_delay_s = 0.05
    n.om.reconciler.clock_margin_ms = 200
    await asyncio.wait_for(n.execution.ws_orders.logged_in.wait(), 15)
    try:
        yield n
    finally:
        await n.stop()


async def test_place_amend_cancel_go_over_the_websocket(sim: SimServer, node: Any) -> None:
    om, venue, hits = node.om, sim.state.venue, sim.app[REST_HITS]
    api_before = sim.hub.api.requests
    inst = node.instruments["BTC_USDT"]
    px = inst.round_price(node.cache.mark("BTC_USDT") * D("0.97"), "down")
    r = await om.submit(om.build("BTC_USDT", "buy", D(2), price=px, client_id="t-wsone"))
    assert r.order.status is S.OPEN and r.order.venue_order_id
    assert _count(venue, "t-wsone") == 1
    kinds = [e.kind.value for _, e in node.journal.events("t-wsone")]
    assert kinds[0] == "submitted"  # written ahead, exactly as on the REST path
    amended = await om.amend("t-wsone", price=px - inst.price_tick, size=D(3))
    assert amended.price == px - inst.price_tick and amended.size == D(3)
    assert venue.get_order("t-wsone").price == px - inst.price_tick
    cancelled = await om.cancel("t-wsone")
    assert cancelled.status is S.CANCELLED and venue.list_orders(status="open") == []
    assert sim.hub.api.requests - api_before == 3  # place, amend, cancel: all on the socket
    assert hits[POST_ORDERS] == 0 and not any(k.startswith(("PUT", "DELETE")) and "/orders/" in k for k in hits)


async def test_every_request_is_signed_as_gates_own_sdk_and_ccxt_send_them(sim: SimServer, node: Any) -> None:
    """Gate's own SDK (gatews) and ccxt sign every WS API request, not only the login; whether the live
    venue takes an unsigned order on a logged-in socket is not established, so ours are signed too (a
    refused order would cost more than the HMAC). A socket that has not logged in is refused even
    unsigned: test_sim_ws_api_ccxt."""
    seen: list[tuple[str, list[str]]] = []
    api = sim.hub.api
    assert api is not None
    handle = api.handle

    def spy(conn: Any, req: dict[str, Any]) -> None:
        seen.append((req["channel"], sorted(req["payload"])))
        handle(conn, req)

    api.handle = spy  # type: ignore[method-assign]
    om, wso = node.om, node.execution.ws_orders
    px = node.instruments["BTC_USDT"].round_price(node.cache.mark("BTC_USDT") * D("0.97"), "down")
    r = await om.submit(om.build("BTC_USDT", "buy", D(1), price=px, client_id="t-wssigned"))
    assert r.order.status is S.OPEN and _count(sim.state.venue, "t-wssigned") == 1
    assert [ch for ch, _ in seen] == ["futures.order_place"]
    assert {"api_key", "timestamp", "signature", "req_id", "req_param"} <= set(seen[0][1]), seen
    logins = wso.stats["logins"]
    await sim.hub.close_all("abort")
    assert await _until(lambda: wso.stats["logins"] > logins and wso.ready)
    assert ("futures.login", ["api_key", "req_id", "signature", "timestamp"]) in seen


async def test_answer_lost_on_the_socket_is_settled_by_lookup(sim: SimServer, node: Any) -> None:
    om, venue, f = node.om, sim.state.venue, sim.faults
    # the venue acts, the answer never arrives (the socket drops): UNKNOWN -> lookup -> filled, one order
    f.set("lose_next_acks", 1)
    r = await om.submit(om.build("BTC_USDT", "buy", D(4), order_type="market", client_id="t-wslost"))
    assert r.order.status is S.FILLED and _count(venue, "t-wslost") == 1
    kinds = [e.kind.value for _, e in node.journal.events("t-wslost")]
    assert kinds[:2] == ["submitted", "in_doubt"] and "filled" in kinds
    assert node.execution.ws_orders.stats["unknown"] == 1
    # the request dies with the socket before the venue: UNKNOWN, never re-sent; reconciliation rejects it
    assert await _until(lambda: node.execution.ws_orders.ready)  # the order socket came back by itself
    f.set("lose_next_requests", 1)
    r = await om.submit(om.build("BTC_USDT", "sell", D(1), order_type="market", client_id="t-wsgone"))
    assert r.order.status is S.UNKNOWN and _count(venue, "t-wsgone") == 0
    assert await _until(lambda: node.clock.now_ms() > om.reconciler.deadline_ms(node.cache.order("t-wsgone")))
    await om.reconcile()
    assert node.cache.order("t-wsgone").status is S.REJECTED and _count(venue, "t-wsgone") == 0
    assert sim.app[REST_HITS][POST_ORDERS] == 0  # nothing was ever re-sent over REST either


async def test_socket_down_falls_back_to_rest(sim: SimServer, node: Any) -> None:
    om, venue, wso = node.om, sim.state.venue, node.execution.ws_orders
    await wso.stop()
    assert await _until(lambda: not wso.ready)
    api_before = sim.hub.api.requests
    r = await om.submit(om.build("BTC_USDT", "buy", D(1), order_type="market", client_id="t-viarest"))
    assert r.order.status is S.FILLED and _count(venue, "t-viarest") == 1
    assert sim.app[REST_HITS][POST_ORDERS] == 1 and sim.hub.api.requests == api_before
    with pytest.raises(WsOrdersUnavailable):  # refused before anything is written
        await wso.request("futures.order_status", {"order_id": "1"})


def test_window_limiter_refuses_instead_of_waiting() -> None:
    now = [100.0]
    lim = gate_ws_limiter(clock=lambda: now[0])
    assert all(lim.try_acquire("futures.order_place") for _ in range(60))
    assert all(lim.try_acquire("futures.order_cancel") for _ in range(40))  # the channels share Gate's budget
    assert not lim.try_acquire("futures.order_amend") and lim.refused == 1
    now[0] += 0.999
    assert not lim.try_acquire("futures.order_place")
    now[0] += 0.002  # the first second's requests leave the window
    assert lim.try_acquire("futures.order_place")
    assert lim.try_acquire("futures.login")  # not an order channel: not limited


async def test_limiter_refusal_sends_nothing(sim: SimServer) -> None:
    now = [0.0]
    wso = GateWsOrders(sim.ws_url, FAKE_API_KEY, FAKE_API_SECRET,
                       limiter=WindowLimiter({"o": 2}, {"futures.order_place": "o"}, clock=lambda: now[0]))
    task = asyncio.get_running_loop().create_task(wso.run())
    try:
        await asyncio.wait_for(wso.logged_in.wait(), 15)
        assert wso.uid == str(sim.state.user_id)
        base = {"contract": "BTC_USDT", "size": 1, "price": "0", "tif": "ioc"}
        for i in range(2):
            row = await wso.request("futures.order_place", {**base, "text": f"t-lim{i}"})
            assert row["text"] == f"t-lim{i}" and row["status"] == "finished"
        before = sim.hub.api.requests
        with pytest.raises(OrderRejected, match="refused locally, nothing was sent"):
            await wso.request("futures.order_place", {**base, "text": "t-lim2"})
        assert sim.hub.api.requests == before and _count(sim.state.venue, "t-lim2") == 0
        now[0] += 1.0
        assert (await wso.request("futures.order_place", {**base, "text": "t-lim3"}))["text"] == "t-lim3"
        assert wso.stats["acks"] == 3  # Gate's ack echo came before each placement's result
    finally:
        await wso.stop()
        await asyncio.wait_for(task, 10)
