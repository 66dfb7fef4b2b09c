"""Two engines, one answer: every vectorisable strategy gives the same trades and equity on the
event engine (hooks + the shared simulated venue, Decimal money) as on the fast engine, on real candles."""

from __future__ import annotations

import numpy as np
import pytest

from cashup_tui.adapters.sim.execution import VenueExecution
from cashup_tui.engine.backtest.data import load_csv, load_funding
from cashup_tui.engine.backtest.event import run_event
from cashup_tui.engine.backtest.fast import run_fast
from cashup_tui.engine.backtest.model import RunConfig, Sizer, known_instrument
from cashup_tui.engine.strategy import load_strategy
from tests.conftest import MARKET_DIR, need_shared

SIM = VenueExecution.with_venue
BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
BTC_FUND = "gateio_usdt_perp_BTC_USDT_funding_2025-02-25_2026-02-25.csv"


@pytest.fixture(scope="module")
def bars():
    return load_csv(need_shared(MARKET_DIR / BTC_1H))[:1500]


def same(a, b, rtol: float = 1e-9) -> None:
    ta, tb = a.trades, b.trades
    assert ta.size == tb.size > 0
    for col in ("entry_idx", "exit_idx", "side", "reason"):
        assert ta[col].tolist() == tb[col].tolist(), col
    for col in ("entry_price", "exit_price", "qty", "pnl", "fees"):
        np.testing.assert_allclose(ta[col], tb[col], rtol=rtol, atol=1e-6, err_msg=col)
    np.testing.assert_allclose(a.equity, b.equity, rtol=rtol)
    assert a.position.tolist() == b.position.tolist()


CASES = [
    ("sma_cross", {}, {}),
    ("ema_cross", {"fast": 8, "slow": 40}, {"allow_short": True}),
    ("rsi_reversion", {}, {"allow_short": True, "slippage_bps": 2.0}),
    ("bollinger_breakout", {"stop_pct": 1.5, "take_pct": 4.0}, {"allow_short": True}),
    ("donchian_breakout", {"period": 30}, {"sizer": Sizer("percent", 50)}),
    ("macd_trend", {"trend": 200}, {"sizer": Sizer("notional", 3000)}),
]


@pytest.mark.parametrize("name,params,cfg", CASES, ids=[c[0] for c in CASES])
def test_fast_and_event_engines_agree(bars, name, params, cfg) -> None:
    strat_cls = load_strategy(name)
    config = RunConfig(**cfg)
    fast = run_fast(strat_cls(**params), bars, config)
    event = run_event(strat_cls(**params), bars, config, SIM)
    same(fast, event)


def test_agree_with_funding_and_contracts(bars) -> None:
    fund = load_funding(need_shared(MARKET_DIR / BTC_FUND))
    config = RunConfig(allow_short=True, funding=fund, instrument=known_instrument("BTC_USDT"))
    s = load_strategy("sma_cross")
    fast = run_fast(s(fast=20, slow=60), bars, config)
    event = run_event(s(fast=20, slow=60), bars, config, SIM)
    same(fast, event)
    assert float(np.abs(fast.trades["funding"]).sum()) > 0


def test_event_only_grid_runs_on_the_venue(bars) -> None:
    res = run_event(load_strategy("grid")(), bars, RunConfig(), SIM)
    assert res.trades.size >= 2 and res.rejected == 0  # the grid is anchored at the first close; BTC fell away
    assert set(res.trades["reason"].tolist()) <= {"order", "end"}
    assert (res.trades["side"] == 1).all()  # it only buys dips and sells them back
    closed = res.trades[res.trades["reason"] == "order"]
    assert (closed["exit_price"] > closed["entry_price"]).all()
