"""Candles read from the store as columns (issue 13): exactly the CSV's arrays, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.store import open_store
from cashup_tui.store.candle_arrays import read_candle_columns, read_candle_columns_sqlite
from cashup_tui.store.engine import transaction
from tests.test_runtime_cli import cashup

SAME = ("bars", "start", "end", "trade_count", "final_equity", "total_return", "sharpe", "max_drawdown", "fees", "trades")
FILE = "gateio_usdt_perp_BTC_USDT_5m_2026-01-26_2026-02-25.csv"


def test_store_read_gives_exactly_the_csv_arrays(market_dir: Path, store_url: str, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = market_dir / FILE
    monkeypatch.setenv("CASHUP_DB", store_url)
    rc, _, err = cashup(capsys, "data", "import", str(path), "--symbol", "BTC_USDT", "--timeframe", "5m")
    assert rc == 0, err
    bars = load_csv(path)
    want = {"open_ms": bars.time_ms, "open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
            "volume": bars.volume}
    with open_store(store_url) as db, transaction(db) as conn:
        got = read_candle_columns(conn, "BTC_USDT", "5m")
        lo, hi = int(bars.time_ms[10]), int(bars.time_ms[20])
        part = read_candle_columns(conn, "BTC_USDT", "5m", lo, hi)
        assert len(read_candle_columns(conn, "BTC_USDT", "1h")["open_ms"]) == 0
    for name, col in want.items():
        assert got[name].dtype == col.dtype and np.array_equal(got[name], col), name
        assert np.array_equal(part[name], col[10:21]), name
    lite = read_candle_columns_sqlite(store_url, "BTC_USDT", "5m")
    if store_url.startswith("postgresql"):
        assert lite is None  # the stdlib path is for SQLite files only
    else:
        assert lite is not None and all(np.array_equal(lite[n], want[n]) for n in want)
    # the CLI backtest from the store and from the file agree
    runs = []
    for src in (["--symbol", "BTC_USDT", "--timeframe", "5m"], ["--data", str(path)]):
        rc, out, err = cashup(capsys, "backtest", "run", "sma_cross", *src, "--no-store", "--json")
        assert rc == 0, err
        runs.append({k: v for k, v in json.loads(out).items() if k in SAME})
    assert runs[0] == runs[1] and runs[0]["trade_count"] > 0


def test_stdlib_read_declines_what_it_cannot_read(tmp_path: Path) -> None:
    assert read_candle_columns_sqlite(str(tmp_path / "missing.sqlite"), "X", "1m") is None
    assert not (tmp_path / "missing.sqlite").exists()  # a read never creates a store
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert read_candle_columns_sqlite(str(other), "X", "1m") is None  # not a store: open_store explains
    old = tmp_path / "old.sqlite"
    open_store(str(old), target_version=1).close()
    assert read_candle_columns_sqlite(str(old), "X", "1m") is None  # older schema: open_store migrates
