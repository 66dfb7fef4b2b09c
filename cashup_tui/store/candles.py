"""Candles and funding rates: bulk writes on the raw DB-API cursor (multi-row statements on SQLite,
executemany on PostgreSQL), columnar reads.

Two write paths:
- `upsert_candles`: insert or overwrite by (symbol, timeframe, open_ms). For fetchers: a
  venue may revise its latest bar, so the newest value wins.
- `import_candles`: the strict path for files. Rows already stored with the same values are
  skipped (re-importing a file is idempotent); stored rows with *different* values are refused
  unless `replace=True`, which swaps the whole series in the same transaction.
Everything happens in one transaction: a failure leaves the store exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, insert, select, text

from cashup_tui.domain.errors import DataError
from cashup_tui.domain.market import Bar
from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.store import candle_stats
from cashup_tui.store.candle_arrays import COLUMNS, read_candle_columns
from cashup_tui.store.candle_list import FUNDING_SQL, SeriesInfo, canonical_timeframe, series_infos
from cashup_tui.store.candle_tally import StatsTally
from cashup_tui.store.engine import transaction
from cashup_tui.store.sql import table, upsert
from cashup_tui.store.tables import CandleRow, FundingRow

CANDLES = table(CandleRow)
FUNDING = table(FundingRow)
BATCH = 20_000
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class ImportResult:
    inserted: int
    unchanged: int
    replaced: int  # rows of the previous series removed by replace=True


def _columns(rows: Any) -> list[np.ndarray]:
    """Accept a DataFrame, a mapping of arrays, or an iterable of (open_ms, o, h, l, c[, v]) tuples;
    return int64 open_ms and float64 o/h/l/c/v arrays (a missing volume is 0)."""
    if hasattr(rows, "columns") and hasattr(rows, "to_numpy"):  # pandas DataFrame
        n = len(rows)
        cols: list[Any] = [rows[c].to_numpy() if c in rows.columns else np.zeros(n) for c in COLUMNS]
    elif isinstance(rows, dict):
        n = len(rows["open_ms"])
        cols = [rows[c] if c in rows else np.zeros(n) for c in COLUMNS]
    else:
        tuples = [tuple(r) for r in rows]
        if tuples and len(tuples[0]) == 5:
            tuples = [(*r, 0.0) for r in tuples]
        cols = [list(c) for c in zip(*tuples, strict=True)] if tuples else [[] for _ in COLUMNS]
    return [np.asarray(c, dtype="int64" if i == 0 else "float64") for i, c in enumerate(cols)]


_INSERT = f"INSERT INTO candles (symbol, timeframe, {', '.join(COLUMNS)}) VALUES {{values}}"
_UPSERT = _INSERT + " ON CONFLICT (symbol, timeframe, open_ms) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in COLUMNS[1:])
ROWS_PER_STATEMENT = 250  # SQLite: past a few hundred rows a statement gets slower again


def _write(conn: Any, symbol: str, timeframe: str, cols: Sequence[np.ndarray], sql: str,
           progress: Progress | None) -> None:
    """BATCH rows at a time on the raw DB-API cursor, built from the columns (no per-row dicts, no
    SQLAlchemy parameter processing); the caller's transaction holds them all. On SQLite one statement
    inserts many rows (`_sqlite_rows`): executemany's per-row cost (a tuple, its binding, a step and a
    reset per row) exceeds SQLite's own insert of the row. PostgreSQL keeps executemany."""
    total = len(cols[0])
    raw = conn.connection.dbapi_connection
    cur = raw.cursor()
    try:
        if conn.dialect.name == "sqlite":
            per = max(1, min(ROWS_PER_STATEMENT, (raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 2)
                             // len(COLUMNS)))
        else:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            stmt = sql.format(values=f"({', '.join([mark] * (2 + len(COLUMNS)))})")
        for i in range(0, total, BATCH):
            part = [c[i : i + BATCH] for c in cols]
            if conn.dialect.name == "sqlite":
                for j in range(0, len(part[0]), per):
                    k = min(per, len(part[0]) - j)
                    floats = np.concatenate([c[j : j + k] for c in part[1:]]).tolist()
                    cur.execute(_sqlite_rows(sql, k), [symbol, timeframe, *part[0][j : j + k].tolist(), *floats])
            else:
                cur.executemany(stmt, zip(repeat(symbol), repeat(timeframe), *(c.tolist() for c in part)))
            if progress:
                progress(min(i + BATCH, total), total)
    finally:
        cur.close()


@lru_cache(maxsize=16)
def _sqlite_rows(sql: str, k: int) -> str:
    """`sql` inserting k rows in one statement. Numbered parameters take the columns one after the
    other (?1 symbol, ?2 timeframe, then k open times, k opens, ...): the values are bound as the
    same Python ints and floats executemany binds (stored bit for bit alike), with no interleaving."""
    rows = ", ".join("(?1, ?2, " + ", ".join(f"?{3 + c * k + r}" for c in range(len(COLUMNS))) + ")"
                     for r in range(k))
    return sql.format(values=rows)


def _write_dicts(conn: Any, rows: list[dict[str, Any]], fn: Callable[[Any, list[dict[str, Any]]], None]) -> None:
    for i in range(0, len(rows), BATCH):
        fn(conn, rows[i : i + BATCH])


def upsert_candles(db: Any, symbol: str, timeframe: str, rows: Any, *, progress: Progress | None = None) -> int:
    """Insert or overwrite candles (batched, one transaction); returns rows written."""
    timeframe = canonical_timeframe(timeframe)
    cols = _columns(rows)
    with transaction(db) as conn:
        _write(conn, symbol, timeframe, cols, _UPSERT, progress)
        candle_stats.refresh(conn, symbol, timeframe)
    return len(cols[0])


def insert_candles(db: Any, symbol: str, timeframe: str, rows: Any, *, progress: Progress | None = None) -> int:
    """Plain bulk insert (fails on an existing key): the fastest path, used by the benchmark."""
    timeframe = canonical_timeframe(timeframe)
    cols = _columns(rows)
    with transaction(db) as conn:
        tally = StatsTally.load(conn, symbol, timeframe)
        _write(conn, symbol, timeframe, cols, _INSERT, progress)
        tally.add(cols[0])
        tally.finish(conn)
    return len(cols[0])


def import_candles(
    db: Any, symbol: str, timeframe: str, rows: Any, *, replace: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Strict file import (see module docstring); raises DataError naming the conflicting bars."""
    timeframe = canonical_timeframe(timeframe)
    cols = _columns(rows)
    n = len(cols[0])
    if not n:
        return ImportResult(0, 0, 0)
    with transaction(db) as conn:
        removed = _delete_series(conn, symbol, timeframe) if replace else 0
        tally = StatsTally.load(conn, symbol, timeframe)
        inserted = _import_into(conn, tally, cols, check=not replace, progress=progress)
        tally.finish(conn)
    return ImportResult(inserted=inserted, unchanged=n - inserted, replaced=removed)


def import_candle_chunks(db: Any, symbol: str, chunks: Iterable[tuple[str, Any]], *,
                         replace: bool = False) -> ImportResult:
    """`import_candles` for a file read in chunks: every (timeframe, columns) chunk in ONE transaction
    (a bad later chunk, or a conflict in it, leaves nothing imported); memory bounded by one chunk."""
    inserted = unchanged = removed = 0
    tally: StatsTally | None = None
    with transaction(db) as conn:
        for tf, rows in chunks:
            tf = canonical_timeframe(tf)
            if tally is None:
                removed = _delete_series(conn, symbol, tf) if replace else 0
                tally = StatsTally.load(conn, symbol, tf)
            elif tf != tally.timeframe:
                raise DataError(f"the file's bars are {tf} apart here but {tally.timeframe} before; "
                                "nothing was imported", hint="import one timeframe per file")
            cols = _columns(rows)
            got = _import_into(conn, tally, cols, check=not replace, progress=None)
            inserted += got
            unchanged += len(cols[0]) - got
        if tally is not None:
            tally.finish(conn)
    return ImportResult(inserted=inserted, unchanged=unchanged, replaced=removed)


def _delete_series(conn: Any, symbol: str, timeframe: str) -> int:
    key = and_(CANDLES.c.symbol == symbol, CANDLES.c.timeframe == timeframe)
    return int(conn.execute(delete(CANDLES).where(key)).rowcount)


def _import_into(conn: Any, tally: StatsTally, cols: Any, *, check: bool, progress: Progress | None) -> int:
    """Write the rows not stored yet (`check`: refuse stored bars with other values; no read when
    `tally` says no stored bar lies in the rows' range); returns how many, counted into `tally`."""
    symbol, timeframe = tally.symbol, tally.timeframe
    n = len(cols[0])
    if not n:
        return 0
    t = cols[0]
    if not check or not tally.may_overlap(int(t.min()), int(t.max())):
        new = cols
    else:
        stored = read_candle_columns(conn, symbol, timeframe, int(t.min()), int(t.max()))
        st = stored["open_ms"]
        found = np.zeros(n, dtype=bool)
        same = np.zeros(n, dtype=bool)
        if st.size:
            idx = np.minimum(np.searchsorted(st, t), st.size - 1)
            found = st[idx] == t
            same = found.copy()
            for c, name in zip(cols[1:], COLUMNS[1:], strict=True):
                same &= stored[name][idx] == c
        differ = t[found & ~same]
        if differ.size:
            from cashup_tui.store.timefmt import iso

            shown = ", ".join(iso(int(x)) for x in differ[:3])
            raise DataError(
                f"{differ.size} bars of {symbol} {timeframe} are already stored with different values "
                f"(first: {shown}); nothing was imported",
                hint="pass --replace to replace the stored series with this file, or import under another symbol",
            )
        new = [c[~found] for c in cols]
    _write(conn, symbol, timeframe, new, _INSERT, progress)
    tally.add(new[0])
    return len(new[0])


def load_candles(db: Any, symbol: str, timeframe: str, start_ms: int | None = None, end_ms: int | None = None) -> Any:
    """A pandas DataFrame (open_ms int64, open/high/low/close/volume float64) ordered by time; end inclusive."""
    import pandas as pd

    with transaction(db) as conn:
        cols = read_candle_columns(conn, symbol, timeframe, start_ms, end_ms)
    return pd.DataFrame(cols, columns=list(COLUMNS))


def load_bars(db: Any, symbol: str, timeframe: str, start_ms: int | None = None, end_ms: int | None = None) -> list[Bar]:
    """Domain `Bar`s (closed) in time order; end inclusive."""
    timeframe = canonical_timeframe(timeframe)
    q = select(*[CANDLES.c[c] for c in COLUMNS]).where(CANDLES.c.symbol == symbol, CANDLES.c.timeframe == timeframe)
    if start_ms is not None:
        q = q.where(CANDLES.c.open_ms >= start_ms)
    if end_ms is not None:
        q = q.where(CANDLES.c.open_ms <= end_ms)
    with transaction(db) as conn:
        return [Bar(symbol, timeframe, *r) for r in conn.execute(q.order_by(CANDLES.c.open_ms))]


def delete_series(db: Any, symbol: str, timeframe: str) -> int:
    if timeframe != "funding":
        timeframe = canonical_timeframe(timeframe)
    with transaction(db) as conn:
        if timeframe == "funding":
            return conn.execute(delete(FUNDING).where(FUNDING.c.symbol == symbol)).rowcount
        n = conn.execute(delete(CANDLES).where(CANDLES.c.symbol == symbol, CANDLES.c.timeframe == timeframe)).rowcount
        candle_stats.refresh(conn, symbol, timeframe)
        return n


def list_series(db: Any, *, include_funding: bool = True) -> list[SeriesInfo]:
    """Every stored series with its span, row count and holes (gaps are reported, never filled), from
    `candle_stats` (checked against the candles at index cost, see store.candle_stats)."""
    with transaction(db) as conn:
        stats = candle_stats.series_stats(conn)
        funding = [tuple(r) for r in conn.execute(text(FUNDING_SQL)).all()] if include_funding else []
    return series_infos(stats, funding)


def series_gaps(db: Any, symbol: str, timeframe: str, limit: int = 20) -> list[tuple[int, int]]:
    """Holes as (first missing open_ms, last missing open_ms), oldest first."""
    timeframe = canonical_timeframe(timeframe)
    step = timeframe_ms(timeframe)
    sql = text(
        "SELECT prev, open_ms FROM (SELECT open_ms, LAG(open_ms) OVER (ORDER BY open_ms) AS prev FROM candles "
        "WHERE symbol = :s AND timeframe = :tf) AS steps WHERE open_ms - prev > :step ORDER BY open_ms LIMIT :n"
    )
    with transaction(db) as conn:
        rows = conn.execute(sql, {"s": symbol, "tf": timeframe, "step": step, "n": limit}).all()
    return [(int(p) + step, int(o) - step) for p, o in rows]


# ---- funding rates ------------------------------------------------------------------------------


def upsert_funding(db: Any, symbol: str, rows: Iterable[tuple[int, Decimal | str]]) -> int:
    data = [{"symbol": symbol, "ts_ms": int(t), "rate": Decimal(str(r))} for t, r in rows]
    with transaction(db) as conn:
        _write_dicts(conn, data, lambda c, b: upsert(c, FUNDING, b, keys=("symbol", "ts_ms")))
    return len(data)


def import_funding(
    db: Any, symbol: str, rows: Iterable[tuple[int, Decimal | str]], *, replace: bool = False
) -> ImportResult:
    """Strict funding import with the same idempotency/replace rules as `import_candles`."""
    data: list[dict[str, Any]] = [{"symbol": symbol, "ts_ms": int(t), "rate": Decimal(str(r))} for t, r in rows]
    if not data:
        return ImportResult(0, 0, 0)
    with transaction(db) as conn:
        removed = 0
        if replace:
            removed = conn.execute(delete(FUNDING).where(FUNDING.c.symbol == symbol)).rowcount
            new = data
        else:
            stored = dict(conn.execute(select(FUNDING.c.ts_ms, FUNDING.c.rate).where(FUNDING.c.symbol == symbol)).all())
            new = [d for d in data if d["ts_ms"] not in stored]
            differ = [d["ts_ms"] for d in data if d["ts_ms"] in stored and stored[d["ts_ms"]] != d["rate"]]
            if differ:
                from cashup_tui.store.timefmt import iso

                raise DataError(
                    f"{len(differ)} funding rates of {symbol} are already stored with different values "
                    f"(first: {iso(differ[0])}); nothing was imported",
                    hint="pass --replace to replace the stored funding history with this file",
                )
        _write_dicts(conn, new, lambda c, b: c.execute(insert(FUNDING), b))
    return ImportResult(inserted=len(new), unchanged=len(data) - len(new), replaced=removed)


def load_funding(db: Any, symbol: str, start_ms: int | None = None, end_ms: int | None = None) -> list[tuple[int, Decimal]]:
    q = select(FUNDING.c.ts_ms, FUNDING.c.rate).where(FUNDING.c.symbol == symbol)
    if start_ms is not None:
        q = q.where(FUNDING.c.ts_ms >= start_ms)
    if end_ms is not None:
        q = q.where(FUNDING.c.ts_ms <= end_ms)
    with transaction(db) as conn:
        return [(int(t), r) for t, r in conn.execute(q.order_by(FUNDING.c.ts_ms))]
