"""`cashup optimize --tpe N`: Optuna's TPE over the --grid values, each trial equal to the grid's trial
of the same parameters, stored as it finishes and resumed (stored trials count toward N), in one
process and in worker processes; bad combinations refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import MARKET_DIR, need_shared

pytest.importorskip("optuna", reason="--tpe needs the 'optuna' extra (in the test extra)")
BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    import pandas as pd

    src = need_shared(MARKET_DIR / BTC_1H)
    out = tmp_path / "btc.csv"
    pd.read_csv(src).iloc[:2000].to_csv(out, index=False)
    return out


def _cli(tmp_path: Path, capsys, *args: str) -> tuple[int, dict, str]:  # type: ignore[no-untyped-def]
    from cashup_tui.cli.main import run

    with pytest.raises(SystemExit) as e:
        run(["--db", str(tmp_path / "o.sqlite"), *args])
    got = capsys.readouterr()
    code = int(e.value.code or 0)
    return code, (json.loads(got.out) if code == 0 else {}), got.err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_tpe_searches_stores_and_resumes(tmp_path: Path, capsys, data: Path, workers: str) -> None:  # type: ignore[no-untyped-def]
    grid = ("--grid", "fast=2:40:2", "--grid", "slow=10:200:10")  # 380 cells, ~300 valid
    base = ("optimize", "sma_cross", "--data", str(data), *grid, "--objective", "return", "--workers", workers)
    code, first, err = _cli(tmp_path, capsys, *base, "--tpe", "12", "--json")
    assert code == 0, err
    assert first["sampler"] == "tpe" and first["evaluated"] == 12 and first["resumed"] == 0
    assert first["combinations"] == 20 * 20
    params = [r["params"] for r in first["results"]]
    assert all(p["fast"] < p["slow"] and p["fast"] % 2 == 0 and p["slow"] % 10 == 0 for p in params)
    # the same trial as the grid's: a one-cell grid of the best set gives the same objective
    best = first["best"]
    code, one, err = _cli(tmp_path, capsys, "optimize", "sma_cross", "--data", str(data), "--grid",
                          f"fast={best['params']['fast']}", "--grid", f"slow={best['params']['slow']}",
                          "--objective", "return", "--workers", "1", "--fresh", "--json")
    assert code == 0, err
    assert one["best"]["objective"] == pytest.approx(best["objective"], rel=0, abs=1e-12)
    # a rerun with a larger N: the 12 stored trials are told to the sampler and count toward N
    code, second, err = _cli(tmp_path, capsys, *base, "--tpe", "20", "--json")
    assert code == 0, err
    assert second["resumed"] >= 12 and second["resumed"] + second["evaluated"] == 20
    assert second["best"]["objective"] >= best["objective"]


def test_tpe_with_random_or_cluster_is_refused(tmp_path: Path, capsys, data: Path) -> None:  # type: ignore[no-untyped-def]
    for extra in (("--random", "5"), ("--cluster", "tcp://127.0.0.1:1")):
        code, _, err = _cli(tmp_path, capsys, "optimize", "sma_cross", "--data", str(data), "--grid", "fast=2:10:2",
                            "--tpe", "5", *extra)
        assert code == 2 and "--tpe chooses its own trials" in err


def test_a_small_space_ends_when_exhausted(tmp_path: Path, capsys, data: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = _cli(tmp_path, capsys, "optimize", "sma_cross", "--data", str(data), "--grid", "fast=5,10",
                          "--grid", "slow=20,30", "--objective", "return", "--workers", "1", "--tpe", "50", "--json")
    assert code == 0, err
    assert out["evaluated"] == 4  # every valid cell once, then nothing new to try
