"""Ports: the small Protocols the engine talks through. Adapters implement them;
`runtime.py` is the only place that picks concrete classes.

Why lifecycle and health are on the ports: the runtime and the front ends must not guess
an adapter's attributes by name (a guess that never matched hid the private stream's health
row). Every implementation says `start`/`stop`, `connected`, `health` and whether it has a
dead-man switch, even when the answer is "nothing to do" (paper, backtest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from cashup_tui.domain.account import Balance
from cashup_tui.domain.events import Event, FundingSettled
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.margin import MarginAccount, PositionMargin
from cashup_tui.domain.market import Bar, BookSnapshot, Ticker, Trade
from cashup_tui.domain.orders import Fill, Order, OrderEvent
from cashup_tui.domain.positions import Position


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """One venue stream as the status bar shows it ('mkt' market data, 'priv' the private stream)."""

    name: str
    connected: bool
    age_ms: int | None  # since the last inbound frame (None: not known)
    msgs_per_s: float
    reconnects: int


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
class Lifecycle(Protocol):
    """What the runtime drives on an adapter with a connection: started before use, stopped at the end."""

    async def start(self) -> None:
        """Open the connection (and its background task); a no-op where there is none."""

    async def stop(self) -> None:
        """Close what `start` opened; safe to call when never started."""

    @property
    def connected(self) -> bool:
        """True while the stream is up (always True for an in-process venue)."""

    def health(self, now_ms: int) -> StreamHealth | None:
        """The stream's figures for the status bar, or None when there is no stream."""


class InProcess:
    """The lifecycle of a venue that lives in this process (paper, the event backtest, test doubles):
    nothing to connect, always connected, no stream to report, no dead-man switch."""

    has_dead_man = False
    has_bulk_cancel = False
    connected = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def health(self, now_ms: int) -> StreamHealth | None:
        return None

    async def dead_man(self, timeout_s: int) -> int:
        return 0  # nothing to arm: the venue lives and dies with this process

    async def set_leverage(self, symbol: str, leverage: Decimal, *, cross: bool = False) -> None:
        return None  # a venue that keeps no per-symbol leverage (a test double) accepts any

    async def cancel_all(self, symbol: str) -> list[Order]:
        raise NotImplementedError("has_bulk_cancel is False: cancel one by one")

    async def funding_since(self, since_ms: int) -> list[FundingSettled]:
        return []  # its settlements reach the engine in-process: none can be missed


@runtime_checkable
class MarketData(Lifecycle, Protocol):
    async def instruments(self) -> list[Instrument]: ...

    async def subscribe(self, symbols: Sequence[str], channels: Sequence[str]) -> None: ...

    def ticker(self, symbol: str) -> Ticker | None: ...

    def book(self, symbol: str) -> BookSnapshot | None: ...

    def trades(self, symbol: str) -> Sequence[Trade]: ...

    async def bars(self, symbol: str, timeframe: str, *, since_ms: int | None = None, limit: int = 500) -> list[Bar]: ...


@runtime_checkable
class Execution(Lifecycle, Protocol):
    """What the order manager needs from a venue. Every call may raise a domain error;
    a TemporaryError on submit means the outcome is unknown (look up by client id).

    `has_dead_man` says whether the venue cancels every open order when `dead_man(timeout_s)` is not
    refreshed in time (Gate's countdown_cancel_all); paper and backtest venues declare False and their
    `dead_man` does nothing."""

    @property
    def has_dead_man(self) -> bool: ...

    async def dead_man(self, timeout_s: int) -> int:
        """Arm or refresh the venue's countdown (0 disarms); returns what the venue reports."""

    @property
    def has_bulk_cancel(self) -> bool:
        """True when `cancel_all(symbol)` cancels every open order of a contract in one call (Gate's
        per-contract cancel-all); False: cancel one by one."""

    async def cancel_all(self, symbol: str) -> list[Order]: ...

    async def set_leverage(self, symbol: str, leverage: Decimal, *, cross: bool = False) -> None:
        """Isolated margin at `leverage`, or with `cross` cross margin with `leverage` as its limit."""

    async def submit(self, order: Order) -> Order: ...

    async def cancel(self, order: Order) -> Order: ...

    async def amend(self, order: Order, *, price: Decimal | None = None, size: Decimal | None = None) -> Order: ...

    async def fetch_order(self, symbol: str, client_id: str) -> Order | None: ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def fills_since(self, symbol: str | None, since_ms: int) -> list[Fill]: ...

    async def funding_since(self, since_ms: int) -> list[FundingSettled]:
        """The funding settlements the venue booked from `since_ms`, oldest first (reconciliation books
        the ones a dropped stream did not push; each is known by its key, so none is booked twice)."""

    async def positions(self) -> list[Position]: ...

    async def balances(self) -> list[Balance]: ...

    def events(self) -> AsyncIterator[Event]: ...


@runtime_checkable
class MarginReads(Protocol):
    """An Execution that reports the venue's margin (Gate's futures account and position objects). Apart
    from `Execution` so test doubles need not implement it; the service shows nothing when it is missing."""

    async def margin_account(self) -> MarginAccount: ...

    async def position_margins(self) -> list[PositionMargin]: ...


@runtime_checkable
class SyncExecution(Execution, Protocol):
    """An Execution that answers in-process (the simulated venue of paper trading and the event
    backtest): `submit_now` returns the venue's ack at once and `drain_now` what it reported since, so
    the order manager needs no event-loop round trip per order. A venue across a network has neither."""

    def submit_now(self, order: Order) -> Order: ...

    def drain_now(self) -> list[Event]: ...


@runtime_checkable
class Journal(Protocol):
    """What the engine persists (the store's `StoreJournal`, the engine's `MemoryJournal`).

    - `save_order(order, event=...)` writes the order row AND its `OrderEvent` line in one commit (the
      write-ahead rule: the row exists in SUBMITTING before the venue is called); `relaxed=True` (a
      submit's deferred ack only) lets that commit skip its own sync: losing it leaves the claim;
    - `save_fill` / `record_fill` return False when the venue trade id is already stored;
    - `kv_get` / `kv_set` hold small JSON state (trading state, id counter, strategy state)."""

    def save_order(self, order: Order, *, event: OrderEvent | None = None, relaxed: bool = False) -> Order | None:
        """Returns the order as stored (a shared store may keep a newer row), or None: as given."""

    def save_orders(self, items: list[tuple[Order, OrderEvent]]) -> list[Order]:
        """Many rows and journal lines in one commit; the orders as stored (as `save_order`)."""

    def get_order(self, client_id: str) -> Order | None: ...

    def load_orders(self, *, open_only: bool = False, limit: int = 1000) -> list[Order]:
        """Every open order plus the `limit` most recent ones, oldest first (`open_only`: only open)."""

    def events(self, client_id: str | None = None) -> list[tuple[str, OrderEvent]]: ...

    def save_fill(self, fill: Fill) -> bool: ...

    def has_fill(self, trade_id: str) -> bool: ...

    def record_fill(self, fill: Fill, *, order: Order | None, event: OrderEvent | None, position: Position,
                    balance: Balance) -> bool: ...

    def load_fills(self, since_ms: int | None = None) -> list[Fill]:
        """Stored fills in time order (`since_ms`: only those at or after it)."""
        ...

    def strategy_fills(self, strategy: str, symbol: str) -> list[Fill]:
        """The fills of the orders of `strategy` on `symbol`, all of them, in time order (ts, trade id)."""
        ...

    def fills_after(self, cursor: int, limit: int | None = None) -> tuple[list[Fill], int]:
        """The fills stored after `cursor` (0: from the first; at most `limit`), in the order stored (not
        time order: a reconciled fill can be older than one stored before it), and the cursor after them."""
        ...

    def order_strategies(self, client_ids: Iterable[str]) -> dict[str, str]:
        """The strategy of each of these orders that has one, whatever the order's age."""
        ...

    def last_fill_ms(self) -> int | None:
        """The newest stored fill's time (None: no fill), without reading the fills."""
        ...

    def save_positions(self, positions: list[Position], *, state: tuple[str, Any] | None = None) -> None:
        """Store the positions; `state` (key, value): a `kv_set` in the same commit (what a funding
        settlement changes: the position's funding and the ledger's record of it, both or neither)."""
        ...

    def load_positions(self) -> list[Position]: ...

    def save_balances(self, balances: list[Balance]) -> None: ...

    def load_balances(self) -> list[Balance]: ...

    def record_risk_event(self, ts_ms: int, kind: str, rule: str, message: str, numbers: dict[str, Any]) -> None: ...

    def audit(self, ts_ms: int, actor: str, action: str, detail: str) -> None: ...

    def kv_get(self, key: str) -> Any | None: ...

    def kv_set(self, key: str, value: Any) -> None: ...
