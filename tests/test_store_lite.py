"""The stdlib-sqlite3 path that records `cashup backtest run` (store.lite): the same rows as the
SQLAlchemy repository, one transaction, and a clean hand-over to `open_store` when it cannot write."""

from __future__ import annotations

import math
import random
import sqlite3
import struct
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.store import backtests as bt
from cashup_tui.store import lite, open_store
from cashup_tui.store.migrations import LATEST

TRADE_SQL = ("SELECT symbol, side, size, entry_ms, entry_price, exit_ms, exit_price, pnl, fees, reason "
             "FROM backtest_trades WHERE run_id = ? ORDER BY id")
EQUITY_SQL = "SELECT ts_ms, equity, drawdown FROM backtest_equity WHERE run_id = ? ORDER BY ts_ms"


def _floats() -> list[float]:
    rnd = random.Random(7)
    xs = [rnd.uniform(-1e6, 1e6) for _ in range(2000)]
    xs += [rnd.choice((1, -1)) * 10 ** rnd.uniform(-30, 30) for _ in range(2000)]
    xs += [struct.unpack("d", rnd.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(20000)]
    return [*xs, 0.0, -0.0, 1.0, 100.0, 1e15, 1e16, 123456789012345678.0, 1e-4, 1e-5, 1e-6, 1e-7, 9.99e-7, 5e-324, 2.0**60, 1.7976931348623157e308, math.inf, -math.inf,
            math.nan]


def test_float_text_is_the_exact_decimal_text() -> None:
    xs = _floats()
    want = [str(Decimal(repr(x))) for x in xs]
    assert [lite.float_text(x) for x in xs] == want
    assert lite._texts(xs) == want  # nan/inf in the column: float_text for all of it
    finite = [(x, w) for x, w in zip(xs, want, strict=True) if math.isfinite(x)]
    assert lite._texts([x for x, _ in finite]) == [w for _, w in finite]  # the orjson digits path
    rnd = random.Random(11)  # only exponents of -7 and below (tiny sizes, PnL): the whole-column replace
    col = [rnd.choice((1, -1)) * (10 ** rnd.uniform(-300, -7) if rnd.random() < 0.5 else rnd.uniform(1e-4, 1e15))
           for _ in range(20000)]
    assert lite._texts(col) == [str(Decimal(repr(x))) for x in col]


def test_schema_version_is_the_latest_migration() -> None:
    assert lite.SCHEMA_VERSION == LATEST


def _columns(n: int = 50) -> lite.TradeColumns:
    rnd = random.Random(3)
    f = [x for x in _floats() if math.isfinite(x)]
    return lite.TradeColumns(
        "BTC_USDT", [rnd.choice(("long", "short")) for _ in range(n)], [abs(rnd.choice(f)) for _ in range(n)],
        [1_600_000_000_000 + 60_000 * i for i in range(n)], [rnd.choice(f) for _ in range(n)],
        [None if i == n - 1 else 1_600_000_060_000 + 60_000 * i for i in range(n)], [rnd.choice(f) for _ in range(n)],
        [rnd.choice(f) for _ in range(n)], [rnd.choice(f) for _ in range(n)], ["signal"] * (n - 1) + ["end"])


def test_same_rows_as_the_sqlalchemy_repository(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run = lite.BacktestRun(strategy="sma_cross", symbol="BTC_USDT", timeframe="1m", fingerprint="f" * 24,
                           params={"fast": 10, "slow": 30}, metrics={"sharpe": 1.25, "x": Decimal("0.1"), "n": None},
                           status="done", engine="event", data_start_ms=1, data_end_ms=2, started_ms=3,
                           finished_ms=4, cash=Decimal("10000.0"))
    cols = _columns()
    equity = [(10, 100.0, 0.0), (20, 99.5, -0.005), (30, 1e-300)]
    with open_store(str(path)) as db:  # creates the schema; the SQLAlchemy path
        a = bt.save_backtest_run(db, run, cols.trades(), equity)
    b = lite.save_backtest_run_sqlite(str(path), run, cols, equity)
    c = lite.save_backtest_run_sqlite(f"sqlite:///{path}", run, cols.trades(), equity)
    assert b is not None and c is not None and len({a, b, c}) == 3
    con = sqlite3.connect(path)
    runs = {r[0]: r[1:] for r in con.execute("SELECT * FROM backtest_runs")}
    assert runs[a] == runs[b] == runs[c]
    assert con.execute(TRADE_SQL, (a,)).fetchall() == con.execute(TRADE_SQL, (b,)).fetchall() \
        == con.execute(TRADE_SQL, (c,)).fetchall()
    assert len(con.execute(TRADE_SQL, (b,)).fetchall()) == 50
    assert con.execute(EQUITY_SQL, (a,)).fetchall() == con.execute(EQUITY_SQL, (b,)).fetchall()
    con.close()
    with open_store(str(path)) as db:  # and the repository reads them back as it wrote them
        assert bt.load_backtest_trades(db, b) == bt.load_backtest_trades(db, a) == cols.trades()
        assert bt.get_backtest_run(db, b).metrics == {"sharpe": 1.25, "x": "0.1", "n": None}  # type: ignore[union-attr]


def _schema(path: Path) -> tuple[set, list]:
    con = sqlite3.connect(path)
    try:
        master = set(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        versions = con.execute("SELECT version, description FROM schema_version ORDER BY version").fetchall()
    finally:
        con.close()
    return master, versions


def _schema_names(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


def test_a_new_store_gets_the_schema_open_store_creates(tmp_path: Path) -> None:
    ref = tmp_path / "ref.sqlite"
    open_store(str(ref)).close()
    new = tmp_path / "sub" / "new.sqlite"  # the directory does not exist either
    run = lite.BacktestRun("s", "BTC_USDT", "1m", "g" * 24, status="done")
    rid = lite.save_backtest_run_sqlite(str(new), run, _columns(), [(10, 1.0, 0.0)])
    assert rid == 1
    assert _schema(new) == _schema(ref)
    assert oct(new.stat().st_mode & 0o777) == "0o600" and oct(new.parent.stat().st_mode & 0o777) == "0o700"
    with open_store(str(new)) as db:  # open_store finds it current and reads the run back
        assert db.schema_version == LATEST
        assert bt.get_backtest_run(db, rid).fingerprint == "g" * 24  # type: ignore[union-attr]
        assert len(bt.load_backtest_trades(db, rid)) == 50


def test_hands_over_when_it_cannot_write(tmp_path: Path) -> None:
    run = lite.BacktestRun("s", "BTC_USDT", "1m", "g" * 24, status="done")
    missing = tmp_path / "new.sqlite"
    for url in (":memory:", "", "sqlite://", "postgresql+psycopg://u@h/db", f"sqlite:///{missing}?mode=ro"):
        assert lite.save_backtest_run_sqlite(url, run) is None
    assert not missing.exists()
    old = tmp_path / "old.sqlite"
    with open_store(str(old), target_version=1):
        pass
    assert lite.save_backtest_run_sqlite(str(old), run) is None  # an older schema: open_store migrates it
    alien = tmp_path / "alien.sqlite"
    sqlite3.connect(alien).execute("CREATE TABLE t (x)").connection.close()
    assert lite.save_backtest_run_sqlite(str(alien), run) is None  # not a store: open_store says so
    assert sqlite3.connect(alien).execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]


def test_one_transaction_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    open_store(str(path)).close()
    run = lite.BacktestRun("s", "BTC_USDT", "1m", "g" * 24, status="done")
    with pytest.raises(lite.StoreError, match="cannot record the backtest"):  # duplicate equity key: the last insert fails
        lite.save_backtest_run_sqlite(str(path), run, _columns(), [(10, 1.0, 0.0), (10, 2.0, 0.0)])
    con = sqlite3.connect(path)
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("backtest_runs", "backtest_trades", "backtest_equity")] == [0, 0, 0]
    con.close()
    fresh = tmp_path / "fresh.sqlite"  # a new file: its schema is rolled back with the run
    with pytest.raises(lite.StoreError):
        lite.save_backtest_run_sqlite(str(fresh), run, _columns(), [(10, 1.0, 0.0), (10, 2.0, 0.0)])
    assert _schema_names(fresh) == set()
    open_store(str(fresh)).close()  # and open_store makes it a store as if nothing happened
    assert "backtest_runs" in _schema_names(fresh)
    with pytest.raises(ValueError, match="status"):
        lite.save_backtest_run_sqlite(str(path), lite.BacktestRun("s", "X", "1m", "g", status="odd"))
