"""Candles and funding rates: bulk writes on the raw DB-API cursor (multi-row statements on SQLite,
executemany on PostgreSQL), columnar reads.

Two write paths (their core, shared with the stdlib import into SQLite, in `store.candle_import`):
- `upsert_candles`: insert or overwrite by (symbol, timeframe, open_ms). For fetchers: a
  venue may revise its latest bar, so the newest value wins.
- `import_candles`: the strict path for files. Rows already stored with the same values are
  skipped (re-importing a file is idempotent); stored rows with *different* values are refused
  unless `replace=True`, which swaps the whole series in the same transaction.
Everything happens in one transaction: a failure leaves the store exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, text

from cashup_tui.domain.errors import DataError
from cashup_tui.domain.market import Bar
from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.store import candle_stats
from cashup_tui.store.candle_arrays import COLUMNS, read_candle_columns
from cashup_tui.store.candle_cache_fill import CacheFill
from cashup_tui.store.candle_cache_upsert import CacheUpsert
from cashup_tui.store.candle_import import (
    INSERT,
    UPSERT,
    ImportResult,
    Progress,
    columns_of,
    delete_series_rows,
    import_chunks,
    write_rows,
)
from cashup_tui.store.candle_list import FUNDING_SQL, SeriesInfo, canonical_timeframe, series_infos
from cashup_tui.store.candle_tally import StatsTally
from cashup_tui.store.engine import transaction
from cashup_tui.store.sql import table, upsert
from cashup_tui.store.tables import CandleRow, FundingRow

CANDLES = table(CandleRow)
FUNDING = table(FundingRow)
BATCH = 20_000  # funding rows a statement


def _write_dicts(conn: Any, rows: list[dict[str, Any]], fn: Callable[[Any, list[dict[str, Any]]], None]) -> None:
    for i in range(0, len(rows), BATCH):
        fn(conn, rows[i : i + BATCH])


def upsert_candles(db: Any, symbol: str, timeframe: str, rows: Any, *, progress: Progress | None = None,
                   cache: Path | None = None) -> int:
    """Insert or overwrite candles (batched, one transaction); returns rows written. With `cache`, a
    SQLite store's current column cache file of the series is carried over to the new version when the
    rows touch only its newest bars (store.candle_cache_upsert)."""
    timeframe = canonical_timeframe(timeframe)
    cols = columns_of(rows)
    location = getattr(db, "location", None) if cache is not None and getattr(db, "is_sqlite", False) else None
    with closing(CacheUpsert(cache, location)) as carry:
        with _write_transaction(db, immediate=location is not None) as conn:
            carry.start(conn, symbol, timeframe, cols)
            tally = StatsTally.load(conn, symbol, timeframe)
            tally.upsert(conn, cols[0])  # before the write: it reads the stored times the rows fall among
            write_rows(conn, symbol, timeframe, cols, UPSERT, progress)
            tally.finish(conn)
            carry.finish(conn, symbol, timeframe)
        carry.publish()
    return len(cols[0])


@contextmanager
def _write_transaction(db: Any, *, immediate: bool) -> Iterator[Any]:
    """`transaction(db)`; `immediate` (a SQLite Store): begun as a write, so what it reads first is what it changes."""
    if not immediate:
        with transaction(db) as conn:
            yield conn
        return
    with db.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        yield conn


def insert_candles(db: Any, symbol: str, timeframe: str, rows: Any, *, progress: Progress | None = None) -> int:
    """Plain bulk insert (fails on an existing key): the fastest path, used by the benchmark."""
    timeframe = canonical_timeframe(timeframe)
    cols = columns_of(rows)
    with transaction(db) as conn:
        tally = StatsTally.load(conn, symbol, timeframe)
        write_rows(conn, symbol, timeframe, cols, INSERT, progress)
        tally.add(cols[0])
        tally.finish(conn)
    return len(cols[0])


def import_candles(
    db: Any, symbol: str, timeframe: str, rows: Any, *, replace: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Strict file import (see module docstring); raises DataError naming the conflicting bars."""
    cols = columns_of(rows)
    if not len(cols[0]):
        return ImportResult(0, 0, 0)
    with transaction(db) as conn:
        return import_chunks(conn, symbol, [(timeframe, dict(zip(COLUMNS, cols, strict=True)))], replace=replace,
                             progress=progress)


def import_candle_chunks(db: Any, symbol: str, chunks: Iterable[tuple[str, Any]], *,
                         replace: bool = False, cache: Path | None = None) -> ImportResult:
    """`import_candles` for a file read in chunks: every (timeframe, columns) chunk in ONE transaction
    (a bad later chunk, or a conflict in it, leaves nothing imported); memory bounded by one chunk.
    On a SQLite file `store.candle_import.import_candle_chunks_sqlite` does the same without SQLAlchemy.
    A series that was empty gets its column cache file in `cache` (store.candle_cache_fill)."""
    with closing(CacheFill(cache, db.location)) as fill:
        with transaction(db) as conn:
            result = import_chunks(conn, symbol, chunks, replace=replace, fill=fill)
        fill.publish()
    return result


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
        n = delete_series_rows(conn, symbol, timeframe)
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
