"""A locally held trigger (trailing stop) sends its exit exactly once, across a stopped loop and a restart.

The bug (issue 10): the parent went "CANCELLED (triggered ...)" and the child market order stayed
UNCONFIRMED, later "REJECTED (never reached the venue)": a node stopping (a short CLI command, the
workstation quitting) cancelled the engine loop while it was sending the child, and nothing sent it again.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cashup_tui.adapters.sim.execution import VenueExecution
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.order_merge import NEVER_REACHED
from cashup_tui.domain.orders import Order
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.venue import Venue
from tests.test_order_manager_venue import book, venue_engine

D = Decimal


class SlowVenue(VenueExecution):
    """The simulated venue with a placement that waits for `gate` (a slow answer on the wire)."""

    def __init__(self, *a: object, **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.gate: asyncio.Event | None = None
        self.sent: list[str] = []

    async def submit(self, order: Order) -> Order:
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(order.client_id)
        return await super().submit(order)


def engine(journal: MemoryJournal | None = None, venue: Venue | None = None):
    return venue_engine(journal, venue, execution=SlowVenue)


async def until(cond, what: str) -> None:
    for _ in range(10_000):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"timed out waiting for {what}")


async def long_with_trailing_stop(e, v) -> Order:
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
    trail = e.om.build("BTC_USDT", "sell", D(10), order_type="trailing_stop", trigger_price=D(500), reduce_only=True)
    await e.om.submit(trail)
    book(v, e, D(51000))
    assert await e.om.on_mark("BTC_USDT", D(51000)) == []
    return trail


def children(e, parent: str) -> list[Order]:
    return [o for o in e.cache.orders() if o.client_id != parent and o.reduce_only and o.order_type.value == "market"]


async def test_a_stopped_loop_does_not_lose_the_fired_exit() -> None:
    e, v, ex = engine()
    trail = await long_with_trailing_stop(e, v)
    ex.gate = asyncio.Event()
    book(v, e, D(50400))  # 600 below the 51000 high: fires
    loop_step = asyncio.create_task(e.om.on_mark("BTC_USDT", D(50400)))
    await until(lambda: bool(children(e, trail.client_id)), "the child to be written")
    loop_step.cancel()  # what Supervisor.stop does to the engine loop when a node stops
    await asyncio.gather(loop_step, return_exceptions=True)
    ex.gate.set()
    await e.om.stop()  # the node's shutdown waits for follow-ups
    (child,) = children(e, trail.client_id)
    assert e.cache.order(trail.client_id).status is OrderStatus.CANCELLED
    assert child.status is OrderStatus.FILLED, child
    assert v.position("BTC_USDT").size == 0 and e.portfolio.positions["BTC_USDT"].is_flat
    assert ex.sent.count(child.client_id) == 1


async def test_a_restart_sends_an_unsent_exit_once() -> None:
    e, v, ex = engine()
    trail = await long_with_trailing_stop(e, v)
    ex.gate = asyncio.Event()  # never opens: the process dies with the child written, not sent
    book(v, e, D(50400))
    step = asyncio.create_task(e.om.on_mark("BTC_USDT", D(50400)))
    await until(lambda: bool(children(e, trail.client_id)), "the child to be written")
    for t in (step, *e.om._bg):  # kill -9: nothing of this process runs on
        t.cancel()
    await asyncio.gather(step, *e.om._bg, return_exceptions=True)
    assert ex.sent == [o.client_id for o in e.cache.orders() if o.order_type.value == "market" and not o.reduce_only]

    e2, _, ex2 = engine(journal=e.journal, venue=v)
    e2.clock.set(e.clock.now_ms())
    e2.risk.reconciling = True
    await e2.om.reconcile()
    book(v, e2, D(50400))
    await e2.om.on_mark("BTC_USDT", D(50400))  # the venue has not seen it, but it may still land: wait
    await e2.om.idle()
    assert v.position("BTC_USDT").size == 10 and ex2.sent == []
    e2.clock.advance(120_000)  # past the placement deadline: it can no longer land
    book(v, e2, D(50400))
    await e2.om.on_mark("BTC_USDT", D(50400))
    await e2.om.idle()
    first = e.journal.get_order(children(e, trail.client_id)[0].client_id)
    assert first.status is OrderStatus.REJECTED and first.reason == NEVER_REACHED
    assert len(ex2.sent) == 1 and v.position("BTC_USDT").size == 0
    await e2.om.sync_fills("BTC_USDT")  # (this engine does not pump the venue's events)
    assert e2.cache.order(ex2.sent[0]).status is OrderStatus.FILLED
    book(v, e2, D(50300))
    await e2.om.on_mark("BTC_USDT", D(50300))  # done: nothing more is sent
    await e2.om.idle()
    assert len(ex2.sent) == 1


async def test_a_restart_after_the_exit_was_sent_looks_it_up_and_never_resends() -> None:
    e, v, _ = engine()
    trail = await long_with_trailing_stop(e, v)
    book(v, e, D(50400))
    await e.om.on_mark("BTC_USDT", D(50400))
    await e.om.idle()
    assert v.position("BTC_USDT").size == 0
    e2, _, ex2 = engine(journal=e.journal, venue=v)
    e2.clock.set(e.clock.now_ms())
    e2.risk.reconciling = True
    await e2.om.reconcile()
    for px in (50400, 49000, 52000):
        book(v, e2, D(px))
        await e2.om.on_mark("BTC_USDT", D(px))
    await e2.om.idle()
    assert ex2.sent == [] and v.position("BTC_USDT").size == 0
    assert len(children(e2, trail.client_id)) == 1


async def test_a_restart_after_the_intent_but_before_the_parent_was_marked_fires_nothing_twice() -> None:
    e, v, _ = engine()
    trail = await long_with_trailing_stop(e, v)
    em = e.om.emulator
    child = e.om.build("BTC_USDT", "sell", D(10), order_type="market", reduce_only=True)
    em.children[trail.client_id] = {"symbol": "BTC_USDT", "child": child.client_id, "side": "sell", "size": "10",
                                    "type": "market", "price": None, "reduce_only": True, "strategy": "",
                                    "replaced": []}
    em.save_children()  # the process died here: the parent is still open and still held
    e2, _, ex2 = engine(journal=e.journal, venue=v)
    e2.clock.set(e.clock.now_ms())
    book(v, e2, D(50400))
    await e2.om.on_mark("BTC_USDT", D(50400))  # crosses the trail too: but the intent is what is sent
    await e2.om.idle()
    assert ex2.sent == [child.client_id] and v.position("BTC_USDT").size == 0
    assert e2.cache.order(trail.client_id).status is OrderStatus.CANCELLED
    assert not e2.om.emulator.holds(trail.client_id) and e2.om.emulator.children == {}
