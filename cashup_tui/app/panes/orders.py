"""Orders pane: open orders (UNCONFIRMED marked) and history. A bracket's exits are marked as its legs
("SL leg of t-...") only when linked to the entry by id, never by being reduce-only on the same symbol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from cashup_tui.app import fmt
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.domain.orders import Order

OPEN_COLUMNS = ("Client id", "Symbol", "Side", "Type", "Size", "Filled", "Price", "Status")
HIST_COLUMNS = ("Client id", "Symbol", "Side", "Type", "Size", "Filled", "Avg", "Status", "Reason")


def _status(o: Order) -> Text:
    if o.unconfirmed:
        return Text("UNCONFIRMED", style="bold black on yellow")
    return Text(o.status.value.upper())


def _side(o: Order) -> Text:
    return Text("BUY" if o.side.value == "buy" else "SELL", style="green" if o.side.value == "buy" else "red")


Legs = Mapping[str, tuple[str, str]]  # leg client id -> (entry client id, "SL" | "TP")


def _type(o: Order, legs: Legs | None, *, ro: bool = True) -> str:
    text = o.order_type.value + (" RO" if ro and o.reduce_only else "")
    leg = (legs or {}).get(o.client_id)
    return f"{text} {leg[1]} leg of {leg[0]}" if leg else text


def open_rows(orders: Sequence[Order], legs: Legs | None = None) -> list[tuple[str, list[object]]]:
    return [
        (
            o.client_id,
            [o.client_id, o.symbol, _side(o), _type(o, legs),
             fmt.num(o.size, 4).rstrip("0").rstrip("."), fmt.num(o.filled, 4).rstrip("0").rstrip("."),
             fmt.price(o.price) if o.price is not None else "MKT", _status(o)],
        )
        for o in orders
    ]


def history_rows(orders: Sequence[Order], legs: Legs | None = None) -> list[tuple[str, list[object]]]:
    return [
        (
            o.client_id,
            [o.client_id, o.symbol, _side(o), _type(o, legs, ro=False), fmt.num(o.size, 4).rstrip("0").rstrip("."),
             fmt.num(o.filled, 4).rstrip("0").rstrip("."), fmt.price(o.avg_fill_price) if o.filled else "—",
             o.status.value.upper(), o.reason[:40]],
        )
        for o in orders
    ]


class OrdersPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Label("Open orders  [c] cancel  [a] amend  [x] cancel all (confirmed)", markup=False, classes="pane-title")
        yield SyncTable(OPEN_COLUMNS, id="open-orders")
        yield Label("History", classes="pane-title")
        yield SyncTable(HIST_COLUMNS, id="order-history")

    def show(self, open_orders: Sequence[Order], history: Sequence[Order], legs: Legs | None = None) -> None:
        self.query_one("#open-orders", SyncTable).sync(open_rows(open_orders, legs))  # type: ignore[arg-type]
        self.query_one("#order-history", SyncTable).sync(history_rows(history, legs))  # type: ignore[arg-type]

    @property
    def selected_order(self) -> str | None:
        return self.query_one("#open-orders", SyncTable).selected_key
