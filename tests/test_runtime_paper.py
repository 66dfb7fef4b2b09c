"""Paper mode: market data from a Gate-compatible feed (the simulator), fills by the shared Venue locally;
a restart keeps paper positions and cash (the local venue is seeded from the journal)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.runtime import build_node
from cashup_tui.settings import Settings, replace_section

D = Decimal
pytestmark = pytest.mark.timeout(60)


async def test_paper_fills_locally_and_survives_restart(store_url: str) -> None:
    async with SimServer(["BTC_USDT"], seed=9, tick_ms=100) as sim:
        s = replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url)
        db = store_url
        node = build_node(s, "paper", db_url=db, symbols=["BTC_USDT"])
        await node.start()
        try:
            r = await node.om.submit(node.om.build("BTC_USDT", "buy", D(20), order_type="market"))
            assert r.order.status is OrderStatus.FILLED
            assert sim.state.venue.list_orders(status="finished") == []  # nothing reached the exchange
            assert node.paper_venue.position("BTC_USDT").size == D(20)
            pos = node.portfolio.positions["BTC_USDT"]
            size, entry, cash = pos.size, pos.entry_price, node.portfolio.cash
            assert cash == node.paper_venue.account().total
        finally:
            await node.stop()
        node2 = build_node(s, "paper", db_url=db, symbols=["BTC_USDT"])
        await node2.start()
        try:
            assert not [c for c in node2.reconcile_changes if c.startswith(("position", "fill", "balance"))], \
                node2.reconcile_changes
            p2 = node2.portfolio.positions["BTC_USDT"]
            assert (p2.size, p2.entry_price) == (size, entry) and node2.portfolio.cash == cash
            assert node2.paper_venue.position("BTC_USDT").size == size
            closed = await node2.om.close_position("BTC_USDT")
            assert closed is not None and closed.status is OrderStatus.FILLED
            assert node2.portfolio.positions["BTC_USDT"].is_flat and node2.paper_venue.position("BTC_USDT").size == 0
        finally:
            await node2.stop()
