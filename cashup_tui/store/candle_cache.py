"""A derived column cache of stored candle series: a backtest of a stored series reads it about as fast as
from a file, while the store stays the only record.

Reading a million rows through a DB-API cursor costs mostly the Python objects the driver builds per
value, not the database's scan. So the first full read of a series also writes its columns (int64
open_ms, five float64) to one file under the caller's cache directory (`paths.cache_dir()`: the store
layer reads no configuration), and later reads map that file instead (`mmap`, copy-on-write: pages come
straight from the page cache, and the arrays are writable like the SQL read's).

Exactness: a file holds the series as of one version of `candle_versions` (store.candle_versions: every
write to the series replaces that random token, through triggers, whoever writes). A read takes the
series' version first, in its transaction, then either the file (same store id, location, series and
version, and the size its row count implies) or the rows from SQL, and writes the file tagged with
the version it read before the rows; a write in between leaves a file tagged with a version that never
comes back, so it is never used. A file is found by the store's random id (state `cashup.store_id`)
and its location (the SQLite file's real path, or the redacted URL), so two stores, or a copy of a store
file that then diverges, never share entries. A range read slices a cached full series with
`searchsorted` (the same bars as the SQL's `>=` and `<=`); a range read that misses does not fill the
cache. Files are written atomically (temp + fsync + rename, mode 0600 in a 0700 directory) and the
directory is kept under `max_bytes`, least recently used first (a hit touches its file); `publish_later`
(the backtest command) leaves the fsync and rename to a thread once the bytes are written, so the caller
does not wait on the disk. A full miss on a stdlib SQLite connection reads half the rows in a second
process (store.candle_half), used only when it saw the same version.

`read_candle_columns_sqlite` is the stdlib-driver read of a SQLite store file (importing SQLAlchemy costs
more than the read): None when the file is not a store at the current schema (the caller then takes
`open_store`, which migrates or explains, and `read_columns` on its connection).

An import into an empty series writes the file itself, tagged the same way (store.candle_cache_fill), and
an upsert of a series' newest bars (`data fetch`) carries a current file over (store.candle_cache_upsert).

Never the reason a read fails: an unwritable directory, a missing, truncated, foreign or damaged file
reads SQL instead (logged at debug/info level). Not guarded: a file cut short in place by another
program while a backtest has it mapped (SIGBUS); CashUp itself only ever renames over or unlinks them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.private_files import ensure_private_dir, stage_private_file
from cashup_tui.store.candle_arrays import COLUMNS, Columns, read_candle_columns
from cashup_tui.store.candle_half import read_halves
from cashup_tui.store.candle_list import canonical_timeframe, open_current, sqlite_file
from cashup_tui.store.candle_versions import series_version

MAGIC = b"CASHUPC1"
ALIGN = 64  # the header's length is a multiple of this, so every column starts aligned
SUFFIX = ".candles"
MAX_BYTES = 2 << 30
STALE_TEMP_S = 3600  # temp files of a writer killed mid-write are removed by the next eviction after this
DTYPES = {c: np.dtype("<i8" if c == "open_ms" else "<f8") for c in COLUMNS}
log = logging.getLogger("cashup.store")
_pending: list[threading.Thread] = []  # save(later=True) workers not yet joined


@dataclass(frozen=True, slots=True)
class Entry:
    """What one cache file claims to hold; it is used only when every field equals the reader's."""

    store_id: str
    location: str
    symbol: str
    timeframe: str
    version: int

    def path(self, root: Path) -> Path:
        key = json.dumps([self.store_id, self.location, self.symbol, self.timeframe]).encode()
        return root / f"{hashlib.sha256(key).hexdigest()[:40]}{SUFFIX}"


def read_columns(conn: Any, location: str | None, symbol: str, timeframe: str, start_ms: int | None = None,
                 end_ms: int | None = None, *, cache: Path | None, max_bytes: int = MAX_BYTES,
                 busy_timeout_ms: int = 5000, publish_later: bool = False) -> Columns:
    """`read_candle_columns` through the cache in `cache` (None: straight SQL), on a connection of either
    kind in a transaction; `location` names the store for the key (None: not cached, e.g. in memory).
    `publish_later`: a file this read fills is made durable and renamed into place in a thread
    (`save(later=True)`), while the caller goes on with the columns."""
    timeframe = canonical_timeframe(timeframe)
    tag = None if cache is None or location is None else series_version(conn, symbol, timeframe)
    if cache is None or location is None or tag is None:
        return read_candle_columns(conn, symbol, timeframe, start_ms, end_ms)
    entry = Entry(tag[0], location, symbol, timeframe, tag[1])
    path = entry.path(cache)
    cols = load(path, entry)
    if cols is not None:
        return _slice(cols, start_ms, end_ms)
    full = start_ms is None and end_ms is None
    cols = None
    if full and isinstance(conn, sqlite3.Connection):  # the cache's rebuild: half in a second process
        cols = read_halves(conn, location, symbol, timeframe, entry.version, timeframe_ms(timeframe), busy_timeout_ms)
    if cols is None:
        cols = read_candle_columns(conn, symbol, timeframe, start_ms, end_ms)
    if full and len(cols["open_ms"]):
        save(path, entry, cols, max_bytes, later=publish_later)
    return cols


def _slice(cols: Columns, start_ms: int | None, end_ms: int | None) -> Columns:
    """The bars with start <= open_ms <= end (what the SQL selects) of a full, ordered series."""
    t = cols["open_ms"]
    lo = 0 if start_ms is None else int(np.searchsorted(t, int(start_ms), "left"))
    hi = len(t) if end_ms is None else int(np.searchsorted(t, int(end_ms), "right"))
    if lo == 0 and hi == len(t):
        return cols
    return {c: a[lo:max(lo, hi)] for c, a in cols.items()}


def header(entry: Entry, rows: int) -> bytes:
    """MAGIC, the header's total length (8 bytes, little-endian), the entry and row count as JSON, padding."""
    meta = json.dumps({**asdict(entry), "rows": rows}, sort_keys=True).encode()
    size = -(-(len(MAGIC) + 8 + len(meta)) // ALIGN) * ALIGN
    return MAGIC + size.to_bytes(8, "little") + meta.ljust(size - len(MAGIC) - 8)


def load(path: Path, entry: Entry) -> Columns | None:
    """The columns of the file at `path` when it holds exactly `entry`, mapped copy-on-write; else None."""
    got = open_entry(path, entry)
    if got is None:
        return None
    os.close(got[0])
    return got[2]


def open_entry(path: Path, entry: Entry) -> tuple[int, int, Columns] | None:
    """`load`, also giving the open descriptor of the file it mapped (the caller closes it) and the
    header's length: the offset of the first column."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        log.debug("candle cache: no entry for %s %s", entry.symbol, entry.timeframe)
        return None
    except OSError as exc:
        log.info("candle cache: cannot open %s: %s", path, exc)
        return None
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, len(MAGIC) + 8, 0)
        hlen = int.from_bytes(head[len(MAGIC):], "little")
        if head[:len(MAGIC)] != MAGIC or hlen % ALIGN or not len(head) < hlen <= size:
            raise ValueError("not a candle cache file")
        meta = json.loads(os.pread(fd, hlen - len(head), len(head)))
        rows = meta.pop("rows")
        if meta != asdict(entry):
            log.debug("candle cache: %s holds another version or store", path)
            os.close(fd)
            return None
        if type(rows) is not int or rows <= 0 or size != hlen + rows * 8 * len(COLUMNS):
            raise ValueError(f"{size} bytes for {rows!r} rows")
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("candle cache: %s unusable (%s), reading the store", path, exc)
        os.close(fd)
        return None
    try:
        os.utime(path)  # least recently used goes first
    except OSError:
        pass
    return fd, hlen, {c: np.frombuffer(mm, DTYPES[c], rows, hlen + i * 8 * rows) for i, c in enumerate(COLUMNS)}


def save(path: Path, entry: Entry, cols: Columns, max_bytes: int = MAX_BYTES, *, later: bool = False) -> bool:
    """Write `cols` as the entry's file (atomically) and trim the directory; False, logged, on any error.
    `later`: the bytes are written now, the fsync, rename and trim run in a thread (`published` waits)."""
    rows = len(cols["open_ms"])
    try:
        ensure_private_dir(path.parent)
        parts = [np.ascontiguousarray(cols[c], DTYPES[c]) for c in COLUMNS]
        if any(len(p) != rows for p in parts):
            raise ValueError("columns of different lengths")
        publish = stage_private_file(path, [header(entry, rows), *parts])
    except (OSError, ValueError, TypeError) as exc:
        log.info("candle cache: cannot write %s: %s", path, exc)
        return False
    if not later:
        return _publish(path, publish, max_bytes)
    worker = threading.Thread(target=_publish, args=(path, publish, max_bytes), name="cashup-cache-publish")
    worker.start()  # not a daemon: the process waits for it at exit
    _pending.append(worker)
    return True


def _publish(path: Path, publish: Callable[[], None], max_bytes: int) -> bool:
    try:
        publish()
        evict(path.parent, max_bytes)
    except (OSError, ValueError) as exc:
        log.info("candle cache: cannot write %s: %s", path, exc)
        return False
    return True


def published() -> None:
    """Wait until the files `save(later=True)` is publishing are in place (or given up)."""
    while _pending:
        _pending.pop().join()


def evict(root: Path, max_bytes: int) -> None:
    """Remove the least recently used entries until the directory holds at most `max_bytes` of them,
    and temp files left by a writer that died (older than STALE_TEMP_S)."""
    entries: list[tuple[float, int, Path]] = []
    now = time.time()
    for p in root.iterdir():
        try:
            st = p.stat()
            if p.name.endswith(SUFFIX):
                entries.append((st.st_mtime, st.st_size, p))
            elif p.name.startswith(".") and p.name.endswith(".tmp") and now - st.st_mtime > STALE_TEMP_S:
                p.unlink()
        except OSError:
            continue
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        try:
            p.unlink()
        except OSError:
            continue
        total -= size


def read_candle_columns_sqlite(url: str, symbol: str, timeframe: str, start_ms: int | None = None,
                               end_ms: int | None = None, *, busy_timeout_ms: int = 5000,
                               cache: Path | None = None, publish_later: bool = False) -> Columns | None:
    """`read_candle_columns` on the stdlib driver for an existing SQLite store file at the current
    schema, through the column cache in `cache` when given (store.candle_cache); None for anything else
    (no file, another backend, an older/newer schema, not a store)."""
    conn = open_current(url, busy_timeout_ms)
    if conn is None:
        return None
    try:
        path = sqlite_file(url)
        return read_columns(conn, None if path is None else str(path.resolve()), symbol, timeframe, start_ms,
                            end_ms, cache=cache, busy_timeout_ms=busy_timeout_ms, publish_later=publish_later)
    except sqlite3.Error:
        return None  # locked past the timeout, damaged: open_store says why
    finally:
        conn.close()
