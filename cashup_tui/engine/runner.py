"""Strategy runner: live/paper/demo strategies on closed bars and ticks.

Why: one strategy class runs unchanged in backtests and live; here its hooks get a
`LiveContext` whose orders go through the risk gate and the order manager. Each slot
has its own risk budget (`StrategyBudget`), its own position (from its own fills) and a
lifecycle (running / paused / stopped / failed) persisted in the journal. A hook that
raises halts that slot only, publishes `StrategyFailed` with file:line, and the other
slots carry on, and the failed slot's resting orders are cancelled (nothing it placed keeps working
unattended). Nothing trades before the order manager has reconciled. A slot added with `keep=True` (a
workstation start) is listed in the journal's `runner.index` so the node can resume it after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from cashup_tui.domain.enums import OrderType, Side
from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.events import FundingSettled, OrderFilled, StrategyFailed
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, Ticker
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.ports import Clock, EventSink, Journal
from cashup_tui.domain.positions import Position
from cashup_tui.domain.timeframes import bucket_start, timeframe_ms
from cashup_tui.engine.bus import EventBus
from cashup_tui.engine.funding import newest_seq, per_contract, shares_missed
from cashup_tui.engine.order_manager import OrderManager
from cashup_tui.engine.risk import StrategyBudget
from cashup_tui.engine.strategy import Strategy, StrategyFill, where
from cashup_tui.engine.tasks import wait_tasks

log = logging.getLogger("cashup.engine.runner")
ZERO = Decimal(0)


class SlotState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(slots=True)
class BarBuilder:
    """Closed bars from prices (ticker last / trades): emits a bar when its time bucket ends."""

    symbol: str
    timeframe: str
    tf_ms: int = 0
    open_ms: int = -1
    o: float = 0.0
    h: float = 0.0
    lo: float = 0.0
    c: float = 0.0
    v: float = 0.0

    def __post_init__(self) -> None:
        self.tf_ms = timeframe_ms(self.timeframe)

    def update(self, price: float, ts_ms: int, volume: float = 0.0) -> Bar | None:
        start = bucket_start(ts_ms, self.tf_ms)
        closed = None
        if self.open_ms >= 0 and start > self.open_ms:
            closed = Bar(self.symbol, self.timeframe, self.open_ms, self.o, self.h, self.lo, self.c, self.v)
            self.open_ms = -1
        if start < self.open_ms:
            return None  # late tick for an earlier bucket: ignored
        if self.open_ms < 0:
            self.open_ms, self.o, self.h, self.lo, self.c, self.v = start, price, price, price, price, volume
        else:
            self.h, self.lo, self.c, self.v = max(self.h, price), min(self.lo, price), price, self.v + volume
        return closed


@dataclass
class Slot:
    """One running strategy instance."""

    name: str
    strategy: Strategy
    symbol: str
    timeframe: str
    order_notional: Decimal  # USDT per unit of target exposure
    budget: StrategyBudget
    allow_short: bool = True
    state: SlotState = SlotState.RUNNING
    position: Decimal = ZERO  # contracts, from this slot's own fills
    book: Position | None = None  # this slot's own position and PnL (entry, realised, fees, funding)
    error: str = ""
    bars_seen: int = 0
    orders_sent: int = 0
    fills: int = 0  # fills of this slot's orders, all of them (the ones before a restart too), like its book
    builder: BarBuilder | None = None
    last_target: float | None = None
    pending: set[str] = field(default_factory=set)
    keep: bool = False  # resumed after a restart (listed in the journal's runner index)
    portfolio: ClassVar[bool] = False  # a PortfolioSlot (engine/portfolio_slot.py): several symbols, one strategy

    @property
    def traded_symbols(self) -> tuple[str, ...]:
        return (self.symbol,)

    def record(self) -> dict[str, Any]:
        """What a kind of slot adds to its journal record."""
        return {}

    def book_of(self, symbol: str) -> Position | None:
        """This slot's own book on `symbol` (None if it does not trade it)."""
        return self.book if symbol == self.symbol else None


INDEX_KEY = "runner.index"


class LiveContext:
    """`StrategyContext` for live/paper/demo: orders go through risk and the order manager."""

    def __init__(self, runner: StrategyRunner, slot: Slot) -> None:
        self._r = runner
        self._s = slot
        self.symbol = slot.symbol

    @property
    def _inst(self) -> Instrument:
        return self._r.instruments[self._s.symbol]

    @property
    def position(self) -> float:
        return float(self._s.position * self._inst.quanto_multiplier)

    @property
    def equity(self) -> float:
        """The slot's own capital: its size (order_notional, USDT) plus its own net PnL. A strategy that
        sizes from equity (grid) trades the size it was started with, not the whole account's equity
        (which its budget of 2x the size would refuse)."""
        return float(self._s.order_notional + self._r.pnl(self._s.name)["net_pnl"])

    @property
    def allow_short(self) -> bool:
        return self._s.allow_short

    def _price(self) -> Decimal | None:
        return self._r.om.cache.mark(self._s.symbol)

    def target(self, exposure: float) -> None:
        """Be long/short/flat with a market order sized exposure * order_notional (USDT) at entry.

        A position already on the wanted side is held, not re-sized as the price drifts: the backtest
        engines size at entry and hold, and what a backtest says is what live does."""
        if exposure != exposure:
            return
        exposure = max(-1.0, min(1.0, float(exposure)))
        if exposure < 0 and not self._s.allow_short:
            exposure = 0.0
        price = self._price()
        if price is None or price <= 0:
            self.log("no price yet: target ignored")
            return
        inst = self._inst
        want = inst.round_size(Decimal(repr(exposure)) * self._s.order_notional / (price * inst.quanto_multiplier))
        if self._s.pending:
            return  # an order of ours is still working: wait for it
        held = self._s.position
        if held != 0 and want != 0 and (held > 0) == (want > 0):
            return  # already on that side: hold, as both backtest engines do (sized at entry, no drift trades)
        delta = want - held
        if delta == 0 or abs(delta) < inst.min_size:
            return
        reduce_only = self._s.position != 0 and (delta > 0) != (self._s.position > 0) and abs(delta) <= abs(self._s.position)
        self._send(Side.BUY if delta > 0 else Side.SELL, abs(delta), None, reduce_only=reduce_only)

    def _contracts(self, qty: float) -> Decimal:
        return self._inst.round_size(self._inst.contracts_for_coins(Decimal(repr(float(qty)))))

    def buy(self, qty: float, price: float | None = None, tag: str = "") -> str:
        return self._send(Side.BUY, self._contracts(qty), price)

    def sell(self, qty: float, price: float | None = None, tag: str = "") -> str:
        return self._send(Side.SELL, self._contracts(qty), price)

    def _send(self, side: Side, contracts: Decimal, price: float | None, *, reduce_only: bool = False) -> str:
        om = self._r.om
        px = None if price is None else self._inst.round_price(Decimal(repr(float(price))))
        order = om.build(self._s.symbol, side, contracts, order_type=OrderType.MARKET if px is None else OrderType.LIMIT,
                         price=px, reduce_only=reduce_only, strategy=self._s.name)
        self._s.pending.add(order.client_id)
        self._s.orders_sent += 1
        self._r._spawn(self._r._submit(self._s, order))
        return order.client_id

    def cancel(self, order_id: str) -> None:
        self._r._spawn(self._r.om.cancel(order_id, reason=f"{self._s.name}: cancel"))

    def cancel_all(self) -> None:
        for o in self.open_orders():
            self.cancel(o.client_id)

    def open_orders(self) -> list[Any]:
        return [o for o in self._r.om.cache.open_orders(self._s.symbol) if o.strategy == self._s.name]

    def log(self, message: str) -> None:
        log.info("[%s] %s", self._s.name, message)


class WarmupContext(LiveContext):
    """Replays history through the hooks: state builds up, orders are ignored."""

    def target(self, exposure: float) -> None:
        return None

    def _send(self, side: Side, contracts: Decimal, price: float | None, *, reduce_only: bool = False) -> str:
        return ""

    def cancel(self, order_id: str) -> None:
        return None


class StrategyRunner:
    def __init__(self, om: OrderManager, instruments: Mapping[str, Instrument], clock: Clock,
                 journal: Journal, bus: EventSink | None = None) -> None:
        self.om = om
        self.instruments = instruments
        self.clock = clock
        self.journal = journal
        self.bus = bus
        self.slots: dict[str, Slot] = {}
        self._ctx: dict[str, LiveContext] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.fresh_venue = False  # a venue that starts empty (the demo simulator): slots start flat too
        self._funding_seq = newest_seq(journal)  # bookings up to here have reached the running slots
        if isinstance(bus, EventBus):
            bus.subscribe(OrderFilled, lambda e: self.on_fill(e.fill))
            bus.subscribe(FundingSettled, self.on_funding)

    # -- lifecycle ----------------------------------------------------------------------------
    def add(self, strategy: Strategy, symbol: str, timeframe: str = "1m", *, name: str | None = None,
            order_notional: Decimal = Decimal(1000), budget: StrategyBudget | None = None,
            allow_short: bool = True, start: bool = False, keep: bool = False) -> Slot:
        """Add a slot. Its saved lifecycle state (paused/stopped/failed) is kept across restarts
        unless `start=True` (an explicit user start, e.g. `cashup trade`). `keep`: list it in the
        journal's runner index so `saved()` offers it again after a restart."""
        if getattr(strategy, "portfolio", False):
            raise CashupError(f"{strategy.label()} is a portfolio strategy: it trades several symbols",
                              hint="give it several, e.g. cashup trade --strategy NAME --symbols BTC_USDT,ETH_USDT")
        if symbol not in self.instruments:
            raise CashupError(f"unknown symbol {symbol!r}", hint=f"known: {', '.join(sorted(self.instruments))}")
        timeframe_ms(timeframe)
        name = name or f"{strategy.label()}-{symbol}"
        budget = budget or StrategyBudget(max_position_notional=order_notional * 2)
        slot = Slot(name, strategy, symbol, timeframe, order_notional, budget, allow_short,
                    builder=BarBuilder(symbol, timeframe), keep=keep)
        saved = self.claim(slot, start)
        slot.book, slot.fills = self._book_from_fills(name, symbol, saved)
        if not self.fresh_venue:
            slot.book.funding += Decimal(str(saved.get("funding") or 0))
        slot.position = slot.book.size
        return self.register(slot)

    def claim(self, slot: Slot, start: bool) -> dict[str, Any]:
        """A new slot's name is free; its saved lifecycle state is taken back unless `start`; returns its record."""
        if slot.name in self.slots:
            raise CashupError(f"a strategy named {slot.name!r} is already running", hint="pass a different name")
        saved: dict[str, Any] = self.journal.kv_get(f"runner.{slot.name}") or {}
        if not start and saved.get("state") in (SlotState.PAUSED, SlotState.STOPPED, SlotState.FAILED):
            slot.state = SlotState(saved["state"])
            slot.error = saved.get("error", "")
        return saved

    def register(self, slot: Slot) -> Slot:
        """The slot runs from here: its budget with the risk gate, its context, `on_start`, its record saved."""
        name = slot.name
        self.slots[name] = slot
        self.om.risk.budgets[name] = slot.budget
        self._ctx[name] = self.make_context(slot)
        if slot.state is SlotState.RUNNING:
            self._guard(slot, "on_start", lambda: slot.strategy.on_start(self._ctx[name]))
        self._save(slot)
        return slot

    def make_context(self, slot: Slot) -> LiveContext:
        """The context a slot's hooks receive; the event backtest overrides it (sizing by the run's
        sizer, orders at the next bar's open) and keeps everything else of the runner."""
        return LiveContext(self, slot)

    def warm_up(self, name: str, bars: list[Bar]) -> int:
        """Feed recent closed bars through `on_bar` with orders switched off (indicators warm up).

        Only a strategy that needs history gets it: a vectorised one, or one declaring `warmup() > 0`.
        An event-hook strategy that declares none (grid) decides on its first bar, and that decision
        must be a live one: warmed up, it laid its grid on a history bar with orders off, and never traded.
        """
        slot = self.slots[name]
        if not self.needs_history(slot):
            return 0
        ctx = WarmupContext(self, slot)
        n = 0
        for bar in bars:
            if slot.state is not SlotState.RUNNING:
                break
            self._guard(slot, "on_bar (warm-up)", lambda b=bar: slot.strategy.on_bar(ctx, b))
            n += 1
        return n

    @staticmethod
    def needs_history(slot: Slot) -> bool:
        """A vectorised strategy, or one declaring `warmup() > 0`, is given recent bars before trading."""
        return slot.strategy.vectorised or slot.strategy.warmup() > 0

    def _book_from_fills(self, name: str, symbol: str, record: dict[str, Any] | None = None) -> tuple[Position, int]:
        """Restart: the slot's own position and PnL are its own orders' fills, replayed in time order;
        against a fresh venue (the demo simulator starts flat) the old fills are history, not a position.

        The book's funding is the share of the settlements booked after its `record`'s mark (booked while
        it was not running, e.g. by start-up reconciliation, or before a crash let it save its share), each
        on the contracts the slot held at that settlement's time; the caller adds what its record holds."""
        book = Position(symbol, self.instruments[symbol].quanto_multiplier)
        if self.fresh_venue:
            return book, 0
        fills = self.journal.strategy_fills(name, symbol)
        missed = shares_missed(self.journal, record or {}, {symbol})
        i = 0
        for f in fills:
            while i < len(missed) and missed[i][0] <= f.ts_ms:  # settled before this fill: on what was held
                book.funding += missed[i][2] * book.size
                i += 1
            book.apply_fill(f)
        for _, _, per in missed[i:]:
            book.funding += per * book.size
        return book, len(fills)

    def on_funding(self, ev: FundingSettled) -> None:
        """A settlement the venue booked on the account's position: each slot on the contract takes the
        share its own position held of it at the settlement's time (signed: a slot short against the net
        long receives), as a restart computes it (`_book_from_fills`)."""
        self._funding_seq = max(self._funding_seq, self.om.funding.seq(ev.key))
        per = per_contract(self.om.portfolio, ev.symbol, ev.amount)
        if per is None:
            return
        for slot in self.slots.values():
            book = slot.book_of(ev.symbol)
            held = ZERO if book is None else self._held_at(slot.name, book, ev.ts_ms)
            if book is not None and held != 0:
                book.funding += per * held
                self._save(slot)

    def _held_at(self, name: str, book: Position, ts_ms: int) -> Decimal:
        """Slot `name`'s contracts at `ts_ms`: its book's, unless one of its fills came at or after that
        time (a settlement booked late, e.g. by a reconnect's reconciliation); then from its fills."""
        if book.updated_ms < ts_ms or self.fresh_venue:
            return book.size
        past = Position(book.symbol, book.quanto_multiplier)
        for f in self.journal.strategy_fills(name, book.symbol):
            if f.ts_ms >= ts_ms:
                break
            past.apply_fill(f)
        return past.size

    def pnl(self, name: str) -> dict[str, Decimal]:
        """A slot's own PnL in USDT: realised + unrealised (at the cached mark) - fees + funding."""
        slot = self.slots[name]
        if slot.portfolio:
            return slot.pnl(self)  # type: ignore[attr-defined,no-any-return]
        book = slot.book or Position(slot.symbol)
        mark = self.om.cache.mark(slot.symbol)
        unreal = book.unrealized_pnl(mark) if mark is not None else ZERO
        return {"entry_price": book.entry_price, "realised_pnl": book.realized_pnl,
                "unrealised_pnl": unreal, "fees": book.fees, "funding": book.funding,
                "net_pnl": book.realized_pnl + unreal - book.fees + book.funding}

    def _save(self, slot: Slot) -> None:
        self.journal.kv_set(f"runner.{slot.name}", {
            "state": slot.state.value, "symbol": slot.symbol, "timeframe": slot.timeframe,
            "params": dict(slot.strategy.params), "error": slot.error, "strategy": slot.strategy.label(),
            "path": getattr(slot.strategy, "source_path", ""), "order_notional": str(slot.order_notional),
            "funding": str(slot.book.funding if slot.book is not None else ZERO), "funding_seq": self._funding_seq,
            **slot.record(),
        })
        if slot.keep:
            index = list(self.journal.kv_get(INDEX_KEY) or [])
            if slot.name not in index:
                self.journal.kv_set(INDEX_KEY, [*index, slot.name])

    def saved(self) -> list[dict[str, Any]]:
        """The kept slots of an earlier run (name, strategy, path, symbol, timeframe, params, order_notional,
        state, error), in the order they were first started; the ones already added here are left out."""
        out = []
        for name in self.journal.kv_get(INDEX_KEY) or []:
            rec = self.journal.kv_get(f"runner.{name}")
            if name not in self.slots and isinstance(rec, dict):
                out.append({**rec, "name": name})
        return out

    def _set(self, name: str, state: SlotState, error: str = "") -> Slot:
        slot = self.slots.get(name)
        if slot is None:
            raise CashupError(f"no strategy named {name!r}", hint=f"running: {', '.join(self.slots) or '(none)'}")
        slot.state = state
        slot.error = error or slot.error
        self._save(slot)
        self.journal.audit(self.clock.now_ms(), "user", f"strategy.{state.value}", name)
        return slot

    def pause(self, name: str) -> Slot:
        return self._set(name, SlotState.PAUSED)

    def resume(self, name: str) -> Slot:
        slot = self._set(name, SlotState.RUNNING, "")
        slot.error = ""
        return slot

    def stop(self, name: str) -> Slot:
        slot = self._set(name, SlotState.STOPPED)
        self._guard(slot, "on_stop", lambda: slot.strategy.on_stop(self._ctx[name]), keep_state=True)
        return slot

    # -- the guard ------------------------------------------------------------------------------
    def _guard(self, slot: Slot, hook: str, call: Any, *, keep_state: bool = False) -> None:
        try:
            call()
        except Exception as exc:
            self.halt(slot, hook, exc, keep_state=keep_state)

    def halt(self, slot: Slot, hook: str, exc: BaseException, loc: str | None = None, *,
             keep_state: bool = False) -> None:
        """`hook` raised `exc`: the slot fails (unless `keep_state`), its error names file:line (`loc`)."""
        loc = loc or where(exc, slot.strategy)
        msg = f"{type(exc).__name__}: {exc}"
        slot.error = f"{hook} raised {msg} at {loc}"
        if not keep_state:
            slot.state = SlotState.FAILED
            self._cancel_open(slot)
        self._save(slot)
        log.error("strategy %s halted: %s", slot.name, slot.error)
        now = self.clock.now_ms()
        self.journal.record_risk_event(now, "strategy", "strategy_failed", slot.error, {"strategy": slot.name})
        if self.bus is not None:
            self.bus.publish(StrategyFailed(now, slot.name, loc, msg))

    def _cancel_open(self, slot: Slot) -> None:
        """A failed slot stops cleanly: its resting orders are cancelled (its position stays, for the user)."""
        for o in self.om.cache.open_orders(None if slot.portfolio else slot.symbol):
            if o.strategy == slot.name:
                self._spawn(self.om.cancel(o.client_id, reason=f"{slot.name}: strategy failed"))

    def _ready(self, slot: Slot) -> bool:
        return slot.state is SlotState.RUNNING

    # -- market events --------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """A closed bar: every running slot on that symbol/timeframe gets it."""
        for slot in list(self.slots.values()):
            if slot.symbol == bar.symbol and slot.timeframe == bar.timeframe and self._ready(slot):
                slot.bars_seen += 1
                if not self.om.ready:
                    continue  # reconciliation first: no strategy trades before it
                self._guard(slot, "on_bar", lambda s=slot: s.strategy.on_bar(self._ctx[s.name], bar))

    def on_ticker(self, t: Ticker) -> None:
        for slot in list(self.slots.values()):
            if slot.portfolio:
                slot.on_ticker(self, t)  # type: ignore[attr-defined]
                continue
            if slot.symbol != t.symbol or slot.state is not SlotState.RUNNING:
                continue
            if slot.builder is not None:
                closed = slot.builder.update(t.last, t.ts_ms)
                if closed is not None:
                    self.on_bar(closed)
            if self.om.ready and slot.state is SlotState.RUNNING:
                self._guard(slot, "on_ticker", lambda s=slot: s.strategy.on_ticker(self._ctx[s.name], t))

    def on_fill(self, fill: Fill) -> None:
        order = self.om.cache.order(fill.client_id)
        if order is None or order.strategy not in self.slots:
            return
        slot = self.slots[order.strategy]
        if slot.portfolio:
            slot.on_fill(self, fill)  # type: ignore[attr-defined]
            return
        slot.position += fill.size * fill.side.sign
        slot.fills += 1
        if slot.book is not None:
            slot.book.apply_fill(fill)
        if slot.state is SlotState.RUNNING:
            qm = self.instruments[fill.symbol].quanto_multiplier if fill.symbol in self.instruments else 1
            sf = StrategyFill(fill.client_id, fill.side.value, float(fill.size * qm), float(fill.price),
                              float(fill.fee), fill.ts_ms, order.strategy)
            self._guard(slot, "on_fill", lambda: slot.strategy.on_fill(self._ctx[slot.name], sf))

    # -- order plumbing -------------------------------------------------------------------------
    async def _submit(self, slot: Slot, order: Order) -> None:
        try:
            res = await self.om.submit(order)
            if res.order.status.is_terminal or not res.order.is_open:
                slot.pending.discard(order.client_id)
        except CashupError as exc:
            log.warning("[%s] order %s not placed: %s", slot.name, order.client_id, exc)
        finally:
            cur = self.om.cache.order(order.client_id)
            if cur is None or cur.status.is_terminal:
                slot.pending.discard(order.client_id)

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            log.error("strategy order outside an event loop dropped")
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        await wait_tasks(self._tasks)
        for slot in self.slots.values():  # drop pendings that finished meanwhile
            slot.pending = {c for c in slot.pending if (o := self.om.cache.order(c)) is not None and o.is_open}

    def status_of(self, name: str) -> dict[str, Any]:
        return next(s for s in self.status() if s["name"] == name)

    def status(self) -> list[dict[str, Any]]:
        return [{"name": s.name, "strategy": s.strategy.label(), "symbol": s.symbol, "timeframe": s.timeframe,
                 "state": s.state.value, "position": s.position, "bars": s.bars_seen, "orders": s.orders_sent,
                 "fills": s.fills, "order_notional": s.order_notional,
                 "error": s.error, "params": dict(s.strategy.params), **self.pnl(s.name),
                 **({"symbols": list(s.symbols), "legs": s.legs(self), "rebalances": s.rebalances}  # type: ignore[attr-defined]
                    if s.portfolio else {})}
                for s in self.slots.values()]
