"""Funding per symbol in the portfolio model (issue 15): each position pays (receives) rate x notional at
every settlement, in both engines (fast == event == the pandas reference), mapped to bars as for one
symbol; real Gate funding history from files or the store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.errors import DataError
from cashup_tui.engine.backtest.model import Funding, RunConfig, funding_rates
from cashup_tui.engine.backtest.panel_event import run_panel_event, simulate_panel_event
from cashup_tui.engine.backtest.panel_fast import run_panel_fast, simulate_panel
from cashup_tui.engine.backtest.panel_model import portfolio_metrics, with_funding
from cashup_tui.engine.panel import Panel
from cashup_tui.engine.strategy import load_strategy
from tests.campaign import examples
from tests.conftest import MARKET_DIR, need_shared
from tests.test_backtest_cli import cli  # noqa: F401 (fixture)
from tests.test_backtest_portfolio_cli import _data, three  # noqa: F401 (fixture)
from tests.test_portfolio_engine import T0, Fixed, H, pandas_reference, same, synth


def _funded(panel: Panel, seed: int, every: int = 8) -> Panel:
    """Settlements every `every` hours at random rates (both signs), one series per symbol."""
    rng = np.random.default_rng(seed)
    t = panel.time_ms[0] + np.arange(0, len(panel), every, dtype=np.int64) * H
    rates = {s: Funding(t, rng.normal(1e-4, 3e-4, t.size), f"f{s}") for s in panel.symbols}
    return with_funding(panel, rates)


@pytest.mark.parametrize(("name", "params", "cfg"), [
    ("xsec_momentum", {"top": 2, "short": True, "lookback": 12, "rebalance_every": 6}, {"allow_short": True}),
    ("factor_score", {"short": True, "vol_window": 10, "rebalance_every": 5}, {"allow_short": True, "leverage": 2.0}),
])
def test_fast_equals_event_and_the_pandas_reference_with_funding(name: str, params: dict, cfg: dict) -> None:
    panel = _funded(synth(), seed=5, every=3)
    config = RunConfig(fee_bps=6.0, **cfg)
    strat = load_strategy(name)(**params)
    fast, event = run_panel_fast(strat, panel, config), run_panel_event(strat, panel, config)
    same(fast, event)
    assert np.allclose(fast.funding, event.funding, rtol=1e-9, atol=1e-9) and np.abs(fast.funding).sum() > 1.0
    eq, _ = pandas_reference(panel, strat.weights(panel), strat.rebalance(panel), config)
    assert np.allclose(fast.equity, eq.to_numpy(), rtol=1e-9, atol=0)
    plain = run_panel_fast(strat, replace(panel, funding=None), config)
    assert not np.allclose(plain.equity, fast.equity)  # the funding moved the account
    m = portfolio_metrics(fast)
    assert m["funding"] == pytest.approx(sum(r["funding"] for r in m["per_symbol"]))
    total = sum(r["contribution"] for r in m["per_symbol"])
    assert total == pytest.approx(fast.final_equity - config.cash, rel=1e-9, abs=1e-6)
    assert portfolio_metrics(plain)["funding"] is None and plain.per_symbol()[0]["funding"] is None


@settings(max_examples=examples(30))
@given(seed=st.integers(0, 10_000), every=st.sampled_from([1, 3, 8]), short=st.booleans())
def test_random_weights_and_rates_fast_equals_event(seed: int, every: int, short: bool) -> None:
    panel = _funded(synth(n=100, k=3, seed=seed), seed, every)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1 if short else 0, 1, (100, 3)) / 3
    mask = rng.uniform(size=100) < 0.2
    cfg = RunConfig(fee_bps=5.0, allow_short=short)
    a, b = simulate_panel(panel, w, mask, cfg), simulate_panel_event(panel, w, mask, cfg)
    same(a, b)
    eq, _ = pandas_reference(panel, w, mask, cfg)
    assert np.allclose(a.equity, eq.to_numpy(), rtol=1e-9, atol=0)


def test_hand_checked_funding_and_the_bar_it_lands_on() -> None:
    # A long 50 units, B short 25 units from bar 1's open; settlements at bar 2's open time (-> bar 1's close)
    # and half-way through bar 2 (-> bar 2's close); A pays 0.1%, B's -0.2% is paid by the short's side too
    t = T0 + np.arange(4, dtype=np.int64) * H
    o = np.array([[10.0, 20.0]] * 4)
    c = np.array([[10.0, 20.0], [10.0, 20.0], [12.0, 16.0], [12.0, 16.0]])
    panel = Panel(t, ("A", "B"), o, o, o, c, np.ones((4, 2)), "1h", H)
    when = np.array([t[2], t[2] + H // 2])
    panel = with_funding(panel, {"A": Funding(when, np.array([0.001, 0.001])),
                                 "B": Funding(when, np.array([-0.002, -0.002]))})
    assert panel.funding is not None
    assert panel.funding[:, 0].tolist() == funding_rates(t, Funding(when, np.array([0.001, 0.001]))).tolist()
    assert panel.funding[:, 0].tolist() == [0.0, 0.001, 0.001, 0.0]
    w = np.array([[0.5, -0.5]] * 4)
    cfg = RunConfig(cash=1000.0, fee_bps=0.0, allow_short=True)
    res = run_panel_fast(Fixed(w), panel, cfg)
    same(res, run_panel_event(Fixed(w), panel, cfg))
    assert res.units[1].tolist() == [50.0, -25.0]
    # bar 1: A pays 50 x 10 x 0.001 = 0.5; B (short) pays -25 x 20 x -0.002 = 1.0
    assert res.cash[1] == pytest.approx(1000 - 500 + 500 - 1.5)
    # bar 2: A pays 50 x 12 x 0.001 = 0.6; B pays -25 x 16 x -0.002 = 0.8
    assert res.funding.tolist() == pytest.approx([1.1, 1.8])
    assert res.equity[3] == pytest.approx(1000 - 1.5 - 1.4 + 50 * 2 + 25 * 4)
    with pytest.raises(DataError, match="no funding rates for B"):
        with_funding(panel, {"A": Funding(when, np.array([0.001, 0.001]))})


def test_cli_funding_from_files_and_the_store(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    files = {s: need_shared(MARKET_DIR / f"gateio_usdt_perp_{s}_funding_2025-02-25_2026-02-25.csv")
             for s in ("BTC_USDT", "ETH_USDT")}
    args = ("backtest", "run", "xsec_momentum", *_data(three[:2]), "--param", "lookback=12", "--no-store", "--json")
    fund = ",".join(f"{s}={p}" for s, p in files.items())
    outs = {}
    for engine in ("fast", "event"):
        r = cli(*args, "--funding", fund, "--engine", engine, db=tmp_path / "f.sqlite")
        assert r.returncode == 0, r.stderr
        outs[engine] = json.loads(r.stdout)
    assert outs["fast"]["final_equity"] == pytest.approx(outs["event"]["final_equity"], rel=1e-9)
    assert outs["fast"]["funding"] != 0 and outs["fast"]["funding"] == pytest.approx(outs["event"]["funding"], rel=1e-9)
    assert outs["fast"]["settings"]["funding"] == fund
    plain = json.loads(cli(*args, db=tmp_path / "f.sqlite").stdout)
    assert plain["funding"] is None
    assert plain["final_equity"] - plain["fees"] != pytest.approx(outs["fast"]["final_equity"])
    db = tmp_path / "s.sqlite"
    for s, p in files.items():
        r = cli("data", "import", str(p), "--symbol", s, db=db)
        assert r.returncode == 0, r.stderr
    r = cli(*args, "--funding", "store", db=db)
    assert r.returncode == 0, r.stderr
    stored = json.loads(r.stdout)
    assert stored["final_equity"] == pytest.approx(outs["fast"]["final_equity"], rel=1e-12)
    r = cli("backtest", "run", "xsec_momentum", *_data(three), "--funding", "store", db=db)
    assert r.returncode == 2 and "no funding rates for SOL_USDT" in r.stderr, r.stderr
    r = cli(*args, "--funding", f"BTC_USDT={files['BTC_USDT']}", db=db)
    assert r.returncode == 2 and "no funding rates for ETH_USDT" in r.stderr, r.stderr
    for bad, msg in (("nonsense", "--funding nonsense: with several symbols every file is SYM=FILE"),
                     (f"BTC_USDT={tmp_path / 'nope.csv'},ETH_USDT=x", "not found"),
                     (f"BTC_USDT={files['BTC_USDT']},btc_usdt={files['BTC_USDT']}", "BTC_USDT is given twice")):
        r = cli(*[a for a in args if a != "--no-store"], "--funding", bad, db=tmp_path / "bad.sqlite")
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, (bad, r.stderr)
    r = cli("backtest", "run", "xsec_momentum", *_data(three), "--funding", "store", db=tmp_path / "bad.sqlite")
    assert r.returncode == 2 and "no funding rates for BTC_USDT" in r.stderr, r.stderr
    assert json.loads(cli("backtest", "list", "--json", db=tmp_path / "bad.sqlite").stdout)["runs"] == []


def test_factor_score_funding_factor_on_real_gate_rates(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    fund = ",".join(f"{s}={need_shared(MARKET_DIR / f'gateio_usdt_perp_{s}_funding_2025-02-25_2026-02-25.csv')}"
                    for s in ("BTC_USDT", "ETH_USDT"))
    args = ("factor_score", *_data(three[:2]), "--param", "funding_weight=-1", "--param", "funding_window=48",
            "--funding", fund)
    outs = {}
    for engine in ("fast", "event"):
        r = cli("backtest", "run", *args, "--engine", engine, "--json", "--no-store", db=tmp_path / "d.sqlite")
        assert r.returncode == 0, r.stderr
        outs[engine] = json.loads(r.stdout)
    assert outs["fast"]["final_equity"] == pytest.approx(outs["event"]["final_equity"], rel=1e-9)
    base = json.loads(cli("backtest", "run", *args[:5], "--funding", fund, "--json", "--no-store",
                          db=tmp_path / "d.sqlite").stdout)  # funding_weight 0: funding charged, not a factor
    assert base["params"]["funding_weight"] == 0.0 and base["funding"] != 0
    assert base["final_equity"] != outs["fast"]["final_equity"]  # the funding factor traded differently
    r = cli("backtest", "lookahead", *args, "--cuts", "8", db=tmp_path / "d.sqlite")
    assert r.returncode == 0 and "no look-ahead" in r.stdout, r.stdout + r.stderr
    r = cli("backtest", "run", *args[:-2], "--no-store", db=tmp_path / "d.sqlite")
    assert r.returncode == 1 and "funding_weight needs funding rates" in r.stderr, r.stderr
