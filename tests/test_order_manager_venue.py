"""Order manager over the shared simulated Venue (paper trading path): fills, positions equal the venue's."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cashup_tui.adapters.sim.execution import VenueExecution
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.errors import OrderRejected
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.venue import Venue
from tests.engine_fakes import INSTRUMENTS, feed, make_engine

D = Decimal


def venue_engine(journal: MemoryJournal | None = None, venue: Venue | None = None,
                 execution: type[VenueExecution] = VenueExecution):
    clock_box: dict = {}
    v = venue or Venue(INSTRUMENTS, balance=D(100_000), clock=lambda: clock_box["c"].now_ms())
    ex = execution(v, INSTRUMENTS)
    e = make_engine(journal=journal, venue=ex)  # type: ignore[arg-type]
    clock_box["c"] = e.clock
    book(v, e, D(50000))
    return e, v, ex


def book(v: Venue, e, mid: Decimal) -> None:
    t = e.clock.now_ms()
    v.update_book("BTC_USDT", [(mid - D("0.5"), D(1000))], [(mid + D("0.5"), D(1000))], t)
    v.update_mark("BTC_USDT", mid, t)
    v.update_book("ETH_USDT", [(D("2999.99"), D(1000))], [(D("3000.01"), D(1000))], t)
    v.update_mark("ETH_USDT", D(3000), t)
    feed(e.cache, e.portfolio, e.clock, {"BTC_USDT": mid, "ETH_USDT": D(3000)})


async def test_market_and_resting_orders_fill_and_positions_match_venue() -> None:
    e, v, ex = venue_engine()
    r = await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
    assert r.order.status is OrderStatus.FILLED and r.order.filled == D(10)
    rest = await e.om.submit(e.om.build("BTC_USDT", "sell", D(4), price=D("50100.0")))
    assert rest.order.status is OrderStatus.OPEN
    e.clock.advance(1000)
    book(v, e, D(50200))  # the bid moves through our ask: touch fill
    ex.pump()
    e.om.start()
    for _ in range(50):
        await asyncio.sleep(0)
        if e.cache.order(rest.order.client_id).status is OrderStatus.FILLED:
            break
    await e.om.stop()
    assert e.cache.order(rest.order.client_id).status is OrderStatus.FILLED
    assert e.portfolio.positions["BTC_USDT"].size == D(6) == v.position("BTC_USDT").size
    assert e.portfolio.cash == v.account().total  # same fees and PnL as the venue, before any reconcile
    assert await e.om.reconcile() == []


async def test_venue_rejections_are_definitive() -> None:
    e, v, _ = venue_engine()
    o = e.om.build("BTC_USDT", "buy", D(10), price=D("50001.0"), post_only=True)  # would take: poc
    try:
        await e.om.submit(o)
    except OrderRejected as exc:
        assert "ORDER_POC_IMMEDIATE" in str(exc)
    else:
        raise AssertionError("post-only crossing the book must be rejected")
    assert e.cache.order(o.client_id).status is OrderStatus.REJECTED
    assert v.list_orders() == []


async def test_restart_replays_and_reconciles_against_the_same_venue() -> None:
    e, v, _ = venue_engine()
    for side, size in (("buy", 7), ("sell", 2)):
        await e.om.submit(e.om.build("BTC_USDT", side, D(size), order_type="market"))
        e.clock.advance(1500)
        book(v, e, D(50000))
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(3), price=D("49000.0")))
    await e.om.stop()  # (its ack commits: a crash before that leaves the claim, settled by client id)
    e2, _, _ = venue_engine(journal=e.journal, venue=v)
    e2.risk.reconciling = True
    changes = await e2.om.reconcile()
    assert not [c for c in changes if c.startswith(("order", "fill", "position"))], changes
    assert e2.portfolio.positions["BTC_USDT"].size == v.position("BTC_USDT").size == D(5)
    assert len(e2.cache.open_orders()) == 1 == len(v.list_orders())
