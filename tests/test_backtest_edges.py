"""Issue 13, "engines that agree at every edge": each edge where the fast and the event engine used to
follow different rules, held on real Gate candles and on a small synthetic case."""

from __future__ import annotations

import numpy as np
import pytest

from cashup_tui.adapters.sim.execution import VenueExecution
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.backtest.event import run_event
from cashup_tui.engine.backtest.fast import run_fast, simulate
from cashup_tui.engine.backtest.model import RunConfig, Sizer, known_instrument
from cashup_tui.engine.strategy import Bars, Strategy, load_strategy
from tests.conftest import MARKET_DIR, need_shared

SIM = VenueExecution.with_venue
BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"


@pytest.fixture(scope="module")
def year():
    return load_csv(need_shared(MARKET_DIR / BTC_1H))


def synthetic(n: int = 400, seed: int = 7, sym: str = "BTC_USDT") -> Bars:
    rng = np.random.default_rng(seed)
    t = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 3_600_000
    c = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.r_[100.0, c[:-1]]
    hi = np.maximum(o, c) * (1 + rng.uniform(0, 0.004, n))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.004, n))
    return Bars.from_arrays(t, o, hi, lo, c, symbol=sym, timeframe="1h")


def same_trades(fast, event) -> None:
    assert event.rejected == 0, event.notes
    assert fast.trades["entry_idx"].tolist() == event.trades["entry_idx"].tolist()
    assert fast.trades["exit_idx"].tolist() == event.trades["exit_idx"].tolist()
    np.testing.assert_allclose(fast.equity, event.equity, rtol=1e-9)


# -- 1. no fee, all-in: exactly 1.0x account leverage passes the risk gate -----------------------
def test_all_in_without_fees_is_exactly_1x_and_passes_the_gate_on_real_candles(year) -> None:
    cfg = RunConfig(fee_bps=0)
    s = load_strategy("sma_cross")
    same_trades(run_fast(s(), year, cfg), run_event(s(), year, cfg, SIM))


@pytest.mark.parametrize("seed", range(4))
def test_all_in_without_fees_synthetic(seed) -> None:
    b = synthetic(seed=seed)
    cfg = RunConfig(fee_bps=0, allow_short=True)
    s = load_strategy("ema_cross")
    same_trades(run_fast(s(fast=5, slow=20), b, cfg), run_event(s(fast=5, slow=20), b, cfg, SIM))


# -- 2. several resting orders filling in one price update: each fill is booked with its own state ----------
def pnl_adds_up(res) -> None:
    """Trade PnL is net of fees and funding, so the trades add up to the equity change."""
    assert res.trades.size >= 2
    assert res.trades["pnl"].sum() == pytest.approx(res.final_equity - res.config.cash, abs=1e-6)
    win = res.trades["pnl"] > 0
    assert (res.trades["pnl"][win] > 0).all() and res.trades["eq_after"][-1] == pytest.approx(res.final_equity)


def test_grid_trades_add_up_to_the_equity_change_on_real_candles(year) -> None:
    res = run_event(load_strategy("grid")(), year, RunConfig(), SIM)
    assert res.rejected == 0, res.notes
    pnl_adds_up(res)


def test_grid_trades_add_up_when_a_gap_fills_every_level() -> None:
    """A bar that gaps down through every buy level, then one back up through every sell level."""
    n = 60
    t = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 3_600_000
    c = np.full(n, 100.0)
    c[10:20] = 90.0  # every 1% level below 100 fills in one price update
    c[20:40] = 101.0
    c[40:] = 85.0
    o = np.r_[100.0, c[:-1]]
    b = Bars.from_arrays(t, o, np.maximum(o, c) + 0.01, np.minimum(o, c) - 0.01, c, symbol="BTC_USDT", timeframe="1h")
    res = run_event(load_strategy("grid")(), b, RunConfig(), SIM)
    pnl_adds_up(res)


# -- 3. whole contracts: a segment whose first order cannot buy one contract is skipped (both engines) -------
class Hold(Strategy):
    """Long from the first close on."""

    def signals(self, b: Bars) -> np.ndarray:
        return np.ones(len(b))


def test_an_unaffordable_contract_skips_the_segment_on_real_candles(year) -> None:
    cfg = RunConfig(sizer=Sizer("notional", 11), instrument=known_instrument("BTC_USDT"))
    s = load_strategy("sma_cross")
    same_trades(run_fast(s(), year, cfg), run_event(s(), year, cfg, SIM))


def test_an_unaffordable_contract_skips_the_segment_synthetic() -> None:
    """One BTC_USDT contract costs 12 USDT at 120k: a 10 USDT notional cannot buy it; when the price falls
    to 90k it could, but the segment was skipped at its start, so neither engine enters mid-segment."""
    n = 30
    t = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 3_600_000
    c = np.where(np.arange(n) < 10, 120_000.0, 90_000.0)
    o = np.r_[120_000.0, c[:-1]]
    b = Bars.from_arrays(t, o, np.maximum(o, c) + 1, np.minimum(o, c) - 1, c, symbol="BTC_USDT", timeframe="1h")
    cfg = RunConfig(sizer=Sizer("notional", 10), instrument=known_instrument("BTC_USDT"))
    fast, event = run_fast(Hold(), b, cfg), run_event(Hold(), b, cfg, SIM)
    assert fast.trades.size == 0 and event.trades.size == 0
    same_trades(fast, event)


# -- 4. leverage above 1: both engines size by the venue's margin rule, units = eq / (p (1/L + f)) ---------
@pytest.mark.parametrize("sizer", [Sizer(), Sizer("percent", 60)], ids=["all-in", "percent"])
def test_leveraged_sizes_follow_the_margin_rule_on_real_candles(year, sizer) -> None:
    cfg = RunConfig(leverage=3, allow_short=True, sizer=sizer)
    s = load_strategy("sma_cross")
    fast, event = run_fast(s(), year, cfg), run_event(s(), year, cfg, SIM)
    same_trades(fast, event)
    np.testing.assert_allclose(fast.trades["qty"], event.trades["qty"], rtol=1e-9)


def test_leveraged_all_in_size_is_the_margin_rule_synthetic() -> None:
    b = synthetic(n=60, seed=3)
    cfg = RunConfig(leverage=5)
    fast, event = run_fast(Hold(), b, cfg), run_event(Hold(), b, cfg, SIM)
    p = float(b.open[1])
    assert fast.trades["qty"][0] == pytest.approx(10_000 / (p * (1 / 5 + 5e-4)), rel=1e-12)
    same_trades(fast, event)


# -- 5. liquidation: the venue's maintenance-margin price in both engines, and trading goes on -------------
def crash(n: int = 40, at: int = 20, to: float = 80.0) -> Bars:
    t = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 3_600_000
    c = np.full(n, 100.0)
    c[at:] = to
    c[at + 5:] = to * 1.05
    o = np.r_[100.0, c[:-1]]
    return Bars.from_arrays(t, o, np.maximum(o, c) + 0.1, np.minimum(o, c) - 0.1, c, symbol="BTC_USDT", timeframe="1h")


@pytest.mark.parametrize("force_loop", [False, True], ids=["vectorised", "loop"])
def test_liquidation_at_the_maintenance_margin_price_then_trading_goes_on(force_loop) -> None:
    from cashup_tui.engine.backtest.fast import simulate

    b = crash()
    cfg = RunConfig(leverage=10)
    fast = simulate(b, np.ones(len(b)), cfg, force_loop=force_loop)
    event = run_event(Hold(), b, cfg, SIM)
    first = fast.trades[0]
    assert first["reason"] == "liquid" and first["exit_idx"] == 20
    p = float(first["entry_price"])
    assert first["exit_price"] == pytest.approx(p * (1 - 1 / 10) / (1 - 0.005), rel=1e-12)
    assert fast.trades.size == 2 and fast.trades[1]["entry_idx"] == 21  # what is left, re-entered
    same_trades(fast, event)
    np.testing.assert_allclose(fast.trades["exit_price"], event.trades["exit_price"], rtol=1e-9)


def test_short_liquidation_agrees_on_real_candles(year) -> None:
    """Shorts at 20x on a year of BTC: several liquidations, the same in both engines."""
    cfg = RunConfig(leverage=20, allow_short=True)
    s = load_strategy("sma_cross")
    fast, event = run_fast(s(), year[:3000], cfg), run_event(s(), year[:3000], cfg, SIM)
    assert (fast.trades["reason"] == "liquid").sum() >= 1
    same_trades(fast, event)


# -- 7. look-ahead: a sparse peek slips past sampled cuts; the exhaustive mode cuts at every bar -----------
class SparsePeek(Strategy):
    """Reads the next close at one bar in every 1000 (bar 500, 1500, ...)."""

    def signals(self, b: Bars) -> np.ndarray:
        c = b.close
        out = np.zeros(len(b))
        i = np.arange(500, len(b) - 1, 1000)
        out[i] = np.where(c[i + 1] >= c[i], 1.0, -1.0)
        return out


def test_a_sparse_peek_slips_past_sampled_cuts_but_not_the_exhaustive_mode(year) -> None:
    from cashup_tui.engine.backtest.lookahead import check

    sampled = check(SparsePeek(), year)
    assert sampled.clean and not sampled.exhaustive  # the sampled cuts miss it, and say how little they tried
    assert sampled.possible == len(year) - 3 and sampled.coverage == pytest.approx(20 / sampled.possible)
    full = check(SparsePeek(), year, cuts=None)
    assert full.exhaustive and full.as_dict()["mode"] == "exhaustive" and full.coverage == 1.0
    assert sorted({c.bar for c in full.changes}) == list(range(500, len(year) - 1, 1000))


def test_exhaustive_lookahead_cli_synthetic(tmp_path, capsys) -> None:
    import json

    from cashup_tui.cli.main import run

    f = tmp_path / "peek.py"
    f.write_text("import numpy as np\nfrom cashup_tui.engine.strategy import Strategy\n\n\n"
                 "class Peek(Strategy):\n    def signals(self, b):\n        out = np.zeros(len(b))\n"
                 "        if len(b) > 38:\n            out[37] = 1.0  # only when bar 38 exists\n        return out\n")
    b = synthetic(n=120)
    csv = tmp_path / "BTC_USDT_1h.csv"
    rows = ["open_time_ms,open,high,low,close,volume"] + [
        f"{t},{o},{h},{lo},{c},1" for t, o, h, lo, c in zip(b.time_ms, b.open, b.high, b.low, b.close, strict=True)]
    csv.write_text("\n".join(rows) + "\n")
    with pytest.raises(SystemExit) as e:
        run(["backtest", "lookahead", str(f), "--data", str(csv), "--cuts", "5", "--json"])
    assert (e.value.code or 0) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["clean"] and rep["mode"] == "sampled" and rep["coverage"] < 0.1
    with pytest.raises(SystemExit) as e:
        run(["backtest", "lookahead", str(f), "--data", str(csv), "--exhaustive", "--json"])
    assert e.value.code == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["mode"] == "exhaustive" and [c["bar"] for c in rep["changes"]] == [37]


# -- equity decayed below the venue's size step (no --contracts): the order is not placed ----------
@pytest.mark.parametrize("cash", [1e-18, 1e-20])
def test_an_entry_below_the_size_step_is_skipped_by_both_engines(cash: float) -> None:
    """sma_cross 2/3 at 9% fees eats the equity: once all-in is under one size step (model.UNIT_STEP)
    the event engine's venue places no order; the fast engine (and a sweep's lean path) skip the same
    segments instead of trading on with ever smaller fractional sizes."""
    from cashup_tui.engine import optimize as opt
    from cashup_tui.engine.backtest.metrics import compute
    from cashup_tui.engine.backtest.model import UNIT_STEP

    s = load_strategy("sma_cross")
    b = synthetic(600, seed=3)
    cfg = RunConfig(cash=cash, fee_bps=900)
    fast, event = run_fast(s(fast=2, slow=3), b, cfg), run_event(s(fast=2, slow=3), b, cfg, SIM)
    same_trades(fast, event)
    assert 0 < fast.trades.size < (np.diff(np.sign(s(fast=2, slow=3).signals(b))) != 0).sum() // 4
    assert fast.trades["qty"].min() >= float(UNIT_STEP)
    np.testing.assert_allclose(fast.trades["qty"], event.trades["qty"], rtol=1e-9)
    looped = simulate(b, s(fast=2, slow=3).signals(b), cfg, force_loop=True)  # the fast engine's other path
    assert looped.trades["entry_idx"].tolist() == fast.trades["entry_idx"].tolist()
    np.testing.assert_allclose(looped.equity, fast.equity, rtol=1e-9)
    ctx = opt.EvalContext.of(s, b, cfg, "final_equity")
    r = opt.evaluate(ctx, {"fast": 2, "slow": 3})
    assert r["metrics"]["trade_count"] == fast.trades.size
    assert r["metrics"]["final_equity"] == pytest.approx(compute(fast)["final_equity"], rel=1e-12)
