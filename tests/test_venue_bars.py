"""The venue driven bar by bar (how the event-driven backtest uses it) reproduces the documented execution
model on real candles: signal at a bar's close, market order at the next bar's open, all-in sizing
units = cash / (price * (1 + fee)), fee per side on notional, leverage 1."""

from __future__ import annotations

import csv
from decimal import Decimal as D
from pathlib import Path

from cashup_tui.venue import Venue
from tests.conftest import MARKET_DIR, need_shared
from tests.stubs import unit_contract

FEE = D("0.0005")
SYM = "BTC_USDT"
UNIT = unit_contract(SYM, D("0.1"))


def load(path: Path, n: int) -> list[tuple[int, D, D]]:
    rows = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            rows.append((int(row["open_time_ms"]), D(row["open"]), D(row["close"])))
            if len(rows) == n:
                break
    return rows


def sma_signals(closes: list[float], fast: int, slow: int) -> list[int]:
    """+1 enter long, -1 exit, 0 nothing, decided at each bar's close (crossings of the two SMAs)."""
    out = [0] * len(closes)
    prev = None
    for i in range(slow - 1, len(closes)):
        f = sum(closes[i - fast + 1 : i + 1]) / fast
        s = sum(closes[i - slow + 1 : i + 1]) / slow
        if prev is not None:
            if f > s and prev[0] <= prev[1]:
                out[i] = 1
            elif f < s and prev[0] >= prev[1]:
                out[i] = -1
        prev = (f, s)
    return out


def test_sma_cross_through_the_venue_equals_the_execution_model() -> None:
    bars = load(need_shared(MARKET_DIR) / "gateio_usdt_perp_BTC_USDT_1h_2023-01-01_2023-09-22.csv", 3000)
    signals = sma_signals([float(c) for _, _, c in bars], 10, 30)
    cash0 = D(10_000)
    v = Venue({SYM: UNIT}, balance=cash0, fee_bps=5, default_leverage=1, record_events=False)
    ref_cash, ref_units = cash0, D(0)
    trades = 0
    for i in range(1, len(bars)):
        ts, open_, _ = bars[i]
        v.update_price(SYM, open_, ts)
        sig = signals[i - 1]  # decided at the previous close, executed at this open
        pos = v.position(SYM).size
        if sig == 1 and pos == 0:
            units = UNIT.round_size(v.account().available / (open_ * (1 + FEE)))
            o = v.place(SYM, units, 0, tif="ioc", ts_ms=ts)
            assert o.finish_as == "filled" and o.fill_price == open_
            ref_units = UNIT.round_size(ref_cash / (open_ * (1 + FEE)))
            ref_cash -= ref_units * open_ * (1 + FEE)
            trades += 1
        elif sig == -1 and pos > 0:
            o = v.place(SYM, 0, 0, tif="ioc", close=True, ts_ms=ts)
            assert o.finish_as == "filled"
            ref_cash += ref_units * open_ * (1 - FEE)
            ref_units = D(0)
            trades += 1
        _, _, close = bars[i]
        v.update_mark(SYM, close, ts + 3_599_999)  # mark to the close: equity = cash + uPnL
        ref_equity = ref_cash + ref_units * close
        acc = v.account()
        assert abs(acc.equity - ref_equity) <= ref_equity * D("1e-12"), (i, acc.equity, ref_equity)
    assert trades > 20
    assert v.account().history_fee > 0
