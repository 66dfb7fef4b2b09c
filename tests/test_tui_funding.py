"""The workstation on the real demo node: the simulator settles funding, and the Positions Funding column
shows the venue's amount; Market shows the rate, the predicted rate and the countdown to the next
settlement (the simulator sends `funding_rate_indicative` and `funding_next_apply` as Gate does)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cashup_tui.app import fmt
from cashup_tui.app.panes.tables import SyncTable
from tests.tui_support import demo_app, press, screen_text, wait_until, watch_prices

D = Decimal
SYM = "BTC_USDT"
pytestmark = pytest.mark.timeout(150)


def _cell(app: Any, key: str, column: str) -> str:
    table = app.query_one("#positions-table", SyncTable)
    columns = list(table._columns)  # the columns shown at this width (tables.fit_columns)
    if key not in [str(k.value) for k in table.rows] or column not in columns:
        return ""
    return str(table.get_row(key)[columns.index(column)])


async def test_positions_funding_is_the_venues_settlement_and_market_counts_down(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path, symbols=[SYM, "ETH_USDT"])
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: node.started and watch_prices(app).get(SYM, "—") != "—", timeout=30,
                         what="the demo watchlist")
        # Market: rate, predicted rate and the countdown to the simulator's next settlement
        pattern = re.compile(r"funding ([+-][\d.]+)%  next pred ([+-][\d.]+)% in (\d\d):(\d\d):(\d\d)")
        await wait_until(pilot, lambda: pattern.search(screen_text(app)), timeout=20, what="the funding countdown")
        m = pattern.search(screen_text(app))
        assert m is not None
        left = int(m[3]) * 3600 + int(m[4]) * 60 + int(m[5])
        venue_left = node.sim.market.symbols[SYM].next_funding_s - node.clock.now_ms() // 1000
        assert abs(left - venue_left) <= 5  # the screen was read a moment before the clock
        # a long, then the simulator settles (as at its interval): Positions shows what the venue booked
        await node.om.submit(node.om.build(SYM, "buy", D(2000), order_type="market"))
        await wait_until(pilot, lambda: node.sim.state.venue.position(SYM).size == D(2000), timeout=20,
                         what="the long at the venue")
        await node.sim.admin_action("funding", {"symbol": SYM})
        await wait_until(pilot, lambda: node.sim.state.venue.position(SYM).pnl_fund != 0, timeout=20,
                         what="the settlement at the venue")
        paid = node.sim.state.venue.position(SYM).pnl_fund
        await press(pilot, "3")
        want = fmt.signed(paid).plain
        await wait_until(pilot, lambda: _cell(app, SYM, "Funding") == want, timeout=20,
                         what=f"Funding {want} in the Positions table")
        assert node.portfolio.positions[SYM].funding == paid
        await node.om.close_position(SYM)
        await wait_until(pilot, lambda: node.sim.state.venue.position(SYM).size == 0, timeout=20, what="flat")
        await press(pilot, "q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=15, what="the app to exit")
