"""Round trips (closed positions) from fills: flat -> open -> flat again, per contract.

A fill that flips the position closes the trip with its closing part and opens the next with the
rest; its fee is split between the two in proportion. Entry and exit are size-weighted averages of the
trip's opening and closing fills; realised PnL is the domain `Position`'s (the venue's rule), so the
trips of a contract add up to its realised PnL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from cashup_tui.domain.orders import Fill
from cashup_tui.domain.positions import Position

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RoundTrip:
    symbol: str
    side: str  # "long" | "short"
    size: Decimal  # the largest absolute size held, contracts
    entry_price: Decimal
    exit_price: Decimal | None  # None while open
    open_ms: int
    close_ms: int | None  # None while open
    realised_pnl: Decimal  # gross price PnL of the closed size
    fees: Decimal
    fills: int

    @property
    def net_pnl(self) -> Decimal:
        return self.realised_pnl - self.fees

    @property
    def duration_ms(self) -> int | None:
        return None if self.close_ms is None else self.close_ms - self.open_ms


@dataclass(slots=True)
class _Open:
    sign: int
    open_ms: int
    size: Decimal = ZERO  # signed, current
    peak: Decimal = ZERO
    in_qty: Decimal = ZERO
    in_value: Decimal = ZERO
    out_qty: Decimal = ZERO
    out_value: Decimal = ZERO
    realised: Decimal = ZERO
    fees: Decimal = ZERO
    fills: int = 0

    def trip(self, symbol: str, close_ms: int | None) -> RoundTrip:
        return RoundTrip(symbol, "long" if self.sign > 0 else "short", self.peak, self.in_value / self.in_qty,
                         self.out_value / self.out_qty if self.out_qty else None, self.open_ms, close_ms,
                         self.realised, self.fees, self.fills)


class TripBook:
    """The replay state of fills in time order: per contract its `Position` (realised PnL per fill) and the
    trip open on it. `round_trips` runs it once over a list; the Fills pane keeps one and feeds it the
    fills stored since its last read (the caller keeps the time order)."""

    __slots__ = ("books", "current", "multipliers")

    def __init__(self, multipliers: Mapping[str, Decimal]) -> None:
        self.multipliers = multipliers
        self.books: dict[str, Position] = {}
        self.current: dict[str, _Open] = {}

    def apply(self, f: Fill) -> tuple[Decimal, RoundTrip | None]:
        """Book one fill: (the realised price PnL it produced, the trip it closed or None)."""
        book = self.books.get(f.symbol)
        if book is None:
            book = self.books[f.symbol] = Position(f.symbol, self.multipliers.get(f.symbol, Decimal(1)))
        realised = book.apply_fill(f)
        sign = f.side.sign
        qty, t = f.size, self.current.get(f.symbol)
        closed = None
        if t is not None and t.sign != sign:  # closing (some or all)
            closing = min(qty, abs(t.size))
            close_fee = f.fee * closing / qty
            t.out_qty += closing
            t.out_value += closing * f.price
            t.realised += realised
            t.fees += close_fee
            t.fills += 1
            t.size += closing * sign
            qty -= closing
            if t.size == 0:
                closed = t.trip(f.symbol, f.ts_ms)
                del self.current[f.symbol]
                t = None
            if qty == 0:
                return realised, closed
            fee = f.fee - close_fee
        else:
            fee = f.fee
        if t is None:
            t = self.current[f.symbol] = _Open(sign, f.ts_ms)
        t.size += qty * sign
        t.peak = max(t.peak, abs(t.size))
        t.in_qty += qty
        t.in_value += qty * f.price
        t.fees += fee
        t.fills += 1
        return realised, closed

    def open_trips(self) -> list[RoundTrip]:
        return [t.trip(s, None) for s, t in self.current.items()]


def fill_key(f: Fill) -> tuple[int, str]:
    """The replay order of fills: time, then venue trade id."""
    return f.ts_ms, f.trade_id


def round_trips(fills: Iterable[Fill], multipliers: Mapping[str, Decimal]) -> tuple[list[RoundTrip], list[RoundTrip]]:
    """(closed trips in close order, trips still open) from fills of any order; multipliers per contract."""
    book = TripBook(multipliers)
    closed = [t for f in sorted(fills, key=fill_key) if (t := book.apply(f)[1]) is not None]
    return closed, book.open_trips()
