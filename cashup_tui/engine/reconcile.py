"""Reconciliation (orders, fills, positions, balances) and cancel-all for the order manager.

Why these rules (issue 14, "an order that arrives late"; issue 13, open-order scale):
- "never reached the venue" is not decided on one lookup. A placement carries `X-Gate-Exptime`
  (the adapter sets it to send time + the request timeout) and Gate refuses a request arriving after
  it, so an order that is not found may still land until that deadline. Only after it, plus a margin
  for clock skew, is a not-found SUBMITTING/UNKNOWN order rejected; until then it stays UNCONFIRMED
  and one more lookup is scheduled for the deadline.
- The venue is the proof: an order carrying our client-id prefix that the venue shows (open, filled,
  cancelled) while the local row says REJECTED, or CANCELLED only because it was not found, is brought
  back (status, fills, position). Nothing is invented: only our prefix, only what the venue reports.
- Open orders are listed page by page (the adapter pages); only local open orders the list does not
  explain are looked up one by one.
- Cancel-all uses the venue's per-contract cancel-all when the Execution has one: one request per
  contract cancels every order there, including one we cannot see locally.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import fields
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from msgspec import structs

from cashup_tui.domain.account import Balance
from cashup_tui.domain.errors import (
    CashupError,
    DuplicateFill,
    InvalidTransition,
    OverfillError,
    TemporaryError,
)
from cashup_tui.domain.events import OrderFilled, OrderUpdated, PositionChanged, ReconciliationDone
from cashup_tui.domain.ids import is_ours
from cashup_tui.domain.order_merge import GONE, INFERRED, NEVER_REACHED
from cashup_tui.domain.orders import EVENT_KIND, STATUS, Fill, Order, OrderEvent, can_transition, transition
from cashup_tui.domain.positions import Position
from cashup_tui.engine.funding import FUNDING_CHECKED_KEY, FUNDING_OVERLAP_MS

if TYPE_CHECKING:
    from cashup_tui.engine.order_manager import OrderManager

log = logging.getLogger("cashup.engine.reconcile")

ZERO = Decimal(0)
TEMPORARY = (TemporaryError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)  # outcome unknown
_POSITION_FIELDS = tuple(f.name for f in fields(Position))
_position_state = attrgetter(*_POSITION_FIELDS)  # a Position's field values as one tuple (C speed)
FOLLOW_UP_RETRY_S = 1.0
FOLLOW_UP_ATTEMPTS = 10


class Reconciler:
    """The reconciliation half of one OrderManager (it shares the manager's cache, journal and locks)."""

    def __init__(self, om: OrderManager, *, placement_expiry_ms: int, clock_margin_ms: int) -> None:
        self.om = om
        self.placement_expiry_ms = placement_expiry_ms
        self.clock_margin_ms = clock_margin_ms
        self.venue_symbols: set[str] = set()  # contracts with open orders at the venue (last listing)
        self.lock = asyncio.Lock()  # one reconciliation at a time
        # fills before this time were not loaded at start-up (only a recent window is): a duplicate of
        # one of them is found in the journal instead (OrderManager.load)
        self.ids_known_since_ms = -1
        self._follow_ups: dict[str, asyncio.Task[None]] = {}

    # -- ownership and revival ------------------------------------------------------------------------
    def ours(self, client_id: str) -> bool:
        return is_ours(client_id, self.om.id_prefix)

    def revivable(self, local: Order, venue: Order) -> bool:
        """The venue shows an order our row has written off: REJECTED (e.g. declared never-reached), or
        CANCELLED only because a lookup did not find it while the venue still works it."""
        if not self.ours(local.client_id) or venue.status is STATUS.REJECTED:
            return False
        if local.status is STATUS.REJECTED:
            return True
        return local.status is STATUS.CANCELLED and local.reason in INFERRED and venue.status.is_working

    def revive(self, local: Order, venue_order_id: str | None, why: str) -> Order:
        """Reopen a written-off row (journalled); fills and the venue's state are merged after this."""
        om = self.om
        order = structs.replace(local, status=STATUS.PARTIALLY_FILLED if local.filled > 0 else STATUS.OPEN, reason="",
                                venue_order_id=venue_order_id or local.venue_order_id,
                                updated_ms=max(local.updated_ms, om.clock.now_ms()))
        log.warning("order %s was %s (%s) but %s: brought back", local.client_id, local.status.value,
                    local.reason, why)
        return om._note(order, f"revived: {why} (was {local.status.value}: {local.reason})"[:300])

    def revive_for_fill(self, local: Order, fill: Fill) -> Order:
        """A fill for a row we rejected: the order did reach the venue (a late arrival)."""
        if local.status is STATUS.REJECTED and self.ours(local.client_id):
            return self.revive(local, fill.venue_order_id, f"fill {fill.trade_id} arrived from the venue")
        return local

    # -- never reached: only after the request can no longer land ----------------------------------------
    def deadline_ms(self, order: Order) -> int:
        """After this local time a not-found SUBMITTING/UNKNOWN order cannot land any more: its
        X-Gate-Exptime (sent at or after the row's last write) plus the clock-skew margin."""
        return max(order.created_ms, order.updated_ms) + self.placement_expiry_ms + self.clock_margin_ms

    def not_found(self, local: Order) -> Order:
        """The venue does not know `local` (a lookup answered 'not found')."""
        om = self.om
        now = om.clock.now_ms()
        if local.status in (STATUS.SUBMITTING, STATUS.UNKNOWN):
            if now < self.deadline_ms(local):
                self.follow_up(local)
                return local
            return om._apply(local, OrderEvent(EVENT_KIND.REJECTED, now, reason=NEVER_REACHED))
        return om._apply(local, OrderEvent(EVENT_KIND.CANCELLED, now, reason=GONE))

    def follow_up(self, order: Order) -> None:
        """Look `order` up again once its deadline has passed (while this manager runs)."""
        cid = order.client_id
        task = self._follow_ups.get(cid)
        if task is not None and not task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay_s = max(0.0, (self.deadline_ms(order) - self.om.clock.now_ms()) / 1000)
        self._follow_ups[cid] = loop.create_task(self._follow(cid, delay_s), name=f"settle-{cid}")

    async def _follow(self, cid: str, delay_s: float) -> None:
        om = self.om
        await asyncio.sleep(delay_s)
        for _ in range(FOLLOW_UP_ATTEMPTS):
            local = om.cache.order(cid)
            if local is None or local.status not in (STATUS.SUBMITTING, STATUS.UNKNOWN):
                return  # settled meanwhile (stream, reconciliation)
            try:
                venue = await om.execution.fetch_order(local.symbol, cid)
            except CashupError as exc:
                log.info("follow-up lookup of %s failed: %s", cid, exc)
                await asyncio.sleep(FOLLOW_UP_RETRY_S)
                continue
            async with om._lock(cid):
                local = om.cache.order(cid) or local
                if local.status not in (STATUS.SUBMITTING, STATUS.UNKNOWN):
                    return
                after = await self.merge(local, venue) if venue is not None else self.not_found(local)
            if after.status is not local.status:  # journalled like a reconciliation's change
                change = f"order {cid}: {local.status.value} -> {after.status.value}"
                om.changes_log.append(change)
                om.journal.record_risk_event(om.clock.now_ms(), "reconcile", "reconcile", change, {})
            if after.status in (STATUS.SUBMITTING, STATUS.UNKNOWN):
                await asyncio.sleep(max(FOLLOW_UP_RETRY_S, (self.deadline_ms(after) - om.clock.now_ms()) / 1000))
                continue
            return

    async def stop(self) -> None:
        tasks = [t for t in self._follow_ups.values() if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._follow_ups.clear()

    async def resolve(self, order: Order) -> Order:
        """Settle an order in doubt by looking it up by client id; never re-sends it."""
        om = self.om
        for attempt in range(om.lookup_attempts):
            try:
                venue = await om.execution.fetch_order(order.symbol, order.client_id)
            except TEMPORARY as exc:
                log.info("lookup %d of %s failed: %s", attempt + 1, order.client_id, exc)
                venue = None
                found = False
            else:
                found = True
            current = om.cache.order(order.client_id) or order
            if found and venue is not None:
                return await self.merge(current, venue)
            if found and venue is None and attempt == om.lookup_attempts - 1:
                return self.not_found(current)  # UNKNOWN until it can no longer land
            await asyncio.sleep(om.lookup_delay_s * (attempt + 1))
        return om.cache.order(order.client_id) or order

    async def merge(self, local: Order, venue: Order, *, defer: bool = False) -> Order:
        """Bring the local order in line with the venue's view (ack, WS update, lookup). `defer`: a
        submit's own ack, committed after the caller has it (`OrderManager._store`)."""
        om = self.om
        if local.status.is_terminal and self.revivable(local, venue):
            local = self.revive(local, venue.venue_order_id, f"the venue reports it {venue.status.value}")
        order = self.merge_ack(local, venue, defer=defer)
        if venue.filled > order.filled:
            await self.sync_fills(order.symbol, since_ms=max(0, order.created_ms - 60_000))
            order = om.cache.order(order.client_id) or order
        return self.merge_state(order, venue)

    def merge_ack(self, order: Order, venue: Order, *, defer: bool = False) -> Order:
        """First half of `_merge`: the venue has the order (accepted, venue id learnt)."""
        om = self.om
        if order.status in (STATUS.SUBMITTING, STATUS.UNKNOWN) and venue.status is not STATUS.REJECTED:
            order = om._apply(order, OrderEvent(EVENT_KIND.ACCEPTED, om.clock.now_ms(), venue_order_id=venue.venue_order_id),
                              defer=defer)
        elif venue.venue_order_id and not order.venue_order_id:
            order = om._note(structs.replace(order, venue_order_id=venue.venue_order_id), "venue id learnt")
        return order

    def merge_state(self, order: Order, venue: Order) -> Order:
        """Second half of `_merge` (fills already applied): amended, cancelled, expired, rejected."""
        om = self.om
        now = om.clock.now_ms()
        if not order.status.is_terminal and venue.status is not STATUS.FILLED:
            if ((venue.size != order.size or venue.price != order.price) and venue.status.is_working
                    and venue.size >= order.filled and venue.size > 0):
                order = om._apply(order, OrderEvent(EVENT_KIND.AMENDED, now, new_price=venue.price,
                                                          new_size=venue.size))
            if venue.status is STATUS.CANCELLED:
                order = om._apply(order, OrderEvent(EVENT_KIND.CANCELLED, now, reason=venue.reason or "cancelled at venue"))
            elif venue.status is STATUS.EXPIRED:
                order = om._apply(order, OrderEvent(EVENT_KIND.EXPIRED, now, reason=venue.reason or "expired"))
            elif venue.status is STATUS.REJECTED:
                order = om._apply(order, OrderEvent(EVENT_KIND.REJECTED, now, reason=venue.reason or "rejected by venue"))
        om.emulator.after_order_change(order)
        return order

    # -- fills: applied once each, journalled with the order, position and wallet ---------------
    def on_fill(self, fill: Fill) -> bool:
        """Apply one venue fill once (dedup by trade id). Returns False for a duplicate.

        The fill, the order's new state, the position and the wallet are journalled in one commit."""
        om = self.om
        if om.portfolio.has_trade(fill.trade_id):  # the recent window's trade ids are loaded at start-up
            return False  # (and the journal's unique trade id refuses any other duplicate below)
        if fill.ts_ms < self.ids_known_since_ms and om.journal.has_fill(fill.trade_id):
            return False  # an old fill sent again, from before the loaded window
        order = om.cache.order(fill.client_id) if fill.client_id else None
        if order is None and fill.venue_order_id:
            order = om.cache.order_by_venue_id(fill.venue_order_id)
        new: Order | None = None
        fev: OrderEvent | None = None
        if order is not None:
            if order.status is STATUS.REJECTED:  # a late arrival's fill: the order did reach the venue
                order = self.revive_for_fill(order, fill)
            fev = OrderEvent(EVENT_KIND.FILLED, fill.ts_ms, fill.venue_order_id, fill)  # (positional: once per fill)
            try:
                new = transition(order, fev)
            except DuplicateFill:
                return False
            except (InvalidTransition, OverfillError) as exc:
                log.error("fill %s does not fit order %s: %s (position still updated)", fill.trade_id,
                          order.client_id, exc)
                new = fev = None
        before = self._snapshot(fill.symbol)
        om.portfolio.apply_fill(fill)
        pos = om.portfolio.positions[fill.symbol]
        bal = self._wallet(fill.ts_ms)
        try:
            if om._unsaved:  # a deferred ack commits before this order's fill (journal order)
                om.flush_unsaved()
            stored = om.journal.record_fill(fill, order=new, event=fev, position=pos, balance=bal)
        except Exception:
            self._restore(fill, before)  # nothing was committed: memory must not run ahead of the journal
            raise
        if not stored and new is not None:  # another process on this store journalled the fill first (its
            # trade sync saw our order's fill): the account did fill, so memory keeps it, and our order row
            # moves on by compare-and-set (the store keeps whichever version is further along)
            new = om.journal.save_order(new, event=fev) or new
        om.cache.put_position(pos)
        om.cache.put_balance(bal)
        if new is not None:
            om.cache.put_order(new)
        if om.bus is not None:
            if new is not None and fev is not None:
                om.bus.publish(OrderUpdated(fill.ts_ms, new, fev.kind._value_))
            om.bus.publish(OrderFilled(fill.ts_ms, fill))
            om.bus.publish(PositionChanged(fill.ts_ms, fill.symbol, pos.size, pos.entry_price, pos.realized_pnl))
        if order is not None:  # (the order just put in the cache when the fill fitted it)
            om.emulator.after_order_change(new if new is not None else om.cache.order(order.client_id) or order,
                                           fill=fill)
        return True

    def _snapshot(self, symbol: str) -> tuple[tuple[Any, ...] | None, Decimal]:
        """The position's field values and the cash before a fill (a tuple: `replace()` of the position
        cost more than the rest of the fill's bookkeeping in a backtest)."""
        om = self.om
        p = om.portfolio.positions.get(symbol)
        return (_position_state(p) if p is not None else None), om.portfolio.cash

    def _restore(self, fill: Fill, before: tuple[tuple[Any, ...] | None, Decimal]) -> None:
        """Undo an in-memory fill (the same Position object is shared with the cache: restore in place)."""
        om = self.om
        saved, cash = before
        live = om.portfolio.positions.get(fill.symbol)
        if saved is None:
            om.portfolio.positions.pop(fill.symbol, None)
        elif live is not None:
            for name, value in zip(_POSITION_FIELDS, saved, strict=True):
                setattr(live, name, value)
        om.portfolio.cash = cash
        om.portfolio._trade_ids.discard(fill.trade_id)

    def _wallet(self, ts_ms: int) -> Balance:
        om = self.om
        cur = om.cache.balance(om.portfolio.currency)
        avail = cur.available if cur is not None else om.portfolio.cash
        return Balance(om.portfolio.currency, om.portfolio.cash, avail, ts_ms)

    async def sync_fills(self, symbol: str | None = None, *, since_ms: int | None = None) -> int:
        """Pull fills over REST and apply the ones not seen yet. Returns how many were new."""
        om = self.om
        if since_ms is None:
            since_ms = max(0, (om.journal.last_fill_ms() or 0) - 60_000)
        new = 0
        for f in sorted(await om.execution.fills_since(symbol, since_ms), key=lambda f: (f.ts_ms, f.trade_id)):
            if self.on_fill(f):
                new += 1
        return new

    def local_for(self, venue: Order) -> Order | None:
        """The local order a venue report is about (by client id, then venue id). A working order
        we never sent is adopted and None is returned: there is nothing local to merge into."""
        om = self.om
        local = om.cache.order(venue.client_id) if venue.client_id else None
        if local is None and venue.venue_order_id:
            local = om.cache.order_by_venue_id(venue.venue_order_id)
        if local is None and venue.status.is_working:
            self.adopt(venue, "seen on the order stream")
        return local

    def adopt(self, venue: Order, why: str) -> Order:
        """An order at the venue we have no row for (placed elsewhere, or a lost write)."""
        om = self.om
        order = structs.replace(venue, strategy=venue.strategy or "external", trade_ids=frozenset(), filled=ZERO,
                        avg_fill_price=ZERO, fees=ZERO, status=STATUS.OPEN if venue.status.is_working else venue.status)
        if order.created_ms == 0:
            order = structs.replace(order, created_ms=om.clock.now_ms())
        return om._note(order, f"adopted: {why}")

    # -- reconciliation ------------------------------------------------------------------------------
    async def reconcile(self) -> list[str]:
        """Align orders, fills, positions and balances with the venue; journal and return what changed.

        Submits are denied while it runs. Idempotent: a second run returns []."""
        om = self.om
        async with self.lock:
            om.ready = False
            om.risk.reconciling = True
            changes: list[str] = []
            try:
                changes += await self._reconcile_fills()
                changes += await self.reconcile_orders()
                changes += await self._reconcile_positions()
                changes += await self._reconcile_funding()
                changes += await self._reconcile_balances()
            except Exception:
                log.exception("reconciliation failed: trading stays blocked")
                raise
            now = om.clock.now_ms()
            om.changes_log.extend(changes)
            for c in changes:
                om.journal.record_risk_event(now, "reconcile", "reconcile", c, {})
            om.journal.audit(now, "engine", "reconcile", f"{len(changes)} change(s)")
            om.risk.reconciling = False
            om.ready = True
            if om.bus is not None:
                om.bus.publish(ReconciliationDone(now, tuple(changes)))
            if changes:
                log.warning("reconciliation changed %d thing(s): %s", len(changes), "; ".join(changes))
            return changes

    async def _reconcile_fills(self) -> list[str]:
        om = self.om
        since = max(0, (om.journal.last_fill_ms() or 0) - 3_600_000)
        orders = om.journal.load_orders(open_only=True)
        if orders:
            since = min(since, min(o.created_ms for o in orders) - 60_000)
        before = {f.trade_id for f in om.journal.load_fills(since_ms=since)}  # the venue's answer covers these
        out = []
        for f in sorted(await om.execution.fills_since(None, max(0, since)), key=lambda f: (f.ts_ms, f.trade_id)):
            if f.trade_id not in before and self.on_fill(f):
                out.append(f"fill {f.trade_id} {f.side.value} {f.size} {f.symbol} @ {f.price} ({f.client_id}) applied")
        return out

    async def _reconcile_positions(self) -> list[str]:
        om = self.om
        out: list[str] = []
        venue = {p.symbol: p for p in await om.execution.positions()}
        for sym, vp in venue.items():
            if sym not in om.portfolio.instruments:
                out.append(f"position {sym} {vp.size} at venue: unknown contract, ignored")
                continue
            lp = om.portfolio.positions.get(sym)
            lsize = lp.size if lp else ZERO
            lentry = lp.entry_price if lp else ZERO
            if lsize != vp.size or (vp.size != 0 and vp.entry_price > 0 and abs(lentry - vp.entry_price) > vp.entry_price * Decimal("0.0001")):
                om.portfolio.adopt_position(vp)
                out.append(f"position {sym}: local {lsize} @ {lentry} -> venue {vp.size} @ {vp.entry_price}")
            elif lp is not None and vp.leverage > 0 and lp.leverage != vp.leverage:
                lp.leverage = vp.leverage
            if sym in om.portfolio.positions:
                om.cache.put_position(om.portfolio.positions[sym])
        for sym, lp in om.portfolio.positions.items():
            if sym not in venue and not lp.is_flat:
                if om.missing_position_is_flat:
                    out.append(f"position {sym}: local {lp.size} -> venue flat")
                    om.portfolio.adopt_position(Position(sym, lp.quanto_multiplier))
                    om.cache.put_position(om.portfolio.positions[sym])
                else:
                    out.append(f"position {sym}: local {lp.size} but the venue sent no report (left as is)")
        om.journal.save_positions(list(om.portfolio.positions.values()))
        return out

    async def _reconcile_funding(self) -> list[str]:
        """Book the settlements the venue made while its stream was down or this node was stopped: the
        account book from the last check (less an overlap for clock skew); ones already booked are
        known by their key. Before the balances: the cash then already holds them, attributed."""
        om = self.om
        now = om.clock.now_ms()
        checked = om.journal.kv_get(FUNDING_CHECKED_KEY)
        since = max(0, (int(checked) if checked is not None else now) - FUNDING_OVERLAP_MS)
        out = []
        for ev in await om.execution.funding_since(since):
            if om.funding.apply(ev):
                out.append(f"funding {ev.symbol} {ev.amount} USDT settled at {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(ev.ts_ms / 1000))} UTC booked "
                           "(the stream did not deliver it)")
        om.journal.kv_set(FUNDING_CHECKED_KEY, now)
        return out

    async def _reconcile_balances(self) -> list[str]:
        om = self.om
        out: list[str] = []
        bals = await om.execution.balances()
        for b in bals:
            om.cache.put_balance(b)
            if b.currency.upper() == om.portfolio.currency and b.total != om.portfolio.cash:
                out.append(f"balance {b.currency}: local {om.portfolio.cash} -> venue {b.total}")
                om.portfolio.cash = b.total
                if om.portfolio.starting_cash == 0:
                    om.portfolio.starting_cash = b.total
        om.journal.save_balances(bals)
        return out

    # -- reconciliation of orders ----------------------------------------------------------------------
    def _local(self, venue: Order) -> Order | None:
        cache = self.om.cache
        local = cache.order(venue.client_id) if venue.client_id else None
        if local is None and venue.venue_order_id:
            local = cache.order_by_venue_id(venue.venue_order_id)
        return local

    async def reconcile_orders(self) -> list[str]:
        om = self.om
        out: list[str] = []
        venue_open = await om.execution.open_orders(None)
        self.venue_symbols = {v.symbol for v in venue_open}
        seen: set[str] = set()
        for v in venue_open:
            local = self._local(v)
            if local is None:
                adopted = self.adopt(v, "open at venue, unknown locally")
                seen.add(adopted.client_id)
                out.append(f"order {adopted.client_id} ({v.venue_order_id}) open at venue: adopted")
                continue
            seen.add(local.client_id)
            after = await self.merge(local, v)
            if (after.status, after.filled, after.size, after.price, after.venue_order_id) != (
                local.status, local.filled, local.size, local.price, local.venue_order_id
            ):
                out.append(f"order {after.client_id}: {local.status.value} -> {after.status.value}")
        for local in om.cache.open_orders():  # only what the listing does not explain is looked up
            if local.client_id in seen or om.emulator.holds(local.client_id):
                continue
            try:
                found = await om.execution.fetch_order(local.symbol, local.client_id)
            except (TemporaryError, TimeoutError, OSError) as exc:
                out.append(f"order {local.client_id}: venue lookup failed ({type(exc).__name__}), "
                           f"still {local.status.value}")
                continue
            after = await self.merge(local, found) if found is not None else self.not_found(local)
            if after.status is not local.status or after.filled != local.filled:
                out.append(f"order {after.client_id}: {local.status.value} -> {after.status.value}")
            elif after.unconfirmed:
                log.info("order %s not found yet: it may still land until %d (X-Gate-Exptime + margin)",
                         after.client_id, self.deadline_ms(after))
        return out

    # -- cancel-all -------------------------------------------------------------------------------------
    async def cancel_all(self, symbol: str | None, *, reason: str) -> list[Order]:
        """Every open order (of `symbol`): the venue's per-contract cancel-all first (it also reaches an
        order we cannot see locally), then one by one whatever is still open locally (local triggers,
        venue trigger orders, orders not at the venue). Kill levels 1-2 cancel one by one (engine/kill.py)."""
        om = self.om
        bulk = om.execution.cancel_all if om.execution.has_bulk_cancel else None
        out: list[Order] = []
        if bulk is not None:
            for sym in sorted({symbol} if symbol else self._contracts_to_clear()):
                out += await self._cancel_contract(bulk, sym, reason)
        done = {o.client_id for o in out}
        for o in om.cache.open_orders(symbol):
            if o.client_id in done:
                continue
            try:
                out.append(await om.cancel(o.client_id, reason=reason))
            except CashupError as exc:
                log.error("cancel %s failed during cancel-all: %s", o.client_id, exc)
        return out

    def _store_all(self, items: list[tuple[Order, OrderEvent]]) -> list[Order]:
        """`OrderManager._store` for many orders: one journal commit, then cache and bus."""
        om = self.om
        if om._unsaved:
            om.flush_unsaved()
        stored = om.journal.save_orders(items)
        for order, (_, event) in zip(stored, items, strict=True):
            om.cache.put_order(order)
            if om.bus is not None:
                om.bus.publish(OrderUpdated(event.ts_ms, order, event.kind.value))
        return stored

    def _contracts_to_clear(self) -> set[str]:
        """Where an order of ours may rest: local open orders, the venue's last open-order listing, our
        written-off rows (a late arrival rests there) and open positions (exits)."""
        om = self.om
        out = {o.symbol for o in om.cache.open_orders()} | self.venue_symbols
        out |= {o.symbol for o in om.cache.orders() if o.status in (STATUS.REJECTED, STATUS.CANCELLED) and o.reason in INFERRED}
        out |= {sym for sym, p in om.portfolio.positions.items() if not p.is_flat}
        return out

    async def _cancel_contract(self, bulk: Any, symbol: str, reason: str) -> list[Order]:
        om = self.om
        try:
            answer = await asyncio.wait_for(bulk(symbol), om.submit_timeout_s)
        except (CashupError, TimeoutError, OSError) as exc:
            log.error("cancel-all on %s failed (%s): cancelling one by one", symbol, exc)
            return []
        out: list[Order] = []
        batch: list[tuple[Order, OrderEvent]] = []  # plain cancellations: journalled in one commit
        now = om.clock.now_ms()
        for v in answer:
            local = self._local(v)
            if local is None:
                if not self.ours(v.client_id):
                    log.warning("cancel-all on %s also cancelled %s (not ours)", symbol, v.client_id)
                    continue
                out.append(self.adopt(v, f"cancelled by cancel-all ({reason})"))
                continue
            local = om.cache.order(local.client_id) or local
            if v.status is STATUS.CANCELLED and v.filled == local.filled and can_transition(local.status, EVENT_KIND.CANCELLED):
                ev = OrderEvent(EVENT_KIND.CANCELLED, now, venue_order_id=v.venue_order_id, reason=reason)
                batch.append((transition(local, ev), ev))
                continue
            async with om._lock(local.client_id):  # fills to bring in, or a row to revive: the full merge
                out.append(await self.merge(om.cache.order(local.client_id) or local, v))
        out += self._store_all(batch)
        self.venue_symbols.discard(symbol)
        log.info("cancel-all on %s: %d order(s) cancelled at the venue", symbol, len(answer))
        return out
