"""`domain.ports.Execution` over an in-process `Venue`: paper trading (and fast demo).

Why: paper trading fills locally with the SAME matching/fee/margin model the simulator
server and the event backtest use. The runtime feeds the venue the live book and marks
(`update_book` / `update_mark`) and calls `pump()` after each update; `pump()` drains the
venue's private events into this object's event stream (what Gate's private WS pushes).
Venue errors become domain errors: ORDER_NOT_FOUND -> OrderNotFound, every other label
-> OrderRejected (the venue proved non-acceptance). No I/O, so no TemporaryError here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from typing import ClassVar

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import LIQUIDITY, ORDER_TYPE, SIDE, TIF, TimeInForce
from cashup_tui.domain.errors import OrderNotFound, OrderRejected, ValidationError
from cashup_tui.domain.events import Event, FundingSettled, OrderFilled, OrderUpdated
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.margin import MarginAccount, MarginMode, PositionMargin
from cashup_tui.domain.order_status import order_status
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.ports import InProcess
from cashup_tui.domain.positions import Position
from cashup_tui.venue import Venue, VenueError
from cashup_tui.venue.models import BalanceChange, VenueAccount, VenueOrder, VenuePosition, VenueTrade

ZERO = Decimal(0)
_TIFS = {t.value: t for t in TimeInForce}  # a dict lookup: this runs for every order event of a backtest


def order_from_venue(o: VenueOrder) -> Order:
    size = abs(o.size)
    is_market = o.price == ZERO
    status = order_status(o.status == "open", o.finish_as, o.filled, size)
    tif = _TIFS.get(o.tif, TIF.GTC)
    create_ms = o.create_ms
    # positional, in Order's field order, and the ids as the plain str they are at run time (a NewType
    # call costs a frame): this runs for every order event of a backtest
    return Order(
        o.text if o.text.startswith("t-") else f"venue-{o.id}",  # type: ignore[arg-type]  # client_id
        o.contract,  # symbol
        SIDE.BUY if o.size > ZERO else SIDE.SELL,  # side
        size,
        ORDER_TYPE.MARKET if is_market else ORDER_TYPE.LIMIT,  # order_type
        None if is_market else o.price,  # price
        tif,
        o.is_reduce_only,  # reduce_only
        None,  # trigger_price
        status,
        o.filled,  # filled
        o.fill_price,  # avg_fill_price
        ZERO,  # fees
        str(o.id),  # type: ignore[arg-type]  # venue_order_id
        create_ms,  # created_ms
        max(o.update_ms, o.finish_ms, create_ms),  # updated_ms
        "",  # strategy
        "" if o.status == "open" else o.finish_as,  # reason
        frozenset(),  # trade_ids
    )


def _state_key(o: VenueOrder) -> tuple:
    """Everything `order_from_venue` reads that can change: equal keys give equal Orders."""
    return (o.id, o.update_id, o.status, o.finish_as, o.filled, o.fill_value, o.size, o.price, o.update_ms,
            o.finish_ms, o.text)


def fill_from_venue(t: VenueTrade) -> Fill:
    f = t.fill  # the venue's own Fill of this execution: equal to the one built below when text is ours
    if f is not None and t.text.startswith("t-") and f.trade_id == str(t.id):
        return f
    return Fill(
        trade_id=str(t.id),
        client_id=ClientOrderId(t.text if t.text.startswith("t-") else ""),
        symbol=t.contract,
        side=SIDE.BUY if t.size > ZERO else SIDE.SELL,
        size=abs(t.size),
        price=t.price,
        fee=t.fee,
        ts_ms=t.create_ms,
        venue_order_id=VenueOrderId(str(t.order_id)),
        liquidity=LIQUIDITY.MAKER if t.role == "maker" else LIQUIDITY.TAKER,
    )


def position_from_venue(p: VenuePosition, qm: Decimal) -> Position:
    return Position(p.contract, qm, size=p.size, entry_price=p.entry_price if p.size else ZERO,
                    realized_pnl=p.pnl_pnl, leverage=p.leverage, updated_ms=p.update_ms)


def balance_from_venue(a: VenueAccount, ts_ms: int = 0) -> Balance:
    return Balance(a.currency, a.total, a.available, ts_ms)


def _translate(exc: VenueError, action: str) -> Exception:
    if exc.label in ("ORDER_NOT_FOUND",):
        return OrderNotFound(f"{action}: {exc.label}: {exc.message}")
    return OrderRejected(f"{action}: {exc.label}: {exc.message}", hint=exc.hint or "the venue refused it; nothing was placed")


class VenueExecution(InProcess):
    """Implements `domain.ports.Execution` on a local `Venue` (paper trading)."""

    DRAINED: ClassVar[tuple[str, ...]] = ("order", "usertrade")  # the venue event kinds this port turns into domain events

    def __init__(self, venue: Venue, instruments: Mapping[str, Instrument],
                 clock: Callable[[], int] | None = None, *, ignore_text_prefix: str = "") -> None:
        self.venue = venue
        self.ignore = ignore_text_prefix  # seeding trades (paper restart) are not ours to journal
        self.instruments = instruments
        self._clock = clock
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._ack: tuple[tuple, Order] | None = None  # the last ack converted (its order event reuses it)

    @classmethod
    def with_venue(cls, instruments: Mapping[str, Instrument], clock: Callable[[], int] | None = None,
                   **venue_kw: object) -> VenueExecution:
        """A fresh `Venue` (keyword arguments as `Venue`) behind this port: what the CLI hands to the
        event backtest, whose engine layer cannot import adapters itself. `record_events=True` records
        the kinds this port reads (`DRAINED`): the venue is private to it, and nobody else could drain it."""
        if venue_kw.get("record_events", True) is True:
            venue_kw["record_events"] = cls.DRAINED
        return cls(Venue(instruments, clock=clock, **venue_kw), instruments, clock)  # type: ignore[arg-type]

    def _now(self) -> int | None:
        return self._clock() if self._clock is not None else None

    async def submit(self, order: Order) -> Order:
        out = self.submit_now(order)
        self.pump()
        return out

    def submit_now(self, order: Order) -> Order:
        """Synchronous submit (the venue is in-process and answers at once). The private events it
        produced stay in the venue until `pump()` (async users) or `drain_now()` (the order
        manager's synchronous path, `OrderManager.submit_now`) takes them."""
        if order.order_type not in (ORDER_TYPE.MARKET, ORDER_TYPE.LIMIT):
            raise ValidationError(f"{order.order_type.value} orders are emulated by the order manager in paper mode")
        signed = order.size if order.side is SIDE.BUY else -order.size  # == size * side.sign
        price = ZERO if order.order_type is ORDER_TYPE.MARKET else (order.price or ZERO)
        try:
            o = self.venue.place(order.symbol, signed, price, tif=order.tif._value_, reduce_only=order.reduce_only,
                                 text=order.client_id, ts_ms=self._now())
        except VenueError as exc:
            raise _translate(exc, f"place {order.client_id}") from None
        ack = order_from_venue(o)
        self._ack = (_state_key(o), ack)
        return ack

    async def cancel(self, order: Order) -> Order:
        out = self.cancel_now(order)
        self.pump()
        return out

    def cancel_now(self, order: Order) -> Order:
        """Synchronous cancel (see `submit_now`)."""
        try:
            o = self.venue.cancel(int(order.venue_order_id) if order.venue_order_id else order.client_id,
                                  ts_ms=self._now())
        except VenueError as exc:
            raise _translate(exc, f"cancel {order.client_id}") from None
        return order_from_venue(o)

    async def amend(self, order: Order, *, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        try:
            o = self.venue.amend(int(order.venue_order_id) if order.venue_order_id else order.client_id,
                                 price=price, size=None if size is None else size * order.side.sign, ts_ms=self._now())
        except VenueError as exc:
            raise _translate(exc, f"amend {order.client_id}") from None
        self.pump()
        return order_from_venue(o)

    async def fetch_order(self, symbol: str, client_id: str) -> Order | None:
        try:
            return order_from_venue(self.venue.get_order(client_id))
        except VenueError as exc:
            if exc.label == "ORDER_NOT_FOUND":
                return None
            raise _translate(exc, f"fetch {client_id}") from None

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [order_from_venue(o) for o in self.venue.list_orders(symbol, "open", limit=10_000)]

    async def fills_since(self, symbol: str | None, since_ms: int) -> list[Fill]:
        return [fill_from_venue(t) for t in self.venue.my_trades(symbol, limit=100_000)
                if t.create_ms >= since_ms and not self._ignored(t.text)]

    def _ignored(self, text: str) -> bool:
        return bool(self.ignore) and text.startswith(self.ignore)

    async def positions(self) -> list[Position]:
        return [position_from_venue(p, self.instruments[p.contract].quanto_multiplier)
                for p in self.venue.positions() if p.contract in self.instruments]

    async def balances(self) -> list[Balance]:
        return [balance_from_venue(self.venue.account(), self.venue.now_ms)]

    async def set_leverage(self, symbol: str, leverage: Decimal, *, cross: bool = False) -> None:
        try:
            if cross:
                self.venue.set_leverage(symbol, 0, ts_ms=self._now(), cross_leverage_limit=leverage)
            else:
                self.venue.set_leverage(symbol, leverage, ts_ms=self._now())
        except VenueError as exc:
            raise _translate(exc, f"set leverage {symbol}") from None

    async def margin_account(self) -> MarginAccount:
        a = self.venue.account()
        return MarginAccount(a.currency, a.total, a.available, a.position_margin, a.order_margin,
                             a.maintenance_margin, a.unrealised_pnl, self.venue.now_ms)

    async def position_margins(self) -> list[PositionMargin]:
        return [PositionMargin(p.contract, MarginMode.CROSS if p.cross else MarginMode.ISOLATED, p.leverage,
                               p.margin, p.maintenance_margin, p.liq_price or None)
                for p in self.venue.positions() if p.contract in self.instruments]

    def pump(self) -> int:
        """Move the venue's private events (orders, user trades) onto the event stream."""
        events = self.drain_now()
        for ev in events:
            self._queue.put_nowait(ev)
        return len(events)

    def drain_now(self) -> list[Event]:
        """The venue's private events as domain events, in venue order (a fill comes before the
        order update that reports it), returned instead of queued: the synchronous path."""
        out: list[Event] = []
        for ev in self.venue.drain_events():
            kind = ev.kind
            if kind == "balance" and isinstance(ev.data, BalanceChange) and ev.data.type == "fund":
                sym = ev.data.text  # the venue's fund change names its contract
                out.append(FundingSettled(ev.ts_ms, sym, ev.data.change, FundingSettled.key_of(sym, ev.ts_ms)))
                continue
            if kind != "order" and kind != "usertrade":  # positions, other balances: the engine derives its own
                continue
            if self.ignore and self._ignored(getattr(ev.data, "text", "") or ""):
                continue
            if kind == "order" and isinstance(ev.data, VenueOrder):
                ack = self._ack  # the ack just returned is usually this very state: reuse it (Orders are immutable)
                order = ack[1] if ack is not None and ack[0] == _state_key(ev.data) else order_from_venue(ev.data)
                out.append(OrderUpdated(ev.ts_ms, order, "venue"))
            elif kind == "usertrade" and isinstance(ev.data, VenueTrade):
                out.append(OrderFilled(ev.ts_ms, fill_from_venue(ev.data)))
        return out

    def events(self) -> AsyncIterator[Event]:
        return _QueueStream(self._queue)


class _QueueStream:
    """The port's endless event stream over the queue (a class, not an async generator: mypyc
    compiles no async generators, and this module is one that bench/compiled.py compiles)."""

    def __init__(self, queue: asyncio.Queue[Event]) -> None:
        self.queue = queue

    def __aiter__(self) -> _QueueStream:
        return self

    async def __anext__(self) -> Event:
        return await self.queue.get()
