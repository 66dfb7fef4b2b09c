"""The column cache file of a series carried over an upsert of its newest bars: the backtest after
`cashup data fetch` maps the file instead of reading the whole series again from SQLite.

A fetch rewrites the last stored bar (it was still forming) and appends the newer ones, and every write
gives the series a new version (store.candle_versions), so the file of the old version is dead. When
the series' file is current at the START of the write transaction, and the rows written all open at or
after t0 with at most `MAX_TAIL` stored bars from t0 on, the new series is exactly the old file's bars
before t0 followed by the merge of its bars from t0 on with the written rows (a written row replaces
the stored bar of its open time). `CacheUpsert` computes that small tail before the write, takes the
version the write gave the series (inside the same transaction, after the write), and after COMMIT
writes the new file: the old file's prefix of every column copied in the kernel, then the tail, with
the header of `candle_cache.save`, so the bytes equal those a fresh SQL read writes.

SQLite only, in a transaction begun IMMEDIATE (the caller's): the version read before the write then
belongs to the snapshot the write changes. PostgreSQL's READ COMMITTED lets another writer commit between
the version read and the write, and locking the version row first would deadlock against a concurrent
upsert of the same bars; there the next read is cold. Values are predicted as SQLite returns them (-0.0
as 0.0); rows with NaN, or the same open time twice, are not predicted. A write after COMMIT and before
the rename leaves a file tagged with a version that is gone (never used). Any error is logged and skipped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from cashup_tui.store.candle_arrays import COLUMNS, Columns
from cashup_tui.store.candle_cache import DTYPES, MAX_BYTES, Entry, log, open_entry
from cashup_tui.store.candle_cache_fill import CacheWriter
from cashup_tui.store.candle_list import driver_of
from cashup_tui.store.candle_versions import series_version

MAX_TAIL = 1 << 16  # stored bars from the first written one on that are merged in memory; more: cold read


class CacheUpsert(CacheWriter):
    """`start` before the write and `finish` after it, in the write transaction; `publish` after
    COMMIT; `close` releases the old file either way."""

    def __init__(self, root: Path | None, location: str | None, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(root, location, max_bytes)
        self.old: BinaryIO | None = None
        self.pieces: list[Any] = []

    def start(self, conn: Any, symbol: str, timeframe: str, cols: list[np.ndarray]) -> None:
        """Before the write of `cols` (in COLUMNS order): the new file's parts, when the old file is current."""
        if self.root is None or not len(cols[0]) or driver_of(conn)[1] != "sqlite":
            return
        tag = series_version(conn, symbol, timeframe)
        if tag is None:
            return
        entry = Entry(tag[0], self.location, symbol, timeframe, tag[1])
        got = open_entry(entry.path(self.root), entry)
        if got is None:
            return
        fd, hlen, old = got
        self.old = os.fdopen(fd, "rb")
        try:
            self._plan(old, hlen, cols)
        except (ValueError, TypeError) as exc:
            log.info("candle cache: the upsert does not carry the file over: %s", exc)
            self.close()

    def _plan(self, old: Columns, hlen: int, cols: list[np.ndarray]) -> None:
        w = {c: np.asarray(a, DTYPES[c]) for c, a in zip(COLUMNS, cols, strict=True)}
        order = np.argsort(w["open_ms"], kind="stable")
        w = {c: a[order] for c, a in w.items()}
        if not bool((np.diff(w["open_ms"]) > 0).all()):
            raise ValueError("the same open time twice")
        if any(bool(np.isnan(w[c]).any()) for c in COLUMNS[1:]):
            raise ValueError("a NaN value")
        t_old, n = old["open_ms"], len(old["open_ms"])
        k = int(np.searchsorted(t_old, w["open_ms"][0], "left"))
        if n - k > MAX_TAIL:
            raise ValueError(f"{n - k} stored bars from the first written one on")
        kept = ~np.isin(t_old[k:], w["open_ms"])
        t_tail = np.concatenate([t_old[k:][kept], w["open_ms"]])
        merge = np.argsort(t_tail, kind="stable")
        w.update({c: w[c] + 0.0 for c in COLUMNS[1:]})  # SQLite returns -0.0 as 0.0 (other values unchanged)
        tail = {c: np.concatenate([old[c][k:][kept], w[c]])[merge] for c in COLUMNS}
        self.rows = k + len(t_tail)
        for i, c in enumerate(COLUMNS):
            self.pieces += [(self.old, hlen + i * 8 * n, 8 * k), np.ascontiguousarray(tail[c], DTYPES[c]).data.cast("B")]

    def finish(self, conn: Any, symbol: str, timeframe: str) -> None:
        """After the write, in its transaction: the version it gave the series tags the new file."""
        if self.pieces and not self.tag(conn, symbol, timeframe):
            self.close()

    def parts(self) -> Sequence[Any]:
        return self.pieces

    def close(self) -> None:
        self.pieces = []
        if self.old is not None:
            try:
                self.old.close()
            except OSError:
                pass
            self.old = None
