"""Order manager: the only path from an intent to the venue.

Why each rule:
- client ids are made here (`t-<prefix><session>-<counter>`), the session random per process and
  the counter persisted, so neither a restart nor a second process on the store reuses one;
- the order is saved in SUBMITTING (row + journal line, one commit) BEFORE the venue is
  called: a crash after that leaves a row we can look up by client id;
- the venue's ack of a submit is answered to the caller before its journal line commits (at the
  next turn of the loop, and before any other write: `_unsaved`): a crash in between leaves the
  SUBMITTING row, settled by client id exactly like an ack lost on the wire. For the same reason
  that commit needs no sync of its own (`save_order(relaxed=True)`): it survives a process crash,
  and an OS crash can only drop it with the writes after it;
- a timeout, dropped connection or 5xx (`TemporaryError`) is not a rejection: the order
  goes UNKNOWN and is settled by `Execution.fetch_order(symbol, client_id)`, never by
  sending it again;
- fills are de-duplicated by venue trade id whichever path (WS or REST) brings them;
- `reconcile()` compares orders, fills, positions and balances with the venue at
  start-up and after every reconnect; the risk gate denies submits until it is done;
  running it twice changes nothing the second time.

Order types: market, limit, post-only (tif=poc), IOC, FOK, reduce-only go to the venue
as they are. Stop-market/stop-limit/take-profit go to the venue as trigger orders when
`emulate_triggers` is False (testnet/live), else they are held here and fired on the
mark price (paper/demo). Trailing stops and brackets (entry + stop + take-profit, one
cancels the other) are always managed here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from msgspec import structs

from cashup_tui.domain.enums import ORDER_TYPE, SIDE, TIF, OrderType, Side, TimeInForce
from cashup_tui.domain.errors import (
    CashupError,
    ExchangeError,
    InvalidTransition,
    OrderNotFound,
    OrderRejected,
    RiskDenied,
    ValidationError,
)
from cashup_tui.domain.events import (
    FeedConnected,
    FeedDisconnected,
    FundingSettled,
    OrderDenied,
    OrderFilled,
    OrderUpdated,
)
from cashup_tui.domain.ids import (
    ClientIdTaken,
    ClientOrderId,
    make_client_id,
    new_session,
    validate_client_id,
)
from cashup_tui.domain.order_merge import NOT_AT_VENUE
from cashup_tui.domain.orders import EVENT_KIND, STATUS, Fill, Order, OrderEvent, transition
from cashup_tui.domain.ports import Clock, EventSink, Execution, Journal, SyncExecution
from cashup_tui.domain.positions import Position
from cashup_tui.engine import kill as kill_switch
from cashup_tui.engine import order_sync
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.funding import FundingLedger
from cashup_tui.engine.order_sync import SubmitResult
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.engine.reconcile import TEMPORARY, Reconciler
from cashup_tui.engine.risk import TRIGGER_TYPES, RiskEngine
from cashup_tui.engine.tasks import wait_tasks
from cashup_tui.engine.triggers import TriggerEmulator

log = logging.getLogger("cashup.engine.orders")

ZERO = Decimal(0)
COUNTER_KEY = "orders.id_counter"  # the highest id number reserved (not necessarily used)
ID_BLOCK = 64  # id numbers reserved per commit: one durable write per block, not per order
RECENT_FILLS_MS = 86_400_000  # start-up loads this much fill history (trade ids); older ones stay in the store
LEVERAGE_KEY = "leverage.chosen"  # {symbol: {"leverage": "5", "cross": false}}: the last leverage set per contract


_CRASH_AT = os.environ.get("CASHUP_CRASH_AT")  # read once: the tests set it in the environment of a new process


def crash_point(step: str) -> None:
    """Fault injection for the kill -9 tests: `CASHUP_CRASH_AT=<step>` kills this process with
    SIGKILL at that step of a submit (before_commit, after_commit, after_send, after_ack: answered, its
    commit deferred; after_ack_commit).
    Unset in normal use: one comparison (os.environ.get costs several calls, twice per order)."""
    if step == _CRASH_AT:
        log.critical("CASHUP_CRASH_AT=%s: killing this process (fault injection)", step)
        os.kill(os.getpid(), signal.SIGKILL)


class OrderManager:
    def __init__(
        self,
        execution: Execution,
        journal: Journal,
        risk: RiskEngine,
        portfolio: Portfolio,
        cache: Cache,
        clock: Clock,
        bus: EventSink | None = None,
        *,
        id_prefix: str = "c",
        session: str | None = None,
        emulate_triggers: bool = True,
        submit_timeout_s: float = 10.0,
        lookup_attempts: int = 3,
        lookup_delay_s: float = 0.2,
        placement_expiry_ms: int | None = None,
        clock_margin_ms: int = 5_000,
    ) -> None:
        self.execution = execution
        # checked once: isinstance on a runtime-checkable Protocol walks all its members
        self._sync_ex: SyncExecution | None = execution if isinstance(execution, SyncExecution) else None
        self.journal = journal
        self.risk = risk
        self.portfolio = portfolio
        self.cache = cache
        self.clock = clock
        self.bus = bus
        self.id_prefix = id_prefix
        self.session = session if session is not None else new_session()
        self.emulate_triggers = emulate_triggers
        self.submit_timeout_s = submit_timeout_s
        self.lookup_attempts = lookup_attempts
        self.lookup_delay_s = lookup_delay_s
        self._counter = self._reserved = int(journal.kv_get(COUNTER_KEY) or 0)
        self._locks: dict[str, asyncio.Lock] = {}
        self._minted: dict[str, bool] = {}  # ids made here, not yet submitted: in no store (see `_stored`)
        self._events_task: asyncio.Task[None] | None = None
        self.ready = False
        self.changes_log: list[str] = []
        self.missing_position_is_flat = False  # True only for a venue that reports every position (the demo sim)
        self._connects = 0  # every reconciliation change this session (shown by the CLI/UI)
        self.on_change: Callable[[list[str]], Any] | None = None
        # a placement's X-Gate-Exptime is its send time + the request timeout unless the adapter says otherwise
        expiry = placement_expiry_ms if placement_expiry_ms is not None else int(submit_timeout_s * 1000)
        self.reconciler = Reconciler(self, placement_expiry_ms=expiry, clock_margin_ms=clock_margin_ms)
        self.emulator = TriggerEmulator(self)
        self.funding = FundingLedger(portfolio, cache, journal, bus)
        self._bg_tasks: set[asyncio.Task[Any]] = set()  # follow-ups (bracket arming, OCO cancels, kill actions)
        self._unsaved: dict[str, tuple[Order, OrderEvent]] = {}  # acks answered, not yet committed (`_store`)
        risk.on_kill = self._on_rule_kill
        risk.reconciling = True

    # -- start-up ------------------------------------------------------------------------
    def load(self, *, replay_fills: bool = True) -> None:
        """Rebuild the cache and portfolio from the journal (restart): the positions and wallet journalled
        with the last fills (one commit each), and the recent fills' trade ids for de-duplication; a
        store of any size starts in the same time. A store without journalled positions replays its fills.

        `replay_fills=False` when the venue is new (a fresh demo simulator): old fills stay in the
        journal as history but the portfolio starts from what reconciliation finds."""
        for o in self.journal.load_orders():
            self.cache.put_order(o)
        saved_cash = next((b.total for b in self.journal.load_balances()
                           if b.currency.upper() == self.portfolio.currency), None)
        last = self.journal.last_fill_ms()
        positions = [p for p in self.journal.load_positions() if p.symbol in self.portfolio.instruments]
        if replay_fills and last is not None and not positions:  # a store older than per-fill positions
            for f in self.journal.load_fills():
                self.portfolio.apply_fill(f)
        else:  # each fill's commit journalled its position: start from those, recent trade ids only
            since = -1 if last is None else last - RECENT_FILLS_MS
            for f in self.journal.load_fills(since_ms=since):
                self.portfolio._trade_ids.add(f.trade_id)
            self.reconciler.ids_known_since_ms = since
            for p in positions:  # flat ones too when they are the fills' (their realised PnL and fees)
                if replay_fills or not p.is_flat:
                    self.portfolio.positions[p.symbol] = p
        if saved_cash is not None:  # the journalled wallet already includes every stored fill
            self.portfolio.cash = saved_cash
        for p in self.portfolio.positions.values():
            self.cache.put_position(p)

    def new_client_id(self) -> ClientOrderId:
        """Next local id. Its number is reserved durably before it is used, a block at a time (the
        counter is committed as the block's end): a restart on the same id session continues after the
        block, so no number is ever used twice, and an unused rest of a block is only a gap."""
        self._counter += 1
        if self._counter > self._reserved:
            self.journal.kv_set(COUNTER_KEY, self._counter + ID_BLOCK - 1)
            self._reserved = self._counter + ID_BLOCK - 1
        cid = make_client_id(self.id_prefix, self._counter, session=self.session)
        if len(self._minted) > 100_000:  # built, never submitted: forget them (they are then looked up)
            self._minted.clear()
        self._minted[cid] = True
        return cid

    def _lock(self, cid: str) -> asyncio.Lock:
        lock = self._locks.get(cid)
        if lock is None:
            lock = self._locks[cid] = asyncio.Lock()
        return lock

    # -- building orders ---------------------------------------------------------------
    def build(
        self,
        symbol: str,
        side: Side | str,
        size: Decimal,
        *,
        order_type: OrderType | str = ORDER_TYPE.LIMIT,
        price: Decimal | None = None,
        tif: TimeInForce | str | None = None,
        reduce_only: bool = False,
        trigger_price: Decimal | None = None,
        client_id: str | None = None,
        strategy: str = "",
        post_only: bool = False,
    ) -> Order:
        """Make an Order value (not yet sent). Market orders are IOC; post-only is tif=poc."""
        try:  # (members pass through as they are: the enum call costs more than the rest of build)
            side = side if type(side) is Side else Side(side)
            order_type = order_type if type(order_type) is OrderType else OrderType(order_type)
            tif_v = (tif if type(tif) is TimeInForce else TimeInForce(tif)) if tif else None
        except ValueError as exc:
            raise ValidationError(str(exc), hint="side: buy|sell; type: market|limit|stop_market|stop_limit|"
                                  "take_profit|trailing_stop; tif: gtc|ioc|poc|fok") from None
        if post_only:
            tif_v = TIF.POC
        if tif_v is None:
            tif_v = TIF.IOC if order_type in (ORDER_TYPE.MARKET, ORDER_TYPE.STOP_MARKET) else TIF.GTC
        if order_type is ORDER_TYPE.MARKET and tif_v not in (TIF.IOC, TIF.FOK):
            raise ValidationError("a market order must be IOC or FOK", hint="drop --tif or use --tif ioc|fok")
        if order_type is ORDER_TYPE.MARKET and price is not None:
            raise ValidationError("a market order takes no price", hint="use --type limit to set a price")
        cid = validate_client_id(client_id) if client_id else self.new_client_id()
        now = self.clock.now_ms()
        return Order(cid, symbol, side, size, order_type, price, tif_v, reduce_only, trigger_price,
                     created_ms=now, updated_ms=now, strategy=strategy)

    # -- persistence helpers -------------------------------------------------------------
    def _store(self, order: Order, event: OrderEvent, *, defer: bool = False) -> Order:
        """Persist the order row and its journal line in one commit, then update cache and bus. A store
        shared with other processes may hold a newer row than ours: what it kept is what we use.

        `defer` (a submit's ack only): cache and bus now, the commit at the next turn of the event loop
        (`flush_unsaved`); every other journal write of orders or fills commits the deferred ones first,
        so the journal keeps the order of events."""
        if defer:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                defer = False
            else:
                if order.client_id in self._unsaved:  # (one at a time per order)
                    self.flush_unsaved()
                if not self._unsaved:
                    loop.call_soon(self.flush_unsaved)
                self._unsaved[order.client_id] = (order, event)
        if not defer:
            if self._unsaved:
                self.flush_unsaved()
            order = self.journal.save_order(order, event=event) or order
        self.cache.put_order(order)
        if self.bus is not None:
            self.bus.publish(OrderUpdated(event.ts_ms, order, event.kind._value_))  # _value_: the same str, without the enum property
        return order

    def flush_unsaved(self) -> None:
        """Commit the deferred acks, oldest first, each without a sync of its own (`relaxed`: the claim
        covers its loss). One that cannot be written is logged and left to the claim (SUBMITTING,
        settled by client id); the next write of that order carries its whole row."""
        while self._unsaved:
            cid = next(iter(self._unsaved))
            order, event = self._unsaved.pop(cid)
            try:
                stored = self.journal.save_order(order, event=event, relaxed=True) or order
            except Exception:
                log.exception("could not journal the ack of %s (it stays SUBMITTING in the store)", cid)
                continue
            crash_point("after_ack_commit")
            if stored is not order and self.cache.order(cid) is order:  # another process's newer row
                self.cache.put_order(stored)
                if self.bus is not None:
                    self.bus.publish(OrderUpdated(event.ts_ms, stored, event.kind._value_))

    def _note(self, order: Order, reason: str) -> Order:
        """Journal a change that is not a state transition (venue id learnt, order adopted)."""
        return self._store(order, OrderEvent(EVENT_KIND.ACCEPTED, self.clock.now_ms(), venue_order_id=order.venue_order_id,
                                             reason=reason))

    def _apply(self, order: Order, event: OrderEvent, *, defer: bool = False) -> Order:
        """Transition + persist (`defer`: see `_store`); benign late events (ack after fill, etc.) are
        logged and skipped."""
        try:
            new = transition(order, event)
        except InvalidTransition as exc:
            log.info("ignored %s for %s: %s", event.kind.value, order.client_id, exc)
            if event.venue_order_id and not order.venue_order_id:
                return self._note(structs.replace(order, venue_order_id=event.venue_order_id), "venue id learnt")
            return order
        return self._store(new, event, defer=defer)

    # -- submit --------------------------------------------------------------------------
    def _stored(self, cid: str) -> Order | None:
        """The journal's row for `cid`. An id made here (random session, persisted counter) and not yet
        submitted is in no store: not read (the write-ahead claim still refuses a taken id)."""
        return None if self._minted.pop(cid, False) else self.journal.get_order(cid)

    def _admit(self, order: Order) -> Order | SubmitResult:
        """The one admission of `submit` and `submit_now`: risk gate, then the write-ahead claim of the
        client id (row + journal line in SUBMITTING, one commit), then a locally held trigger is armed.
        Returns the order to send to the venue, or the result when nothing is to be sent."""
        try:
            self.risk.check_submit(order)
        except RiskDenied as exc:
            if self.bus is not None:
                self.bus.publish(OrderDenied(self.clock.now_ms(), order.client_id, exc.rule, str(exc)))
            raise
        now = self.clock.now_ms()
        if not order.created_ms:
            order = structs.replace(order, created_ms=now)
        ev = OrderEvent(EVENT_KIND.SUBMITTED, now)
        crash_point("before_commit")
        try:
            order = self._store(transition(order, ev), ev)
        except ClientIdTaken as taken:  # another process wrote this id first: it is theirs to send
            known = taken.existing if isinstance(taken.existing, Order) else None
            return SubmitResult(self.journal.get_order(order.client_id) or known or order, existed=True)
        crash_point("after_commit")
        if order.order_type is ORDER_TYPE.TRAILING_STOP or (order.order_type in TRIGGER_TYPES and self.emulate_triggers):
            return SubmitResult(self.emulator.arm(order))
        return order

    async def submit(self, order: Order) -> SubmitResult:
        """Risk gate -> write-ahead -> venue. Idempotent by client id."""
        async with self._lock(order.client_id):
            existing = self.cache.order(order.client_id) or self._stored(order.client_id)
            if existing is not None:
                if existing.status in (STATUS.SUBMITTING, STATUS.UNKNOWN):
                    existing = await self.resolve(existing)
                return SubmitResult(existing, existed=True)
            admitted = self._admit(order)
            if isinstance(admitted, SubmitResult):
                return admitted
            return SubmitResult(await self._send(admitted))

    async def _send(self, order: Order) -> Order:
        try:
            async with asyncio.timeout(self.submit_timeout_s):  # (wait_for would run the call in a task of its own)
                ack = await self.execution.submit(order)
            crash_point("after_send")
        except TEMPORARY as exc:
            self.risk.record_error("submit")
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            order = self._apply(order, OrderEvent(EVENT_KIND.IN_DOUBT, self.clock.now_ms(), reason=reason[:200]))
            log.warning("submit of %s in doubt (%s): looking it up by client id", order.client_id, reason)
            return await self.resolve(order)
        except (OrderRejected, ValidationError, ExchangeError) as exc:
            self.risk.record_error("submit")
            self._apply(order, OrderEvent(EVENT_KIND.REJECTED, self.clock.now_ms(), reason=str(exc)[:300]))
            raise
        merged = await self.reconciler.merge(self.cache.order(order.client_id) or order, ack, defer=True)
        crash_point("after_ack")
        return merged

    # -- synchronous path: an Execution that answers in-process (engine/order_sync.py) -----------------
    # (methods, not `submit_now = order_sync.submit_now`: a compiled class would not bind those)
    def submit_now(self, order: Order) -> SubmitResult:
        return order_sync.submit_now(self, order)

    def cancel_now(self, client_id: str, *, reason: str = "cancelled by user") -> Order:
        return order_sync.cancel_now(self, client_id, reason=reason)

    def apply_events_now(self) -> int:
        return order_sync.apply_events_now(self)

    # -- the venue's view: merged, looked up, fills applied (engine/reconcile.py) ---------------------
    async def resolve(self, order: Order) -> Order:
        """Settle an order in doubt by looking it up by client id; never re-sends it."""
        return await self.reconciler.resolve(order)

    def on_fill(self, fill: Fill) -> bool:
        """Apply one venue fill once (dedup by trade id). Returns False for a duplicate."""
        return self.reconciler.on_fill(fill)

    async def sync_fills(self, symbol: str | None = None, *, since_ms: int | None = None) -> int:
        """Pull fills over REST and apply the ones not seen yet. Returns how many were new."""
        return await self.reconciler.sync_fills(symbol, since_ms=since_ms)

    # -- cancel / amend ------------------------------------------------------------------------
    def _get(self, client_id: str) -> Order:
        order = self.cache.order(client_id) or self.journal.get_order(client_id)
        if order is None:
            raise OrderNotFound(f"no order with client id {client_id!r}", hint="list orders with `cashup orders list`")
        return order

    def _begin_cancel(self, client_id: str, reason: str) -> tuple[Order, bool]:
        """The local half of a cancel, shared by `cancel` and `cancel_now`: returns (order, done).
        A finished order or a locally held trigger needs no venue call (done); otherwise the order
        is journalled as CANCEL_REQUESTED before the venue is asked."""
        order = self._get(client_id)
        if order.status.is_terminal:
            return order, True
        if self.emulator.holds(client_id):
            self.emulator.release(client_id)
            return self._apply(order, OrderEvent(EVENT_KIND.CANCELLED, self.clock.now_ms(), reason=reason)), True
        return self._apply(order, OrderEvent(EVENT_KIND.CANCEL_REQUESTED, self.clock.now_ms(), reason=reason)), False

    async def cancel(self, client_id: str, *, reason: str = "cancelled by user") -> Order:
        """Cancel one order; cancels are always allowed (any trading state)."""
        async with self._lock(client_id):
            order, done = self._begin_cancel(client_id, reason)
            if done:
                return order
            try:
                venue = await asyncio.wait_for(self.execution.cancel(order), self.submit_timeout_s)
            except OrderNotFound:
                found = await self._lookup_quiet(order)
                if found is None:
                    return self._apply(order, OrderEvent(EVENT_KIND.CANCELLED, self.clock.now_ms(), reason=NOT_AT_VENUE))
                venue = found
            except TEMPORARY as exc:
                self.risk.record_error("cancel")
                log.warning("cancel of %s in doubt: %s (reconciliation will settle it)", client_id, exc)
                return self.cache.order(client_id) or order
            except ExchangeError as exc:
                self._apply(order, OrderEvent(EVENT_KIND.CANCEL_REJECTED, self.clock.now_ms(), reason=str(exc)[:200]))
                raise
            return await self.reconciler.merge(self.cache.order(client_id) or order, venue)

    async def _lookup_quiet(self, order: Order) -> Order | None:
        try:
            return await self.execution.fetch_order(order.symbol, order.client_id)
        except CashupError:
            return None

    async def amend(self, client_id: str, *, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        async with self._lock(client_id):
            order = self._get(client_id)
            if not order.status.is_working or order.status in (STATUS.UNKNOWN, STATUS.SUBMITTING):
                raise ValidationError(f"order {client_id} is {order.status.value}: it cannot be amended now")
            self.risk.check_amend(order, price=price, size=size)
            if self.emulator.holds(client_id):
                new = self._apply(order, OrderEvent(EVENT_KIND.AMENDED, self.clock.now_ms(), new_price=price, new_size=size))
                return new
            try:
                venue = await asyncio.wait_for(self.execution.amend(order, price=price, size=size), self.submit_timeout_s)
            except TEMPORARY as exc:
                self.risk.record_error("amend")
                log.warning("amend of %s in doubt: %s", client_id, exc)
                found = await self._lookup_quiet(order)
                if found is None:
                    return order
                venue = found
            return await self.reconciler.merge(self.cache.order(client_id) or order, venue)

    async def cancel_all(self, symbol: str | None = None, *, reason: str = "cancel all") -> list[Order]:
        """Cancel every open order (of `symbol`): see Reconciler.cancel_all."""
        return await self.reconciler.cancel_all(symbol, reason=reason)

    async def set_leverage(self, symbol: str, leverage: Decimal, *, cross: bool = False) -> Decimal:
        """Leverage (with `cross`: the cross limit) 0 or above the config cap / venue max is refused first."""
        self.risk.check_leverage(symbol, leverage)
        kw = {"cross": True} if cross else {}  # test doubles that know no margin modes keep working
        await self.execution.set_leverage(symbol, leverage, **kw)
        self.portfolio.set_leverage(symbol, leverage)
        chosen = dict(self.journal.kv_get(LEVERAGE_KEY) or {})  # what a fresh paper venue is given again
        self.journal.kv_set(LEVERAGE_KEY, {**chosen, symbol: {"leverage": str(leverage), "cross": cross}})
        self.journal.audit(self.clock.now_ms(), "user", "leverage.set", f"{symbol} {leverage}{' cross' * cross}")
        return leverage

    async def close_position(self, symbol: str, *, strategy: str = "") -> Order | None:
        """Reduce-only market order for the whole net position (None if flat)."""
        pos = self.portfolio.positions.get(symbol)
        if pos is None or pos.is_flat:
            return None
        side = SIDE.SELL if pos.size > 0 else SIDE.BUY
        order = self.build(symbol, side, abs(pos.size), order_type=ORDER_TYPE.MARKET, reduce_only=True,
                           strategy=strategy)
        return (await self.submit(order)).order

    async def flatten_all(self) -> list[Order]:
        out = []
        for sym, pos in list(self.portfolio.positions.items()):
            if not pos.is_flat:
                try:
                    o = await self.close_position(sym, strategy="kill")
                    if o is not None:
                        out.append(o)
                except CashupError as exc:
                    log.error("flatten %s failed: %s", sym, exc)
        return out

    # -- kill switch ----------------------------------------------------------------------
    async def kill(self, level: int, reason: str, *, source: str = "api") -> list[str]:
        """Apply a kill-switch level: record the state, then cancel/flatten as the level says (engine/kill.py)."""
        return await kill_switch.kill(self, level, reason, source=source)

    def _on_rule_kill(self, level: int, reason: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(kill_switch.actions(self, level, reason))
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    @property
    def _bg(self) -> set[asyncio.Task[Any]]:
        return self._bg_tasks

    # -- locally managed triggers and brackets (engine/triggers.py) -------------------------------
    async def on_mark(self, symbol: str, mark: Decimal, ts_ms: int | None = None) -> list[Order]:
        """Feed a mark price: updates valuation and fires local triggers. Returns child orders sent."""
        self.portfolio.set_mark(symbol, mark)
        self.cache.set_mark(symbol, mark, ts_ms if ts_ms is not None else self.clock.now_ms())
        return await self.emulator.on_mark(symbol, mark)

    async def bracket(self, entry: Order, *, stop_price: Decimal, take_profit_price: Decimal) -> Order:
        """Entry + stop + take-profit; the exits are armed (reduce-only) when the entry fills,
        sized to what filled, and one cancels the other."""
        return await self.emulator.bracket(entry, stop_price=stop_price, take_profit_price=take_profit_price)

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def idle(self) -> None:
        """Wait for background follow-ups (bracket arming, OCO cancels)."""
        await wait_tasks(self._bg)

    # -- venue event stream ------------------------------------------------------------------
    async def handle_event(self, event: object) -> None:
        if isinstance(event, OrderFilled):
            self.on_fill(event.fill)
        elif isinstance(event, OrderUpdated):
            local = self.reconciler.local_for(event.order)
            if local is None:
                return
            async with self._lock(local.client_id):
                await self.reconciler.merge(self.cache.order(local.client_id) or local, event.order)
        elif isinstance(event, FundingSettled):
            self.funding.apply(event)
        elif isinstance(event, FeedDisconnected):
            self.ready = False
            self.risk.reconciling = True
        elif isinstance(event, FeedConnected):
            self._connects += 1
            if self._connects > 1 or self.ready:  # the first connect is reconciled by start-up itself
                self._spawn(self.reconcile())

    def start(self) -> None:
        """Consume `Execution.events()` in a task (private order/fill/position stream)."""
        if self._events_task is None:
            self._events_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        async for ev in self.execution.events():
            try:
                await self.handle_event(ev)
            except Exception:
                log.exception("failed to handle venue event %r", ev)

    async def stop(self) -> None:
        self.flush_unsaved()
        if self._events_task is not None:
            self._events_task.cancel()
            try:
                await self._events_task
            except (asyncio.CancelledError, Exception):
                pass
            self._events_task = None
        await self.reconciler.stop()
        await self.idle()

    # -- reconciliation ----------------------------------------------------------------------
    @property
    def reconciling(self) -> bool:
        return self.reconciler.lock.locked()

    async def reconcile(self) -> list[str]:
        """Align orders, fills, positions and balances with the venue; journal and return what changed.

        Submits are denied while it runs. Idempotent: a second run returns []."""
        return await self.reconciler.reconcile()

    def _position_of(self, symbol: str) -> Position | None:
        return self.portfolio.positions.get(symbol)
