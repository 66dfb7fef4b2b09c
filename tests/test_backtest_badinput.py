"""Bad input to `cashup backtest run`: clear one-line errors, non-zero exit, no traceback, and
nothing written to the store (except a strategy that raises: that run is recorded as failed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MARKET_DIR, need_shared

REPO = Path(__file__).resolve().parent.parent
BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"

RAISER = '''
import numpy as np
from cashup_tui.engine.strategy import Bars, Strategy


class Boom(Strategy):
    """Divides by an empty array on purpose."""

    def signals(self, bars: Bars) -> np.ndarray:
        x = bars.close
        return x / x[:0]  # line 11: shape mismatch
'''


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    from cashup_tui.cli.main import run

    def call(*args: str, db: Path | None = None) -> tuple[int, str, str]:
        pre = ["--db", str(db)] if db else []
        with pytest.raises(SystemExit) as e:
            run([*pre, *args])
        got = capsys.readouterr()
        return int(e.value.code or 0), got.out, got.err

    return call


@pytest.fixture
def csv_lines() -> list[str]:
    return need_shared(MARKET_DIR / BTC_1H).read_text().splitlines()[:400]


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def runs(cli, db: Path) -> list[dict]:
    code, out, _ = cli("backtest", "list", "--json", db=db)
    assert code == 0
    return json.loads(out)["runs"]


def test_bad_inputs_are_clear_and_store_nothing(tmp_path: Path, csv_lines: list[str], cli) -> None:
    db = tmp_path / "b.sqlite"
    good = write(tmp_path, "BTC_USDT_1h.csv", csv_lines)
    cases = [
        (["sma_cros", "--data", str(good)], "unknown strategy 'sma_cros'", "did you mean sma_cross"),
        (["sma_cross", "--data", str(good), "--param", "fats=3"], "unknown parameter 'fats'", "did you mean 'fast'"),
        (["sma_cross", "--data", str(good), "--param", "fast=abc"], "'fast' must be int", "int in [1, 1000]"),
        (["sma_cross", "--data", str(good), "--param", "fast=0"], "fast' = 0 is out of range", "int in [1, 1000]"),
        (["sma_cross", "--data", str(good), "--param", "fast=40"], "fast (40) must be shorter than slow (30)", ""),
        (["sma_cross", "--data", str(good), "--param", "nonsense"], "bad --param 'nonsense'", "name=value"),
        (["sma_cross", "--data", str(write(tmp_path, "short.csv", csv_lines[:21]))],
         "sma_cross needs at least 32 bars for its indicators, the data has 20", "--from/--to"),
        (["sma_cross", "--data", str(good), "--from", "2030-01-01"], "no bars between 2030-01-01 and the end",
         "the data covers 2025-02-25 00:00"),
        (["sma_cross", "--data", str(good), "--from", "yesterday"], "--from: cannot read 'yesterday'", "YYYY-MM-DD"),
        (["sma_cross", "--data", str(tmp_path / "nope.csv")], "nope.csv not found", "--data"),
        (["sma_cross"], "give either --data FILE or --symbol S --timeframe TF", ""),
        (["sma_cross", "--data", str(write(tmp_path, "cols.csv", ["x,a,b", "1,2,3", "2,3,4"]))],
         "missing column(s) a time column", "header like open_time_ms"),
        (["grid", "--data", str(good)], "grid has event hooks only", "--engine event"),
        (["sma_cross", "--data", str(good), "--cash", "-5"], "--cash must be a positive amount", ""),
        (["sma_cross", "--data", str(good), "--sizer", "percent:0"], "bad --sizer 'percent:0'", "percent:P"),
        (["sma_cross", "--data", str(good), "--contracts", "--symbol", "ZZZ_USDT"], "give either --data", ""),
    ]
    for args, msg, hint in cases:
        code, out, err = cli("backtest", "run", *args, db=db)
        assert code != 0, args
        assert msg in err, (args, err)
        assert hint in err, (args, err)
        assert "Traceback" not in err + out
    assert runs(cli, db) == []  # nothing half-written


def test_gaps_and_nans_need_allow_gaps(tmp_path: Path, csv_lines: list[str], cli) -> None:
    db = tmp_path / "g.sqlite"
    gap = write(tmp_path, "gap.csv", csv_lines[:100] + csv_lines[101:])
    code, _, err = cli("backtest", "run", "sma_cross", "--data", str(gap), db=db)
    assert code == 1 and "1 gap(s) in the 1h bars, first after 2025-02-29" not in err
    assert "gap(s) in the 1h bars" in err and "--allow-gaps" in err
    nan_lines = list(csv_lines)
    parts = nan_lines[50].split(",")
    parts[4] = ""
    nan_lines[50] = ",".join(parts)
    nan = write(tmp_path, "nan.csv", nan_lines)
    code, _, err = cli("backtest", "run", "sma_cross", "--data", str(nan), db=db)
    assert code == 1 and "1 row(s) with missing, NaN or non-numeric values, first at row 51" in err and "--allow-gaps" in err
    assert runs(cli, db) == []
    code, out, err = cli("backtest", "run", "sma_cross", "--data", str(gap), "--allow-gaps", "--json", db=db)
    assert code == 0, err
    assert json.loads(out)["bars"] == 398
    code, out, err = cli("backtest", "run", "sma_cross", "--data", str(nan), "--allow-gaps", "--json", db=db)
    assert code == 0 and json.loads(out)["bars"] == 398


def test_a_strategy_that_raises_is_reported_with_file_line_and_marked_failed(tmp_path: Path, csv_lines: list[str]) -> None:
    """Through the real command (a subprocess): one clean error line, the run stored as failed."""
    strat = tmp_path / "boom.py"
    strat.write_text(RAISER)
    data = write(tmp_path, "BTC_USDT_1h.csv", csv_lines)
    db = tmp_path / "f.sqlite"
    env = {**os.environ}
    r = subprocess.run([sys.executable, "-m", "cashup_tui", "--db", str(db), "backtest", "run", str(strat),
                        "--data", str(data)], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert r.returncode == 1
    assert f"{strat}:11" in r.stderr and "ValueError" in r.stderr and "marked failed" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 3
    lst = subprocess.run([sys.executable, "-m", "cashup_tui", "--db", str(db), "backtest", "list", "--json"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    got = json.loads(lst.stdout)["runs"]
    assert len(got) == 1 and got[0]["status"] == "failed" and f"{strat}:11" in got[0]["error"]


def test_broken_strategy_file_names_the_line(tmp_path: Path, csv_lines: list[str], cli) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("from cashup_tui.engine.strategy import Strategy\n\nclass X(Strategy:\n    pass\n")
    code, _, err = cli("backtest", "run", str(bad), "--data", str(write(tmp_path, "d.csv", csv_lines)))
    assert code == 1 and f"{bad}:3" in err and "syntax error" in err
