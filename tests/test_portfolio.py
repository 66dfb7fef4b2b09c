"""Portfolio accounting (hypothesis: equity == cash + unrealised PnL at every step) and analytics."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.enums import Side
from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.orders import Fill
from cashup_tui.engine.portfolio import Portfolio, daily_closes, replay
from tests.engine_fakes import INSTRUMENTS

D = Decimal

step = st.tuples(
    st.sampled_from(["BTC_USDT", "ETH_USDT"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 500),  # contracts
    st.integers(1_000, 80_000),  # price in whole units
    st.integers(-50, 200),  # fee in cents
    st.integers(1_000, 80_000),  # next mark
    st.integers(-100, 100),  # funding rate in 1e-5
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_equity_is_cash_plus_unrealised_at_every_step(steps) -> None:
    start = D(100_000)
    pf = Portfolio.with_cash(INSTRUMENTS, start)
    flows = D(0)  # independent ledger: what was paid/received in cash for contracts, fees and funding
    for i, (sym, side, size, price, fee_c, mark, rate) in enumerate(steps):
        qm = INSTRUMENTS[sym].quanto_multiplier
        fee = D(fee_c) / 100
        assert pf.apply_fill(Fill(f"T{i}", "t-x", sym, side, D(size), D(price), fee, ts_ms=i))
        flows += -side.sign * D(size) * qm * D(price) - fee
        pf.set_mark(sym, D(mark))
        paid = pf.apply_funding(sym, D(rate) / 100_000, D(mark), i)
        flows += paid
        assert pf.equity() == pf.cash + pf.unrealized()
        assert abs(pf.cash - (start + pf.realized() - pf.fees() + pf.funding())) < D("1e-12")
        # mark-to-market identity: equity = start + cash flows + value of open contracts at mark
        held = sum((p.size * p.quanto_multiplier * pf.marks.get(s, p.entry_price) for s, p in pf.positions.items()), D(0))
        # (average entry is a division, so allow for the 28-digit Decimal context)
        assert abs(pf.equity() - (start + flows + held)) < D("1e-12")


def test_duplicate_fill_is_ignored() -> None:
    pf = Portfolio.with_cash(INSTRUMENTS, D(1000))
    f = Fill("T1", "t-x", "BTC_USDT", Side.BUY, D(10), D(50000), D("0.25"))
    assert pf.apply_fill(f) and not pf.apply_fill(f)
    assert pf.positions["BTC_USDT"].size == D(10) and pf.cash == D("999.75")


def test_views_margin_liquidation_and_exposure() -> None:
    pf = Portfolio.with_cash(INSTRUMENTS, D(10_000))
    pf.set_leverage("BTC_USDT", D(10))
    pf.apply_fill(Fill("T1", "t-x", "BTC_USDT", Side.BUY, D(1000), D(50000)))  # 0.1 BTC = 5000 USDT
    pf.apply_fill(Fill("T2", "t-y", "ETH_USDT", Side.SELL, D(100), D(3000)))  # 1 ETH = 3000 USDT
    pf.set_mark("BTC_USDT", D(51000))
    pf.set_mark("ETH_USDT", D(3000))
    v = pf.view("BTC_USDT")
    assert v.side == "long" and v.unrealized_pnl == D(100) and v.margin == D(510)
    assert v.liquidation_price is not None and D(45000) < v.liquidation_price < D(46000)
    exp = pf.exposure_by_symbol()
    assert exp["BTC_USDT"]["long"] == D(5100) and exp["ETH_USDT"]["short"] == D(3000)
    assert exp["ALL"] == {"long": D(5100), "short": D(3000)}
    assert pf.gross_exposure() == D(8100) and pf.net_exposure() == D(2100)
    with pytest.raises(ValidationError):
        pf.set_leverage("BTC_USDT", D(0))


def test_stress_shocks_per_symbol_and_all() -> None:
    pf = Portfolio.with_cash(INSTRUMENTS, D(10_000))
    pf.set_leverage("BTC_USDT", D(10))
    pf.apply_fill(Fill("T1", "t-x", "BTC_USDT", Side.BUY, D(1000), D(50000)))
    pf.apply_fill(Fill("T2", "t-y", "ETH_USDT", Side.SELL, D(100), D(3000)))
    pf.set_mark("BTC_USDT", D(50000))
    pf.set_mark("ETH_USDT", D(3000))
    rows = {(r.scope, r.shock_pct): r for r in pf.stress()}
    assert rows[("BTC_USDT", -10)].pnl == D(-500) and rows[("BTC_USDT", -10)].liquidated == ("BTC_USDT",)
    assert rows[("BTC_USDT", -5)].liquidated == ()
    assert rows[("ETH_USDT", 10)].pnl == D(-300)
    assert rows[("ALL", 20)].pnl == D(1000) - D(600)
    assert rows[("ALL", -30)].equity_after == pf.equity() + D(-1500) + D(900)
    assert len(pf.stress()) == 3 * 8


def test_historical_var() -> None:
    pf = Portfolio.with_cash(INSTRUMENTS, D(10_000))
    pf.apply_fill(Fill("T1", "t-x", "BTC_USDT", Side.BUY, D(1000), D(50000)))  # 5000 USDT long
    pf.set_mark("BTC_USDT", D(50000))
    closes = [100.0 * (1 + 0.01 * ((i % 7) - 3)) for i in range(200)]
    r = pf.historical_var({"BTC_USDT": closes})
    assert r.days == 199 and 0 < r.var95 <= r.var99 <= r.worst
    with pytest.raises(ValidationError):
        pf.historical_var({"BTC_USDT": [1.0]})


def test_var_uses_real_candles(market_dir) -> None:
    """1-day VaR from a year of real Gate BTC_USDT hourly candles (shared data)."""
    import csv

    path = market_dir / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
    if not path.exists():
        pytest.skip(f"{path.name} not in the shared data")

    class B:
        __slots__ = ("close", "open_ms")

    bars = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            b = B()
            b.open_ms, b.close = int(row["open_time_ms"]), float(row["close"])
            bars.append(b)
    closes = daily_closes(bars)
    assert len(closes) > 300
    pf = Portfolio.with_cash(INSTRUMENTS, D(10_000))
    pf.apply_fill(Fill("T1", "t-x", "BTC_USDT", Side.BUY, D(1000), D(50000)))  # 5000 USDT long
    pf.set_mark("BTC_USDT", D(50000))
    r = pf.historical_var({"BTC_USDT": closes})
    assert r.days == len(closes) - 1
    # BTC daily moves: a 95% 1-day VaR of 1%..10% of the notional is the plausible range
    assert 50 < r.var95 < 500 and r.var95 <= r.var99 <= r.worst


def test_replay_and_day_pnl_and_drawdown() -> None:
    fills = [Fill("T1", "t-x", "BTC_USDT", Side.BUY, D(10), D(50000), D("0.1"), ts_ms=1),
             Fill("T2", "t-x", "BTC_USDT", Side.SELL, D(4), D(51000), D("0.1"), ts_ms=2)]
    pf = replay(INSTRUMENTS, D(1000), reversed(fills))
    assert pf.positions["BTC_USDT"].size == D(6) and pf.realized() == D("0.4")
    pf.set_mark("BTC_USDT", D(50000))
    pf.roll(86_400_000 * 10 + 5)
    start = pf.equity()
    pf.set_mark("BTC_USDT", D(40000))
    pf.roll(86_400_000 * 10 + 6)
    assert pf.day_pnl() == pf.equity() - start < 0 and pf.drawdown_pct() > 0
    state = pf.state()
    pf2 = replay(INSTRUMENTS, D(1000), fills)
    pf2.restore_state(state)
    assert pf2.day_start_equity == start


def test_daily_closes_from_bars() -> None:
    class B:
        def __init__(self, t: int, c: float) -> None:
            self.open_ms, self.close = t, c

    day = 86_400_000
    assert daily_closes([B(0, 1), B(day - 60_000, 2), B(day, 3), B(day + 60_000, 4)]) == [2.0, 4.0]
