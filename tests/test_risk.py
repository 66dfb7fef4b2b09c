"""Pre-trade risk gate: every rule denies with its name and numbers; boundaries one tick in/out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from msgspec.structs import replace

from cashup_tui.domain.enums import OrderStatus, OrderType, Side, TradingState
from cashup_tui.domain.errors import RiskDenied
from cashup_tui.domain.orders import Fill
from cashup_tui.engine.risk import RiskLimits, StrategyBudget, TokenBucket
from tests.engine_fakes import INSTRUMENTS, feed, make_engine, order

D = Decimal


def gate(**limits: object):
    base = {"duplicate_window_ms": 0}
    base.update(limits)
    return make_engine(limits=RiskLimits(**base))  # type: ignore[arg-type]


def denied(e, o, rule: str) -> RiskDenied:
    with pytest.raises(RiskDenied) as info:
        e.risk.check_submit(o)
    assert info.value.rule == rule, (info.value.rule, str(info.value))
    assert str(info.value).startswith(f"risk: {rule}: ")
    return info.value


def test_plain_order_passes() -> None:
    e = gate()
    e.risk.check_submit(order())


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "0", "-0", "-1", "sNaN"])
def test_bad_sizes_are_input_sanity(bad: str) -> None:
    e = gate()
    exc = denied(e, order(size=bad), "input_sanity")
    assert exc.numbers["field"] == "size"


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "0", "-0", "-50000"])
def test_bad_prices_are_input_sanity(bad: str) -> None:
    e = gate()
    exc = denied(e, order(price=bad), "input_sanity")
    assert exc.numbers["field"] == "price"


def test_float_nan_and_inf_are_refused() -> None:
    e = gate()
    denied(e, replace(order(), size=float("nan")), "input_sanity")  # type: ignore[arg-type]
    denied(e, replace(order(), price=float("inf")), "input_sanity")  # type: ignore[arg-type]


def test_tiny_size_is_a_step_error_not_rounded() -> None:
    e = gate()
    exc = denied(e, order(size="1e-30"), "size_step")
    assert exc.numbers["nearest"] == D(0)


def test_tiny_price_is_a_tick_error() -> None:
    e = gate()
    denied(e, order(price="1e-30"), "price_tick")


def test_over_precise_price_is_refused_with_neighbours() -> None:
    e = gate()
    exc = denied(e, order(price="50000.05"), "price_tick")
    assert exc.numbers["nearest_down"] == D("50000.0") and exc.numbers["nearest_up"] == D("50000.1")
    e.risk.check_submit(order(price="50000.1"))


def test_fractional_contracts_refused() -> None:
    e = gate()
    denied(e, order(size="1.5"), "size_step")


def test_contract_min_max() -> None:
    e = gate(max_order_notional=D(10**12), max_position_notional=D(10**12), max_gross_exposure=D(10**12),
             max_leverage=D(10**6))
    inst = INSTRUMENTS["BTC_USDT"]
    e.risk.check_submit(order(size=str(inst.max_size)))
    exc = denied(e, order(size=str(inst.max_size + 1)), "contract_size")
    assert exc.numbers["max_size"] == inst.max_size


def test_unknown_symbol() -> None:
    e = gate()
    e.cache.set_mark("DOGE_USDT", D(1), e.clock.now_ms())
    denied(e, order(symbol="DOGE_USDT", price="1"), "unknown_symbol")


def test_missing_price_for_limit_and_trigger_for_stop() -> None:
    e = gate()
    denied(e, order(price=None), "input_sanity")
    denied(e, order(otype=OrderType.STOP_MARKET, price=None), "input_sanity")


def test_max_order_notional_boundary() -> None:
    # 20 contracts * 0.0001 * 50000 = 100 USDT exactly
    e = gate(max_order_notional=D(100))
    e.risk.check_submit(order(size="20"))
    exc = denied(e, order(size="21"), "max_order_notional")
    assert exc.numbers["notional"] == D("105.0000") and exc.numbers["limit"] == D(100)


def test_max_order_notional_one_tick_over() -> None:
    e = gate(max_order_notional=D(100))
    e.risk.check_submit(order(size="20", price="50000.0"))
    denied(e, order(size="20", price="50000.1"), "max_order_notional")


def test_max_position_notional_counts_position_and_working_orders() -> None:
    e = gate(max_position_notional=D(100))
    e.portfolio.apply_fill(Fill("f1", "t-a", "BTC_USDT", Side.BUY, D(10), D(50000)))
    e.risk.check_submit(order(size="10"))  # 20 contracts = 100
    exc = denied(e, order(size="11"), "max_position_notional")
    assert exc.numbers["position_after"] == D(21)
    e.cache.put_order(replace(order(cid="t-w1", size="5"), status=OrderStatus.OPEN))
    denied(e, order(size="10"), "max_position_notional")


def test_reducing_order_skips_exposure_limits() -> None:
    e = gate(max_order_notional=D(10), max_position_notional=D(10))
    e.portfolio.apply_fill(Fill("f1", "t-a", "BTC_USDT", Side.BUY, D(50), D(50000)))
    e.risk.check_submit(order(side=Side.SELL, size="50"))


def test_max_gross_exposure() -> None:
    e = gate(max_gross_exposure=D(1000))
    e.portfolio.apply_fill(Fill("f1", "t-a", "ETH_USDT", Side.BUY, D(30), D(3000)))  # 900 USDT
    e.risk.check_submit(order(size="20"))  # +100 = 1000
    exc = denied(e, order(size="21"), "max_gross_exposure")
    assert exc.numbers["gross"] == D("1005.0000")


def test_max_leverage_account() -> None:
    e = make_engine(limits=RiskLimits(duplicate_window_ms=0, max_leverage=D(2)), cash=D(1000))
    e.risk.check_submit(order(size="400"))  # 2000 notional / 1000 equity = 2x
    exc = denied(e, order(size="401"), "max_leverage")
    assert exc.numbers["limit"] == D(2)


def test_leverage_setting_checks() -> None:
    e = gate(max_leverage=D(10))
    e.risk.check_leverage("BTC_USDT", D(10))
    for bad, rule in ((D(0), "input_sanity"), (D("NaN"), "input_sanity"), (D(11), "max_leverage")):
        with pytest.raises(RiskDenied) as info:
            e.risk.check_leverage("BTC_USDT", bad)
        assert info.value.rule == rule


def test_price_band_one_tick_in_and_out() -> None:
    e = gate(price_band_pct=D(5))
    e.risk.check_submit(order(side=Side.SELL, price="52500.0", size="1"))
    exc = denied(e, order(side=Side.SELL, price="52500.1", size="1"), "price_band")
    assert exc.numbers["mark"] == D(50000) and exc.numbers["allowed_high"] == D("52500.0")
    e.risk.check_submit(order(price="47500.0", size="1"))
    denied(e, order(price="47499.9", size="1"), "price_band")


def test_trigger_price_band() -> None:
    e = gate(price_band_pct=D(5))
    denied(e, order(otype=OrderType.STOP_MARKET, price=None, trigger_price=D(40000), side=Side.SELL), "price_band")


def test_max_open_orders() -> None:
    e = gate(max_open_orders=2)
    for i in range(2):
        e.cache.put_order(replace(order(cid=f"t-o{i}", size="1"), status=OrderStatus.OPEN))
    exc = denied(e, order(size="1"), "max_open_orders")
    assert exc.numbers == {"open_orders": 2, "limit": 2}


def test_order_rate_token_bucket() -> None:
    e = gate(max_orders_per_sec=2.0)
    e.risk.check_submit(order(size="1", cid="t-a"))
    e.risk.check_submit(order(size="2", cid="t-b"))
    exc = denied(e, order(size="3", cid="t-c"), "order_rate")
    assert exc.numbers["rate_per_sec"] == 2.0
    e.clock.advance(500)
    feed(e.cache, e.portfolio, e.clock, e.venue.price)
    e.risk.check_submit(order(size="3", cid="t-c"))


def test_token_bucket_refills() -> None:
    b = TokenBucket(10, now_ms=0)
    assert all(b.take(0) for _ in range(10)) and not b.take(0)
    assert b.take(100) and not b.take(100)


def test_daily_loss_limit_blocks_entries_not_exits() -> None:
    e = gate(daily_loss_limit=D(100))
    e.portfolio.roll(e.clock.now_ms())
    e.portfolio.apply_fill(Fill("f1", "t-a", "BTC_USDT", Side.BUY, D(100), D(50000)))
    e.portfolio.set_mark("BTC_USDT", D(40000))  # -100 USDT
    e.cache.set_mark("BTC_USDT", D(40000), e.clock.now_ms())
    exc = denied(e, order(size="1", price="40000"), "daily_loss")
    assert exc.numbers["day_pnl"] == D("-100.0000")
    e.risk.check_submit(order(side=Side.SELL, size="100", price="40000"))


def test_max_drawdown() -> None:
    e = make_engine(limits=RiskLimits(duplicate_window_ms=0, max_drawdown_pct=D(10), daily_loss_limit=D(0)),
                    cash=D(1000))
    e.portfolio.roll(e.clock.now_ms())
    e.portfolio.apply_fill(Fill("f1", "t-a", "BTC_USDT", Side.BUY, D(100), D(50000)))
    e.portfolio.set_mark("BTC_USDT", D(40000))  # equity 900 from peak 1000
    e.cache.set_mark("BTC_USDT", D(40000), e.clock.now_ms())
    exc = denied(e, order(size="1", price="40000"), "max_drawdown")
    assert exc.numbers["drawdown_pct"] == D(10)


def test_duplicate_intent_guard() -> None:
    e = gate(duplicate_window_ms=1000)
    e.risk.check_submit(order(cid="t-a"))
    exc = denied(e, order(cid="t-b"), "duplicate_intent")
    assert exc.numbers["window_ms"] == 1000
    e.clock.advance(1001)
    feed(e.cache, e.portfolio, e.clock, e.venue.price)
    e.risk.check_submit(order(cid="t-c"))


def test_stale_data_and_reconciling() -> None:
    e = gate(stale_feed_ms=1000)
    e.risk.reconciling = True
    denied(e, order(), "reconciling")
    e.risk.reconciling = False
    e.clock.advance(1000)
    e.risk.check_submit(order(cid="t-ok"))
    e.clock.advance(1)
    exc = denied(e, order(cid="t-2"), "stale_data")
    assert exc.numbers["age_ms"] == 1001


def test_strategy_budget() -> None:
    e = gate()
    e.risk.budgets["s1"] = StrategyBudget(max_order_notional=D(50), max_open_orders=1)
    e.risk.check_submit(order(size="10", strategy="s1"))
    denied(e, order(size="11", strategy="s1", cid="t-2"), "budget_order_notional")
    e.cache.put_order(replace(order(cid="t-o", size="1", strategy="s1"), status=OrderStatus.OPEN))
    denied(e, order(size="1", strategy="s1", cid="t-3"), "budget_open_orders")


def test_denials_are_journalled_with_numbers() -> None:
    e = gate(max_order_notional=D(100))
    with pytest.raises(RiskDenied):
        e.risk.check_submit(order(size="21"))
    _ts, kind, rule, _msg, nums = e.journal.risk_events[-1]
    assert (kind, rule) == ("denied", "max_order_notional") and nums["limit"] == "100"


def test_trading_states_and_persistence() -> None:
    e = gate()
    e.portfolio.apply_fill(Fill("f1", "t-a", "BTC_USDT", Side.BUY, D(10), D(50000)))
    e.risk.set_kill_level(1, "test", source="cli")
    assert e.risk.state is TradingState.REDUCING
    denied(e, order(size="1"), "trading_state")
    e.risk.check_submit(order(side=Side.SELL, size="10"))  # reduces
    denied(e, order(side=Side.SELL, size="11", cid="t-2"), "trading_state")  # would flip
    e.risk.set_kill_level(4, "halt", source="cli")
    assert e.risk.state is TradingState.HALTED
    denied(e, order(side=Side.SELL, size="10", cid="t-3"), "trading_state")
    # restart with the same journal: HALTED survives
    e2 = make_engine(journal=e.journal)
    assert e2.risk.state is TradingState.HALTED and e2.risk.status.kill_level == 4
    e2.risk.resume("all clear", source="cli")
    assert make_engine(journal=e.journal).risk.state is TradingState.ACTIVE
    assert any(a[2] == "risk.kill" for a in e.journal.audit_log)


def test_rules_trip_and_only_escalate() -> None:
    e = gate(daily_loss_limit=D(100), max_errors_per_min=3)
    e.portfolio.roll(e.clock.now_ms())
    for _ in range(3):
        e.risk.record_error("test")
    assert e.risk.status.kill_level == 1 and e.risk.status.reason.startswith("error_rate")
    e.portfolio.apply_fill(Fill("f1", "t-a", "BTC_USDT", Side.BUY, D(100), D(50000)))
    e.portfolio.set_mark("BTC_USDT", D(39000))
    assert e.risk.evaluate() == ["daily_loss"]
    assert e.risk.status.kill_level == 2
    e.risk.feed_stale("BTC_USDT", 20000)
    assert e.risk.status.kill_level == 2  # a lower level never de-escalates


def test_stale_feed_moves_to_reducing() -> None:
    e = gate()
    e.risk.feed_stale("ETH_USDT", 16000)
    assert e.risk.state is TradingState.REDUCING
    denied(e, order(symbol="ETH_USDT", price="3000", size="1"), "trading_state")


def test_amend_is_checked_as_the_new_order() -> None:
    e = gate(max_order_notional=D(100), price_band_pct=D(5))
    o = replace(order(size="10"), status=OrderStatus.OPEN)
    e.risk.check_amend(o, price=D("50000.1"), size=None)
    with pytest.raises(RiskDenied) as info:
        e.risk.check_amend(o, price=None, size=D(21))
    assert info.value.rule == "max_order_notional"
    with pytest.raises(RiskDenied) as info:
        e.risk.check_amend(o, price=D("60000"), size=None)
    assert info.value.rule == "price_band"
    with pytest.raises(RiskDenied) as info:
        e.risk.check_amend(o, price=D("NaN"), size=None)
    assert info.value.rule == "input_sanity"


def test_limits_from_settings() -> None:
    from cashup_tui.settings import RiskSettings

    lim = RiskLimits.from_settings(RiskSettings(max_order_notional=123.4, stale_feed_s=2.5))
    assert lim.max_order_notional == D("123.4") and lim.stale_feed_ms == 2500


def test_two_closing_orders_cannot_flip_in_reducing_state() -> None:
    e = gate()
    e.portfolio.apply_fill(Fill("f1", "t-a", "BTC_USDT", Side.BUY, D(10), D(50000)))
    e.risk.set_kill_level(1, "test", source="cli")
    e.risk.check_submit(order(side=Side.SELL, size="6", cid="t-c1"))
    e.cache.put_order(replace(order(side=Side.SELL, size="6", cid="t-c1"), status=OrderStatus.OPEN))
    exc = denied(e, order(side=Side.SELL, size="6", cid="t-c2"), "trading_state")
    assert "reduce" in str(exc)
    e.risk.check_submit(order(side=Side.SELL, size="4", cid="t-c3"))


def test_working_orders_count_only_their_symbol_side_and_entries() -> None:
    """The gate reads the cache's open orders unsorted: what it counts must still be only the same
    contract and side (and, for exposure, only entries), whatever order the orders were put in."""
    e = gate(max_position_notional=D(100), max_open_orders=5)
    e.cache.put_order(replace(order(cid="t-z9", symbol="ETH_USDT", size="900", price="3000"), status=OrderStatus.OPEN))
    e.cache.put_order(replace(order(cid="t-z8", side=Side.SELL, size="900", price="50000"), status=OrderStatus.OPEN))
    e.cache.put_order(replace(order(cid="t-a1", size="9", reduce_only=True), status=OrderStatus.OPEN))
    e.risk.check_submit(order(size="20", cid="t-n1"))  # 20 contracts = 100: the others are not this exposure
    e.cache.put_order(replace(order(cid="t-a0", size="1", created_ms=-1), status=OrderStatus.OPEN))
    exc = denied(e, order(size="20", cid="t-n2"), "max_position_notional")
    assert exc.numbers["position_after"] == D(21)
    e.portfolio.apply_fill(Fill("f1", "t-f", "BTC_USDT", Side.SELL, D(12), D(50000)))  # short 12
    e.risk.set_kill_level(1, "test", source="cli")
    e.risk.check_submit(order(size="2", cid="t-r1"))  # 12 - 10 working buys leaves room for 2
    assert denied(e, order(size="3", cid="t-r2"), "trading_state").numbers["state"] == "reducing"
    e.risk.resume()
    e.cache.put_order(replace(order(cid="t-a2", symbol="ETH_USDT", size="1", price="3000"), status=OrderStatus.OPEN))
    assert denied(e, order(size="1", cid="t-n3"), "max_open_orders").numbers == {"open_orders": 5, "limit": 5}
