"""Stored candles straight into numpy columns, with no SQLAlchemy Rows and no pandas in between.

A 1M-bar backtest from the store must cost about what reading the same bars from a CSV costs, so
the rows of one ordered query go from the DB-API cursor into one structured numpy array
(`np.fromiter`: no list of tuples, no per-row Row objects, no DataFrame) and are split into
contiguous columns. `read_candle_columns` does it on any open connection (SQLite or PostgreSQL,
through SQLAlchemy's raw DB-API connection); `read_candle_columns_sqlite` does it on a SQLite file
with the stdlib driver alone (importing SQLAlchemy costs more than the read), and returns None when
the file is not a store at the current schema (the caller then takes `open_store`, which migrates
or explains). Both run the same SQL (`candle_sql`).

Also home of what both paths need without importing SQLAlchemy: `canonical_timeframe`, and the
index-cost listing of stored series that `store.candle_stats` checks its rows with (`series_keys`,
`stats_are_current`); `list_series_sqlite` is `data list` on the stdlib driver when every row is current.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cashup_tui.domain.timeframes import timeframe_ms

COLUMNS = ("open_ms", "open", "high", "low", "close", "volume")
ROW_DTYPE = np.dtype([("open_ms", "i8"), ("open", "f8"), ("high", "f8"), ("low", "f8"), ("close", "f8"),
                      ("volume", "f8")])
Columns = dict[str, np.ndarray]
One = Callable[[str, dict[str, Any]], Any]  # run SQL with :named parameters, return the first row or None
Stats = tuple[str, str, int, int, int, int]  # symbol, timeframe, first_ms, last_ms, rows, gaps

HEAD_SQL = "SELECT symbol, timeframe FROM candles ORDER BY symbol, timeframe LIMIT 1"
NEXT_TF_SQL = "SELECT timeframe FROM candles WHERE symbol = :s AND timeframe > :tf ORDER BY symbol, timeframe LIMIT 1"
NEXT_SYMBOL_SQL = "SELECT symbol, timeframe FROM candles WHERE symbol > :s ORDER BY symbol, timeframe LIMIT 1"
FIRST_SQL = "SELECT open_ms FROM candles WHERE symbol = :s AND timeframe = :tf ORDER BY open_ms LIMIT 1"
LAST_SQL = "SELECT open_ms FROM candles WHERE symbol = :s AND timeframe = :tf ORDER BY open_ms DESC LIMIT 1"
STATS_SQL = "SELECT symbol, timeframe, first_ms, last_ms, rows, gaps FROM candle_stats ORDER BY symbol, timeframe"
FUNDING_SQL = ("SELECT symbol, MIN(ts_ms), MAX(ts_ms), COUNT(*) FROM funding_rates GROUP BY symbol "
               "ORDER BY symbol")


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    symbol: str
    timeframe: str  # "funding" for funding-rate series
    first_ms: int
    last_ms: int
    rows: int
    gaps: int  # number of holes (runs of missing bars)
    missing: int  # bars missing between first and last


def series_infos(stats: list[Stats], funding: list[tuple[Any, ...]]) -> list[SeriesInfo]:
    """`data list`'s rows from candle_stats rows and funding spans (symbol, first, last, count)."""
    out = [SeriesInfo(sym, tf, int(first), int(last), int(n), int(gaps),
                      max((int(last) - int(first)) // timeframe_ms(tf) + 1 - int(n), 0))
           for sym, tf, first, last, n, gaps in stats]
    out += [SeriesInfo(str(sym), "funding", int(first), int(last), int(n), 0, 0) for sym, first, last, n in funding]
    return out


def series_keys(one: One) -> list[tuple[str, str]]:
    """Every stored (symbol, timeframe) in order, a few primary-key seeks per series (a loose index scan)."""
    out: list[tuple[str, str]] = []
    row = one(HEAD_SQL, {})
    while row is not None:
        sym, tf = str(row[0]), str(row[1])
        out.append((sym, tf))
        nxt = one(NEXT_TF_SQL, {"s": sym, "tf": tf})
        row = (sym, nxt[0]) if nxt is not None else one(NEXT_SYMBOL_SQL, {"s": sym})
    return out


def stats_are_current(one: One, row: Any) -> bool:
    """A candle_stats row still spans its series' first and last bar (two index seeks)."""
    p = {"s": row[0], "tf": row[1]}
    first, last = one(FIRST_SQL, p), one(LAST_SQL, p)
    return first is not None and last is not None and (first[0], last[0]) == (row[2], row[3])


def list_series_sqlite(url: str, *, busy_timeout_ms: int = 5000) -> tuple[list[Stats], list[tuple[Any, ...]]] | None:
    """(candle stats, funding spans) of a current-schema SQLite store on the stdlib driver, or None when
    that is not possible or a stats row is missing or stale (the caller's `open_store` path rebuilds it)."""
    conn = _open_current(url, busy_timeout_ms)
    if conn is None:
        return None
    try:
        def one(sql: str, params: dict[str, Any]) -> Any:
            return conn.execute(sql, params).fetchone()

        stats = [tuple(r) for r in conn.execute(STATS_SQL).fetchall()]
        if [r[:2] for r in stats] != series_keys(one) or not all(stats_are_current(one, r) for r in stats):
            return None
        return stats, [tuple(r) for r in conn.execute(FUNDING_SQL).fetchall()]  # type: ignore[return-value]
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _open_current(url: str, busy_timeout_ms: int) -> sqlite3.Connection | None:
    """A stdlib connection in a read transaction on an existing store file at SCHEMA_VERSION, else None."""
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
        conn.execute("BEGIN")  # the version check and the reads see one snapshot
        if conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION:
            return conn
    except sqlite3.Error:
        pass
    conn.close()
    return None


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
    conn = _open_current(url, busy_timeout_ms)
    if conn is None:
        return None
    try:
        sql = candle_sql("?", start_ms, end_ms)
        return columns_from_cursor(conn.execute(sql, _params(symbol, timeframe, start_ms, end_ms)))
    except sqlite3.Error:
        return None  # locked past the timeout, damaged: open_store says why
    finally:
        conn.close()
