"""Stored candle series listed on the stdlib driver: `data list` without numpy, pandas or SQLAlchemy.

`data list` should cost about what starting the interpreter costs, so this module imports nothing
heavier than `sqlite3`. It is the one home of what the numpy read path (`store.candle_arrays`), the
SQLAlchemy path (`store.candle_stats`, `store.candles`) and the CLI share without importing either:
`canonical_timeframe`, the SQLite file a store URL names (`sqlite_file`, also `store.lite`'s), opening
a current-schema SQLite file read-only (`open_current`), the index-cost listing of stored series
(`series_keys`) and a series' version (`series_version`) that `candle_stats` checks its rows with (see
`store.candle_stats_check`, which also holds `data list` on this driver). Also the connection of either
kind that the candle writes run on (`one_of`, `run_of`, `driver_of`): a stdlib `sqlite3.Connection` (the import of a file into
a SQLite store, `store.candle_import`) or SQLAlchemy's Connection (any backend), so that one implementation
serves both without this module importing SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.store.schema_sql import SCHEMA_VERSION

One = Callable[[str, dict[str, Any]], Any]  # run SQL with :named parameters, return the first row or None
Run = Callable[[str, dict[str, Any]], int]  # run SQL with :named parameters, return the rows it changed
Stats = tuple[str, str, int, int, int, int]  # symbol, timeframe, first_ms, last_ms, rows, gaps

HEAD_SQL = "SELECT symbol, timeframe FROM candles ORDER BY symbol, timeframe LIMIT 1"
NEXT_TF_SQL = "SELECT timeframe FROM candles WHERE symbol = :s AND timeframe > :tf ORDER BY symbol, timeframe LIMIT 1"
NEXT_SYMBOL_SQL = "SELECT symbol, timeframe FROM candles WHERE symbol > :s ORDER BY symbol, timeframe LIMIT 1"
FIRST_SQL = "SELECT open_ms FROM candles WHERE symbol = :s AND timeframe = :tf ORDER BY open_ms LIMIT 1"
LAST_SQL = "SELECT open_ms FROM candles WHERE symbol = :s AND timeframe = :tf ORDER BY open_ms DESC LIMIT 1"
STATS_SQL = ("SELECT symbol, timeframe, first_ms, last_ms, rows, gaps, version FROM candle_stats "
             "ORDER BY symbol, timeframe")  # a `Stats` and the series version it was computed at
VERSIONS_SQL = "SELECT symbol, timeframe, version FROM candle_versions"
VERSION_SQL = "SELECT version FROM candle_versions WHERE symbol = :s AND timeframe = :tf"
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


def one_of(conn: Any) -> One:
    """`One` on an open connection: stdlib sqlite3, or SQLAlchemy's (the SQL is plain, either backend)."""
    if isinstance(conn, sqlite3.Connection):
        return lambda sql, params: conn.execute(sql, params).fetchone()
    from sqlalchemy import text  # loaded already: conn is SQLAlchemy's

    return lambda sql, params: conn.execute(text(sql), params).first()


def run_of(conn: Any) -> Run:
    """`Run` on an open connection of either kind (see `one_of`)."""
    if isinstance(conn, sqlite3.Connection):
        return lambda sql, params: int(conn.execute(sql, params).rowcount)
    from sqlalchemy import text

    return lambda sql, params: int(conn.execute(text(sql), params).rowcount)


def driver_of(conn: Any) -> tuple[Any, str, str]:
    """(DB-API connection, dialect name, placeholder) of an open connection of either kind (see `one_of`),
    for bulk statements on the driver's own cursor inside the caller's transaction."""
    if isinstance(conn, sqlite3.Connection):
        return conn, "sqlite", "?"
    return conn.connection.dbapi_connection, conn.dialect.name, "?" if conn.dialect.paramstyle == "qmark" else "%s"


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


def series_span(one: One, symbol: str, timeframe: str) -> tuple[int, int] | None:
    """(first, last) open_ms of one stored series (two index seeks); None when it has no candles."""
    p = {"s": symbol, "tf": timeframe}
    first, last = one(FIRST_SQL, p), one(LAST_SQL, p)
    return None if first is None or last is None else (int(first[0]), int(last[0]))


def series_version(one: One, symbol: str, timeframe: str) -> int | None:
    """The series' current `candle_versions` version in the caller's transaction (None: no row)."""
    row = one(VERSION_SQL, {"s": symbol, "tf": timeframe})
    return None if row is None or row[0] is None else int(row[0])


def sqlite_file(url: str) -> Path | None:
    """The SQLite file behind a plain path or a plain `sqlite:///PATH` URL (it may not exist yet); None
    otherwise (memory, other backends and drivers, URLs with options: those go through SQLAlchemy)."""
    url = (url or "").strip()
    if not url or url == ":memory:":
        return None
    if "://" in url:
        if not url.startswith("sqlite:///") or "?" in url:
            return None
        url = url[len("sqlite:///"):]
        if not url or url == ":memory:":
            return None
    return Path(url).expanduser()


def open_current(url: str, busy_timeout_ms: int) -> sqlite3.Connection | None:
    """A stdlib connection in a read transaction on an existing store file at SCHEMA_VERSION, else None."""
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
