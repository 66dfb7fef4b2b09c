"""A sweep's shared work gives the answers of `backtest run`: indicator series cached per worker
(`optimize_cache`) and the lean trial path (`optimize_fast`) produce, for every pair of a grid,
the trades and final equity of `run_fast` on the same bars, on real candles and on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.engine import optimize as opt
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.backtest.fast import desired_positions, run_fast
from cashup_tui.engine.backtest.metrics import compute
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.optimize_cache import CACHE
from cashup_tui.engine.optimize_fast import carry, changes, lean_ok, max_drawdown
from cashup_tui.engine.strategy import Bars, load_strategy
from tests.campaign import examples
from tests.conftest import MARKET_DIR, need_shared

TRADE_FLOATS = ("entry_price", "exit_price", "qty", "pnl", "fees", "funding", "eq_after")


def _synthetic(n: int = 3000, seed: int = 5) -> Bars:
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.r_[100.0, c[:-1]]
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.003, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.003, n)))
    t = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    return Bars.from_arrays(t, o, h, lo, c, rng.integers(1, 1000, n), symbol="SYN_USDT", timeframe="1m")


@pytest.fixture(scope="module", params=["real-1h", "real-5m", "synthetic"])
def bars(request: pytest.FixtureRequest) -> Bars:
    if request.param == "real-1h":
        return load_csv(need_shared(MARKET_DIR / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"))[:3000]
    if request.param == "real-5m":
        return load_csv(need_shared(MARKET_DIR / "gateio_usdt_perp_BTC_USDT_5m_2023-01-01_2023-09-22.csv"))[:4000]
    return _synthetic()


def _same(sweep, ref) -> None:
    a, b = sweep.trades, ref.trades
    assert a.size == b.size
    for col in ("entry_idx", "exit_idx", "side", "reason"):
        assert a[col].tolist() == b[col].tolist(), col
    for col in TRADE_FLOATS:
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-9, err_msg=col)
    assert sweep.equity[-1] == pytest.approx(ref.equity[-1], rel=1e-9)
    np.testing.assert_allclose(sweep.equity, ref.equity, rtol=1e-9)
    assert sweep.position.tolist() == ref.position.tolist()


CONFIGS = {
    "default": RunConfig(fee_bps=5),
    "short": RunConfig(fee_bps=5, allow_short=True),  # not the lean path: simulate itself
    "leverage": RunConfig(fee_bps=5, slippage_bps=2, leverage=3),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_pair_of_a_grid_trades_as_backtest_run(bars: Bars, config: str) -> None:
    cfg = CONFIGS[config]
    assert lean_ok(cfg, None, None) is (config == "default")
    cls = load_strategy("sma_cross")
    combos, _ = opt.combinations(cls, {"fast": [3, 5, 10, 20], "slow": [10, 20, 30, 50]})
    ctx = opt.EvalContext.of(cls, bars, cfg, "sharpe")
    sweep_cls = opt.strategy_from_source(ctx.strategy_source, ctx.strategy_path)
    sh = opt._shared(ctx)
    misses = CACHE.misses
    for params in combos:
        got = opt.run_trial(sweep_cls(**params), sh, 0, len(bars))
        ref = run_fast(cls(**params), bars, cfg)
        _same(got, ref)
        r = opt.evaluate(ctx, params)
        m = compute(ref)
        assert set(r["metrics"]) == set(opt.SUMMARY_KEYS)
        for k in opt.SUMMARY_KEYS:  # every stored metric, as `backtest run` reports it
            want = m[k]
            assert r["metrics"][k] == (want if want is None else pytest.approx(want, rel=1e-9, abs=1e-12)), k
        assert r["objective"] == (pytest.approx(m["sharpe"], rel=1e-9) if m["sharpe"] is not None else None)
    # each distinct SMA series was computed once for the whole grid (3, 5, 10, 20, 30, 50)
    assert CACHE.misses - misses == 6


@pytest.mark.parametrize("name,grid", [
    ("macd_trend", {"fast": [8, 12], "slow": [26, 30]}),
    ("bollinger_breakout", None),
    ("rsi_reversion", None),
])
def test_other_strategies_share_indicators_and_trade_the_same(name: str, grid: dict | None) -> None:
    bars = _synthetic(2500, seed=9)
    cls = load_strategy(name)
    spec = cls.parameters()
    if grid is None:  # two values of the first two integer parameters around their defaults
        ints = [p for p in spec.values() if p.type is int][:2]
        grid = {p.name: sorted({p.default, p.default + int(p.step or 1)}) for p in ints}
    combos, _ = opt.combinations(cls, grid)
    assert combos
    for cfg in (RunConfig(fee_bps=5), RunConfig(fee_bps=5, allow_short=True)):
        ctx = opt.EvalContext.of(cls, bars, cfg, "return")
        sweep_cls = opt.strategy_from_source(ctx.strategy_source, ctx.strategy_path)
        sh = opt._shared(ctx)
        for params in combos:
            _same(opt.run_trial(sweep_cls(**params), sh, 0, len(bars)), run_fast(cls(**params), bars, cfg))


EDITS_ITS_INDICATOR = '''
import numpy as np

from cashup_tui.engine.indicators import sma
from cashup_tui.engine.strategy import Bars, Param, Strategy


class Scribbler(Strategy):
    n = Param(10, min=2, max=100, step=1)
    k = Param(1, min=1, max=5, step=1)

    def signals(self, bars: Bars) -> np.ndarray:
        s = sma(bars.close, 20)
        s[np.isnan(s)] = 0.0
        s *= self.k  # in place: must not reach the next trial
        out = np.full(len(bars), np.nan)
        out[bars.close > s] = 1.0
        out[bars.close < s / 1.01] = -1.0
        out[: self.n] = np.nan
        return out
'''


def test_a_strategy_editing_its_indicator_in_place_does_not_leak_into_the_next_trial(tmp_path) -> None:
    path = tmp_path / "scribbler.py"
    path.write_text(EDITS_ITS_INDICATOR)
    bars = _synthetic(1500, seed=3)
    cls = load_strategy(str(path))
    ctx = opt.EvalContext.of(cls, bars, RunConfig(), "return")
    combos = [{"n": 10, "k": k} for k in (1, 2, 3, 1)]
    got = [r["metrics"]["final_equity"] for r in opt.run_trials(ctx, combos)]
    want = [compute(run_fast(cls(**p), bars, RunConfig()))["final_equity"] for p in combos]
    assert got == pytest.approx(want, rel=1e-12) and got[0] == got[3]


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.sampled_from([np.nan, np.nan, np.nan, -1.0, -0.5, 0.0, 0.25, 1.0]), min_size=1, max_size=60),
       st.booleans())
def test_carry_is_desired_positions(sig: list[float], allow_short: bool) -> None:
    s = np.array(sig)
    assert carry(s, allow_short).tolist() == desired_positions(s.copy(), allow_short).tolist()


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.sampled_from([np.nan, np.nan, np.nan, -1.0, -0.5, 0.0, 0.25, 1.0]), min_size=2, max_size=60),
       st.booleans())
def test_changes_are_the_vectorised_engines_entries_and_exits(sig: list[float], allow_short: bool) -> None:
    s = np.array(sig)
    pos = np.r_[0, desired_positions(s.copy(), allow_short)[:-1]].astype(np.int8)
    chg = np.flatnonzero(pos[1:] != pos[:-1]) + 1
    entries, exits, side = changes(s, allow_short)
    assert entries.tolist() == chg[pos[chg] != 0].tolist()
    assert exits.tolist() == chg[pos[chg - 1] != 0].tolist()
    assert side.tolist() == pos[entries].tolist()


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.floats(0.5, 2.0), min_size=1, max_size=700), st.sampled_from([1, 2, 7, 256]))
def test_blocked_max_drawdown_is_the_running_peak_formula(steps: list[float], block: int) -> None:
    eq = np.cumprod(np.array(steps))
    assert max_drawdown(eq, block) == float(np.max(1.0 - eq / np.maximum.accumulate(eq)))


def test_workers_map_the_bars_copy_on_write(tmp_path) -> None:
    from cashup_tui.engine.optimize_share import spill

    bars = _synthetic(500)
    mapped = spill(bars, str(tmp_path))
    got = mapped.load()
    for c in Bars.COLUMNS:
        assert getattr(got, c).tolist() == getattr(bars, c).tolist()
    assert (got.symbol, got.timeframe) == (bars.symbol, bars.timeframe)
    got.close[:] = 0.0  # a strategy scribbling on its bars changes its own process's pages only
    assert mapped.load().close.tolist() == bars.close.tolist()
