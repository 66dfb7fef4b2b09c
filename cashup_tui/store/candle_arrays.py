"""Stored candles straight into numpy columns, with no SQLAlchemy Rows and no pandas in between.

A 1M-bar backtest from the store must cost about what reading the same bars from a CSV costs, so
the rows of one ordered query go from the DB-API cursor into one structured numpy array
(`np.fromiter`: no list of tuples, no per-row Row objects, no DataFrame) and are split into
contiguous columns. `read_candle_columns` does it on any open connection (SQLite or PostgreSQL,
through SQLAlchemy's raw DB-API connection); `read_candle_columns_sqlite` does it on a SQLite file
with the stdlib driver alone (importing SQLAlchemy costs more than the read), and returns None when
the file is not a store at the current schema (the caller then takes `open_store`, which migrates
or explains). Both run the same SQL (`candle_sql`).

Also home of `canonical_timeframe`, which both read paths need without importing SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from cashup_tui.domain.timeframes import timeframe_ms

COLUMNS = ("open_ms", "open", "high", "low", "close", "volume")
ROW_DTYPE = np.dtype([("open_ms", "i8"), ("open", "f8"), ("high", "f8"), ("low", "f8"), ("close", "f8"),
                      ("volume", "f8")])
Columns = dict[str, np.ndarray]


def canonical_timeframe(tf: str) -> str:
    """One name per bar length ('60m' -> '1h', '1440m' -> '1d') so a series is never split in two."""
    ms = timeframe_ms(tf)
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return tf  # pragma: no cover - timeframe_ms only accepts whole seconds


def candle_sql(mark: str, start_ms: int | None, end_ms: int | None) -> str:
    """The ordered column query with `mark` as the placeholder ('?' or '%s'); parameters from `_params`."""
    where = f"symbol = {mark} AND timeframe = {mark}"
    if start_ms is not None:
        where += f" AND open_ms >= {mark}"
    if end_ms is not None:
        where += f" AND open_ms <= {mark}"
    return f"SELECT {', '.join(COLUMNS)} FROM candles WHERE {where} ORDER BY open_ms"


def _params(symbol: str, timeframe: str, start_ms: int | None, end_ms: int | None) -> tuple[Any, ...]:
    return (symbol, canonical_timeframe(timeframe), *(int(x) for x in (start_ms, end_ms) if x is not None))


def columns_from_cursor(cursor: Any) -> Columns:
    """Drain an executed cursor of (open_ms, o, h, l, c, v) rows into contiguous int64/float64 columns."""
    rows = np.fromiter(cursor, dtype=ROW_DTYPE)
    return {c: np.ascontiguousarray(rows[c]) for c in COLUMNS}


def read_candle_columns(conn: Any, symbol: str, timeframe: str, start_ms: int | None = None,
                        end_ms: int | None = None) -> Columns:
    """One series (end inclusive) as columns, on an open SQLAlchemy Connection of any backend."""
    raw = conn.connection.dbapi_connection
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = candle_sql(mark, start_ms, end_ms)
    cur = raw.cursor()
    try:
        cur.execute(sql, _params(symbol, timeframe, start_ms, end_ms))
        return columns_from_cursor(cur)
    finally:
        cur.close()


def read_candle_columns_sqlite(url: str, symbol: str, timeframe: str, start_ms: int | None = None,
                               end_ms: int | None = None, *, busy_timeout_ms: int = 5000) -> Columns | None:
    """`read_candle_columns` on the stdlib driver for an existing SQLite store file at the current
    schema; None for anything else (no file, another backend, an older/newer schema, not a store)."""
    from cashup_tui.store.lite import SCHEMA_VERSION, sqlite_file

    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("BEGIN")  # the version check and the read see one snapshot
        try:
            have = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        except sqlite3.Error:
            return None
        if have != SCHEMA_VERSION:
            return None
        sql = candle_sql("?", start_ms, end_ms)
        return columns_from_cursor(conn.execute(sql, _params(symbol, timeframe, start_ms, end_ms)))
    except sqlite3.Error:
        return None  # locked past the timeout, damaged: open_store says why
    finally:
        conn.close()
