"""Optimisation: grid parsing, valid combinations, the same answers in-process, in worker
processes and on a Dask LocalCluster, walk-forward, and resumable sweeps through the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cashup_tui.domain.errors import ValidationError
from cashup_tui.engine import optimize as opt
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.backtest.fast import run_fast
from cashup_tui.engine.backtest.metrics import compute
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.strategy import load_strategy
from tests.conftest import MARKET_DIR, need_shared

BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"


@pytest.fixture(scope="module")
def bars():
    return load_csv(need_shared(MARKET_DIR / BTC_1H))[:1500]


def test_parse_grid() -> None:
    spec = load_strategy("sma_cross").parameters()
    assert opt.parse_grid("fast=5:50:5", spec) == ("fast", [5, 10, 15, 20, 25, 30, 35, 40, 45, 50])
    assert opt.parse_grid("slow=20,40, 40", spec) == ("slow", [20, 40])
    rsi = load_strategy("rsi_reversion").parameters()
    assert opt.parse_grid("lower=20:30:2.5", rsi)[1] == [20.0, 22.5, 25.0, 27.5, 30.0]
    with pytest.raises(ValidationError, match="did you mean 'fast'"):
        opt.parse_grid("fats=1:3", spec)
    with pytest.raises(ValidationError, match="out of range"):
        opt.parse_grid("fast=0:10:5", spec)
    for bad in ("fast", "fast=", "fast=1:2:3:4", "fast=9:1:1", "fast=a:b"):
        with pytest.raises(ValidationError):
            opt.parse_grid(bad, spec)


def test_combinations_skip_invalid_and_random_is_seeded() -> None:
    cls = load_strategy("sma_cross")
    grids = {"fast": [5, 10, 20, 30], "slow": [10, 20, 30]}
    combos, rejected = opt.combinations(cls, grids)
    assert rejected == 6 and len(combos) == 6
    assert all(c["fast"] < c["slow"] for c in combos)
    a, _ = opt.combinations(cls, {"fast": list(range(1, 40)), "slow": list(range(40, 80))}, random_n=25, seed=3)
    b, _ = opt.combinations(cls, {"fast": list(range(1, 40)), "slow": list(range(40, 80))}, random_n=25, seed=3)
    assert a == b and len({(c["fast"], c["slow"]) for c in a}) == 25


def _ctx(bars, folds=None):
    return opt.EvalContext.of(load_strategy("sma_cross"), bars, RunConfig(), "sharpe", folds)


def test_trial_equals_a_plain_backtest(bars) -> None:
    r = opt.evaluate(_ctx(bars), {"fast": 10, "slow": 40})
    m = compute(run_fast(load_strategy("sma_cross")(fast=10, slow=40), bars, RunConfig()))
    assert r["status"] == "done" and r["objective"] == pytest.approx(m["sharpe"])
    assert r["metrics"]["final_equity"] == pytest.approx(m["final_equity"])


def _by_params(results):
    return {(r["params"]["fast"], r["params"]["slow"]): r["objective"] for r in results}


def test_processes_and_dask_give_the_same_results(bars) -> None:
    combos, _ = opt.combinations(load_strategy("sma_cross"), {"fast": [5, 10, 20], "slow": [30, 60]})
    ctx = _ctx(bars)
    local = _by_params(opt.run_trials(ctx, combos, workers=1))
    procs = _by_params(opt.run_trials(ctx, combos, workers=2, batch=2))
    assert local == procs and len(local) == 6
    distributed = pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    # one client per cluster: run_trials' own Client next to a still-open one in this process made the
    # scheduler cancel futures now and then ("lost the Dask scheduler during the sweep")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = _by_params(opt.run_trials(ctx, combos, cluster=client, batch=2))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        via_address = _by_params(opt.run_trials(ctx, combos, cluster=cluster.scheduler_address, batch=3))
    assert dask == local and via_address == local


def test_walk_forward(bars) -> None:
    folds = opt.walk_forward_folds(len(bars), 3, 61)
    assert folds == [(375, 375, 750), (750, 750, 1125), (1125, 1125, 1500)]
    combos, _ = opt.combinations(load_strategy("sma_cross"), {"fast": [5, 10, 20], "slow": [30, 60]})
    results = list(opt.run_trials(_ctx(bars, folds), combos))
    assert all(len(r["metrics"]["folds"]) == 3 for r in results)
    rep = opt.walk_forward_report(results, folds, bars)
    assert len(rep["folds"]) == 3
    for i, f in enumerate(rep["folds"]):
        best = max(results, key=lambda r: r["metrics"]["folds"][i]["is_objective"] or -1e9)
        assert f["params"] == best["params"]
    with pytest.raises(ValidationError, match="too short"):
        opt.walk_forward_folds(100, 5, 61)


def test_heatmap_keeps_the_best_per_cell() -> None:
    res = [{"params": {"a": 1, "b": 2, "c": 0}, "objective": 1.0}, {"params": {"a": 1, "b": 2, "c": 1}, "objective": 3.0},
           {"params": {"a": 2, "b": 2, "c": 0}, "objective": None}]
    xs, ys, grid = opt.heatmap(res, "a", "b")
    assert xs == [1, 2] and ys == [2] and grid == [[3.0, None]]


def test_cli_sweep_is_resumable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = need_shared(MARKET_DIR / BTC_1H)
    data = tmp_path / "BTC_USDT_1h.csv"
    data.write_text("\n".join(src.read_text().splitlines()[:1201]) + "\n")
    from cashup_tui.cli.main import run

    def cli(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            run(["--db", str(tmp_path / "o.sqlite"), *args])
        got = capsys.readouterr()
        return int(e.value.code or 0), got.out, got.err

    args = ("optimize", "sma_cross", "--data", str(data), "--grid", "fast=5:20:5", "--grid", "slow=20:60:20",
            "--workers", "1", "--objective", "return", "--json")
    code, out, err = cli(*args)
    assert code == 0, err
    first = json.loads(out)
    assert first["combinations"] == 11 and first["rejected"] == 1 and first["evaluated"] == 11 and first["resumed"] == 0
    assert first["best"]["objective"] == max(r["objective"] for r in first["results"])
    code, out, _ = cli(*args)
    second = json.loads(out)
    assert second["evaluated"] == 0 and second["resumed"] == 11 and second["best"] == {**first["best"], "resumed": True}
    code, out, _ = cli(*args[:-1], "--grid", "fast=5:25:5", "--json")  # a wider grid only runs the new cells
    third = json.loads(out)
    assert third["resumed"] == 11 and third["evaluated"] == 2  # fast=25 x slow=40,60 (25>=20 rejected)
    code, out, err = cli("optimize", "sma_cross", "--data", str(data), "--grid", "fast=5:10:5", "--objective", "luck")
    assert code == 2 and "unknown objective 'luck'" in err
    code, out, err = cli("optimize", "sma_cross", "--data", str(data))
    assert code == 2 and "give at least one --grid" in err
    code, out, err = cli("optimize", "sma_cross", "--data", str(data), "--grid", "fast=5:20:5", "--grid",
                         "slow=20:60:20", "--workers", "1")
    assert code == 0 and "top" in out and "best sharpe per (fast, slow)" in out


def test_without_dask_local_sweeps_run_and_cluster_says_what_to_install(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, mod, None)  # `import distributed` now raises ImportError
    src = need_shared(MARKET_DIR / BTC_1H)
    data = tmp_path / "BTC_USDT_1h.csv"
    data.write_text("\n".join(src.read_text().splitlines()[:401]) + "\n")
    from cashup_tui.cli.main import run

    args = ["--db", str(tmp_path / "o.sqlite"), "optimize", "sma_cross", "--data", str(data), "--grid", "fast=5:10:5",
            "--workers", "1", "--json"]
    with pytest.raises(SystemExit) as e:
        run(args)
    assert e.value.code in (0, None) and json.loads(capsys.readouterr().out)["evaluated"] == 2
    with pytest.raises(SystemExit) as e:
        run([*args, "--fresh", "--cluster", "tcp://127.0.0.1:8786"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--cluster needs Dask, which is not installed: pip install 'cashup[cluster]'" in err
    assert len(err.strip().splitlines()) == 1


BROKEN = '''
import numpy as np

from cashup_tui.engine.strategy import Bars, Param, Strategy


class Brittle(Strategy):
    fast = Param(5, min=1, max=100, step=1)

    def signals(self, bars: Bars) -> np.ndarray:
        if self.fast in {broken}:
            raise ZeroDivisionError("no luck")
        out = np.full(len(bars), np.nan)
        out[:: self.fast * 3] = 1.0
        out[3 :: self.fast * 3] = -1.0
        return out
'''


def test_failed_trials_are_counted_not_stored_and_all_failed_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = need_shared(MARKET_DIR / BTC_1H)
    data = tmp_path / "BTC_USDT_1h.csv"
    data.write_text("\n".join(src.read_text().splitlines()[:401]) + "\n")
    strat = tmp_path / "brittle.py"
    from cashup_tui.cli.main import run

    def cli(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            run(["--db", str(tmp_path / "o.sqlite"), "optimize", str(strat), "--data", str(data), "--grid",
                 "fast=1:4", "--workers", "1", "--json", *args])
        got = capsys.readouterr()
        return int(e.value.code or 0), got.out, got.err

    strat.write_text(BROKEN.format(broken={2, 3}))
    code, out, err = cli()
    res = json.loads(out)
    assert code == 0 and (res["evaluated"], res["failed"]) == (4, 2)
    assert res["error"].startswith("strategy brittle raised ZeroDivisionError: no luck at ")
    assert "warning: 2 of 4 trial(s) failed (not stored; the next run retries them); the first: strategy brittle" in err
    strat.write_text(BROKEN.format(broken={1, 2, 3, 4}))  # another study (new source): every trial fails
    code, out, err = cli()
    assert code == 1 and "error: all 4 trial(s) failed; the first: strategy brittle raised ZeroDivisionError" in err
    strat.write_text(BROKEN.format(broken={2, 3}))  # back to the first study: only the failed two run again
    code, out, err = cli()
    res = json.loads(out)
    assert code == 0 and (res["resumed"], res["evaluated"], res["failed"]) == (2, 2, 2)
