"""Domain events, named in the past tense. Carried on the engine bus and journalled."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cashup_tui.domain.enums import TradingState
from cashup_tui.domain.orders import Fill, Order, fast_frozen_init


@dataclass(frozen=True, slots=True)
class Event:
    ts_ms: int


@fast_frozen_init  # one or more per order of a backtest
@dataclass(frozen=True, slots=True)
class OrderUpdated(Event):
    order: Order
    event: str  # the OrderEventKind value that produced this state


@fast_frozen_init
@dataclass(frozen=True, slots=True)
class OrderFilled(Event):
    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderDenied(Event):
    client_id: str
    rule: str
    message: str


@fast_frozen_init
@dataclass(frozen=True, slots=True)
class PositionChanged(Event):
    symbol: str
    size: Decimal
    entry_price: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class RiskTripped(Event):
    rule: str
    message: str
    state: TradingState


@dataclass(frozen=True, slots=True)
class TradingStateChanged(Event):
    old: TradingState
    new: TradingState
    reason: str


@dataclass(frozen=True, slots=True)
class FeedConnected(Event):
    stream: str


@dataclass(frozen=True, slots=True)
class FeedDisconnected(Event):
    stream: str
    reason: str


@dataclass(frozen=True, slots=True)
class FeedStale(Event):
    stream: str
    age_ms: int


@dataclass(frozen=True, slots=True)
class BookResynced(Event):
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class VenueErrorReceived(Event):
    """An error frame or REST error that did not kill anything; shown and journalled."""

    source: str
    code: int | str
    message: str


@dataclass(frozen=True, slots=True)
class StrategyFailed(Event):
    strategy: str
    where: str  # file:line
    message: str


@dataclass(frozen=True, slots=True)
class ReconciliationDone(Event):
    changes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FrameRejected(Event):
    """A venue frame that could not be parsed: counted and dropped, never fatal to the feed."""

    source: str  # channel (or "" if even the envelope was unreadable)
    reason: str
    sample: str  # the first bytes of the frame, for the log
