"""A lying mark (issue 14): the mark must agree with the book mid and the index price, or the symbol
pauses (reducing orders only) until they agree again; notionals use a price one source cannot fool.
Ticks come through the real frame parser into the real cache and risk gate."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cashup_tui.adapters.gateio.parse import BAD, UPDATE, FrameParser, to_domain
from cashup_tui.domain.enums import OrderType, Side, TradingState
from cashup_tui.domain.errors import RiskDenied
from cashup_tui.domain.events import RiskTripped
from cashup_tui.domain.positions import Position
from cashup_tui.engine.price_guard import PriceGuard
from cashup_tui.engine.risk import RiskLimits
from tests.engine_fakes import make_engine, order

D = Decimal


def tick(e, mark: str, *, index: str = "50000") -> str:
    """Send a futures.tickers frame through the parser into the cache; returns the parse kind."""
    frame = {"time": 1, "time_ms": e.clock.now_ms(), "channel": "futures.tickers", "event": "update",
             "result": [{"contract": "BTC_USDT", "last": "50000", "mark_price": mark, "index_price": index,
                         "t": e.clock.now_ms()}]}
    _, kind, payload = FrameParser().parse(json.dumps(frame).encode())
    if kind == UPDATE:
        for t in payload:
            e.cache.update_ticker(to_domain(t))
    return kind


def guarded(band: str = "5"):
    e = make_engine(limits=RiskLimits(duplicate_window_ms=0))
    e.risk.price_guard = PriceGuard(D(band), e.clock, e.journal, e.bus)
    trips: list[RiskTripped] = []
    e.bus.subscribe(RiskTripped, trips.append)
    return e, trips


def market(size: str, side: Side = Side.BUY, **kw: object):
    return order(size=size, side=side, price=None, otype=OrderType.MARKET, **kw)


def test_tiny_mark_cannot_wave_a_huge_market_buy_through() -> None:
    e, trips = guarded()
    assert tick(e, "1e-9") == UPDATE  # finite and positive: the parser lets it by, the guard does not
    with pytest.raises(RiskDenied) as info:
        e.risk.check_submit(market("20000"))
    assert info.value.rule == "price_sources"
    assert "book mid" in str(info.value) and "paused" in str(info.value)
    assert e.risk.snapshot()["price_paused"]["BTC_USDT"].startswith("BTC_USDT mark ")
    assert [(t.rule, t.state) for t in trips] == [("price_sources", TradingState.REDUCING)]
    assert any(ev[1] == "paused" and ev[2] == "price_sources" for ev in e.journal.risk_events)


@pytest.mark.parametrize("lie", ["NaN", "Infinity", "-Infinity", "-1", "1e1000000"])
def test_non_finite_marks_never_reach_the_cache(lie: str) -> None:
    e, _ = guarded()
    before = e.cache.mark("BTC_USDT")
    assert tick(e, lie) == BAD
    assert e.cache.mark("BTC_USDT") == before
    e.risk.check_submit(order(price="50000"))  # trading goes on at the last good prices


def test_huge_mark_pauses_the_symbol_instead_of_refusing_everything_with_nonsense() -> None:
    e, trips = guarded()
    e.portfolio.positions["BTC_USDT"] = Position("BTC_USDT", D("0.0001"), D(10), D(50000))  # a long of 10
    tick(e, "99999999")
    with pytest.raises(RiskDenied) as info:
        e.risk.check_submit(order(price="50000"))
    assert info.value.rule == "price_sources" and "price_band" not in str(info.value)
    e.risk.check_submit(market("5", Side.SELL, reduce_only=True))  # closing stays possible
    # sources agree again: the symbol resumes by itself, and says so
    tick(e, "50010")
    e.risk.check_submit(order(price="50000", cid="t-x2"))
    assert [t.state for t in trips] == [TradingState.REDUCING, TradingState.ACTIVE]
    assert "resumed" in trips[-1].message
    assert e.risk.snapshot()["price_paused"] == {}


def test_index_alone_catches_a_lying_mark_without_a_book() -> None:
    e, _ = guarded()
    e.cache._books.clear()  # no book for this symbol
    tick(e, "1e-9", index="50000")
    with pytest.raises(RiskDenied) as info:
        e.risk.check_submit(market("20000"))
    assert info.value.rule == "price_sources" and "index" in str(info.value)


def test_notional_uses_the_highest_agreeing_source() -> None:
    e, _ = guarded()
    tick(e, "48000", index="49000")  # 4% under the book mid: within the 5% band, no pause
    # 10200 contracts x 0.0001: 48,960 at the mark (under the 50k cap) but 51,000 at the book mid
    with pytest.raises(RiskDenied) as info:
        e.risk.check_submit(market("10200"))
    assert info.value.rule == "max_order_notional"
    e.risk.check_submit(market("9800"))


def test_band_zero_turns_the_guard_off() -> None:
    e, trips = guarded("0")
    tick(e, "60000", index="60000")
    e.risk.check_submit(market("100"))
    assert trips == []


async def test_demo_node_pauses_on_a_lying_mark_and_resumes_by_itself(tmp_path) -> None:
    """The runtime path: a lying mark reaches the cache from the feed, the symbol pauses (announced on the
    bus), the lie is not forwarded to the portfolio or the trigger emulation, and trading resumes alone."""
    import dataclasses

    from cashup_tui.runtime import build_node
    from cashup_tui.settings import Settings
    from tests.test_runtime_demo import _until

    node = build_node(Settings(), "demo", db_url=str(tmp_path / "demo.sqlite"), symbols=["BTC_USDT"])
    await node.start()
    trips: list[RiskTripped] = []
    node.bus.subscribe(RiskTripped, trips.append)
    real = node.market.ticker
    lying = True

    def ticker(sym: str):
        t = real(sym)
        return dataclasses.replace(t, mark_price=1e-9) if (t is not None and lying) else t

    try:
        node.market.ticker = ticker  # type: ignore[method-assign]
        assert await _until(lambda: "BTC_USDT" in node.risk.price_guard.paused, 20.0)
        assert node.portfolio.mark_of("BTC_USDT") > 1000  # the lie never reached the portfolio
        with pytest.raises(RiskDenied) as info:
            await node.om.submit(node.om.build("BTC_USDT", "buy", D(20000), order_type="market"))
        assert info.value.rule == "price_sources"
        assert trips and trips[0].rule == "price_sources" and trips[0].state is TradingState.REDUCING
        assert node.risk.snapshot()["price_paused"]
        lying = False
        assert await _until(lambda: not node.risk.price_guard.paused, 20.0)
        assert trips[-1].state is TradingState.ACTIVE
        r = await node.om.submit(node.om.build("BTC_USDT", "buy", D(1), order_type="market"))
        assert r.order.status.value == "filled"
    finally:
        node.market.ticker = real  # type: ignore[method-assign]
        await node.stop()


@pytest.mark.parametrize("lie", [float("nan"), float("inf"), -1.0])
def test_the_cache_never_takes_a_non_finite_mark_whatever_the_source(lie: float) -> None:
    from cashup_tui.domain.market import Ticker

    e, _ = guarded()
    e.cache.update_ticker(Ticker("BTC_USDT", e.clock.now_ms(), 50000.0, lie))
    assert e.cache.mark("BTC_USDT") == D(50000)
