"""Test helpers for the engine tests: an in-memory Execution and a wired-up engine.

`FakeExecution` behaves like a venue for the order manager: it keeps orders by client
id, fills marketable orders against a fixed price, and can be told to time out on
submit with the order placed or not placed (the two cases of reliability.md §7).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from msgspec import structs

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import Liquidity, OrderStatus, OrderType, Side
from cashup_tui.domain.errors import OrderNotFound, OrderRejected, TemporaryError
from cashup_tui.domain.events import Event
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import BookLevel, BookSnapshot
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.ports import InProcess
from cashup_tui.domain.positions import Position
from cashup_tui.engine.bus import EventBus
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.clock import TestClock
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.engine.order_manager import OrderManager
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.engine.risk import RiskEngine, RiskLimits
from tests.stubs import btc_usdt, eth_usdt

D = Decimal
BTC = btc_usdt(max_size=D(100_000))
ETH = eth_usdt(max_size=D(100_000))
INSTRUMENTS = {"BTC_USDT": BTC, "ETH_USDT": ETH}


@dataclass
class FakeExecution(InProcess):
    """An in-memory venue. `price` is where marketable orders fill."""

    instruments: dict[str, Instrument]
    price: dict[str, Decimal] = field(default_factory=lambda: {"BTC_USDT": D(50000), "ETH_USDT": D(3000)})
    cash: Decimal = D(100_000)
    orders: dict[str, Order] = field(default_factory=dict)
    trades: list[Fill] = field(default_factory=list)
    submit_calls: list[str] = field(default_factory=list)
    fail_next_submit: str = ""  # "" | timeout_placed | timeout_not_placed | reject | 5xx_placed
    fetch_fail: int = 0  # how many fetch_order calls raise TemporaryError first
    fill_on_submit: bool = True
    _next_id: int = 1000
    _next_trade: int = 1
    queue: asyncio.Queue[Event] | None = None
    pos: dict[str, Position] = field(default_factory=dict)

    def _vid(self) -> VenueOrderId:
        self._next_id += 1
        return VenueOrderId(str(self._next_id))

    def _fill(self, o: Order, size: Decimal, price: Decimal) -> Order:
        inst = self.instruments[o.symbol]
        fee = inst.notional(size, price) * D("0.0005")
        f = Fill(f"T{self._next_trade}", o.client_id, o.symbol, o.side, size, price, fee,
                 ts_ms=1_700_000_000_000 + self._next_trade, venue_order_id=o.venue_order_id,
                 liquidity=Liquidity.TAKER)
        self._next_trade += 1
        self.trades.append(f)
        p = self.pos.setdefault(o.symbol, Position(o.symbol, inst.quanto_multiplier))
        realized = p.apply_fill(f)
        self.cash += realized - fee
        filled = o.filled + size
        status = OrderStatus.FILLED if filled == o.size else o.status
        return structs.replace(o, filled=filled, avg_fill_price=price, status=status)

    def place(self, order: Order) -> Order:
        o = structs.replace(order, venue_order_id=self._vid(), status=OrderStatus.OPEN, filled=D(0), trade_ids=frozenset())
        px = self.price[o.symbol]
        marketable = o.order_type is OrderType.MARKET or (
            o.price is not None and ((o.side is Side.BUY and o.price >= px) or (o.side is Side.SELL and o.price <= px)))
        if marketable and self.fill_on_submit:
            o = self._fill(o, o.size, px)
        elif o.order_type is OrderType.MARKET:
            o = structs.replace(o, status=OrderStatus.CANCELLED)
        self.orders[o.client_id] = o
        return o

    async def submit(self, order: Order) -> Order:
        self.submit_calls.append(order.client_id)
        mode, self.fail_next_submit = self.fail_next_submit, ""
        if mode == "reject":
            raise OrderRejected("INVALID_PARAM_VALUE: rejected by fake venue")
        if mode == "timeout_not_placed":
            raise TimeoutError()
        placed = self.place(order)
        if mode == "timeout_placed":
            raise TimeoutError()
        if mode == "5xx_placed":
            raise TemporaryError("HTTP 502 from fake venue")
        return placed

    async def cancel(self, order: Order) -> Order:
        o = self.orders.get(order.client_id)
        if o is None or o.status.is_terminal:
            raise OrderNotFound(f"ORDER_NOT_FOUND {order.client_id}")
        o = structs.replace(o, status=OrderStatus.CANCELLED)
        self.orders[o.client_id] = o
        return o

    async def amend(self, order: Order, *, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        o = self.orders[order.client_id]
        o = structs.replace(o, price=price if price is not None else o.price, size=size if size is not None else o.size)
        self.orders[o.client_id] = o
        return o

    async def fetch_order(self, symbol: str, client_id: str) -> Order | None:
        if self.fetch_fail > 0:
            self.fetch_fail -= 1
            raise TemporaryError("lookup timed out")
        return self.orders.get(client_id)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.status.is_working and (symbol is None or o.symbol == symbol)]

    async def fills_since(self, symbol: str | None, since_ms: int) -> list[Fill]:
        return [f for f in self.trades if f.ts_ms >= since_ms and (symbol is None or f.symbol == symbol)]

    async def positions(self) -> list[Position]:
        return [replace(p) for p in self.pos.values()]

    async def balances(self) -> list[Balance]:
        return [Balance("USDT", self.cash, self.cash)]

    async def events(self) -> AsyncIterator[Event]:
        if self.queue is None:
            self.queue = asyncio.Queue()
        while True:
            yield await self.queue.get()

    # -- venue-side actions for tests --------------------------------------------------
    def fill_resting(self, client_id: str, size: Decimal | None = None, price: Decimal | None = None) -> Fill:
        o = self.orders[client_id]
        o = self._fill(o, size or o.remaining, price or o.price or self.price[o.symbol])
        self.orders[client_id] = o
        return self.trades[-1]


@dataclass
class Engine:
    clock: TestClock
    journal: MemoryJournal
    cache: Cache
    portfolio: Portfolio
    risk: RiskEngine
    om: OrderManager
    venue: FakeExecution
    bus: EventBus


def make_engine(journal: MemoryJournal | None = None, venue: FakeExecution | None = None, *,
                limits: RiskLimits | None = None, cash: Decimal = D(100_000), clock: TestClock | None = None,
                session: str = "s1", emulate_triggers: bool = True, reconciled: bool = True) -> Engine:
    clock = clock or TestClock()
    journal = journal if journal is not None else MemoryJournal()
    cache = Cache()
    bus = EventBus()
    pf = Portfolio.with_cash(INSTRUMENTS, cash)
    limits = limits or RiskLimits(duplicate_window_ms=0)
    risk = RiskEngine(limits, INSTRUMENTS, pf, cache, clock, journal, bus)
    risk.load()
    venue = venue or FakeExecution(INSTRUMENTS, cash=cash)
    om = OrderManager(venue, journal, risk, pf, cache, clock, bus, session=session, emulate_triggers=emulate_triggers,
                      submit_timeout_s=0.5, lookup_attempts=2, lookup_delay_s=0.0)
    om.load()
    if reconciled:  # most tests start from a reconciled engine; reconciliation has its own tests
        risk.reconciling = False
        om.ready = True
    feed(cache, pf, clock, getattr(venue, "price", {"BTC_USDT": D(50000), "ETH_USDT": D(3000)}))
    return Engine(clock, journal, cache, pf, risk, om, venue, bus)


def feed(cache: Cache, pf: Portfolio, clock: TestClock, prices: dict[str, Decimal]) -> None:
    """Fresh marks and a one-level book per symbol, timestamped now."""
    for sym, px in prices.items():
        inst = INSTRUMENTS[sym]
        cache.update_book(BookSnapshot(sym, clock.now_ms(), 1, (BookLevel(px - inst.price_tick, D(100)),),
                                       (BookLevel(px + inst.price_tick, D(100)),)))
        cache.set_mark(sym, px, clock.now_ms())
        pf.set_mark(sym, px)


def order(symbol: str = "BTC_USDT", side: Side = Side.BUY, size: str = "10", price: str | None = "50000",
          otype: OrderType = OrderType.LIMIT, cid: str = "t-x1", **kw: object) -> Order:
    return Order(ClientOrderId(cid), symbol, side, D(size), otype, D(price) if price is not None else None, **kw)  # type: ignore[arg-type]


def insert_fills(path: Any, fills: list[Fill], mode: str) -> None:
    """Fill rows written straight into a SQLite store's file in one transaction (a long history in seconds,
    as a live account's journal holds it); the store's schema must exist."""
    import sqlite3

    from cashup_tui.store import mappers

    rows = [mappers.fill_to_row(f, mode) for f in fills]
    cols = list(rows[0])
    con = sqlite3.connect(path)
    con.executemany(f"insert into fills ({','.join(cols)}) values ({','.join('?' * len(cols))})",
                    [tuple(str(v) if isinstance(v, Decimal) else v for v in r.values()) for r in rows])
    con.commit()
    con.close()
