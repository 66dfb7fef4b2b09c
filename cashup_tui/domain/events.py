"""Domain events, named in the past tense. Carried on the engine bus and journalled.

Frozen msgspec Structs, like the orders and fills they carry: immutable values, built in C (a backtest
makes one or more per order); they hold no containers that could form a cycle, so `gc=False`."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from cashup_tui.domain.enums import TradingState
from cashup_tui.domain.orders import Fill, Order


class Event(msgspec.Struct, frozen=True, gc=False):
    ts_ms: int


class OrderUpdated(Event, frozen=True, gc=False):
    order: Order
    event: str  # the OrderEventKind value that produced this state


class OrderFilled(Event, frozen=True, gc=False):
    fill: Fill


class OrderDenied(Event, frozen=True, gc=False):
    client_id: str
    rule: str
    message: str


class PositionChanged(Event, frozen=True, gc=False):
    symbol: str
    size: Decimal
    entry_price: Decimal
    realized_pnl: Decimal


class RiskTripped(Event, frozen=True, gc=False):
    rule: str
    message: str
    state: TradingState


class TradingStateChanged(Event, frozen=True, gc=False):
    old: TradingState
    new: TradingState
    reason: str


class FeedConnected(Event, frozen=True, gc=False):
    stream: str


class FeedDisconnected(Event, frozen=True, gc=False):
    stream: str
    reason: str


class FeedStale(Event, frozen=True, gc=False):
    stream: str
    age_ms: int


class BookResynced(Event, frozen=True, gc=False):
    symbol: str
    reason: str


class VenueErrorReceived(Event, frozen=True, gc=False):
    """An error frame or REST error that did not kill anything; shown and journalled."""

    source: str
    code: int | str
    message: str


class StrategyFailed(Event, frozen=True, gc=False):
    strategy: str
    where: str  # file:line
    message: str


class FundingSettled(Event, frozen=True, gc=False):
    """A funding settlement the venue booked on a position: `amount` USDT received (> 0) or paid (< 0).
    `key` identifies it at the venue (contract and settlement time), so it is applied once."""

    symbol: str
    amount: Decimal
    key: str

    @staticmethod
    def key_of(symbol: str, ts_ms: int) -> str:
        """One settlement per contract and second (the venue settles a contract's position at once; its
        push and its account book may differ in the milliseconds)."""
        return f"{symbol}@{ts_ms // 1000}"


class ReconciliationDone(Event, frozen=True, gc=False):
    changes: tuple[str, ...]


class FrameRejected(Event, frozen=True, gc=False):
    """A venue frame that could not be parsed: counted and dropped, never fatal to the feed."""

    source: str  # channel (or "" if even the envelope was unreadable)
    reason: str
    sample: str  # the first bytes of the frame, for the log
