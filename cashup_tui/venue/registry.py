"""Every order and trade the venue knows, by id and by client text, with bounded history windows."""

from __future__ import annotations

from collections import deque

from cashup_tui.venue.base import ORDER_ID_BASE, TEXT_LOOKUP_MS, TRADE_ID_BASE, VenueError
from cashup_tui.venue.models import VenueOrder, VenueTrade


class OrderRegistry:
    """Ids (orders and trades count up from their bases), lookups, and the finished-order and trade
    windows (`max_history` each) that the list reads page through."""

    __slots__ = ("by_text", "finished", "max_history", "next_order", "next_trade", "orders", "trades")

    def __init__(self, max_history: int) -> None:
        self.orders: dict[int, VenueOrder] = {}
        self.by_text: dict[str, int] = {}
        self.finished: deque[VenueOrder] = deque(maxlen=max_history)
        self.trades: deque[VenueTrade] = deque(maxlen=max_history)
        self.max_history = max_history
        self.next_order = ORDER_ID_BASE
        self.next_trade = TRADE_ID_BASE

    def register(self, o: VenueOrder) -> None:
        self.orders[o.id] = o
        if o.text != "api":
            self.by_text[o.text] = o.id

    def finished_one(self, o: VenueOrder) -> None:
        """Keep a finished order in the history window (and forget old ones beyond it)."""
        self.finished.append(o)
        if len(self.orders) > 4 * self.max_history:
            self.prune()

    def prune(self) -> None:
        """Forget finished orders beyond the history window (keeps long backtests bounded)."""
        keep = {o.id for o in self.finished}
        for oid in [k for k, o in self.orders.items() if o.status != "open" and k not in keep]:  # (not o.is_open)
            o = self.orders.pop(oid)
            if self.by_text.get(o.text) == oid:
                del self.by_text[o.text]

    def lookup(self, id_or_text: int | str, now_ms: int) -> VenueOrder:
        """By id (within the history window) or by `t-` text (open, or finished < 60 s before `now_ms`)."""
        order: VenueOrder | None = None
        if isinstance(id_or_text, int) and not isinstance(id_or_text, bool):
            order = self.orders.get(id_or_text)
        elif isinstance(id_or_text, str) and id_or_text.isdigit():
            order = self.orders.get(int(id_or_text))
        elif isinstance(id_or_text, str) and id_or_text.startswith("t-"):
            oid = self.by_text.get(id_or_text)
            order = self.orders.get(oid) if oid is not None else None
            if order is not None and not order.is_open and now_ms - order.finish_ms > TEXT_LOOKUP_MS:
                order = None  # Gate forgets the text 60 s after the order finished
        if order is None:
            raise VenueError("ORDER_NOT_FOUND", f"order {id_or_text} not found")
        return order

    def finished_orders(self, contract: str | None) -> list[VenueOrder]:
        """Finished orders in the window, newest first."""
        return [o for o in reversed(self.finished) if not contract or o.contract == contract]

    def my_trades(self, contract: str | None, order_id: int | None, limit: int, offset: int) -> list[VenueTrade]:
        rows = [
            t
            for t in reversed(self.trades)
            if (not contract or t.contract == contract) and (order_id is None or t.order_id == order_id)
        ]
        return rows[offset : offset + limit]
