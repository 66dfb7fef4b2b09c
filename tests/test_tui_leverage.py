"""Pilot tests of leverage, margin mode and the account view on the REAL demo node (the workstation built
by the production factory over the in-process Gate simulator on loopback): `L` on Positions sets the
venue's leverage and margin mode, the table shows the venue's leverage, margin, fees and funding at
80x24, the ticket shows the symbol's leverage, the Risk pane shows the venue's account and the status bar
its available margin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from cashup_tui.app.modals.leverage import LeverageDialog
from cashup_tui.app.modals.ticket import OrderTicket
from cashup_tui.app.panes.positions import PositionsPane
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.domain.enums import OrderType, Side
from cashup_tui.domain.margin import MarginMode
from cashup_tui.service.views import OrderRequest
from tests.tui_support import demo_app, press, screen_text, table_keys, wait_text, wait_until

pytestmark = pytest.mark.timeout(150)
SYM = "BTC_USDT"


async def _leverage_dialog(pilot, value: str) -> LeverageDialog:
    await press(pilot, "L")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, LeverageDialog), timeout=15, what="the dialog")
    dialog = pilot.app.screen
    await wait_until(pilot, lambda: getattr(pilot.app.focused, "id", None) == "lev-value", timeout=15,
                     what="the leverage field focused")
    await press(pilot, *["backspace"] * 6, *value)
    return dialog


async def test_leverage_key_margin_columns_ticket_account_and_status_bar(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path, symbols=[SYM])
    async with app.run_test(size=(80, 24)) as pilot:
        ws = app.node
        await wait_until(pilot, lambda: node.started and ws.margin.account is not None, timeout=30,
                         what="the node up and the venue's account read")
        venue = node.sim.state.venue
        # the status bar shows the venue's available margin
        await wait_text(pilot, "avail ")
        await ws.submit(OrderRequest(SYM, Side.BUY, Decimal(50), OrderType.MARKET, tif=None))
        await press(pilot, "3")
        await wait_until(pilot, lambda: app.query_one(TabbedContent).active == "positions", timeout=15,
                         what="Positions")
        await wait_until(pilot, lambda: SYM in table_keys(app, "positions-table"), timeout=20, what="the position")
        app.query_one("#positions-table", SyncTable).focus()
        # the venue's leverage (the demo venue starts every contract at 10x isolated)
        await wait_until(pilot, lambda: "10x" in screen_text(app), timeout=20, what="the venue's leverage")
        # 80 columns: the table fits (no number cut) and the selected row's margin, fees and funding show
        pane = app.query_one(PositionsPane)
        table = app.query_one("#positions-table", SyncTable)
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= pane.size.width
        await wait_text(pilot, "fees ")
        text = screen_text(app)
        assert "margin " in text and "funding " in text
        # L: cross 5x
        await _leverage_dialog(pilot, "5")
        await wait_text(pilot, "range 1-100x")
        await press(pilot, "f2", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, LeverageDialog), timeout=20, what="the change")
        pm = ws.margin_of(SYM)
        assert pm is not None and (pm.mode, pm.leverage) == (MarginMode.CROSS, 5)
        vp = venue.position(SYM)
        assert vp.cross and vp.leverage == 5 and vp.margin == vp.size * Decimal("0.0001") * vp.entry_price / 5
        await wait_until(pilot, lambda: "C5x" in screen_text(app), timeout=20, what="C5x in the table")
        # a leverage outside the contract's range: refused in the dialog, nothing sent
        await _leverage_dialog(pilot, "500")
        await press(pilot, "enter")
        await wait_text(pilot, "outside BTC_USDT's range 1-100x")
        await press(pilot, "escape")
        assert venue.position(SYM).leverage == 5
        # the ticket shows the symbol's current leverage and margin mode
        await press(pilot, "b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderTicket), timeout=15, what="the ticket")
        await wait_text(pilot, "leverage 5x cross")
        await press(pilot, "escape")
        # the Risk pane's account section: the venue's own figures
        await press(pilot, "5")
        await wait_until(pilot, lambda: app.query_one(TabbedContent).active == "risk", timeout=15, what="Risk")
        await wait_text(pilot, "Account (venue)")
        acc = venue.account()
        text = screen_text(app)
        for label in ("wallet", "available", "margin used", "maintenance", "margin ratio", "unrealised PnL"):
            assert label in text, label
        assert f"{float(acc.position_margin):,.2f}" in text  # the venue's position margin, as reported
