"""The candle writes on a connection of either kind: the one implementation of importing candles (conflict
check, `replace`, the `candle_stats` tally, the series' version: `store.candle_versions.suspended`) and of
the bulk write under it, for SQLAlchemy's Connection (any backend, `store.candles`) and for a stdlib
`sqlite3.Connection` (`import_candle_chunks_sqlite`).

Why the stdlib path: `cashup data import` of a large file into a SQLite store should cost the parse and
SQLite's own insert, and importing SQLAlchemy and building the SQLModel tables cost about as much as
writing a million rows. So, as `store.lite` does for backtest runs, a SQLite file that is new/empty or at
the current schema is written with `sqlite3` alone (same PRAGMAs as `open_store`, one `BEGIN IMMEDIATE`
transaction); anything else returns None and the caller takes `open_store`, which migrates or explains.
Both paths run the functions below with the same SQL (`store.candle_list.one_of` / `driver_of`); this
module imports numpy and the stdlib only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from cashup_tui.domain.errors import DataError
from cashup_tui.store.candle_arrays import COLUMNS, read_candle_columns
from cashup_tui.store.candle_cache_fill import CacheFill
from cashup_tui.store.candle_list import canonical_timeframe, driver_of, run_of, sqlite_file
from cashup_tui.store.candle_tally import StatsTally
from cashup_tui.store.candle_versions import suspended
from cashup_tui.store.lite import write_sqlite

BATCH = 20_000
ROWS_PER_STATEMENT = 250  # SQLite: past a few hundred rows a statement gets slower again
Progress = Callable[[int, int], None]  # (done, total)
INSERT = f"INSERT INTO candles (symbol, timeframe, {', '.join(COLUMNS)}) VALUES {{values}}"
UPSERT = INSERT + " ON CONFLICT (symbol, timeframe, open_ms) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in COLUMNS[1:])


@dataclass(frozen=True, slots=True)
class ImportResult:
    inserted: int
    unchanged: int
    replaced: int  # rows of the previous series removed by replace=True


def columns_of(rows: Any) -> list[np.ndarray]:
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


def write_rows(conn: Any, symbol: str, timeframe: str, cols: Sequence[np.ndarray], sql: str,
               progress: Progress | None) -> None:
    """BATCH rows at a time on the raw DB-API cursor, built from the columns (no per-row dicts, no
    SQLAlchemy parameter processing); the caller's transaction holds them all. On SQLite one statement
    inserts many rows (`_sqlite_rows`): executemany's per-row cost (a tuple, its binding, a step and a
    reset per row) exceeds SQLite's own insert of the row. PostgreSQL keeps executemany. On SQLite the
    version triggers are suspended meanwhile and the series bumped once (`store.candle_versions.suspended`)."""
    total = len(cols[0])
    if not total:
        return
    raw, dialect, mark = driver_of(conn)
    cur = raw.cursor()
    with suspended(conn, symbol, timeframe, ("candles_version_insert", "candles_version_update")):
        try:
            _write_batches(cur, dialect, mark, raw, symbol, timeframe, cols, sql, progress)
        finally:
            cur.close()


def _write_batches(cur: Any, dialect: str, mark: str, raw: Any, symbol: str, timeframe: str,
                   cols: Sequence[np.ndarray], sql: str, progress: Progress | None) -> None:
    total = len(cols[0])
    if dialect == "sqlite":
        per = max(1, min(ROWS_PER_STATEMENT, (raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 2)
                         // len(COLUMNS)))
    else:
        stmt = sql.format(values=f"({', '.join([mark] * (2 + len(COLUMNS)))})")
    for i in range(0, total, BATCH):
        part = [c[i : i + BATCH] for c in cols]
        if dialect == "sqlite":
            for j in range(0, len(part[0]), per):
                k = min(per, len(part[0]) - j)
                floats = np.concatenate([c[j : j + k] for c in part[1:]]).tolist()
                cur.execute(_sqlite_rows(sql, k), [symbol, timeframe, *part[0][j : j + k].tolist(), *floats])
        else:
            cur.executemany(stmt, zip(repeat(symbol), repeat(timeframe), *(c.tolist() for c in part)))
        if progress:
            progress(min(i + BATCH, total), total)


@lru_cache(maxsize=16)
def _sqlite_rows(sql: str, k: int) -> str:
    """`sql` inserting k rows in one statement. Numbered parameters take the columns one after the
    other (?1 symbol, ?2 timeframe, then k open times, k opens, ...): the values are bound as the
    same Python ints and floats executemany binds (stored bit for bit alike), with no interleaving."""
    rows = ", ".join("(?1, ?2, " + ", ".join(f"?{3 + c * k + r}" for c in range(len(COLUMNS))) + ")"
                     for r in range(k))
    return sql.format(values=rows)


def delete_series_rows(conn: Any, symbol: str, timeframe: str) -> int:
    """Remove one series' candles (not its stats row: the caller's tally or refresh writes that); the
    delete trigger is suspended meanwhile and the series bumped once, as in `write_rows`."""
    with suspended(conn, symbol, timeframe, ("candles_version_delete",)):
        return run_of(conn)("DELETE FROM candles WHERE symbol = :s AND timeframe = :tf",
                            {"s": symbol, "tf": timeframe})


def import_chunks(conn: Any, symbol: str, chunks: Iterable[tuple[str, Any]], *, replace: bool = False,
                  progress: Progress | None = None, fill: CacheFill | None = None) -> ImportResult:
    """The strict import of (timeframe, rows) chunks of one series inside the caller's transaction (see
    `store.candles.import_candle_chunks`); raises DataError naming the conflicting bars. `fill` spools
    the written rows for the series' cache file when the series was empty (`store.candle_cache_fill`);
    the caller publishes it after COMMIT."""
    inserted = unchanged = removed = 0
    tally: StatsTally | None = None
    for tf, rows in chunks:
        tf = canonical_timeframe(tf)
        if tally is None:
            removed = delete_series_rows(conn, symbol, tf) if replace else 0
            tally = StatsTally.load(conn, symbol, tf)
            if fill is not None:
                fill.start(conn, tally.first is None)
        elif tf != tally.timeframe:
            raise DataError(f"the file's bars are {tf} apart here but {tally.timeframe} before; "
                            "nothing was imported", hint="import one timeframe per file")
        cols = columns_of(rows)
        new = import_into(conn, tally, cols, check=not replace, progress=progress)
        if fill is not None:
            fill.add(new)
        inserted += len(new[0])
        unchanged += len(cols[0]) - len(new[0])
    if tally is not None:
        stats = tally.finish(conn)
        if fill is not None:
            fill.finish(conn, symbol, tally.timeframe, stats)
    return ImportResult(inserted=inserted, unchanged=unchanged, replaced=removed)


def import_into(conn: Any, tally: StatsTally, cols: Sequence[np.ndarray], *, check: bool,
                progress: Progress | None) -> Sequence[np.ndarray]:
    """Write the rows not stored yet (`check`: refuse stored bars with other values; no read when
    `tally` says no stored bar lies in the rows' range); returns them, counted into `tally`."""
    symbol, timeframe = tally.symbol, tally.timeframe
    n = len(cols[0])
    if not n:
        return cols
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
    write_rows(conn, symbol, timeframe, new, INSERT, progress)
    tally.add(new[0])
    return new


def import_candle_chunks_sqlite(url: str, symbol: str, chunks: Iterable[tuple[str, Any]], *, replace: bool = False,
                                synchronous: str = "FULL", busy_timeout_ms: int = 5000,
                                cache: Path | None = None) -> ImportResult | None:
    """`store.candles.import_candle_chunks` on the stdlib driver: the result, or None (no chunk read) when
    the store is not a SQLite file that is new/empty or at the current schema (the caller then uses
    `open_store`). Every chunk in one transaction, as there; a series that was empty gets its column
    cache file in `cache` (store.candle_cache_fill)."""
    path = sqlite_file(url)
    with closing(CacheFill(cache, None if path is None else str(path.resolve()))) as fill:
        result: ImportResult | None = write_sqlite(
            url, lambda conn: import_chunks(conn, symbol, chunks, replace=replace, fill=fill), "the candles",
            synchronous=synchronous, busy_timeout_ms=busy_timeout_ms,
            hint="is another process holding a write lock? try again")
        if result is not None:
            fill.publish()
    return result
