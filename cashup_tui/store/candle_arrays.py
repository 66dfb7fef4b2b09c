"""Stored candles straight into numpy columns, with no SQLAlchemy Rows and no pandas in between.

A 1M-bar backtest from the store must cost about what reading the same bars from a CSV costs, so
the rows of one ordered query go from the DB-API cursor into one structured numpy array
(`np.fromiter`: no list of tuples, no per-row Row objects, no DataFrame) and are split into
contiguous columns. `read_candle_columns` does it on any open connection (SQLAlchemy's, SQLite or
PostgreSQL, through its raw DB-API connection, or a stdlib sqlite3 one: `store.candle_list.driver_of`);
`store.candle_cache.read_candle_columns_sqlite` does it on a SQLite file with the stdlib driver alone
(importing SQLAlchemy costs more than the read), and `store.candle_cache` also serves the same columns
from a derived cache file while the series is unchanged. All run the same SQL (`candle_sql`); on PostgreSQL
(psycopg 3) it goes through binary COPY, parsed by numpy, about twice as fast as its cursor.

What needs neither numpy nor SQLAlchemy (`canonical_timeframe`, opening a current-schema file,
listing series) lives in `store.candle_list`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cashup_tui.store.candle_list import canonical_timeframe, driver_of

COLUMNS = ("open_ms", "open", "high", "low", "close", "volume")
ROW_DTYPE = np.dtype([("open_ms", "i8"), ("open", "f8"), ("high", "f8"), ("low", "f8"), ("close", "f8"),
                      ("volume", "f8")])
Columns = dict[str, np.ndarray]


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
    """One series (end inclusive) as columns, on an open connection: SQLAlchemy's (any backend) or a
    stdlib sqlite3 one (see `store.candle_list.driver_of`)."""
    raw, dialect, mark = driver_of(conn)
    sql = candle_sql(mark, start_ms, end_ms)
    params = _params(symbol, timeframe, start_ms, end_ms)
    if dialect == "postgresql":
        cols = _copy_binary(raw, sql, params)
        if cols is not None:
            return cols
    cur = raw.cursor()
    try:
        cur.execute(sql, params)
        return columns_from_cursor(cur)
    finally:
        cur.close()


PG_COPY_HEAD = b"PGCOPY\n\xff\r\n\x00"
PG_COPY_ROW = np.dtype([("fields", ">i2"), *((f, x) for c in COLUMNS for f, x in (
    (f"len_{c}", ">i4"), (c, ">i8" if c == "open_ms" else ">f8")))])


def _copy_binary(raw: Any, sql: str, params: tuple[Any, ...]) -> Columns | None:
    """PostgreSQL: the same query through `COPY ... TO STDOUT (FORMAT BINARY)` on psycopg, parsed by numpy
    (fixed-width rows of bigint and float8: no Python object per value, and the float bits exactly as stored),
    in the caller's transaction; None when the stream is not that layout (the caller then uses the cursor)."""
    if type(raw).__module__.split(".")[0] != "psycopg":  # psycopg 3 (psycopg2 has no cursor.copy)
        return None
    from psycopg import sql as pgsql

    query = pgsql.SQL(sql.replace("%s", "{}")).format(*(pgsql.Literal(p) for p in params))
    buf = bytearray()
    with raw.cursor() as cur, cur.copy(pgsql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query)) as copy:
        for block in copy:
            buf += block
    head = len(PG_COPY_HEAD) + 8
    if buf[:len(PG_COPY_HEAD)] != PG_COPY_HEAD or len(buf) < head + 2 or buf[-2:] != b"\xff\xff":
        return None
    head += int.from_bytes(buf[head - 4:head], "big")  # the header extension area
    rows, extra = divmod(len(buf) - head - 2, PG_COPY_ROW.itemsize)
    if extra or rows < 0:
        return None
    got = np.frombuffer(buf, PG_COPY_ROW, rows, head)
    if not (bool((got["fields"] == len(COLUMNS)).all())
            and all(bool((got[f"len_{c}"] == 8).all()) for c in COLUMNS)):
        return None
    return {c: got[c].astype(ROW_DTYPE[c]) for c in COLUMNS}
