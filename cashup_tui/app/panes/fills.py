"""Fills pane: every fill (the rows of `cashup fills`), closed positions (round trips) and every order in
time order with its times. The rows come from service/fills.py, the CLI's own builder."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from cashup_tui.app import fmt
from cashup_tui.app.panes.orders import HIST_COLUMNS, history_rows
from cashup_tui.app.panes.tables import SyncTable, keyed
from cashup_tui.domain.orders import Order

FILL_COLUMNS = ("Time", "Symbol", "Side", "Size", "Price", "Fee", "Realised", "Client id", "Strategy")
TRIP_COLUMNS = ("Closed", "Symbol", "Side", "Size", "Entry", "Exit", "PnL", "Fees", "Funding", "Net", "Duration")
ORDER_COLUMNS = ("Created", "Updated", *HIST_COLUMNS)
# first dropped first, so an 80-column terminal shows whole rows, never a table scrolled sideways; the
# time column each table sorts on always stays
FILL_DROP = ("Strategy", "Client id", "Fee")
TRIP_DROP = ("Duration", "Funding", "Fees", "PnL", "Entry")
ORDER_DROP = ("Reason", "Updated", "Client id", "Type", "Avg")
FILLS_TITLE = "Fills (newest first; same rows as `cashup fills`)"


def when(ts_ms: int | None) -> str:
    """UTC date and time of day, as the CLI's ISO times but shorter."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts_ms / 1000)) if ts_ms else "—"


def _side(side: str) -> Text:
    return Text(side.upper(), style="green" if side in ("buy", "long") else "red")


def _qty(v: Decimal) -> str:
    return fmt.num(v, 4).rstrip("0").rstrip(".")


def fill_rows(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[object]]]:
    return [(f"{r['trade_id']}:{r['client_id']}",
             [when(r["ts_ms"]), r["symbol"], _side(r["side"]), _qty(r["size"]), fmt.price(r["price"]),
              fmt.num(r["fee"], 4), fmt.signed(r["realised_pnl"], 4), r["client_id"], r["strategy"] or "—"])
            for r in rows]


def trip_rows(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[object]]]:
    return [(f"{r['symbol']}:{r['open_ms']}",
             [when(r["close_ms"]), r["symbol"], _side(r["side"]), _qty(r["size"]), fmt.price(r["entry_price"]),
              fmt.price(r["exit_price"]), fmt.signed(r["realised_pnl"]), fmt.num(r["fees"], 4),
              fmt.signed(r["funding"], 4), fmt.signed(r["net_pnl"]), f"{r['duration_s']:.0f} s"])
            for r in rows]


def order_rows(orders: Sequence[Order]) -> list[tuple[str, list[object]]]:
    """The Orders pane's history row of each order, after its created and updated times."""
    return [(key, [when(o.created_ms), when(o.updated_ms), *cells])
            for (key, cells), o in zip(history_rows(orders), orders, strict=True)]


class FillsPane(Vertical):
    _loading = False

    def compose(self) -> ComposeResult:
        yield Label(FILLS_TITLE, markup=False, classes="pane-title", id="fills-title")
        yield SyncTable(FILL_COLUMNS, id="fills-table")
        yield Label("Closed positions (round trips)", classes="pane-title")
        yield SyncTable(TRIP_COLUMNS, id="trips-table")
        yield Label("Orders in time order (newest first)", classes="pane-title")
        yield SyncTable(ORDER_COLUMNS, id="orders-by-time")

    def show(self, fills: Sequence[Mapping[str, Any]], trips: Sequence[Mapping[str, Any]],
             orders: Sequence[Order], *, loading: bool = False) -> None:
        """Newest first: a table that gained rows, or was rebuilt for its width, is re-sorted by its time
        column (sync appends new rows). `loading`: a long fill history is being read (the rows are the last)."""
        if loading != self._loading:
            self._loading = loading
            self.query_one("#fills-title", Label).update(FILLS_TITLE + (" (loading the fill history…)" * loading))
        for table_id, columns, rows, drop, column in (
                ("#fills-table", FILL_COLUMNS, fill_rows(fills), FILL_DROP, "Time"),
                ("#trips-table", TRIP_COLUMNS, trip_rows(trips), TRIP_DROP, "Closed"),
                ("#orders-by-time", ORDER_COLUMNS, order_rows(orders), ORDER_DROP, "Created")):
            table = self.query_one(table_id, SyncTable)
            before = (table.row_count, table.columns_fitted)
            table.sync_fitted(columns, keyed(columns, rows), drop)
            if table.row_count > before[0] or table.columns_fitted != before[1]:
                table.sort(column, reverse=True)
