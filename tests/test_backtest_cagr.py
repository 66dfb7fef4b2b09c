"""CAGR is n/a on spans under 30 days (one rule in `metrics.cagr`), in every place a backtest is shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.engine.backtest.metrics import MIN_CAGR_SPAN_MS, MS_PER_YEAR, cagr
from tests.campaign import examples
from tests.conftest import MARKET_DIR, need_shared

REPO = Path(__file__).resolve().parent.parent
BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
DAY_MS = 86_400_000


@settings(max_examples=examples(50))
@given(span=st.integers(0, MIN_CAGR_SPAN_MS - 1), ratio=st.floats(0.01, 100.0))
def test_no_cagr_under_thirty_days(span: int, ratio: float) -> None:
    assert cagr(10_000.0 * ratio, 10_000.0, span) is None


def test_cagr_from_thirty_days_on() -> None:
    assert cagr(11_000.0, 10_000.0, MS_PER_YEAR) == pytest.approx(0.10)
    assert cagr(10_100.0, 10_000.0, MIN_CAGR_SPAN_MS) == pytest.approx(1.01 ** (365.25 / 30) - 1)
    assert cagr(0.0, 10_000.0, 40 * DAY_MS) == -1.0


def _run(tmp_path: Path, bars: int, *extra: str) -> subprocess.CompletedProcess[str]:
    src = need_shared(MARKET_DIR / BTC_1H)
    data = tmp_path / f"btc_{bars}.csv"
    data.write_text("\n".join(src.read_text().splitlines()[: bars + 1]) + "\n")
    return subprocess.run([sys.executable, "-m", "cashup_tui", "--db", str(tmp_path / "bt.sqlite"), "backtest", "run",
                           "sma_cross", "--data", str(data), "--param", "fast=3", "--param", "slow=8", *extra],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"}, cwd=REPO, timeout=120)


def test_backtest_run_shows_cagr_na_on_a_short_span(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    r = _run(tmp_path, 48, "--report", str(report))  # two days of bars
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "CAGR" in ln)
    assert "n/a" in line and "%" not in line.split("CAGR")[1].split("│")[1]
    assert ">n/a<" in report.read_text().replace(" ", "")
    out = json.loads(_run(tmp_path, 48, "--json").stdout)
    assert out["trade_count"] > 0 and out["total_return"] != 0
    assert out["cagr"] is None and out["calmar"] is None
    # 60 days of bars: a real figure again
    long = json.loads(_run(tmp_path, 24 * 60, "--json").stdout)
    assert isinstance(long["cagr"], float)
