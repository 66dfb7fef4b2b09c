"""Order reconciliation and cancel-all for the order manager (split out of order_manager.py).

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
from typing import TYPE_CHECKING, Any

from msgspec import structs

from cashup_tui.domain.errors import CashupError, TemporaryError
from cashup_tui.domain.events import OrderUpdated
from cashup_tui.domain.ids import is_ours
from cashup_tui.domain.order_merge import GONE, INFERRED, NEVER_REACHED
from cashup_tui.domain.orders import Fill, K, Order, OrderEvent, S, can_transition, transition

if TYPE_CHECKING:
    from cashup_tui.engine.order_manager import OrderManager

log = logging.getLogger("cashup.engine.reconcile")

FOLLOW_UP_RETRY_S = 1.0
FOLLOW_UP_ATTEMPTS = 10


class Reconciler:
    """The reconciliation half of one OrderManager (it shares the manager's cache, journal and locks)."""

    def __init__(self, om: OrderManager, *, placement_expiry_ms: int, clock_margin_ms: int) -> None:
        self.om = om
        self.placement_expiry_ms = placement_expiry_ms
        self.clock_margin_ms = clock_margin_ms
        self.venue_symbols: set[str] = set()  # contracts with open orders at the venue (last listing)
        self._follow_ups: dict[str, asyncio.Task[None]] = {}

    # -- ownership and revival ------------------------------------------------------------------------
    def ours(self, client_id: str) -> bool:
        return is_ours(client_id, self.om.id_prefix)

    def revivable(self, local: Order, venue: Order) -> bool:
        """The venue shows an order our row has written off: REJECTED (e.g. declared never-reached), or
        CANCELLED only because a lookup did not find it while the venue still works it."""
        if not self.ours(local.client_id) or venue.status is S.REJECTED:
            return False
        if local.status is S.REJECTED:
            return True
        return local.status is S.CANCELLED and local.reason in INFERRED and venue.status.is_working

    def revive(self, local: Order, venue_order_id: str | None, why: str) -> Order:
        """Reopen a written-off row (journalled); fills and the venue's state are merged after this."""
        om = self.om
        order = structs.replace(local, status=S.PARTIALLY_FILLED if local.filled > 0 else S.OPEN, reason="",
                                venue_order_id=venue_order_id or local.venue_order_id,
                                updated_ms=max(local.updated_ms, om.clock.now_ms()))
        log.warning("order %s was %s (%s) but %s: brought back", local.client_id, local.status.value,
                    local.reason, why)
        return om._note(order, f"revived: {why} (was {local.status.value}: {local.reason})"[:300])

    def revive_for_fill(self, local: Order, fill: Fill) -> Order:
        """A fill for a row we rejected: the order did reach the venue (a late arrival)."""
        if local.status is S.REJECTED and self.ours(local.client_id):
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
        if local.status in (S.SUBMITTING, S.UNKNOWN):
            if now < self.deadline_ms(local):
                self.follow_up(local)
                return local
            return om._apply(local, OrderEvent(K.REJECTED, now, reason=NEVER_REACHED))
        return om._apply(local, OrderEvent(K.CANCELLED, now, reason=GONE))

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
            if local is None or local.status not in (S.SUBMITTING, S.UNKNOWN):
                return  # settled meanwhile (stream, reconciliation)
            try:
                venue = await om.execution.fetch_order(local.symbol, cid)
            except CashupError as exc:
                log.info("follow-up lookup of %s failed: %s", cid, exc)
                await asyncio.sleep(FOLLOW_UP_RETRY_S)
                continue
            async with om._lock(cid):
                local = om.cache.order(cid) or local
                if local.status not in (S.SUBMITTING, S.UNKNOWN):
                    return
                after = await om._merge(local, venue) if venue is not None else self.not_found(local)
            if after.status is not local.status:  # journalled like a reconciliation's change
                change = f"order {cid}: {local.status.value} -> {after.status.value}"
                om.changes_log.append(change)
                om.journal.record_risk_event(om.clock.now_ms(), "reconcile", "reconcile", change, {})
            if after.status in (S.SUBMITTING, S.UNKNOWN):
                await asyncio.sleep(max(FOLLOW_UP_RETRY_S, (self.deadline_ms(after) - om.clock.now_ms()) / 1000))
                continue
            return

    async def stop(self) -> None:
        tasks = [t for t in self._follow_ups.values() if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._follow_ups.clear()

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
                adopted = om._adopt(v, "open at venue, unknown locally")
                seen.add(adopted.client_id)
                out.append(f"order {adopted.client_id} ({v.venue_order_id}) open at venue: adopted")
                continue
            seen.add(local.client_id)
            after = await om._merge(local, v)
            if (after.status, after.filled, after.size, after.price, after.venue_order_id) != (
                local.status, local.filled, local.size, local.price, local.venue_order_id
            ):
                out.append(f"order {after.client_id}: {local.status.value} -> {after.status.value}")
        for local in om.cache.open_orders():  # only what the listing does not explain is looked up
            if local.client_id in seen or local.client_id in om._triggers:
                continue
            try:
                v = await om.execution.fetch_order(local.symbol, local.client_id)
            except (TemporaryError, TimeoutError, OSError) as exc:
                out.append(f"order {local.client_id}: venue lookup failed ({type(exc).__name__}), "
                           f"still {local.status.value}")
                continue
            after = await om._merge(local, v) if v is not None else self.not_found(local)
            if after.status is not local.status or after.filled != local.filled:
                out.append(f"order {after.client_id}: {local.status.value} -> {after.status.value}")
            elif after.unconfirmed:
                log.info("order %s not found yet: it may still land until %d (X-Gate-Exptime + margin)",
                         after.client_id, self.deadline_ms(after))
        return out

    # -- cancel-all -------------------------------------------------------------------------------------
    async def cancel_all(self, symbol: str | None, *, reason: str, entries_only: bool) -> list[Order]:
        """Every open order (of `symbol`): the venue's per-contract cancel-all first (it also reaches an
        order we cannot see locally), then one by one whatever is still open locally (local triggers,
        venue trigger orders, orders not at the venue). `entries_only` (kill 2) goes one by one."""
        om = self.om
        bulk = getattr(om.execution, "cancel_all", None)
        out: list[Order] = []
        if bulk is not None and not entries_only:
            for sym in sorted({symbol} if symbol else self._contracts_to_clear()):
                out += await self._cancel_contract(bulk, sym, reason)
        done = {o.client_id for o in out}
        for o in om.cache.open_orders(symbol):
            if o.client_id in done or (entries_only and (o.reduce_only or om.risk._reduces(o, count_working=False))):
                continue
            try:
                out.append(await om.cancel(o.client_id, reason=reason))
            except CashupError as exc:
                log.error("cancel %s failed during cancel-all: %s", o.client_id, exc)
        return out

    def _store_all(self, items: list[tuple[Order, OrderEvent]]) -> list[Order]:
        """`OrderManager._store` for many orders: one journal commit, then cache and bus."""
        om = self.om
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
        out |= {o.symbol for o in om.cache.orders() if o.status in (S.REJECTED, S.CANCELLED) and o.reason in INFERRED}
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
                out.append(om._adopt(v, f"cancelled by cancel-all ({reason})"))
                continue
            local = om.cache.order(local.client_id) or local
            if v.status is S.CANCELLED and v.filled == local.filled and can_transition(local.status, K.CANCELLED):
                ev = OrderEvent(K.CANCELLED, now, venue_order_id=v.venue_order_id, reason=reason)
                batch.append((transition(local, ev), ev))
                continue
            async with om._lock(local.client_id):  # fills to bring in, or a row to revive: the full merge
                out.append(await om._merge(om.cache.order(local.client_id) or local, v))
        out += self._store_all(batch)
        self.venue_symbols.discard(symbol)
        log.info("cancel-all on %s: %d order(s) cancelled at the venue", symbol, len(answer))
        return out
