"""The portfolio execution model (issue 15): fast == event to 1e-9, both == a pandas re-implementation of
the rules, hand-checked numbers, refusals naming symbol and bar, higher timeframes without look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.errors import DataError, StrategyError, ValidationError
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.backtest.panel_event import run_panel_event, simulate_panel_event
from cashup_tui.engine.backtest.panel_fast import run_panel_fast, simulate_panel
from cashup_tui.engine.backtest.panel_model import portfolio_metrics
from cashup_tui.engine.panel import Panel, PortfolioStrategy, align_higher, panel_from_bars
from cashup_tui.engine.strategy import Bars, Param, load_strategy
from tests.campaign import examples
from tests.conftest import MARKET_DIR, need_shared

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (4 * H)  # a 4h boundary


def synth(n: int = 400, k: int = 5, seed: int = 3, start: int = T0) -> Panel:
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    o = np.vstack([c[:1], c[:-1]]) * (1 + rng.normal(0, 0.002, (n, k)))
    return Panel(start + np.arange(n, dtype=np.int64) * H, tuple(f"S{j}_USDT" for j in range(k)), o,
                 np.maximum(o, c) * 1.002, np.minimum(o, c) * 0.998, c, rng.uniform(1, 10, (n, k)), "1h", H)


def same(a, b, tol: float = 1e-9) -> None:
    assert np.allclose(a.equity, b.equity, rtol=tol, atol=0)
    assert np.allclose(a.cash, b.cash, rtol=tol, atol=tol * a.config.cash)
    assert np.allclose(a.units, b.units, rtol=tol, atol=1e-12)
    assert a.fills.size == b.fills.size
    assert np.array_equal(a.fills["bar"], b.fills["bar"]) and np.array_equal(a.fills["symbol"], b.fills["symbol"])
    for k in ("qty", "price", "fee"):
        assert np.allclose(a.fills[k], b.fills[k], rtol=tol, atol=1e-12)


def pandas_reference(panel: Panel, w: np.ndarray, mask: np.ndarray, cfg: RunConfig) -> tuple[pd.Series, pd.DataFrame]:
    """The README's portfolio rules, written again bar by bar with pandas (equity, units per bar)."""
    cols = list(panel.symbols)
    o, c, wt = (pd.DataFrame(x, columns=cols) for x in (panel.open, panel.close, w))
    units, cash, alive = pd.Series(0.0, index=cols), cfg.cash, True
    eq_rows, unit_rows = [], []
    for t in range(len(panel)):
        if t > 0 and mask[t - 1] and alive:
            eq = cash + float((units * o.iloc[t]).sum())
            alive = eq > 0
            target = wt.iloc[t - 1] * eq / o.iloc[t] if alive else units * 0.0
            d = target - units
            trade = d.abs() * o.iloc[t] >= 1e-9 * abs(eq)
            px = o.iloc[t] * (1 + cfg.slip * np.sign(d))
            cash -= float((d * px + d.abs() * px * cfg.fee)[trade].sum())
            units = units.where(~trade, target)
        if panel.funding is not None:  # each position pays units x close x rate at the bar's close
            cash -= float((units * c.iloc[t] * panel.funding[t]).sum())
        eq_rows.append(cash + float((units * c.iloc[t]).sum()))
        unit_rows.append(units.copy())
    return pd.Series(eq_rows), pd.DataFrame(unit_rows)


class Fixed(PortfolioStrategy):
    """Test strategy: returns the weights it was given (the engine's rules in isolation)."""

    name = "fixed"
    scale = Param(1.0)

    def __init__(self, w: np.ndarray, mask: np.ndarray | None = None, **kw) -> None:
        super().__init__(**kw)
        self._w, self._mask = w, mask

    def weights(self, panel: Panel) -> np.ndarray:
        return self._w[: len(panel)] * self.scale

    def rebalance(self, panel: Panel) -> np.ndarray | None:
        return None if self._mask is None else self._mask[: len(panel)]


CASES = [
    ("xsec_momentum", {"top": 2}, {}),
    ("xsec_momentum", {"top": 2, "short": True, "lookback": 12, "rebalance_every": 6}, {"allow_short": True}),
    ("xsec_momentum", {"top": 1, "rebalance_every": 1}, {"slippage_bps": 3.0}),
    ("factor_score", {}, {}),
    ("factor_score", {"short": True, "vol_window": 10, "rebalance_every": 5}, {"allow_short": True, "leverage": 2.0}),
]


@pytest.mark.parametrize(("name", "params", "cfg"), CASES)
def test_fast_equals_event_and_the_pandas_reference(name: str, params: dict, cfg: dict) -> None:
    panel = synth()
    config = RunConfig(fee_bps=6.0, **cfg)
    strat = load_strategy(name)(**params)
    fast, event = run_panel_fast(strat, panel, config), run_panel_event(strat, panel, config)
    same(fast, event)
    assert fast.fills.size > 10
    eq, units = pandas_reference(panel, strat.weights(panel), strat.rebalance(panel), config)
    assert np.allclose(fast.equity, eq.to_numpy(), rtol=1e-9, atol=0)
    assert np.allclose(fast.units, units.to_numpy(), rtol=1e-9, atol=1e-12)
    m = portfolio_metrics(fast)
    total = sum(r["contribution"] for r in m["per_symbol"])
    assert total == pytest.approx(fast.final_equity - config.cash, rel=1e-9, abs=1e-6)
    assert m["fees"] == pytest.approx(sum(r["fees"] for r in m["per_symbol"]))


@settings(max_examples=examples(30))
@given(seed=st.integers(0, 10_000), lev=st.sampled_from([1.0, 2.0, 3.0]), short=st.booleans(),
       fee=st.sampled_from([0.0, 5.0, 20.0]), slip=st.sampled_from([0.0, 4.0]))
def test_random_weights_fast_equals_event(seed: int, lev: float, short: bool, fee: float, slip: float) -> None:
    panel = synth(n=120, k=4, seed=seed)
    rng = np.random.default_rng(seed)
    raw = rng.uniform(-1 if short else 0, 1, (120, 4)) * (rng.uniform(size=(120, 1)) < 0.3)
    raw = pd.DataFrame(np.where(raw.any(axis=1, keepdims=True), raw, np.nan)).ffill().fillna(0).to_numpy()
    gross = np.abs(raw).sum(axis=1, keepdims=True)
    w = np.where(gross > 0, raw / np.where(gross > 0, gross, 1) * lev * rng.uniform(0.2, 1.0), 0.0)
    cfg = RunConfig(fee_bps=fee, slippage_bps=slip, leverage=lev, allow_short=short)
    mask = np.r_[True, np.any(w[1:] != w[:-1], axis=1)] & np.r_[np.any(w[:1] != 0), np.ones(119, bool)]
    a, b = simulate_panel(panel, w, mask, cfg), simulate_panel_event(panel, w, mask, cfg)
    same(a, b)
    eq, _ = pandas_reference(panel, w, mask, cfg)
    assert np.allclose(a.equity, eq.to_numpy(), rtol=1e-9, atol=0)


def test_hand_checked_two_symbols() -> None:
    # bar 0 decides 50/50; bar 1's open fills it; bar 2 decides 100% B, filled at bar 3's open (10 bps fee)
    t = T0 + np.arange(4, dtype=np.int64) * H
    o = np.array([[10.0, 20.0], [10.0, 20.0], [12.0, 20.0], [12.0, 25.0]])
    c = np.array([[10.0, 20.0], [11.0, 20.0], [12.0, 22.0], [12.0, 25.0]])
    panel = Panel(t, ("A", "B"), o, o, o, c, np.ones((4, 2)), "1h", H)
    w = np.array([[0.5, 0.5], [0.5, 0.5], [0.0, 1.0], [0.0, 1.0]])
    cfg = RunConfig(cash=1000.0, fee_bps=10.0)
    res = run_panel_fast(Fixed(w), panel, cfg)
    same(res, run_panel_event(Fixed(w), panel, cfg))
    assert res.units[0].tolist() == [0.0, 0.0] and res.equity[0] == 1000.0
    assert res.units[1].tolist() == [50.0, 25.0]  # 500 / 10 and 500 / 20, sized on the open's equity
    assert res.equity[1] == pytest.approx(1000 - 1.0 + 50 * 1 + 0)  # fees 0.5 + 0.5; A +1 x 50
    eq3 = 999.0 + 50 * 2 + 25 * 5  # marked at bar 3's open: 1224
    assert res.units[3] == pytest.approx([0.0, eq3 / 25])
    fees3 = (50 * 12 + (eq3 - 25 * 25)) * 0.001  # sell 600 of A, buy B from 625 to 1224: 599
    assert res.equity[3] == pytest.approx(eq3 - fees3)
    assert res.fills["bar"].tolist() == [1, 1, 3, 3]
    # a decision on the last bar is never executed
    w2 = w.copy()
    w2[3] = [1.0, 0.0]
    assert run_panel_fast(Fixed(w2), panel, cfg).fills.size == 4


def test_an_account_marked_at_or_below_zero_closes_everything_and_stops() -> None:
    n = 8
    t = T0 + np.arange(n, dtype=np.int64) * H
    o = np.array([[100.0, 10.0]] * 4 + [[20.0, 10.0]] * 4)  # A falls 80% at bar 4's open
    panel = Panel(t, ("A", "B"), o, o, o, o, np.ones((n, 2)), "1h", H)
    w = np.tile([[3.0, 0.0]], (n, 1))
    w[2:] = [[2.9, 0.1]]  # a rebalance decided at bar 2 and bar 5 (after the fall)
    w[5:] = [[0.0, 1.0]]
    cfg = RunConfig(leverage=3.0, fee_bps=0.0)
    fast, event = run_panel_fast(Fixed(w), panel, cfg), run_panel_event(Fixed(w), panel, cfg)
    same(fast, event)
    assert fast.equity[4] < 0 and not fast.units[6:].any()  # closed at bar 6's open, nothing after
    assert fast.fills["bar"].tolist() == [1, 3, 3, 6, 6] and fast.equity[-1] == fast.equity[6]


@pytest.mark.parametrize(("bad", "cfg", "match"), [
    ((5, 1, np.nan), {}, r"weight nan for S1_USDT at bar 5 \("),
    ((7, 2, -0.2), {}, r"short weight -0.2 for S2_USDT at bar 7 .*shorts are not allowed"),
    ((9, 3, 0.9), {"leverage": 1.5}, r"bar 9 .* sum to 1.8 .*over the leverage limit 1.5 \(largest: S3_USDT 0.9\)"),
])
def test_bad_weights_are_refused_naming_symbol_and_bar(bad: tuple, cfg: dict, match: str) -> None:
    panel = synth(n=20, k=4)
    w = np.full((20, 4), 0.3 if cfg else 0.2)
    t, j, v = bad
    w[t, j] = v
    for run in (run_panel_fast, run_panel_event):
        with pytest.raises(StrategyError, match=match):
            run(Fixed(w), panel, RunConfig(**cfg))


def test_wrong_shape_and_exceptions_are_strategy_errors() -> None:
    panel = synth(n=20, k=3)
    with pytest.raises(StrategyError, match=r"shape \(bars, symbols\) = \(20, 3\), got \(20, 2\)"):
        run_panel_fast(Fixed(np.zeros((20, 2))), panel, RunConfig())
    with pytest.raises(ValidationError, match="top=2 needs 4 symbols, the panel has 3"):
        run_panel_fast(load_strategy("xsec_momentum")(top=2, short=True), panel, RunConfig(allow_short=True))
    with pytest.raises(StrategyError, match="portfolio strategy: it needs several symbols"):
        load_strategy("xsec_momentum")().signals(panel.bars("S0_USDT"))


def test_misaligned_symbols_are_refused_naming_the_symbol_and_bar() -> None:
    p = synth(n=10, k=2)
    a, b = p.bars("S0_USDT"), p.bars("S1_USDT")
    shifted = Bars.from_arrays(b.time_ms + np.r_[np.zeros(6, np.int64), np.full(4, H)], b.open, b.high, b.low, b.close)
    with pytest.raises(DataError, match=r"ETH's time grid differs from BTC's \(bar 6: BTC has .* ETH has"):
        panel_from_bars([a, shifted], ["BTC", "ETH"])
    with pytest.raises(DataError, match="BTC has 10 bars, ETH has 8"):
        panel_from_bars([a, b[:8]], ["BTC", "ETH"])
    assert panel_from_bars([a, b], ["BTC", "ETH"]).shape == (10, 2)


def test_higher_timeframe_bars_are_visible_only_after_they_closed() -> None:
    p = synth(n=30, k=2, start=T0 + 2 * H)  # starts mid-bucket: the first 4h bucket is partial (NaN)
    h4 = align_higher(p, "4h")
    t = p.time_ms
    for i in range(len(p)):
        close_time = t[i] + H
        last_closed = close_time - close_time % (4 * H) - 4 * H  # open of the last 4h bar closed by then
        rows = (t >= last_closed) & (t < last_closed + 4 * H)
        if last_closed < T0 + 4 * H:  # partial or not yet closed
            assert np.isnan(h4.close[i]).all(), i
            continue
        assert np.array_equal(h4.close[i], p.close[rows][-1]) and np.array_equal(h4.open[i], p.open[rows][0])
        assert np.array_equal(h4.high[i], p.high[rows].max(axis=0))
        assert np.allclose(h4.volume[i], p.volume[rows].sum(axis=0), rtol=1e-12)


class HigherMomentum(PortfolioStrategy):
    """Test strategy: long the symbol whose last closed 4h bar rose most (uses the informative timeframe)."""

    name = "higher_momentum"
    informative = ("4h",)

    def weights(self, panel: Panel) -> np.ndarray:
        h = panel.higher["4h"]
        r = np.nan_to_num(h.close / h.open - 1.0, nan=-np.inf)
        w = np.zeros(panel.shape)
        ok = np.isfinite(r).any(axis=1)
        w[np.flatnonzero(ok), np.argmax(r[ok], axis=1)] = 1.0
        return w


def test_no_look_ahead_through_the_higher_timeframe() -> None:
    p = synth(n=200, k=3)
    s = HigherMomentum()
    full = s.weights(s.prepare(p))
    for cut in np.random.default_rng(0).integers(5, 200, 25).tolist():
        assert np.array_equal(s.weights(s.prepare(p.head(cut))), full[:cut]), cut
    same(run_panel_fast(s, p, RunConfig()), run_panel_event(s, p, RunConfig()))


@pytest.mark.parametrize(("name", "params", "cfg"), CASES[:2] + CASES[3:])
def test_real_gate_btc_eth_fast_equals_event(name: str, params: dict, cfg: dict) -> None:
    files = [need_shared(MARKET_DIR / f"gateio_usdt_perp_{s}_1h_2025-02-25_2026-02-25.csv") for s in ("BTC_USDT", "ETH_USDT")]
    panel = panel_from_bars([load_csv(f) for f in files])
    assert panel.symbols == ("BTC_USDT", "ETH_USDT") and len(panel) > 8000
    if params.get("top") == 2:
        params = {**params, "top": 1}
    strat = load_strategy(name)(**params)
    config = RunConfig(**cfg)
    same(run_panel_fast(strat, panel, config), run_panel_event(strat, panel, config))


def test_the_live_runner_refuses_portfolio_strategies_clearly() -> None:
    from cashup_tui.domain.errors import CashupError
    from cashup_tui.engine.runner import StrategyRunner
    from tests.engine_fakes import INSTRUMENTS, make_engine

    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    with pytest.raises(CashupError, match="xsec_momentum is a portfolio strategy: it trades several symbols"):
        runner.add(load_strategy("xsec_momentum")(), "BTC_USDT", "1h", start=True)
    assert not runner.slots
