"""WAL checkpoints on a thread of their own, for a long-running process on a SQLite store.

Why: by default SQLite checkpoints inside the commit that takes the WAL past 1000 pages, so every
few hundred orders one order's write-ahead commit also copied the WAL into the database file and
synced it; those orders were the tail of the submit -> ack latency. With `open_store(...,
background_checkpoint=True)` the store's own connections never checkpoint (`wal_autocheckpoint = 0`)
and this thread runs a PASSIVE checkpoint every `interval_s` on its own connection. PASSIVE never
takes the write lock and never waits, so a commit is not held up by it; SQLite releases the GIL
while it copies and syncs. Durability is unchanged: a commit is durable once its WAL frames are synced
at the configured `synchronous`; a checkpoint only moves committed pages into the database file.
Other processes on the same store keep SQLite's default and may checkpoint too (one of two at a time
gets SQLITE_BUSY, which is harmless). Closing the last connection checkpoints as SQLite always does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from cashup_tui.store.lite import connect_like_store

log = logging.getLogger(__name__)


class WalCheckpointer:
    """A daemon thread that checkpoints the WAL of the SQLite file `path` every `interval_s`."""

    def __init__(self, path: Path, synchronous: str, busy_timeout_ms: int, interval_s: float = 1.0) -> None:
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self.interval_s = interval_s
        self.runs = 0  # checkpoints done (not refused as busy)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WalCheckpointer:
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {self.path.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and wait for a checkpoint in progress to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """One PASSIVE checkpoint: copies what no reader still needs, never blocks a writer."""
        busy, _frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if not busy:
            self.runs += 1

    def _run(self) -> None:
        try:
            conn = connect_like_store(self.path, self.synchronous, self.busy_timeout_ms)
        except sqlite3.Error as exc:  # the store's own connections checkpoint nothing now: say so loudly
            log.error("store: cannot open %s for WAL checkpoints (%s); the WAL grows until the store closes",
                      self.path, exc)
            return
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as exc:  # a full disk, an I/O error: try again next time
                    log.warning("store: WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()
