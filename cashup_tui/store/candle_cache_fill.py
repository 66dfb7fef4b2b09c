"""The column cache file of a series written by the import that filled it: the first backtest after
`cashup data import` maps the file instead of reading a million rows through the driver.

When an import writes into a series that is empty at its start (a new series, or `--replace`, which
deletes it first), the rows it writes are the whole stored series. So `CacheFill` appends each written
chunk's columns to unnamed temp files in the cache directory (memory stays one chunk, as the import's),
takes the version its own transaction gave the series (read inside that transaction, after the last
write), and after COMMIT assembles the cache file from the temp files (copied in the kernel) exactly as
`store.candle_cache.save` would write it after a fresh SQL read: same header, dtypes and bytes.

Exactness: the rows must come strictly ascending (chunk after chunk), else nothing is written; values
are written as the database returns them (SQLite stores -0.0 as the integer 0 and returns 0.0, so zeros
lose their sign there; it refuses NaN, and a NaN on PostgreSQL also turns the fill off since its bits
may differ); the series' row count at the end of the transaction must equal the rows spooled (on
PostgreSQL another import may have committed rows between this one's start and its first bump; after
that bump the version row is locked until COMMIT). A write after COMMIT and before the file is renamed
into place leaves it tagged with a version that is gone, so it is never used (store.candle_cache).

Never the reason an import fails or slows down much: any error (an unwritable directory, a full disk)
is logged and the next read is cold.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from cashup_tui.private_files import ensure_private_dir, write_private_file
from cashup_tui.store.candle_arrays import COLUMNS
from cashup_tui.store.candle_cache import DTYPES, MAX_BYTES, Entry, evict, header, log
from cashup_tui.store.candle_list import Stats, driver_of
from cashup_tui.store.candle_versions import series_version


class CacheWriter:
    """What the writers of a series' file in its write transaction share: the version their write set
    tags the file (`tag`), written after COMMIT (`publish`) from their `parts`; `close` releases them."""

    def __init__(self, root: Path | None, location: str | None, max_bytes: int = MAX_BYTES) -> None:
        self.root = root if location is not None else None
        self.location = location or ""
        self.max_bytes = max_bytes
        self.rows = 0
        self.entry: Entry | None = None

    def tag(self, conn: Any, symbol: str, timeframe: str) -> bool:
        """After the last write, in its transaction: the version that write gave the series."""
        tag = series_version(conn, symbol, timeframe)
        if tag is not None:
            self.entry = Entry(tag[0], self.location, symbol, timeframe, tag[1])
        return tag is not None

    def parts(self) -> Sequence[Any]:
        """The columns' bytes in order (buffers, open files, ranges: see `write_private_file`)."""
        raise NotImplementedError

    def publish(self) -> bool:
        """After COMMIT: write the file (atomically, as `candle_cache.save`) and trim the directory;
        False, logged, on any error."""
        try:
            if self.entry is None or self.root is None:
                return False
            write_private_file(self.entry.path(self.root), [header(self.entry, self.rows), *self.parts()])
            evict(self.root, self.max_bytes)
        except (OSError, ValueError) as exc:
            log.info("candle cache: cannot write %s %s: %s", self.entry.symbol if self.entry else "",
                     self.entry.timeframe if self.entry else "", exc)
            return False
        finally:
            self.close()
        return True

    def close(self) -> None:
        pass


class CacheFill(CacheWriter):
    """Spools one import's rows (`start`, `add`, `finish` inside its transaction) and writes them as
    the series' cache file after COMMIT (`publish`); `close` drops the temp files either way."""

    def __init__(self, root: Path | None, location: str | None, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(root, location, max_bytes)
        self.files: list[BinaryIO] = []
        self.first: int | None = None
        self.last: int | None = None
        self.unsigned_zero = False  # SQLite: -0.0 comes back as 0.0

    def start(self, conn: Any, empty: bool) -> None:
        """Before the first row, in the write transaction: spool only when the series is empty now."""
        dialect = driver_of(conn)[1]
        if self.root is None or not empty or dialect not in ("sqlite", "postgresql"):
            return
        self.unsigned_zero = dialect == "sqlite"
        try:
            ensure_private_dir(self.root)
            for _ in COLUMNS:  # unnamed (O_TMPFILE where there is one): nothing is left if the process dies
                self.files.append(tempfile.TemporaryFile(dir=self.root))  # noqa: SIM115 - closed by close()
        except OSError as exc:
            self.stop(f"cannot spool into {self.root}: {exc}")

    def add(self, cols: Sequence[np.ndarray]) -> None:
        """Rows just written by the import (in COLUMNS order)."""
        if not self.files or not len(cols[0]):
            return
        t = np.asarray(cols[0], DTYPES["open_ms"])
        if (self.last is not None and t[0] <= self.last) or not bool((np.diff(t) > 0).all()):
            self.stop("rows not strictly ascending")
            return
        try:
            for fh, name, c in zip(self.files, COLUMNS, cols, strict=True):
                a = np.ascontiguousarray(c, DTYPES[name])
                if name != "open_ms":
                    if bool(np.isnan(a).any()):
                        self.stop("a NaN value")
                        return
                    if self.unsigned_zero:
                        a = a + 0.0  # -0.0 + 0.0 is 0.0; every other value is unchanged
                fh.write(a.data.cast("B"))
        except OSError as exc:
            self.stop(f"cannot spool: {exc}")
            return
        self.rows += len(t)
        self.first = int(t[0]) if self.first is None else self.first
        self.last = int(t[-1])

    def finish(self, conn: Any, symbol: str, timeframe: str, stats: Stats | None) -> None:
        """After the import's last write, in its transaction: `stats` is the series' stats row as the
        import wrote it; the series must hold exactly the spooled rows."""
        if not self.files:
            return
        if stats is None or tuple(stats[2:5]) != (self.first, self.last, self.rows):
            self.stop("the series holds other rows too")
            return
        if not self.tag(conn, symbol, timeframe):
            self.stop("no version to tag the file with")

    def parts(self) -> Sequence[Any]:
        for fh in self.files:
            fh.flush()
            fh.seek(0)
        return self.files

    def stop(self, why: str) -> None:
        log.info("candle cache: the import does not write the cache file: %s", why)
        self.close()

    def close(self) -> None:
        for fh in self.files:
            try:
                fh.close()
            except OSError:
                pass
        self.files = []
