"""What an event backtest remembers: bounded windows of finished orders and fills, compact columns of trades.

Why: every order of a backtest takes the live path (journal rows, cache entries, trade-id dedup), and a
live node keeps those because it must recover from them. A backtest recovers from nothing: keeping every
finished order, journal line and fill made its memory grow with its order count (a high-frequency run of
hundreds of thousands of orders took gigabytes). Here the working orders are always kept, and the finished
ones, their journal lines and fills only in a recent window as large as the simulated venue's own history
(`Venue(max_history=10_000)`), which is what the in-process answers can still refer to.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

import numpy as np

from cashup_tui.domain.account import Balance
from cashup_tui.domain.orders import Fill, Order, OrderEvent
from cashup_tui.domain.positions import Position
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.engine.portfolio import Portfolio

WINDOW = 10_000  # finished orders / fills / journal lines kept (the venue's default history window)


def _forget_oldest(rows: dict[str, Any], keep: int, *, finished_only: bool = False) -> None:
    """Drop the oldest entries of an insertion-ordered dict down to `keep` (working orders stay)."""
    extra = len(rows) - keep
    if extra <= 0:
        return
    old = list(islice(rows, extra))
    for k in old:
        if not finished_only or not rows[k].is_open:
            del rows[k]


class WindowJournal(MemoryJournal):
    """`MemoryJournal` that forgets finished orders, journal lines and fills beyond a recent window.

    Trimmed in batches (at twice the window, back to the window) so each write stays O(1) amortised.
    `listener` sees every fill the order manager journals (its one commit per applied fill, duplicates
    included, as its bus would): the engine books fills from here, so its order manager needs no bus and
    builds no order/fill/position events that nobody in a backtest reads."""

    def __init__(self, window: int = WINDOW) -> None:
        super().__init__()
        self.window = window
        self.journal = deque(maxlen=4 * window)
        self.listener: Callable[[Fill], None] | None = None

    def _trim(self) -> None:
        if len(self.orders) > 2 * self.window:
            _forget_oldest(self.orders, self.window, finished_only=True)
        if len(self.fills) > 2 * self.window:
            _forget_oldest(self.fills, self.window)

    def save_order(self, order: Order, *, event: OrderEvent | None = None, relaxed: bool = False) -> None:
        super().save_order(order, event=event, relaxed=relaxed)
        if len(self.orders) > 2 * self.window:  # (the test of _trim, without its call: once per order change)
            self._trim()

    def record_fill(self, fill: Fill, *, order: Order | None, event: OrderEvent | None, position: Position,
                    balance: Balance) -> bool:
        new = super().record_fill(fill, order=order, event=event, position=position, balance=balance)
        if self.listener is not None:
            self.listener(fill)
        if len(self.fills) > 2 * self.window or len(self.orders) > 2 * self.window:
            self._trim()
        return new


def trim_cache_orders(orders: dict[str, Order], venue_ids: dict[str, str], window: int) -> None:
    """Forget the cache's oldest finished orders (and their venue ids) beyond `window`."""
    extra = len(orders) - window
    for cid in list(islice(orders, extra)):
        o = orders[cid]
        if not o.is_open:
            del orders[cid]
            if o.venue_order_id and venue_ids.get(o.venue_order_id) == cid:
                del venue_ids[o.venue_order_id]


def trim_trade_ids(pf: Portfolio, journal: MemoryJournal, window: int) -> None:
    """The portfolio's dedup set back to the trade ids of the journal's fill window (a backtest's in-process
    venue never repeats an older fill; a live node keeps them all)."""
    if pf.trade_count() > 2 * window:
        pf.keep_trade_ids(journal.fills.keys())


REASONS = ("signal", "stop", "take", "end", "liquid", "order")  # the trade reasons the event engine writes


class TradeColumns:
    """The closed round trips of a run as columns (ints and doubles), not a Python tuple per trade."""

    __slots__ = ("ints", "reals")

    def __init__(self) -> None:
        self.ints: tuple[array[int], ...] = tuple(array(code) for code in "qqbb")  # entry, exit, side, reason code
        # entry_price, exit_price, qty, pnl, fees, funding, eq_after
        self.reals: tuple[array[float], ...] = tuple(array("d") for _ in range(7))

    def __len__(self) -> int:
        return len(self.ints[0])

    def append(self, entry_i: int, exit_i: int, side: int, entry_px: float, exit_px: float, qty: float,
               pnl: float, fees: float, funding: float, reason: str, eq_after: float) -> None:
        e, x, s, r = self.ints  # unrolled: once per round trip
        e.append(entry_i)
        x.append(exit_i)
        s.append(side)
        r.append(REASONS.index(reason))
        ep, xp, q, pn, fe, fu, eq = self.reals
        ep.append(entry_px)
        xp.append(exit_px)
        q.append(qty)
        pn.append(pnl)
        fe.append(fees)
        fu.append(funding)
        eq.append(eq_after)

    def table(self, dtype: np.dtype[Any]) -> np.ndarray:
        out = np.zeros(len(self), dtype=dtype)
        if not len(self):
            return out
        entry, exit_, side, reason = self.ints
        out["entry_idx"], out["exit_idx"] = np.frombuffer(entry, np.int64), np.frombuffer(exit_, np.int64)
        out["side"], out["reason"] = np.frombuffer(side, np.int8), np.asarray(REASONS)[np.frombuffer(reason, np.int8)]
        for name, colf in zip(("entry_price", "exit_price", "qty", "pnl", "fees", "funding", "eq_after"), self.reals,
                              strict=True):
            out[name] = np.frombuffer(colf, np.float64)
        return out
