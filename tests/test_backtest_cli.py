"""`cashup backtest run|list|show|compare|lookahead` and `cashup strategies list` as a user runs them."""

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

CHEAT = '''
import numpy as np
from cashup_tui.engine.strategy import Bars, Param, Strategy


class Cheat(Strategy):
    """Buys when TOMORROW's close is higher: uses the future."""
    n = Param(1, min=1, max=5)

    def signals(self, bars: Bars) -> np.ndarray:
        nxt = np.r_[bars.close[self.n:], np.full(self.n, np.nan)]
        out = np.where(nxt > bars.close, 1.0, -1.0)
        out[np.isnan(nxt)] = np.nan
        return out
'''


def cashup(*args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    pre = ["--db", str(db)] if db else []
    return subprocess.run([sys.executable, "-m", "cashup_tui", *pre, *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "120"}, cwd=REPO, timeout=120)


class Out:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = code, stdout, stderr


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """The same entry point in-process (much faster than a subprocess per call on a busy machine)."""
    from cashup_tui.cli.main import run

    def call(*args: str, db: Path | None = None) -> Out:
        pre = ["--db", str(db)] if db else []
        with pytest.raises(SystemExit) as e:
            run([*pre, *args])
        got = capsys.readouterr()
        return Out(int(e.value.code or 0), got.out, got.err)

    return call


@pytest.fixture
def btc(tmp_path: Path) -> Path:
    """The first 2,000 hourly bars of the real BTC file (copied into the test's tmp dir)."""
    src = need_shared(MARKET_DIR / BTC_1H)
    lines = src.read_text().splitlines()[:2001]
    p = tmp_path / "BTC_USDT_1h.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_run_json_fields_store_list_show_compare(tmp_path: Path, btc: Path, cli) -> None:
    db = tmp_path / "bt.sqlite"
    report = tmp_path / "r.html"
    r = cashup("backtest", "run", "sma_cross", "--data", str(btc), "--param", "fast=8", "--param", "slow=30",
               "--json", "--report", str(report), db=db)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # exactly one JSON document
    for k in ("strategy", "params", "bars", "trades", "trade_count", "final_equity", "total_return", "cagr", "sharpe",
              "sortino", "calmar", "max_drawdown", "win_rate", "profit_factor", "exposure", "fees", "fingerprint",
              "run_id"):
        assert k in out, k
    assert out["strategy"] == "sma_cross" and out["params"] == {"fast": 8, "slow": 30}
    assert out["bars"] == 2000 and out["trade_count"] == len(out["trades"]) > 0
    t = out["trades"][0]
    for k in ("entry_time", "exit_time", "side", "entry_price", "exit_price", "qty", "pnl", "fees"):
        assert k in t
    assert out["settings"]["fee_bps"] == 5.0 and out["settings"]["cash"] == 10_000.0
    html = report.read_text()
    assert "<svg" in html and "sma_cross" in html and out["fingerprint"] in html

    again = json.loads(cli("backtest", "run", "sma_cross", "--data", str(btc), "--param", "fast=8",
                              "--param", "slow=30", "--json", db=db).stdout)
    assert again["fingerprint"] == out["fingerprint"] and again["final_equity"] == out["final_equity"]
    other = json.loads(cli("backtest", "run", "ema_cross", "--data", str(btc), "--fee-bps", "10",
                              "--allow-short", "--json", db=db).stdout)
    assert other["fingerprint"] != out["fingerprint"]

    lst = json.loads(cli("backtest", "list", "--json", db=db).stdout)["runs"]
    assert [x["id"] for x in lst] == [other["run_id"], again["run_id"], out["run_id"]]
    assert all(x["status"] == "done" for x in lst)
    shown = json.loads(cli("backtest", "show", str(out["run_id"]), "--json", db=db).stdout)
    assert shown["fingerprint"] == out["fingerprint"] and len(shown["trades"]) == out["trade_count"]
    assert shown["metrics"]["final_equity"] == pytest.approx(out["final_equity"])
    assert shown["equity"][-1][1] == pytest.approx(out["final_equity"])
    cmp_ = json.loads(cli("backtest", "compare", str(out["run_id"]), str(other["run_id"]), "--json", db=db).stdout)
    assert cmp_["metrics"]["final_equity"] == [pytest.approx(out["final_equity"]), pytest.approx(other["final_equity"])]
    text = cli("backtest", "show", str(out["run_id"]), db=db)
    assert text.returncode == 0 and "Sharpe" in text.stdout and "equity" in text.stdout
    missing = cli("backtest", "show", "999", db=db)
    assert missing.returncode == 1 and "no backtest run 999" in missing.stderr


def test_terminal_output_has_table_chart_and_trades(tmp_path: Path, btc: Path, cli) -> None:
    r = cli("backtest", "run", "rsi_reversion", "--data", str(btc), "--trades", "3", db=tmp_path / "x.sqlite")
    assert r.returncode == 0, r.stderr
    for needle in ("total return", "Sharpe", "max drawdown", "equity (USDT)", "drawdown (%)", "last 3 of",
                   "fingerprint"):
        assert needle in r.stdout, needle


def test_symbol_timeframe_reads_the_store(tmp_path: Path, btc: Path, cli) -> None:
    db = tmp_path / "s.sqlite"
    empty = cli("backtest", "run", "sma_cross", "--symbol", "BTC_USDT", "--timeframe", "1h", db=db)
    assert empty.returncode == 1 and "no BTC_USDT 1h candles in the store" in empty.stderr
    import numpy as np

    from cashup_tui.store import open_store
    from cashup_tui.store.candles import upsert_candles

    a = np.loadtxt(btc, delimiter=",", skiprows=1)
    store = open_store(str(db))
    try:
        upsert_candles(store, "BTC_USDT", "1h", {"open_ms": a[:, 0].astype(np.int64), "open": a[:, 1], "high": a[:, 2],
                                               "low": a[:, 3], "close": a[:, 4], "volume": a[:, 5]})
    finally:
        store.close()
    from_store = json.loads(cli("backtest", "run", "sma_cross", "--symbol", "BTC_USDT", "--timeframe", "1h",
                                   "--from", "2025-03-01", "--json", db=db).stdout)
    from_file = json.loads(cli("backtest", "run", "sma_cross", "--data", str(btc), "--from", "2025-03-01",
                                  "--json", db=db).stdout)
    assert from_store["bars"] == from_file["bars"] and from_store["final_equity"] == pytest.approx(from_file["final_equity"])


def test_lookahead_catches_a_cheating_strategy(tmp_path: Path, btc: Path, cli) -> None:
    cheat = tmp_path / "cheat.py"
    cheat.write_text(CHEAT)
    r = cashup("backtest", "lookahead", str(cheat), "--data", str(btc), "--json", "--cuts", "10")
    assert r.returncode == 1, r.stderr
    rep = json.loads(r.stdout)
    assert rep["clean"] is False and rep["changed_cuts"] == 10 and rep["changes"]
    ch = rep["changes"][0]
    assert ch["bar"] == ch["cut"] and ch["truncated"] is None  # the signal at the cut needed the next bar
    ok = cli("backtest", "lookahead", "sma_cross", "--data", str(btc))
    assert ok.returncode == 0 and "no look-ahead" in ok.stdout


def test_strategies_list_json() -> None:
    r = cashup("strategies", "list", "--json")
    assert r.returncode == 0, r.stderr
    got = {s["name"]: s for s in json.loads(r.stdout)["strategies"]}
    for name in ("sma_cross", "ema_cross", "rsi_reversion", "bollinger_breakout", "donchian_breakout", "macd_trend",
                 "grid"):
        assert name in got
    fast = {p["name"]: p for p in got["sma_cross"]["params"]}["fast"]
    assert fast["type"] == "int" and fast["default"] == 10 and fast["min"] == 1 and fast["max"] == 1000
    assert got["grid"]["vectorised"] is False


def test_json_run_path_keeps_heavy_libraries_out(btc: Path, tmp_path: Path) -> None:
    """`backtest run --json` needs numpy and the store only: no pandas, textual, ccxt, plotext, and not
    SQLAlchemy either: a new SQLite store is created and every run written with the stdlib sqlite3 driver."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('LOADED:' + ','.join(sorted({m.split('.')[0] for m in sys.modules})) + '\\n'))\n"
        "from cashup_tui.cli.main import run\n"
        f"run(['--db', {str(tmp_path / 'h.sqlite')!r}, 'backtest', 'run', 'sma_cross', '--data', {str(btc)!r}, '--json'])\n"
    )
    runs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
        assert r.returncode == 0, r.stderr
        runs.append((json.loads(r.stdout)["run_id"], set(r.stderr.split("LOADED:")[1].strip().split(","))))
    for _, loaded in runs:
        assert not loaded & {"pandas", "textual", "ccxt", "aiohttp", "plotext", "rich", "pyarrow", "distributed"}
    for _, loaded in runs:
        assert "numpy" in loaded and not loaded & {"sqlalchemy", "sqlmodel"}
    assert runs[1][0] == runs[0][0] + 1
