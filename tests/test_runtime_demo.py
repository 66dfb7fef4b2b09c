"""The demo node end to end: in-process Gate simulator, our WS client and ccxt REST adapter."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.domain.enums import OrderStatus, TradingState
from cashup_tui.domain.errors import ConfigError, RiskDenied
from cashup_tui.runtime import build_node
from cashup_tui.settings import Settings

D = Decimal
pytestmark = pytest.mark.timeout(60)


async def _until(pred, timeout: float = 5.0) -> bool:
    end = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < end:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return pred()


async def test_demo_node_trades_and_matches_the_venue(store_url: str) -> None:
    node = build_node(Settings(), "demo", db_url=store_url, symbols=["BTC_USDT"])
    await node.start()
    try:
        assert node.om.ready and any("balance" in c for c in node.reconcile_changes)
        venue = node.sim.state.venue
        r = await node.om.submit(node.om.build("BTC_USDT", "buy", D(10), order_type="market"))
        assert r.order.status is OrderStatus.FILLED
        mark = node.cache.mark("BTC_USDT")
        far = node.instruments["BTC_USDT"].round_price(mark * D("0.97"), "down")
        rest = await node.om.submit(node.om.build("BTC_USDT", "buy", D(3), price=far))
        assert rest.order.status is OrderStatus.OPEN and len(venue.list_orders()) == 1
        c = await node.om.cancel(rest.order.client_id)
        assert c.status is OrderStatus.CANCELLED and venue.list_orders() == []
        with pytest.raises(RiskDenied):
            await node.om.submit(node.om.build("BTC_USDT", "buy", D(10**6), order_type="market"))
        assert node.portfolio.positions["BTC_USDT"].size == venue.position("BTC_USDT").size == D(10)
        assert await node.om.reconcile() == []
        assert abs(node.portfolio.cash - venue.account().total) < D("1e-9")
        await node.om.kill(3, "test flatten", source="test")
        assert await _until(lambda: venue.position("BTC_USDT").size == 0)
        assert node.portfolio.positions["BTC_USDT"].is_flat
        # the store (SQLite or PostgreSQL) holds exactly what the venue did: every fill once, the position, the wallet
        trades = venue.my_trades(limit=1000)
        assert await _until(lambda: len(node.journal.load_fills()) == len(trades) >= 2)
        assert {f.trade_id.rpartition("-")[2]: (f.size, f.price, f.fee) for f in node.journal.load_fills()} == {
            str(t.id): (abs(t.size), t.price, t.fee) for t in trades}
        assert [(p.symbol, p.size) for p in node.journal.load_positions()] == [("BTC_USDT", D(0))]
        wallet = {b.currency: b.total for b in node.journal.load_balances()}
        assert abs(wallet["USDT"] - venue.account().total) < D("1e-9")
    finally:
        await node.stop()
    # restart on the same file (a new simulator: the venue is authoritative) keeps the trading state
    node2 = build_node(Settings(), "demo", db_url=store_url, symbols=["BTC_USDT"])
    await node2.start()
    try:
        assert node2.risk.state is TradingState.REDUCING
        assert node2.journal.get_order(r.order.client_id).status is OrderStatus.FILLED
    finally:
        await node2.stop()


async def test_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        build_node(Settings(), "moon")
    assert "demo, paper, testnet, live" in info.value.hint


async def test_live_needs_keys_and_confirmation() -> None:
    from cashup_tui.domain.errors import AuthenticationError

    node = build_node(Settings(), "live", symbols=["BTC_USDT"])
    with pytest.raises((AuthenticationError, ConfigError)):
        await node.start()


async def test_demo_node_notifies_fills_to_a_json_endpoint(tmp_path: Path) -> None:
    from cashup_tui.settings import replace_section
    from tests.notify_helpers import http_sink

    async with http_sink() as sink:
        s = replace_section(Settings(), "notify", urls=[sink.url("json", "/hook")])
        node = build_node(s, "demo", db_url=str(tmp_path / "n.sqlite"), symbols=["BTC_USDT"])
        await node.start()
        try:
            await node.om.submit(node.om.build("BTC_USDT", "buy", D(2), order_type="market"))
            assert await _until(lambda: len(sink.got) >= 1, timeout=10)
        finally:
            await node.stop()
        assert any("BTC_USDT" in r.body for r in sink.got)


async def test_stale_feed_denies_orders_and_moves_a_traded_symbol_to_reducing() -> None:
    from cashup_tui.settings import replace_section

    s = replace_section(Settings(), "risk", stale_feed_s=0.8)
    node = build_node(s, "demo", symbols=["BTC_USDT"])
    await node.start()
    try:
        from cashup_tui.engine.strategy import Strategy

        class Idle(Strategy):
            """Does nothing; it only makes BTC_USDT a symbol a live strategy depends on."""

            vectorised = False

        node.runner.add(Idle(), "BTC_USDT", "1m", name="idle")
        node.sim.faults.set("stale", True)
        assert await _until(lambda: node.risk.state is TradingState.REDUCING, timeout=6)
        assert node.risk.status.reason.startswith("stale_feed")
        with pytest.raises(RiskDenied) as info:
            await node.om.submit(node.om.build("BTC_USDT", "sell", D(1), order_type="market", reduce_only=True))
        assert info.value.rule == "stale_data"  # even a reducing order needs a fresh price
    finally:
        await node.stop()
