"""The event engine's plumbing: an order cache with an index of working orders, the event tap,
and small helpers (kept apart so `event.py` holds the bar loop and the order path)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Literal, overload

import numpy as np

from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.events import Event
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.engine.backtest.history import WINDOW, trim_cache_orders
from cashup_tui.engine.cache import Cache

_WORKING = frozenset(st for st in OrderStatus if st.is_working)


class OpenIndexCache(Cache):
    """The engine cache plus an index of working orders: a backtest sends tens of thousands of
    orders and the risk gate lists the open ones on every submit (the base class scans them all)."""

    __slots__ = ("_open", "window")

    def __init__(self, window: int = WINDOW) -> None:
        super().__init__()
        self._open: dict[str, Order] = {}
        self.window = window  # finished orders kept (working ones always are): a backtest's memory stays bounded

    def put_order(self, o: Order) -> None:
        cid = o.client_id  # Cache.put_order, then the index (o.is_open == status.is_working), inlined: per event
        self._orders[cid] = o
        if o.venue_order_id:
            self._venue_ids[o.venue_order_id] = cid
        if o.status in _WORKING:
            self._open[cid] = o
        elif self._open:
            self._open.pop(cid, None)
        if len(self._orders) > 2 * self.window:
            trim_cache_orders(self._orders, self._venue_ids, self.window)

    def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        if not open_only:
            return super().orders(symbol=symbol)
        if not self._open:
            return []
        out = [o for o in self._open.values() if symbol is None or o.symbol == symbol]
        if len(out) > 1:
            out.sort(key=lambda o: (o.created_ms, o.client_id))
        return out


class Tap:
    """The engine's event sink (risk gate, strategy runner: counted) and its fill collector.

    Each fill the order manager journals (`fill`, the journal's listener) is kept with the portfolio's
    state right after it (`state()`, called as it is journalled): a price update can fill several
    resting orders, and the engine books them after the whole batch."""

    __slots__ = ("fills", "published", "state")

    def __init__(self, state: Callable[[], Any]) -> None:
        self.fills: deque[tuple[Fill, Any]] = deque()
        self.published = 0
        self.state = state

    def publish(self, event: Event) -> None:
        self.published += 1

    def fill(self, fill: Fill) -> None:
        self.fills.append((fill, self.state()))


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits on I/O (reconciliation against the in-process venue)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the in-process venue unexpectedly waited")


@overload
def col(x: np.ndarray, code: Literal["d"]) -> memoryview[float]: ...
@overload
def col(x: np.ndarray, code: Literal["q"]) -> memoryview[int]: ...
def col(x: np.ndarray, code: str) -> memoryview[Any]:
    """A numpy column as a memoryview: items read back as Python float ("d") / int ("q") at the cost of a
    stdlib array's, with no copy of a contiguous column (most bars are never read). Typed per code: a
    bare memoryview's items type as int, which compiled code (bench/compiled.py) checks and refuses."""
    return memoryview(np.ascontiguousarray(x, dtype=np.float64 if code == "d" else np.int64))  # type: ignore[arg-type]


def label(timeframe: str) -> str:
    """The slot's timeframe (bars built from arrays may carry none: any valid label routes them)."""
    try:
        timeframe_ms(timeframe)
    except CashupError:
        return "1m"
    return timeframe
