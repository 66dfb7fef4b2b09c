"""Per-series candle statistics (first, last, rows, gaps) in `candle_stats`, so listing series costs a
few index lookups per series instead of a scan of every candle.

The candles stay the only record: every write in `store.candles` calls `refresh` for the series it
changed, in the same transaction, so the row always equals a full scan of that series; an insert of
rows wholly after (or before) the stored ones, and an upsert on SQLite, write instead the row that
`store.candle_tally` computes from the previous row and the written rows: the same row without the
scan. Each row records the series' `candle_versions` version it was computed at (schema v8): the
version the writing transaction itself produced, since the version triggers bump it in the same
transaction as the candle write. Any write to a series by anyone (a hand edit in the sqlite3 shell or
psql anywhere in the series included) replaces that version, so `series_stats` (and `data list`, and
the tally of the next write) finds the row stale and recomputes that one series by a full scan; a
row from before v8 has no version and is recomputed on first use the same way. With a version
trigger missing no version can be trusted and every row is recomputed. Plain SQL that SQLite and
PostgreSQL both run, on a connection of either kind (`store.candle_list.one_of`): SQLAlchemy's, or
the stdlib one a file import into SQLite uses.
"""

from __future__ import annotations

from typing import Any

from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.store.candle_list import STATS_SQL, Stats, one_of, run_of, series_keys, series_version
from cashup_tui.store.candle_stats_check import stale_keys

__all__ = ["one_of", "refresh", "scan", "series_stats", "store_row"]

_SCAN = (
    "SELECT COUNT(*), MIN(open_ms), MAX(open_ms), COALESCE(SUM(CASE WHEN d > :step THEN 1 ELSE 0 END), 0) FROM "
    "(SELECT open_ms, open_ms - LAG(open_ms) OVER (ORDER BY open_ms) AS d FROM candles "
    "WHERE symbol = :s AND timeframe = :tf) AS steps"
)
_DELETE = "DELETE FROM candle_stats WHERE symbol = :s AND timeframe = :tf"
_UPSERT = ("INSERT INTO candle_stats (symbol, timeframe, first_ms, last_ms, rows, gaps, version) "
           "VALUES (:s, :tf, :first, :last, :rows, :gaps, :version) ON CONFLICT (symbol, timeframe) DO UPDATE SET "
           "first_ms = excluded.first_ms, last_ms = excluded.last_ms, rows = excluded.rows, gaps = excluded.gaps, "
           "version = excluded.version")

def scan(conn: Any, symbol: str, timeframe: str) -> Stats | None:
    """The statistics of one series from a full scan of its candles; None when it has none."""
    n, first, last, gaps = one_of(conn)(_SCAN, {"s": symbol, "tf": timeframe, "step": timeframe_ms(timeframe)})
    if not n:
        return None
    return symbol, timeframe, int(first), int(last), int(n), int(gaps)


def refresh(conn: Any, symbol: str, timeframe: str) -> Stats | None:
    """Rewrite (or remove) one series' row from its candles; call inside the transaction that changed them.
    The version is read before the scan: on PostgreSQL's READ COMMITTED a write committed in between
    then leaves the row tagged with the older version, stale (rescanned next time), never wrongly current."""
    version = series_version(one_of(conn), symbol, timeframe)
    row = scan(conn, symbol, timeframe)
    store_row(conn, symbol, timeframe, row, version)
    return row


def store_row(conn: Any, symbol: str, timeframe: str, row: Stats | None, version: int | None) -> None:
    """Write one series' row computed at series version `version`, or remove it when the series is empty
    (None); `row` must equal `scan`. An upsert (not delete + insert): on PostgreSQL another import of the
    series committing in between updates the row instead of failing this one on its key."""
    if row is None:
        run_of(conn)(_DELETE, {"s": symbol, "tf": timeframe})
    else:
        params = dict(zip(("s", "tf", "first", "last", "rows", "gaps"), row, strict=True))
        run_of(conn)(_UPSERT, params | {"version": version})


def series_stats(conn: Any) -> list[Stats]:
    """Every stored candle series' statistics, ordered by (symbol, timeframe); rows found missing,
    stale (not computed at the series' current version) or orphaned are recomputed from that series'
    candles on the way (on SQLAlchemy's connection: `data list` and the commands that list)."""
    rows = conn.exec_driver_sql(STATS_SQL).all()
    stored = {(str(r[0]), str(r[1])): tuple(r[:6]) for r in rows}
    stale = stale_keys(conn, rows)
    present = series_keys(one_of(conn))
    for key in set(stored) - set(present):
        refresh(conn, *key)
    out: list[Stats] = []
    for sym, tf in sorted(present):
        row = stored.get((sym, tf))
        if row is None or (sym, tf) in stale:
            row = refresh(conn, sym, tf)
        if row is not None:
            out.append((sym, tf, int(row[2]), int(row[3]), int(row[4]), int(row[5])))
    return out
