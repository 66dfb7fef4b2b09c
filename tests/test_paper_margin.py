"""Paper mode keeps the leverage and margin mode the user set across a restart, like its positions and cash:
the fresh local venue is given them again (a flat contract's too)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.runtime import build_node
from cashup_tui.service.margin import MarginWatch
from cashup_tui.settings import Settings, replace_section

D = Decimal
pytestmark = pytest.mark.timeout(60)


async def test_paper_leverage_and_margin_mode_survive_a_restart(store_url: str) -> None:
    async with SimServer(["BTC_USDT", "ETH_USDT"], seed=31, tick_ms=100) as sim:
        s = replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url)
        node = build_node(s, "paper", db_url=store_url, symbols=["BTC_USDT", "ETH_USDT"])
        await node.start()
        try:
            await node.om.set_leverage("BTC_USDT", D(5), cross=True)
            await node.om.submit(node.om.build("BTC_USDT", "buy", D(20), order_type="market"))
            await node.om.set_leverage("ETH_USDT", D(3))  # flat: isolated 3x
        finally:
            await node.stop()
        node2 = build_node(s, "paper", db_url=store_url, symbols=["BTC_USDT", "ETH_USDT"])
        await node2.start()
        try:
            watch = MarginWatch(node2.execution)
            await watch.refresh()
            btc, eth = watch.position("BTC_USDT"), watch.position("ETH_USDT")
            assert btc is not None and (btc.label, node2.paper_venue.position("BTC_USDT").size) == ("C5x", D(20))
            assert eth is not None and eth.label == "3x"
            assert not [c for c in node2.reconcile_changes if c.startswith("position")], node2.reconcile_changes
        finally:
            await node2.stop()
