"""The engine's read model: latest tickers, books, orders, positions and balances.

Why: the UI and the risk gate read current state on a timer or per check without
touching adapters or the database. Writers are the engine components (feeds, order
manager, portfolio); readers get plain values. Also tracks when each feed last ticked
so the stale-data gate can ask `age_ms(symbol)`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from decimal import Decimal

from cashup_tui.domain.account import Balance
from cashup_tui.domain.market import BookSnapshot, Ticker
from cashup_tui.domain.orders import Order
from cashup_tui.domain.positions import Position


class Cache:
    __slots__ = ("_balances", "_books", "_last_update_ms", "_marks", "_open", "_orders", "_positions", "_tickers", "_venue_ids")

    def __init__(self) -> None:
        self._tickers: dict[str, Ticker] = {}
        self._books: dict[str, BookSnapshot] = {}
        self._marks: dict[str, Decimal] = {}
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}  # the open ones: the risk gate reads them on every submit
        self._venue_ids: dict[str, str] = {}
        self._positions: dict[str, Position] = {}
        self._balances: dict[str, Balance] = {}
        self._last_update_ms: dict[str, int] = {}

    # -- market data --------------------------------------------------------------
    def update_ticker(self, t: Ticker) -> None:
        self._tickers[t.symbol] = t
        mark = t.mark_price or t.last
        if mark and 0 < mark < math.inf:  # (NaN fails both comparisons: a non-finite mark never lands)
            self._marks[t.symbol] = Decimal(repr(mark))
        self._touch(t.symbol, t.ts_ms)

    def update_book(self, b: BookSnapshot) -> None:
        self._books[b.symbol] = b
        if b.symbol not in self._marks and b.mid is not None:
            self._marks[b.symbol] = b.mid
        self._touch(b.symbol, b.ts_ms)

    def set_mark(self, symbol: str, mark: Decimal, ts_ms: int) -> None:
        self._marks[symbol] = mark
        self._touch(symbol, ts_ms)

    def _touch(self, symbol: str, ts_ms: int) -> None:
        if ts_ms > self._last_update_ms.get(symbol, -1):
            self._last_update_ms[symbol] = ts_ms

    def ticker(self, symbol: str) -> Ticker | None:
        return self._tickers.get(symbol)

    def book(self, symbol: str) -> BookSnapshot | None:
        return self._books.get(symbol)

    def mark(self, symbol: str) -> Decimal | None:
        return self._marks.get(symbol)

    def marks(self) -> dict[str, Decimal]:
        return dict(self._marks)

    def last_update_ms(self, symbol: str) -> int | None:
        return self._last_update_ms.get(symbol)

    def age_ms(self, symbol: str, now_ms: int) -> int | None:
        """Milliseconds since the last market update for `symbol`, None if never."""
        last = self._last_update_ms.get(symbol)
        if last is None:
            return None
        return now_ms - last if now_ms > last else 0

    def tickers(self) -> list[Ticker]:
        return list(self._tickers.values())

    # -- orders -------------------------------------------------------------------
    def put_order(self, o: Order) -> None:
        self._orders[o.client_id] = o
        if o.is_open:
            self._open[o.client_id] = o
        else:
            self._open.pop(o.client_id, None)
        if o.venue_order_id:
            self._venue_ids[o.venue_order_id] = o.client_id

    def order(self, client_id: str) -> Order | None:
        return self._orders.get(client_id)

    def order_by_venue_id(self, venue_id: str) -> Order | None:
        cid = self._venue_ids.get(venue_id)
        return self._orders.get(cid) if cid else None

    def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        out = [o for o in (self._open if open_only else self._orders).values() if symbol is None or o.symbol == symbol]
        return sorted(out, key=lambda o: (o.created_ms, o.client_id))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self.orders(open_only=True, symbol=symbol)

    def open_unsorted(self) -> Collection[Order]:
        """Every open order in no set order, without a copy or a sort: for counts and sums (the risk gate
        reads them on every submit). A live view: do not put orders while iterating it."""
        return self._open.values()

    # -- positions and balances ------------------------------------------------------
    def put_position(self, p: Position) -> None:
        self._positions[p.symbol] = p

    def position(self, symbol: str) -> Position | None:
        return self._positions.get(symbol)

    def positions(self, *, include_flat: bool = False) -> list[Position]:
        return [p for p in self._positions.values() if include_flat or not p.is_flat]

    def put_balance(self, b: Balance) -> None:
        self._balances[b.currency] = b

    def balance(self, currency: str = "USDT") -> Balance | None:
        return self._balances.get(currency)

    def balances(self) -> list[Balance]:
        return list(self._balances.values())
