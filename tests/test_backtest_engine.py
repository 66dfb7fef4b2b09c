"""The fast engine against an independent bar-by-bar simulator of the execution model,
on the real candles in ../shared/data/market, plus hand-computed cases of each rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.engine.backtest.data import load_csv, load_funding
from cashup_tui.engine.backtest.fast import run_fast, simulate
from cashup_tui.engine.backtest.metrics import compute
from cashup_tui.engine.backtest.model import RunConfig, Sizer, known_instrument
from cashup_tui.engine.strategy import Bars, load_strategy, run_signals
from tests.conftest import MARKET_DIR, need_shared

BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
ETH_5M = "gateio_usdt_perp_ETH_USDT_5m_2026-01-26_2026-02-25.csv"
BTC_FUND = "gateio_usdt_perp_BTC_USDT_funding_2025-02-25_2026-02-25.csv"


# ------------------------------------------------------------------ independent reference simulator
def reference(bars: Bars, sig, *, cash=10_000.0, fee_bps=5.0, slip_bps=0.0, lev=1.0, short=False,
              stop=None, take=None, funding=None):
    """Plain loop over bars, written from the rules in the engine's docstring (not from its code)."""
    o, h, lo, c, t = (x.tolist() for x in (bars.open, bars.high, bars.low, bars.close, bars.time_ms))
    n, fee, slip = len(c), fee_bps / 1e4, slip_bps / 1e4
    rate_at = [0.0] * n
    if funding is not None:
        for ts, r in zip(funding.time_ms.tolist(), funding.rate.tolist(), strict=True):
            i = None
            for j in range(n):  # the last bar that opened strictly before the settlement
                if t[j] < ts:
                    i = j
                else:
                    break
            step = t[1] - t[0]
            if i is not None and ts <= t[-1] + step:
                rate_at[i] += r
    acc = cash  # cash account: realised pnl, fees and funding
    pos, units, entry, entry_i = 0, 0.0, 0.0, 0
    want, blocked = 0, False
    trades, curve = [], []

    def close_at(i, px, why):
        nonlocal acc, pos, units
        fee_out = units * px * fee if why != "end" else 0.0
        acc += pos * units * (px - entry) - fee_out
        trades.append((entry_i, i, pos, entry, px, units, why))
        pos, units = 0, 0.0

    for i in range(n):
        if i > 0:
            d = 0 if blocked else want
            if d != pos:
                if pos != 0:
                    close_at(i, o[i] * (1 - slip * pos), "signal")
                if d != 0:
                    equity = acc
                    entry = o[i] * (1 + slip * d)
                    # the venue's margin rule above 1x: margin notional / L plus the entry fee fit the equity
                    units = equity / (entry * (1 / lev + fee)) if lev > 1 else lev * equity / (entry * (1 + fee))
                    acc -= units * entry * fee
                    pos, entry_i = d, i
        if pos != 0 and (stop or take):
            if pos > 0:
                sp = entry * (1 - stop) if stop else None
                tp = entry * (1 + take) if take else None
                hs, ht = sp is not None and lo[i] <= sp, tp is not None and h[i] >= tp
            else:
                sp = entry * (1 + stop) if stop else None
                tp = entry * (1 - take) if take else None
                hs, ht = sp is not None and h[i] >= sp, tp is not None and lo[i] <= tp
            if hs:
                px = sp if i == entry_i else (min(o[i], sp) if pos > 0 else max(o[i], sp))
                close_at(i, px * (1 - slip * pos), "stop")
                blocked = True
            elif ht:
                px = tp if i == entry_i else (max(o[i], tp) if pos > 0 else min(o[i], tp))
                close_at(i, px, "take")
                blocked = True
        if pos != 0 and rate_at[i]:
            acc -= pos * units * c[i] * rate_at[i]
        curve.append(acc + (pos * units * (c[i] - entry) if pos else 0.0))
        s = sig[i]
        if s == s:
            v = int(np.sign(s))
            if v < 0 and not short:
                v = 0
            want = v
            if v != 0:
                blocked = False
    if pos != 0:
        trades.append((entry_i, n - 1, pos, entry, c[-1], units, "end"))
    return trades, np.array(curve)


def assert_same(res, ref_trades, ref_curve):
    got = [(int(r["entry_idx"]), int(r["exit_idx"]), int(r["side"]), float(r["entry_price"]),
            float(r["exit_price"]), float(r["qty"]), str(r["reason"])) for r in res.trades]
    assert len(got) == len(ref_trades)
    for a, b in zip(got, ref_trades, strict=True):
        assert a[:3] == b[:3] and a[6] == b[6], (a, b)
        assert a[3:6] == pytest.approx(b[3:6], rel=1e-9)
    np.testing.assert_allclose(res.equity, ref_curve, rtol=1e-9)


@pytest.fixture(scope="module")
def btc():
    return load_csv(need_shared(MARKET_DIR / BTC_1H))


@pytest.fixture(scope="module")
def eth():
    return load_csv(need_shared(MARKET_DIR / ETH_5M))


VECTORISED = {
    "sma_cross": {}, "ema_cross": {"fast": 8, "slow": 40}, "rsi_reversion": {},
    "bollinger_breakout": {}, "donchian_breakout": {"period": 30}, "macd_trend": {"trend": 200},
}


@pytest.mark.parametrize("name", sorted(VECTORISED))
@pytest.mark.parametrize("short", [False, True])
def test_fast_equals_reference_loop_on_real_candles(btc, name, short):
    strat = load_strategy(name)(**VECTORISED[name])
    cfg = RunConfig(allow_short=short, slippage_bps=2.0)
    res = run_fast(strat, btc, cfg)
    sig = run_signals(strat, btc)
    trades, curve = reference(btc, sig, short=short, slip_bps=2.0)
    assert len(trades) > 5
    assert_same(res, trades, curve)


@pytest.mark.parametrize("name,params", [("bollinger_breakout", {"stop_pct": 1.5, "take_pct": 4.0}),
                                         ("rsi_reversion", {"stop_pct": 2.0}),
                                         ("donchian_breakout", {"stop_pct": 1.0})])
def test_stops_equal_reference_loop(eth, name, params):
    strat = load_strategy(name)(**params)
    for short in (False, True):
        res = run_fast(strat, eth, RunConfig(allow_short=short, slippage_bps=1.0))
        trades, curve = reference(eth, run_signals(strat, eth), short=short, slip_bps=1.0,
                                  stop=params.get("stop_pct", 0) / 100 or None, take=params.get("take_pct", 0) / 100 or None)
        assert any(t[6] == "stop" for t in trades)
        assert_same(res, trades, curve)


def test_funding_equals_reference_loop(btc):
    fund = load_funding(need_shared(MARKET_DIR / BTC_FUND))
    strat = load_strategy("sma_cross")(fast=20, slow=60)
    res = run_fast(strat, btc, RunConfig(allow_short=True, funding=fund))
    trades, curve = reference(btc, run_signals(strat, btc), short=True, funding=fund)
    assert_same(res, trades, curve)
    m = compute(res)
    assert m["funding"] != 0
    plain = run_fast(strat, btc, RunConfig(allow_short=True))
    assert plain.final_equity != res.final_equity


def test_sma_cross_matches_the_issue_definition(btc):
    """Signals from the strategy equal a pure-Python reading of the rule in the issue."""
    c = btc.close.tolist()[:3000]
    fast, slow = 10, 30

    def sma(i, k):
        return sum(c[i - k + 1 : i + 1]) / k

    expected = []
    for t in range(len(c)):
        if t < slow:  # needs slow[t-1]
            expected.append(math.nan)
            continue
        f1, s1, f0, s0 = sma(t, fast), sma(t, slow), sma(t - 1, fast), sma(t - 1, slow)
        expected.append(1.0 if f1 > s1 and f0 <= s0 else -1.0 if f1 < s1 and f0 >= s0 else math.nan)
    got = run_signals(load_strategy("sma_cross")(), btc[:3000])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.nansum(np.abs(got - np.array(expected))) == 0


# ------------------------------------------------------------------ hand-computed rules
def bars_of(opens, closes=None, highs=None, lows=None, step=3_600_000):
    o = np.array(opens, dtype=float)
    c = np.array(closes if closes is not None else opens, dtype=float)
    h = np.array(highs if highs is not None else np.maximum(o, c), dtype=float)
    lo = np.array(lows if lows is not None else np.minimum(o, c), dtype=float)
    t = 1_700_000_000_000 + np.arange(o.size) * step
    return Bars.from_arrays(t, o, h, lo, c, np.ones(o.size), symbol="BTC_USDT", timeframe="1h")


def test_all_in_round_trip_is_exact():
    b = bars_of([100, 100, 110, 120, 130])
    sig = np.array([1, np.nan, -1, np.nan, np.nan])  # buy at open[1]=100, sell at open[3]=120
    res = simulate(b, sig, RunConfig(cash=10_000, fee_bps=5))
    f = 5e-4
    units = 10_000 / (100 * (1 + f))
    assert res.trades["qty"][0] == pytest.approx(units, rel=1e-12)
    assert res.final_equity == pytest.approx(units * 120 * (1 - f), rel=1e-12)
    assert res.position.tolist() == [0, 1, 1, 0, 0]
    assert (int(res.trades["entry_idx"][0]), int(res.trades["exit_idx"][0])) == (1, 3)


def test_signal_on_last_bar_is_never_executed_and_open_position_is_marked():
    b = bars_of([100, 100, 105, 107])
    res = simulate(b, np.array([1, np.nan, np.nan, -1]), RunConfig(fee_bps=0))
    assert res.trades.size == 1 and res.trades["reason"][0] == "end"
    assert res.final_equity == pytest.approx(10_000 / 100 * 107)
    res2 = simulate(b, np.array([np.nan, np.nan, np.nan, 1]), RunConfig())
    assert res2.trades.size == 0 and res2.final_equity == 10_000


def test_long_only_turns_short_signals_into_flat():
    b = bars_of([100, 100, 90, 80, 70])
    res = simulate(b, np.array([-1, np.nan, np.nan, np.nan, np.nan]), RunConfig())
    assert res.trades.size == 0
    res = simulate(b, np.array([-1, np.nan, np.nan, np.nan, np.nan]), RunConfig(allow_short=True, fee_bps=0))
    assert res.trades["side"][0] == -1
    units = 10_000 / 100
    assert res.final_equity == pytest.approx(10_000 + units * (100 - 70))


def test_stop_wins_when_a_bar_touches_both_and_gaps_fill_at_the_open():
    b = bars_of([100, 100, 100, 100], closes=[100, 100, 100, 100], highs=[100, 100, 120, 100], lows=[100, 100, 80, 100])
    res = simulate(b, np.array([1, np.nan, np.nan, np.nan]), RunConfig(fee_bps=0), stop=0.05, take=0.10)
    assert res.trades["reason"][0] == "stop"
    assert res.trades["exit_price"][0] == pytest.approx(95.0)
    # gap below the stop: filled at the (worse) open
    g = bars_of([100, 100, 90, 90], lows=[100, 100, 85, 90], highs=[100, 100, 91, 90])
    res = simulate(g, np.array([1, np.nan, np.nan, np.nan]), RunConfig(fee_bps=0), stop=0.05)
    assert res.trades["exit_price"][0] == pytest.approx(90.0)
    # after a stop, flat until the next non-zero signal
    assert res.position.tolist() == [0, 1, 0, 0]


def test_leverage_liquidation_at_the_maintenance_margin_price():
    """The venue's model: a 2x long is liquidated where margin + uPnL = maintenance margin (not at the
    bankruptcy price); what is left of the equity stays, and trading goes on."""
    b = bars_of([100, 100, 60, 50, 200], lows=[100, 100, 40, 50, 200], highs=[100, 100, 100, 50, 200])
    res = simulate(b, np.array([1, np.nan, np.nan, np.nan, np.nan]), RunConfig(leverage=2, fee_bps=0))
    first = res.trades[0]
    assert first["reason"] == "liquid" and first["exit_idx"] == 2
    assert first["exit_price"] == pytest.approx(50.0 / 0.995)  # entry * (1 - 1/2) / (1 - maintenance rate)
    assert res.equity[2] == pytest.approx(10_000 - 200 * (100 - 50.0 / 0.995))
    assert res.trades.size == 2 and res.trades[1]["entry_idx"] == 3


def test_contract_rounding_uses_the_instrument():
    b = bars_of([30_000, 30_000, 31_000, 32_000])
    inst = known_instrument("BTC_USDT")
    res = simulate(b, np.array([1, np.nan, np.nan, np.nan]), RunConfig(instrument=inst))
    qty = float(res.trades["qty"][0])
    contracts = qty / 0.0001
    assert abs(contracts - round(contracts)) < 1e-6 and round(contracts) == 3331
    small = simulate(b, np.array([1, np.nan, np.nan, np.nan]), RunConfig(cash=2.0, instrument=inst))
    assert small.trades.size == 0  # less than one contract: skipped


def test_sizers():
    b = bars_of([100, 100, 110, 110])
    sig = np.array([1, np.nan, -1, np.nan])
    half = simulate(b, sig, RunConfig(fee_bps=0, sizer=Sizer("percent", 50)))
    assert half.trades["qty"][0] == pytest.approx(50.0)
    fixed = simulate(b, sig, RunConfig(fee_bps=0, sizer=Sizer("notional", 1000)))
    assert fixed.trades["qty"][0] == pytest.approx(10.0)
    assert fixed.final_equity == pytest.approx(10_000 + 10 * 10)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([np.nan, np.nan, np.nan, 1.0, -1.0, 0.0]), min_size=3, max_size=80),
       st.booleans(), st.sampled_from([0.0, 3.0]), st.sampled_from([1.0, 2.0]))
def test_property_vectorised_path_equals_trade_loop(sig, short, slip, lev):
    rng = np.random.default_rng(len(sig))
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(sig))))
    o = np.r_[100.0, c[:-1]]
    b = bars_of(o, c, np.maximum(o, c) * 1.002, np.minimum(o, c) * 0.998)
    cfg = RunConfig(allow_short=short, slippage_bps=slip, leverage=lev)
    a = simulate(b, np.array(sig), cfg)
    z = simulate(b, np.array(sig), cfg, force_loop=True)
    ref_trades, ref_curve = reference(b, np.array(sig), short=short, slip_bps=slip, lev=lev)
    np.testing.assert_allclose(a.equity, z.equity, rtol=1e-9)
    assert a.trades["entry_idx"].tolist() == z.trades["entry_idx"].tolist()
    assert_same(a, ref_trades, ref_curve)


def test_metrics_fields(btc):
    res = run_fast(load_strategy("sma_cross")(), btc, RunConfig())
    m = compute(res)
    for k in ("final_equity", "total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate",
              "profit_factor", "exposure", "fees", "trade_count"):
        assert k in m
    assert m["final_equity"] == pytest.approx(res.final_equity)
    assert m["total_return"] == pytest.approx(res.final_equity / 10_000 - 1)
    assert 0 <= m["max_drawdown"] < 1 and 0 < m["exposure"] < 1
    assert m["fees"] == pytest.approx(float(res.trades["fees"].sum()))
    assert m["trade_count"] == res.trades.size
