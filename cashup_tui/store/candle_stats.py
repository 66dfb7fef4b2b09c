"""Per-series candle statistics (first, last, rows, gaps) in `candle_stats`, so listing series costs a
few index lookups per series instead of a scan of every candle.

The candles stay the only record: every write in `store.candles` calls `refresh` for the series it
changed, in the same transaction, so the row always equals a full scan of that series; an insert of
rows wholly after (or before) the stored ones, and an upsert on SQLite, write instead the row that
`store.candle_tally` computes from the previous row and the written rows: the same row without the
scan. `series_stats` also checks what it reads against the candles at index cost (the set of stored
series, each series' first and last bar) and rebuilds a row that is missing, stale or orphaned, so a
store written some other way (an older CashUp, a hand edit at either end) corrects itself; a hand
edit strictly inside a series is not seen (the row would need the series' version: a known limit,
tests/test_candle_tally's xfail). Migration 5 builds the table from the candles already stored
(`rebuild_all`). Plain SQL that SQLite and PostgreSQL both run, on a connection of either
kind (`store.candle_list.one_of`): SQLAlchemy's, or the stdlib one a file import into SQLite uses.
"""

from __future__ import annotations

from typing import Any

from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.store.candle_list import STATS_SQL, Stats, one_of, run_of, series_keys, stats_are_current

__all__ = ["one_of", "rebuild_all", "refresh", "scan", "series_stats", "store_row"]

_SCAN = (
    "SELECT COUNT(*), MIN(open_ms), MAX(open_ms), COALESCE(SUM(CASE WHEN d > :step THEN 1 ELSE 0 END), 0) FROM "
    "(SELECT open_ms, open_ms - LAG(open_ms) OVER (ORDER BY open_ms) AS d FROM candles "
    "WHERE symbol = :s AND timeframe = :tf) AS steps"
)
_DELETE = "DELETE FROM candle_stats WHERE symbol = :s AND timeframe = :tf"
_UPSERT = ("INSERT INTO candle_stats (symbol, timeframe, first_ms, last_ms, rows, gaps) "
           "VALUES (:s, :tf, :first, :last, :rows, :gaps) ON CONFLICT (symbol, timeframe) DO UPDATE SET "
           "first_ms = excluded.first_ms, last_ms = excluded.last_ms, rows = excluded.rows, gaps = excluded.gaps")


def scan(conn: Any, symbol: str, timeframe: str) -> Stats | None:
    """The statistics of one series from a full scan of its candles; None when it has none."""
    n, first, last, gaps = one_of(conn)(_SCAN, {"s": symbol, "tf": timeframe, "step": timeframe_ms(timeframe)})
    if not n:
        return None
    return symbol, timeframe, int(first), int(last), int(n), int(gaps)


def refresh(conn: Any, symbol: str, timeframe: str) -> Stats | None:
    """Rewrite (or remove) one series' row from its candles; call inside the transaction that changed them."""
    row = scan(conn, symbol, timeframe)
    store_row(conn, symbol, timeframe, row)
    return row


def store_row(conn: Any, symbol: str, timeframe: str, row: Stats | None) -> None:
    """Write one series' row, or remove it when the series is empty (None); `row` must equal `scan`.
    An upsert (not delete + insert): on PostgreSQL another import of the series committing in between
    updates the row instead of failing this one on its key."""
    if row is None:
        run_of(conn)(_DELETE, {"s": symbol, "tf": timeframe})
    else:
        run_of(conn)(_UPSERT, dict(zip(("s", "tf", "first", "last", "rows", "gaps"), row, strict=True)))


def rebuild_all(conn: Any) -> None:
    """Every row again from the candles (migration 5; tests)."""
    run_of(conn)("DELETE FROM candle_stats", {})
    for sym, tf in series_keys(one_of(conn)):
        refresh(conn, sym, tf)


def series_stats(conn: Any) -> list[Stats]:
    """Every stored candle series' statistics, ordered by (symbol, timeframe); rows found missing,
    stale (first or last bar moved) or orphaned are rebuilt from the candles on the way (on SQLAlchemy's
    connection: `data list` and the commands that list)."""
    stored = {(r[0], r[1]): tuple(r) for r in conn.exec_driver_sql(STATS_SQL).all()}
    present = series_keys(one_of(conn))
    for key in set(stored) - set(present):
        refresh(conn, *key)
    out: list[Stats] = []
    for sym, tf in sorted(present):
        row = stored.get((sym, tf))
        if row is None or not stats_are_current(one_of(conn), row):
            row = refresh(conn, sym, tf)
        if row is not None:
            out.append((sym, tf, int(row[2]), int(row[3]), int(row[4]), int(row[5])))
    return out

