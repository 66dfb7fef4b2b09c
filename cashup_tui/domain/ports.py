"""Ports: the small Protocols the engine talks through. Adapters implement them;
`runtime.py` is the only place that picks concrete classes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from cashup_tui.domain.account import Balance
from cashup_tui.domain.events import Event
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, BookSnapshot, Ticker, Trade
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.positions import Position


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int: ...


@runtime_checkable
class EventSink(Protocol):
    def publish(self, event: Event) -> None: ...


@runtime_checkable
class Notifier(Protocol):
    async def notify(self, title: str, body: str, *, severity: str = "info", tags: Sequence[str] = ()) -> bool: ...


@runtime_checkable
class MarketData(Protocol):
    async def instruments(self) -> list[Instrument]: ...

    async def subscribe(self, symbols: Sequence[str], channels: Sequence[str]) -> None: ...

    def ticker(self, symbol: str) -> Ticker | None: ...

    def book(self, symbol: str) -> BookSnapshot | None: ...

    def trades(self, symbol: str) -> Sequence[Trade]: ...

    async def bars(self, symbol: str, timeframe: str, *, since_ms: int | None = None, limit: int = 500) -> list[Bar]: ...


@runtime_checkable
class Execution(Protocol):
    """What the order manager needs from a venue. Every call may raise a domain error;
    a TemporaryError on submit means the outcome is unknown (look up by client id)."""

    async def submit(self, order: Order) -> Order: ...

    async def cancel(self, order: Order) -> Order: ...

    async def amend(self, order: Order, *, price: Decimal | None = None, size: Decimal | None = None) -> Order: ...

    async def fetch_order(self, symbol: str, client_id: str) -> Order | None: ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def fills_since(self, symbol: str | None, since_ms: int) -> list[Fill]: ...

    async def positions(self) -> list[Position]: ...

    async def balances(self) -> list[Balance]: ...

    def events(self) -> AsyncIterator[Event]: ...
