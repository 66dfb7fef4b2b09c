"""One series' `candle_stats` row kept exact while rows are inserted, so an import need not rescan
the whole series afterwards (a LAG window over every candle) nor read the stored range per chunk.

The statistics depend only on the set of stored open times. When the inserted open times are
ascending and lie wholly after (or wholly before) the ones already stored, the new row follows from
the old row and the inserted times: the rows add up, and the gaps are the old ones, those inside the
inserted run, and the one at the seam. An upsert (`data fetch`: it rewrites the newest bar and adds
the next ones) reads the stored times its rows fall among and their two neighbours, the only steps
it can change, so it is exact wherever it lands. Anything else (an insert between stored ones, times
out of order, a stored row not computed at the series' current version, so written around it: see
`store.candle_stats`) makes the tally inexact and `finish` falls back to `candle_stats.refresh`, the
full scan. `finish` records the version the transaction's own write produced (read after it). First
and last bar stay exact in every case (index seeks, then min/max), so `may_overlap` tells a chunk that
cannot meet a stored bar without reading any.

Only on SQLite is the row read at the start still the row at commit: one writer at a time, and a
transaction that read before another one committed cannot write (SQLITE_BUSY, nothing written).
PostgreSQL's READ COMMITTED lets another import of the series commit in between, so there the row
is rescanned at the end, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.store import candle_stats
from cashup_tui.store.candle_list import Stats, driver_of, series_span, series_version
from cashup_tui.store.candle_versions import triggers_intact

_ROW_SQL = "SELECT first_ms, last_ms, rows, gaps, version FROM candle_stats WHERE symbol = :s AND timeframe = :tf"
_SERIES = "FROM candles WHERE symbol = ? AND timeframe = ?"
_WINDOW_SQL = f"SELECT open_ms {_SERIES} AND open_ms >= ? AND open_ms <= ? ORDER BY open_ms"
_BEFORE_SQL = f"SELECT open_ms {_SERIES} AND open_ms < ? ORDER BY open_ms DESC LIMIT 1"
_AFTER_SQL = f"SELECT open_ms {_SERIES} AND open_ms > ? ORDER BY open_ms LIMIT 1"


@dataclass(slots=True)
class StatsTally:
    symbol: str
    timeframe: str
    step: int
    first: int | None = None  # None: the series is empty
    last: int | None = None
    rows: int = 0
    gaps: int = 0
    exact: bool = True  # False: rows/gaps unknown, `finish` scans

    @classmethod
    def load(cls, conn: Any, symbol: str, timeframe: str) -> StatsTally:
        """The series as stored now, inside the caller's transaction (index seeks)."""
        one = candle_stats.one_of(conn)
        tally = cls(symbol, timeframe, timeframe_ms(timeframe), exact=driver_of(conn)[1] == "sqlite")
        span = series_span(one, symbol, timeframe)
        if span is None:
            return tally  # empty (an orphaned row is overwritten by `finish`)
        tally.first, tally.last = span
        row = one(_ROW_SQL, {"s": symbol, "tf": timeframe})
        if (row is None or (int(row[0]), int(row[1])) != span or row[4] is None
                or int(row[4]) != series_version(one, symbol, timeframe) or not triggers_intact(conn)):
            tally.exact = False  # missing or stale: written some other way
        else:
            tally.rows, tally.gaps = int(row[2]), int(row[3])
        return tally

    def may_overlap(self, lo: int, hi: int) -> bool:
        """Whether a stored bar can lie in [lo, hi]."""
        return self.first is not None and self.last is not None and lo <= self.last and hi >= self.first

    def add(self, times: np.ndarray) -> None:
        """Count open times just inserted (keys that were not stored: the insert succeeded)."""
        if not times.size:
            return
        d = np.diff(times)
        if d.size and not bool((d > 0).all()):
            self.exact = False
        lo, hi = int(times.min()), int(times.max())
        inner = int(np.count_nonzero(d > self.step))
        if self.first is None or self.last is None:
            self.rows, self.gaps = int(times.size), inner
            self.first, self.last = lo, hi
            return
        if lo > self.last:
            self.gaps += inner + int(lo - self.last > self.step)
        elif hi < self.first:
            self.gaps += inner + int(self.first - hi > self.step)
        else:
            self.exact = False
        self.rows += int(times.size)
        self.first, self.last = min(self.first, lo), max(self.last, hi)

    def upsert(self, conn: Any, times: np.ndarray) -> None:
        """Count open times about to be upserted (call before the write): the stored times between the
        new ones' first and last, and the stored neighbours on either side, are read (index range and two
        seeks), and only the steps inside that window can change, so rows and gaps follow exactly
        wherever the new times fall, overwrites included, without scanning the series."""
        if not times.size or not self.exact:
            return
        new = np.unique(times)
        if self.first is None or self.last is None:
            self.add(new)
            return
        lo, hi = int(new[0]), int(new[-1])
        raw = driver_of(conn)[0]  # SQLite's (an exact tally is SQLite only): qmark placeholders
        key = (self.symbol, self.timeframe)
        inside = np.fromiter((r[0] for r in raw.execute(_WINDOW_SQL, (*key, lo, hi))), dtype=np.int64)
        before, after = raw.execute(_BEFORE_SQL, (*key, lo)).fetchone(), raw.execute(_AFTER_SQL, (*key, hi)).fetchone()
        edge_lo = [] if before is None or before[0] is None else [int(before[0])]
        edge_hi = [] if after is None or after[0] is None else [int(after[0])]
        merged = np.union1d(inside, new)
        old = np.concatenate([edge_lo, inside, edge_hi]).astype(np.int64)
        now = np.concatenate([edge_lo, merged, edge_hi]).astype(np.int64)
        self.gaps += int(np.count_nonzero(np.diff(now) > self.step)) - int(np.count_nonzero(np.diff(old) > self.step))
        self.rows += int(merged.size - inside.size)
        self.first, self.last = min(self.first, lo), max(self.last, hi)

    def finish(self, conn: Any) -> Stats | None:
        """Write the series' row (the tally, or a full scan when it is not exact); returns it."""
        if not self.exact:
            return candle_stats.refresh(conn, self.symbol, self.timeframe)
        row: Stats | None = None
        if self.first is not None and self.last is not None:
            row = (self.symbol, self.timeframe, self.first, self.last, self.rows, self.gaps)
        version = series_version(candle_stats.one_of(conn), self.symbol, self.timeframe)
        candle_stats.store_row(conn, self.symbol, self.timeframe, row, version)
        return row
