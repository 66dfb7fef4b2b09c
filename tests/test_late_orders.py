"""Issue 14 "an order that arrives late" and issue 13's open-order scale, with the real client (ccxt REST,
Gate WS) against the simulator over loopback.

The simulator's `hold_next_placements` fault holds a placement (the client hears nothing and times out) and
applies it at the 'release' action, so the late arrival happens exactly when the test says."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from ccxt.base.errors import BadRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.sim.rest import REST_API, REST_HITS
from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.ids import is_ours, make_client_id
from cashup_tui.domain.secret import Secret
from cashup_tui.runtime import Node, build_node
from cashup_tui.settings import Settings, replace_section
from tests.campaign import examples
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.notify_helpers import wait_for

D = Decimal
S = OrderStatus
pytestmark = pytest.mark.timeout(120)
CANCEL_ALL = "DELETE /api/v4/futures/usdt/orders"


async def _until(pred, timeout: float = 15.0) -> bool:
    return await wait_for(pred, timeout, 0.05)


def _settings(sim: SimServer) -> Settings:
    return replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url, request_timeout_s=1.0,
                           api_key=Secret(FAKE_API_KEY), api_secret=Secret(FAKE_API_SECRET))


async def _node(sim: SimServer, db: Path | None, symbols: list[str], *, trade: bool = True) -> Node:
    node = build_node(_settings(sim), "testnet", db_url=str(db) if db else None, symbols=symbols)
    await node.start(trade=trade)
    node.risk.limits = replace(node.risk.limits, max_errors_per_min=1000, duplicate_window_ms=0)
    node.om.lookup_delay_s = 0.05
    return node


def _open_at_venue(sim: SimServer, cid: str) -> bool:
    return any(o.text == cid for o in sim.state.venue.list_orders(status="open", limit=1000))


def _decide_at_once(node: Node) -> None:
    """Today's rule, to produce the orphan: the first lookup that does not find an order makes it
    'never reached', while the request (its X-Gate-Exptime a minute away) can still land."""
    node.rest.order_expiry_ms = 60_000
    rec = getattr(node.om, "reconciler", None)
    if rec is not None:
        rec.placement_expiry_ms = rec.clock_margin_ms = 0


async def _late_order(sim: SimServer, node: Node, *, market: bool) -> str:
    """Place an order whose placement is held by the simulator; return its client id once the local row
    says REJECTED 'never reached the venue' (the venue has not got it yet)."""
    _decide_at_once(node)
    sim.faults.set("hold_next_placements", 1)
    sim.faults.set("hold_placement_s", 60)
    if market:
        order = node.om.build("BTC_USDT", "buy", D(4), order_type="market")
    else:
        far = node.instruments["BTC_USDT"].round_price(node.cache.mark("BTC_USDT") * D("0.97"), "down")
        order = node.om.build("BTC_USDT", "buy", D(3), price=far)
    res = await node.om.submit(order)
    assert res.order.status is S.UNKNOWN or res.order.status is S.REJECTED
    await node.om.reconcile()
    row = node.cache.order(order.client_id)
    assert row.status is S.REJECTED and row.reason == "never reached the venue"
    assert not _open_at_venue(sim, order.client_id)
    return order.client_id


async def test_a_late_limit_order_is_found_by_sync_and_cancelled_by_cancel_all(tmp_path: Path) -> None:
    async with SimServer(["BTC_USDT"], seed=11, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        db = tmp_path / "j.sqlite"
        node = await _node(sim, db, ["BTC_USDT"])
        try:
            cid = await _late_order(sim, node, market=False)
        finally:
            await node.stop()
        assert (await sim.admin_action("release", {}))["released"] == 1
        assert await _until(lambda: _open_at_venue(sim, cid))  # the late arrival rests at the venue
        # `orders sync` (a new process start-up reconciliation) finds it and brings the row back
        node = await _node(sim, db, ["BTC_USDT"], trade=False)
        try:
            row = node.cache.order(cid)
            assert row.status is S.OPEN and row.venue_order_id, row
            assert any(cid in c for c in node.reconcile_changes), node.reconcile_changes
            # `orders cancel --all`: Gate's per-contract cancel-all, local row updated from the answer
            hits = sim.app[REST_HITS][CANCEL_ALL]
            done = await node.om.cancel_all(None, reason="cancel all (test)")
            assert cid in {o.client_id for o in done}
            assert sim.app[REST_HITS][CANCEL_ALL] == hits + 1
            assert not _open_at_venue(sim, cid) and node.cache.order(cid).status is S.CANCELLED
            assert await node.om.reconcile() == []  # nothing left to explain
        finally:
            await node.stop()


async def test_kill_3_cancels_a_late_limit_order() -> None:
    async with SimServer(["BTC_USDT"], seed=12, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        node = await _node(sim, None, ["BTC_USDT"])
        try:
            cid = await _late_order(sim, node, market=False)
            await sim.admin_action("release", {})
            assert await _until(lambda: _open_at_venue(sim, cid))
            hits = sim.app[REST_HITS][CANCEL_ALL]
            await node.om.kill(3, "late order test", source="test")
            assert not _open_at_venue(sim, cid), "kill 3 left a resting order at the venue"
            assert sim.app[REST_HITS][CANCEL_ALL] == hits + 1
            assert await _until(lambda: node.cache.order(cid).status is S.CANCELLED)
        finally:
            await node.stop()


async def test_a_late_market_orders_fill_reaches_the_order_position_and_wallet() -> None:
    async with SimServer(["BTC_USDT"], seed=13, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        node = await _node(sim, None, ["BTC_USDT"])
        try:
            cid = await _late_order(sim, node, market=True)
            await sim.admin_action("release", {})
            venue = sim.state.venue
            assert await _until(lambda: any(t.text == cid for t in venue.my_trades(limit=1000)))
            await node.om.reconcile()
            row = node.cache.order(cid)
            assert row.status is S.FILLED and row.filled == D(4), row
            assert node.portfolio.positions["BTC_USDT"].size == D(4) == venue.position("BTC_USDT").size
            assert node.portfolio.cash == D(str(venue.account().to_gate()["total"]))
            fills = [f for f in node.journal.load_fills() if f.client_id == cid]
            assert sum(f.size for f in fills) == D(4)  # applied once, whichever path brought it
            assert await node.om.reconcile() == []
        finally:
            await node.stop()


async def test_an_order_whose_exptime_passed_is_refused_by_the_venue_then_declared_never_reached() -> None:
    async with SimServer(["BTC_USDT"], seed=14, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        node = await _node(sim, None, ["BTC_USDT"])
        om = node.om
        try:
            rec = getattr(om, "reconciler", None)
            if rec is not None:
                rec.clock_margin_ms = 60_000  # (a generous margin while we look: nothing is decided yet)
            sim.faults.set("hold_next_placements", 1)
            sim.faults.set("hold_placement_s", 60)
            far = node.instruments["BTC_USDT"].round_price(node.cache.mark("BTC_USDT") * D("0.97"), "down")
            res = await om.submit(om.build("BTC_USDT", "buy", D(2), price=far))
            cid = res.order.client_id
            assert res.order.status is S.UNKNOWN  # timed out: not found, but it may still land
            # the held request reaches the venue after its X-Gate-Exptime (send + the 1 s timeout): the
            # simulator's clock is moved 5 s on, then the request is released: refused, nothing placed
            sim.faults.set("clock_skew_ms", 5_000)
            await sim.admin_action("release", {})
            assert await _until(lambda: len(sim.app[REST_API].late.expired) == 1)
            sim.faults.set("clock_skew_ms", 0)
            assert not _open_at_venue(sim, cid)
            assert not any(o.text == cid for o in sim.state.venue.list_orders(status="finished", limit=1000))
            # before its deadline (exptime + margin) a not-found order stays UNCONFIRMED
            assert await om.reconcile() == [] and node.cache.order(cid).status is S.UNKNOWN
            om.reconciler.clock_margin_ms = 200
            assert await _until(lambda: node.clock.now_ms() > om.reconciler.deadline_ms(node.cache.order(cid)))
            changes = await om.reconcile()
            row = node.cache.order(cid)
            assert row.status is S.REJECTED and row.reason == "never reached the venue"
            assert any(cid in c for c in changes) or any(cid in c for c in om.changes_log)
        finally:
            await node.stop()


async def test_sync_sees_all_of_250_open_orders() -> None:
    symbols = ["BTC_USDT", "ETH_USDT", "XRP_USDT"]
    async with SimServer(symbols, seed=15, run_loop=False, api_key=FAKE_API_KEY,
                         api_secret=FAKE_API_SECRET) as sim:
        sim.step()
        venue = sim.state.venue
        n = 0
        for sym, count in zip(symbols, (100, 100, 50), strict=True):
            px = sim.state.instruments[sym].round_price(sim.market.symbols[sym].mark_decimal() * D("0.8"), "down")
            for _ in range(count):  # ours (testnet prefix t-t...), resting far from the market
                n += 1
                venue.place(sym, 1, px, text=f"t-tbulk-{n}")
        node = await _node(sim, None, symbols, trade=False)
        try:
            assert len(node.cache.open_orders()) == 250
            assert len(await node.rest.open_orders()) == 250
            with pytest.raises(BadRequest):  # the simulator pages like Gate: at most 100 rows
                await node.rest.ccxt.privateFuturesGetSettleOrders({"settle": "usdt", "status": "open", "limit": 101})
            done = await node.om.cancel_all(None)
            assert len(done) == 250 and venue.list_orders(status="open", limit=1000) == []
            assert sim.app[REST_HITS][CANCEL_ALL] == 3  # one per contract
        finally:
            await node.stop()


@settings(max_examples=examples(50))
@given(prefix=st.sampled_from(["t", "d", "l", "p", "c"]), other=st.sampled_from(["t", "d", "l", "p", "c"]),
       counter=st.integers(0, 10**12), session=st.text("0123456789abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10))
def test_only_ids_made_with_our_prefix_are_ours(prefix: str, other: str, counter: int, session: str) -> None:
    cid = make_client_id(other, counter, session=session)
    assert is_ours(cid, other)
    assert is_ours(cid, prefix) is (prefix == other)
    assert not is_ours("t-HBOTabc", prefix) and not is_ours("web", prefix)
