"""`cashup optimize` on portfolio strategies (issue 15): grids over their parameters, streamed to the store
and resumable (an interrupted sweep resumed == an uninterrupted one), each result == `backtest run` of
that parameter set; --symbols reads the panel from the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.backtest.panel_fast import run_panel_fast
from cashup_tui.engine.backtest.panel_model import portfolio_metrics
from cashup_tui.engine.optimize import SUMMARY_KEYS, evaluate, walk_forward_folds
from cashup_tui.engine.optimize_panel import PanelEvalContext, panel_rows, panel_trial
from cashup_tui.engine.strategy import load_strategy
from tests.test_backtest_cli import cli  # noqa: F401 (fixture)
from tests.test_backtest_portfolio_cli import _data, three  # noqa: F401 (fixture)
from tests.test_portfolio_engine import same, synth

# long the best trailing return; Ctrl-C at lookback=6 while the stop file exists (an interrupted sweep)
STOPPER = '''
import os

import numpy as np

from cashup_tui.engine.panel import PortfolioStrategy, every, hold
from cashup_tui.engine.strategy import Param


class Stopper(PortfolioStrategy):
    lookback = Param(4, min=1, max=100, step=1)

    def warmup(self):
        return self.lookback + 1

    def rebalance(self, panel):
        return every(len(panel), self.lookback, 5)

    def weights(self, panel):
        if self.lookback == 6 and os.path.exists({stop!r}):
            os.remove({stop!r})
            raise KeyboardInterrupt
        c = panel.close
        ret = np.zeros(panel.shape)
        ret[self.lookback:] = c[self.lookback:] / c[:-self.lookback] - 1.0
        rows = np.zeros(panel.shape)
        rows[np.arange(len(panel)), np.argmax(ret, axis=1)] = 1.0
        mask = self.rebalance(panel)
        return hold(rows, mask)
'''


def test_a_trial_is_the_fast_portfolio_backtest() -> None:
    panel = synth(n=300, k=4)
    cls = load_strategy("xsec_momentum")
    cfg = RunConfig(cash=5_000, fee_bps=4)
    ctx = PanelEvalContext.of(cls, panel, cfg, "sharpe")
    for params in ({"lookback": 12, "rebalance_every": 6}, {"lookback": 30, "top": 2}):
        got = evaluate(ctx, params)
        want = portfolio_metrics(run_panel_fast(cls(**params), panel, cfg))
        assert got["status"] == "done" and got["metrics"] == {k: want.get(k) for k in SUMMARY_KEYS}
        assert got["objective"] == want["sharpe"]
    bad = evaluate(ctx, {"lookback": 12, "top": 3, "short": True})  # 6 symbols needed, 4 given
    assert bad["status"] == "failed" and "needs 6 symbols" in bad["error"]


def test_walk_forward_folds_warm_each_block_on_the_bars_before_it() -> None:
    panel = synth(n=400, k=3)
    cls = load_strategy("xsec_momentum")
    cfg = RunConfig()
    folds = walk_forward_folds(len(panel), 3, 20)
    ctx = PanelEvalContext.of(cls, panel, cfg, "return", folds)
    got = evaluate(ctx, {"lookback": 10, "rebalance_every": 4})
    assert got["status"] == "done" and len(got["metrics"]["folds"]) == 3
    strat = cls(lookback=10, rebalance_every=4)
    _, oos_start, oos_end = folds[1]
    ws = oos_start - strat.warmup() - 1
    oos = panel_trial(strat, panel_rows(panel, ws, oos_end), cfg, warm=oos_start - ws)
    assert oos.time_ms[0] == panel.time_ms[oos_start] and oos.equity.size == oos_end - oos_start
    assert got["metrics"]["folds"][1]["oos"]["final_equity"] == pytest.approx(oos.final_equity, rel=1e-12)
    same(panel_trial(strat, panel, cfg), run_panel_fast(strat, panel, cfg))


@pytest.fixture
def sweep(three: list[str], tmp_path: Path, cli) -> Callable[..., tuple[int, dict, str]]:  # noqa: F811
    strat = tmp_path / "stopper.py"
    strat.write_text(STOPPER.format(stop=str(tmp_path / "stop")))

    def call(*extra: str, db: str = "o.sqlite", data: list[str] | None = None) -> tuple[int, dict, str]:
        r = cli("optimize", str(strat), *(data if data is not None else _data(three)), "--grid", "lookback=1:8",
                "--workers", "1", "--objective", "return", "--from", "2025-03-01", "--to", "2025-03-20", "--json",
                *extra, db=tmp_path / db)
        return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr

    return call


def _by_params(out: dict) -> dict[int, dict]:
    return {r["params"]["lookback"]: r for r in out["results"]}


def test_an_interrupted_sweep_resumes_to_the_uninterrupted_results_each_a_backtest_run(
        sweep, three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "stop").touch()
    code, out, err = sweep("--top", "20")
    assert code == 130 and out["interrupted"] is True and "run the same command to resume" in err
    assert out["evaluated"] == 4  # two batches of two stored; lookback=5,6's batch was in flight
    code, resumed, err = sweep("--top", "20")
    assert code == 0, err
    assert (resumed["resumed"], resumed["evaluated"], resumed["failed"]) == (4, 4, 0)
    code, fresh, err = sweep("--top", "20", db="fresh.sqlite")
    assert code == 0 and fresh["evaluated"] == 8 and fresh["study"] == resumed["study"], err
    a, b = _by_params(resumed), _by_params(fresh)
    assert sorted(a) == sorted(b) == list(range(1, 9))
    for lb in a:
        assert a[lb]["objective"] == b[lb]["objective"] and a[lb]["metrics"] == b[lb]["metrics"], lb
    strat = str(tmp_path / "stopper.py")
    for lb, r in a.items():  # each trial is the backtest a user would run with those parameters
        run = cli("backtest", "run", strat, *_data(three), "--param", f"lookback={lb}", "--from", "2025-03-01",
                  "--to", "2025-03-20", "--json", "--no-store", db=tmp_path / "x.sqlite")
        assert run.returncode == 0, run.stderr
        m = json.loads(run.stdout)
        for k in ("final_equity", "total_return", "sharpe", "max_drawdown", "trade_count", "fees", "exposure"):
            assert r["metrics"][k] == pytest.approx(m[k], rel=1e-12, abs=1e-12), (lb, k)
        assert r["objective"] == pytest.approx(m["total_return"], rel=1e-12)


def test_symbols_from_the_store_and_bad_input(sweep, three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    db = "s.sqlite"
    for spec in three:
        sym, path = spec.split("=", 1)
        r = cli("data", "import", path, "--symbol", sym, "--timeframe", "1h", db=tmp_path / db)
        assert r.returncode == 0, r.stderr
    code, from_files, err = sweep(db="f.sqlite")
    assert code == 0, err
    code, from_store, err = sweep(db=db, data=["--symbols", "BTC_USDT,ETH_USDT,SOL_USDT", "--timeframe", "1h"])
    assert code == 0, err
    assert _by_params(from_store).keys() == _by_params(from_files).keys()
    for lb, r in _by_params(from_store).items():
        assert r["objective"] == pytest.approx(_by_params(from_files)[lb]["objective"], rel=1e-12)
    code, _, err = sweep(db=db, data=["--symbols", "BTC_USDT,DOGE_USDT", "--timeframe", "1h"])
    assert code == 1 and "no DOGE_USDT 1h candles in the store" in err
    code, _, err = sweep("--contracts")
    assert code == 2 and "--contracts is not supported for portfolio strategies" in err
    r = cli("optimize", "sma_cross", *_data(three[:2]), "--grid", "fast=5:10:5", db=tmp_path / "x.sqlite")
    assert r.returncode == 2 and "trades one symbol" in r.stderr, r.stderr
