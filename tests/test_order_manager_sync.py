"""The order manager's synchronous path (`submit_now` / `cancel_now` / `apply_events_now`) over the
in-process venue: the same gate, journal rows, transitions and fills as `await submit`, no event loop."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.errors import OrderRejected, RiskDenied, ValidationError
from cashup_tui.domain.events import OrderFilled, OrderUpdated
from tests.engine_fakes import make_engine
from tests.test_order_manager_venue import book, venue_engine

D = Decimal


def kinds(e, cid: str) -> list[str]:
    return [ev.kind.value for _, ev in e.journal.events(cid)]


def test_market_order_fills_synchronously_written_ahead_then_filled() -> None:
    e, v, _ = venue_engine()
    r = e.om.submit_now(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
    assert r.order.status is OrderStatus.FILLED and r.order.filled == D(10)
    assert kinds(e, r.order.client_id) == ["submitted", "filled"]  # written ahead, then the fill
    assert e.portfolio.positions["BTC_USDT"].size == D(10) == v.position("BTC_USDT").size
    assert e.portfolio.cash == v.account().total
    again = e.om.submit_now(r.order)  # idempotent by client id: nothing new is sent
    assert again.existed and len(v.my_trades("BTC_USDT")) == 1


def test_resting_order_fills_when_the_price_reaches_it_and_cancel_now() -> None:
    e, v, _ = venue_engine()
    rest = e.om.submit_now(e.om.build("BTC_USDT", "sell", D(4), price=D("50100.0"))).order
    other = e.om.submit_now(e.om.build("BTC_USDT", "sell", D(2), price=D("50300.0"))).order
    assert rest.status is OrderStatus.OPEN and rest.venue_order_id
    e.clock.advance(1000)
    book(v, e, D(50200))  # the bid moves through the first ask only
    assert e.om.apply_events_now() >= 1
    assert e.cache.order(rest.client_id).status is OrderStatus.FILLED
    assert e.portfolio.positions["BTC_USDT"].size == D(-4) == v.position("BTC_USDT").size
    done = e.om.cancel_now(other.client_id)
    assert done.status is OrderStatus.CANCELLED and v.open_orders_count() == 0
    assert kinds(e, other.client_id)[-2:] == ["cancel_requested", "cancelled"]
    assert e.om.cancel_now(other.client_id).status is OrderStatus.CANCELLED  # already final: no-op


def test_venue_refusal_and_risk_denial_are_final_and_journalled() -> None:
    e, v, _ = venue_engine()
    o = e.om.build("BTC_USDT", "buy", D(10), price=D("50001.0"), post_only=True)  # would take: poc
    with pytest.raises(OrderRejected):
        e.om.submit_now(o)
    assert e.cache.order(o.client_id).status is OrderStatus.REJECTED
    huge = e.om.build("BTC_USDT", "buy", D(10_000_000), order_type="market")
    with pytest.raises(RiskDenied):
        e.om.submit_now(huge)
    assert e.cache.order(huge.client_id) is None and v.open_orders_count() == 0  # never sent, no row


def test_an_asynchronous_execution_has_no_sync_path() -> None:
    e = make_engine()
    with pytest.raises(ValidationError, match="asynchronously"):
        e.om.submit_now(e.om.build("BTC_USDT", "buy", D(1), order_type="market"))


async def test_drain_now_and_pump_carry_the_same_events() -> None:
    _, _v, ex = venue_engine()
    ex.submit_now(_order(ex, "t-a-1"))
    got = ex.drain_now()
    assert [type(x) for x in got] == [OrderFilled, OrderUpdated]  # the fill before the order state
    ex.submit_now(_order(ex, "t-a-2"))
    assert ex.pump() == 2 and ex._queue.qsize() == 2


def _order(ex, cid: str):
    from cashup_tui.domain.enums import OrderType, Side, TimeInForce
    from cashup_tui.domain.orders import Order

    return Order(cid, "BTC_USDT", Side.BUY, D(1), OrderType.MARKET, None, TimeInForce.IOC)


def test_a_flip_is_not_a_duplicate_intent_but_a_repeat_is() -> None:
    """Close 10 then open 10 the same way in the same millisecond (a flip done as two orders): both pass;
    the same opening order again is still refused."""
    e, v, _ = venue_engine()
    e.risk.limits = replace(e.risk.limits, duplicate_window_ms=1000)
    e.om.submit_now(e.om.build("BTC_USDT", "sell", D(10), order_type="market"))
    e.clock.advance(2000)
    book(v, e, D(50000))
    e.om.submit_now(e.om.build("BTC_USDT", "buy", D(10), order_type="market", reduce_only=True))
    e.om.submit_now(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
    assert e.portfolio.positions["BTC_USDT"].size == D(10)
    with pytest.raises(RiskDenied, match="duplicate_intent"):
        e.om.submit_now(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
