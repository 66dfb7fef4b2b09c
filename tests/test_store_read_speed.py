"""Candles read from the store as columns (issue 13): exactly the CSV's arrays, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.store import open_store
from cashup_tui.store.candle_arrays import read_candle_columns
from cashup_tui.store.candle_cache import read_candle_columns_sqlite
from cashup_tui.store.engine import transaction
from cashup_tui.store.migrations import LATEST
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


def _full_scan(db) -> list[tuple]:
    """What `data list` showed before candle_stats: a GROUP BY and a LAG window over every candle."""
    from cashup_tui.domain.timeframes import timeframe_ms

    out = []
    with db.begin() as conn:
        for sym, tf, first, last, n in conn.exec_driver_sql(
                "SELECT symbol, timeframe, MIN(open_ms), MAX(open_ms), COUNT(*) FROM candles "
                "GROUP BY symbol, timeframe ORDER BY symbol, timeframe").all():
            gaps = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM (SELECT open_ms - LAG(open_ms) OVER (ORDER BY open_ms) AS d FROM candles "
                f"WHERE symbol = '{sym}' AND timeframe = '{tf}') AS steps WHERE d > {timeframe_ms(tf)}").scalar_one()
            out.append((sym, tf, first, last, n, gaps))
    return out


def _listed(db) -> list[tuple]:
    from cashup_tui.store import candles

    return [(s.symbol, s.timeframe, s.first_ms, s.last_ms, s.rows, s.gaps)
            for s in candles.list_series(db, include_funding=False)]


def _stats_rows(db) -> list[tuple]:
    with db.begin() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT symbol, timeframe, first_ms, last_ms, rows, gaps FROM candle_stats ORDER BY symbol, timeframe")]


def test_stats_table_equals_a_full_scan(market_dir: Path, store_url: str, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from cashup_tui.store import candles

    monkeypatch.setenv("CASHUP_DB", store_url)
    path = market_dir / FILE
    steps = [
        ["data", "import", str(path), "--symbol", "BTC_USDT", "--timeframe", "5m"],
        ["data", "import", str(path), "--symbol", "BTC_USDT", "--timeframe", "5m"],  # re-import: unchanged
        ["data", "resample", "--symbol", "BTC_USDT", "--from-tf", "5m", "--to-tf", "1h"],
        ["data", "import", str(path), "--symbol", "ETH_USDT", "--timeframe", "5m"],
    ]
    for args in steps:
        rc, _, err = cashup(capsys, *args)
        assert rc == 0, err
        with open_store(store_url) as db:
            assert _stats_rows(db) == _full_scan(db) == _listed(db), args
    with open_store(store_url) as db:
        # what `data fetch` does: upsert bars, a revised last bar, a new bar after a hole
        last = _full_scan(db)[1][3]  # BTC_USDT 5m
        candles.upsert_candles(db, "BTC_USDT", "5m", [(last, 1.0, 2.0, 0.5, 1.5, 3.0), (last + 900_000, 1, 2, 0.5, 1, 1)])
        candles.delete_series(db, "ETH_USDT", "5m")
        assert _stats_rows(db) == _full_scan(db) == _listed(db)
        assert [r[:2] for r in _stats_rows(db)] == [("BTC_USDT", "1h"), ("BTC_USDT", "5m")]
        assert _full_scan(db)[1][5] >= 1  # the hole before the new bar is counted
        # written behind the store's back (an older CashUp, a hand edit): list corrects the table
        with db.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM candles WHERE symbol = 'BTC_USDT' AND timeframe = '5m' "
                                 f"AND open_ms >= {last}")
            conn.exec_driver_sql("INSERT INTO candles VALUES ('XRP_USDT', '1m', 60000, 1, 1, 1, 1, 1)")
            conn.exec_driver_sql("DELETE FROM candles WHERE timeframe = '1h'")
        want = _full_scan(db)
    for _ in range(2):  # the first list repairs the stale rows (SQLAlchemy path), the second reads them
        rc, out, err = cashup(capsys, "data", "list", "--json")
        assert rc == 0, err
        assert [(r["symbol"], r["timeframe"], r["first_ms"], r["last_ms"], r["rows"], r["gaps"])
                for r in json.loads(out)] == want
    with open_store(store_url) as db:
        assert _listed(db) == _full_scan(db) == _stats_rows(db)


def test_migration_5_builds_stats_from_stored_candles(tmp_path: Path) -> None:
    from cashup_tui.store import candles

    path = str(tmp_path / "v4.sqlite")
    with open_store(path, target_version=4) as db, db.begin() as conn:
        conn.exec_driver_sql("INSERT INTO candles VALUES ('BTC_USDT', '1m', 60000, 1, 1, 1, 1, 1), "
                             "('BTC_USDT', '1m', 120000, 1, 1, 1, 1, 1), ('BTC_USDT', '1m', 300000, 1, 1, 1, 1, 1)")
    with open_store(path) as db:
        assert db.schema_version == LATEST
        assert _stats_rows(db) == _full_scan(db) == [("BTC_USDT", "1m", 60000, 300000, 3, 1)]
        assert candles.list_series(db)[0].missing == 2


def test_import_with_a_bad_line_near_the_end_writes_nothing_and_names_it(
        tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASHUP_DB", store_url)
    n = 50_000  # more than one write batch
    lines = ["open_time_ms,open,high,low,close,volume"]
    lines += [f"{60_000 * (i + 1)},1.5,2,1,1.5,3" for i in range(n)]
    lines[n - 2] = f"{60_000 * (n - 2)},1.5,oops,1,1.5,3"  # line n - 1 of the file
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    rc, _, err = cashup(capsys, "data", "import", str(tmp_path / "c.csv"), "--symbol", "BTC_USDT", "--timeframe", "1m")
    assert rc == 1 and f"line {n - 1}" in err and "nothing was imported" in err, err
    with open_store(store_url) as db:
        assert _full_scan(db) == [] == _stats_rows(db)
