"""The order manager's synchronous path, for an Execution that answers in-process (the event backtest's
simulated venue): the same admission, write-ahead row, transitions and fill accounting as `submit`, with
no await. Bound to `OrderManager` as its methods `submit_now`, `cancel_now` and `apply_events_now`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from cashup_tui.domain.errors import ExchangeError, OrderNotFound, OrderRejected, ValidationError
from cashup_tui.domain.events import FundingSettled, OrderFilled, OrderUpdated
from cashup_tui.domain.order_merge import NOT_AT_VENUE
from cashup_tui.domain.orders import EVENT_KIND, Order, OrderEvent

if TYPE_CHECKING:
    from cashup_tui.engine.order_manager import OrderManager


class SubmitResult(msgspec.Struct, frozen=True, gc=False):
    """What `OrderManager.submit` / `submit_now` return."""

    order: Order
    existed: bool = False  # the client id was already known: nothing new was sent


def submit_now(om: OrderManager, order: Order) -> SubmitResult:
    """`submit` for an Execution with `submit_now`/`drain_now` (the in-process simulated venue):
    the same risk gate, write-ahead row, transitions and fill accounting, with no await, so a
    backtest drives the order manager bar by bar without an event loop round trip per order.
    The venue's fills are applied (dedup by trade id) before its ack is merged, so nothing is
    looked up again. An Execution that can time out has no `submit_now`: use `submit`."""
    ex = om._sync_ex
    if ex is None:
        raise ValidationError(f"{type(om.execution).__name__} answers asynchronously",
                              hint="use `await OrderManager.submit(order)`")
    existing = om.cache.order(order.client_id) or om._stored(order.client_id)
    if existing is not None:
        return SubmitResult(existing, existed=True)
    admitted = om._admit(order)
    if isinstance(admitted, SubmitResult):
        return admitted
    order = admitted
    try:
        ack = ex.submit_now(order)
    except (OrderRejected, ValidationError, ExchangeError) as exc:
        om.risk.record_error("submit")
        om._apply(order, OrderEvent(EVENT_KIND.REJECTED, om.clock.now_ms(), reason=str(exc)[:300]))
        raise
    apply_events_now(om)
    current = om.cache.order(order.client_id) or order
    if current.status.is_terminal:  # filled (or refused) and journalled from the venue's events
        return SubmitResult(current)
    return SubmitResult(om.reconciler.merge_state(om.reconciler.merge_ack(current, ack), ack))


def cancel_now(om: OrderManager, client_id: str, *, reason: str = "cancelled by user") -> Order:
    """Synchronous `cancel` for an Execution with `cancel_now` (see `submit_now`)."""
    order, done = om._begin_cancel(client_id, reason)
    if done:
        return order
    try:
        venue = om.execution.cancel_now(order)  # type: ignore[attr-defined]
    except OrderNotFound:  # filled or gone meanwhile: its events say which
        apply_events_now(om)
        cur = om.cache.order(client_id) or order
        if cur.status.is_terminal:
            return cur
        return om._apply(cur, OrderEvent(EVENT_KIND.CANCELLED, om.clock.now_ms(), reason=NOT_AT_VENUE))
    except ExchangeError as exc:
        om._apply(order, OrderEvent(EVENT_KIND.CANCEL_REJECTED, om.clock.now_ms(), reason=str(exc)[:200]))
        raise
    apply_events_now(om)
    return om.reconciler.merge_state(om.reconciler.merge_ack(om.cache.order(client_id) or order, venue), venue)


def apply_events_now(om: OrderManager) -> int:
    """Apply what an in-process venue reported (`execution.drain_now()`): fills through `on_fill`,
    order states through the synchronous half of the merge. Returns how many events."""
    ex = om._sync_ex
    events = ex.drain_now() if ex is not None else []
    for ev in events:
        if isinstance(ev, OrderFilled):
            om.reconciler.on_fill(ev.fill)
        elif isinstance(ev, OrderUpdated):
            local = om.reconciler.local_for(ev.order)
            if local is not None:
                om.reconciler.merge_state(om.reconciler.merge_ack(local, ev.order), ev.order)
        elif isinstance(ev, FundingSettled):
            om.funding.apply(ev)
    return len(events)
