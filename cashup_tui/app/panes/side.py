"""The side panel of large terminals: positions and open orders next to any tab, fitted to its width so
Liq and the order Status always show (the least important columns go first); from 160x48 it also holds
the market's depth chart and the newest fills, so the extra space carries more, not blank rows."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from cashup_tui.app.panes.fills import FILL_COLUMNS, fill_rows
from cashup_tui.app.panes.orders import OPEN_COLUMNS, open_rows
from cashup_tui.app.panes.positions import COLUMNS, SHORT, keyed_cells
from cashup_tui.app.panes.tables import SyncTable, keyed
from cashup_tui.app.widgets.charts import DepthChart

# the side panel is narrow: it keeps what a glance needs (the Positions tab has the rest)
SIDE_DROP = ("Funding", "Fees", "Margin", "ROE", "Lev", "Realised", "Liq dist", "Entry")
ORDER_DROP = ("Filled", "Type", "Client id")
FILL_DROP = ("Strategy", "Client id", "Fee", "Symbol")
SIDE_FILLS = 12  # the newest fills shown beside the market


class SidePanel(Vertical):
    """Shown only on large terminals (the app's `-wide` class)."""

    def compose(self) -> ComposeResult:
        yield Label("Positions", classes="pane-title")
        yield SyncTable(COLUMNS, id="side-positions")
        yield Label("Open orders", classes="pane-title")
        yield SyncTable(OPEN_COLUMNS, id="side-orders")
        yield Label("Fills (newest first)", classes="pane-title side-more")
        yield SyncTable(FILL_COLUMNS, id="side-fills", classes="side-more")
        yield DepthChart(id="side-depth", classes="side-more")

    def show(self, node: Any, symbol: str) -> None:
        """Positions and open orders; from 160x48 (`-xwide`) also the newest fills and `symbol`'s depth."""
        self.query_one("#side-positions", SyncTable).sync_fitted(COLUMNS, keyed_cells(node.positions()), SIDE_DROP,
                                                                 SHORT)
        self.query_one("#side-orders", SyncTable).sync_fitted(OPEN_COLUMNS, keyed(OPEN_COLUMNS, open_rows(
            node.open_orders())), ORDER_DROP)
        if not self.app.has_class("-xwide"):
            return
        history = getattr(node, "fills", None)  # the journal's fills (a read-model node may have none)
        fills = keyed(FILL_COLUMNS, fill_rows(history(limit=SIDE_FILLS) if history is not None else []))
        table = self.query_one("#side-fills", SyncTable)
        before = table.row_count
        table.sync_fitted(FILL_COLUMNS, fills, FILL_DROP)
        if table.row_count > before:  # sync appends: newest first again (as the Fills tab)
            table.sort("Time", reverse=True)
        self.query_one(DepthChart).show_book(node.book(symbol), node.instrument(symbol))
