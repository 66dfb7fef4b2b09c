"""Waiting out a busy store: another process holding the write lock is slow, not fatal.

SQLite's own busy timeout (`[store] busy_timeout_ms`) waits inside one statement; past it the
driver raises "database is locked". A trading node must not fail a strategy for that (issue 14):
the whole transaction is retried with a growing pause up to a bounded total wait, each wait is
reported (log line, `BusyMeter` for the status line), and only then `StoreBusy` is raised, a
clean message without SQL. The wait blocks the caller (the event loop of a node): the journal is
synchronous on purpose, since nothing may reach the venue before its write-ahead row commits.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from cashup_tui.store.lite import StoreError

log = logging.getLogger("cashup.store")
T = TypeVar("T")
_BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")


class StoreBusy(StoreError):
    """The store stayed locked by another process for longer than we wait."""


def is_busy(exc: BaseException) -> bool:
    """A lock held by another connection (SQLite busy/locked; PostgreSQL lock timeouts)."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.OperationalError):
        return any(w in str(orig).lower() for w in _BUSY_WORDS)
    return getattr(orig, "sqlstate", None) in ("55P03", "40001", "40P01")  # lock_not_available, serialization


@dataclass
class BusyMeter:
    """What the status line shows: how often and how long the store made us wait."""

    waits: int = 0
    waited_s: float = 0.0  # total time spent in calls that met a busy store, their SQLite busy timeouts included


def retry_busy(fn: Callable[[], T], *, max_wait_s: float, meter: BusyMeter | None = None, what: str = "write",
               sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> T:
    """Run `fn` (one whole transaction); while the store is busy, pause and run it again, up to
    `max_wait_s` in total. A failed attempt rolled back, so running it again is safe."""
    start = clock()
    pause = 0.05
    busy = False
    while True:
        try:
            out = fn()
            if busy and meter is not None:
                meter.waited_s += clock() - start
            return out
        except (DBAPIError, sqlite3.OperationalError) as exc:
            if not is_busy(exc):
                raise
            waited = clock() - start
            busy = True
            if waited >= max_wait_s:
                if meter is not None:
                    meter.waited_s += waited
                raise StoreBusy(
                    f"the store stayed locked by another process for {waited:.0f} s ({what} not done)",
                    hint="see which process holds the database (a long backup, a viewer, a second node) "
                         "and stop it; raise [store] busy_timeout_ms if it is only slow",
                ) from None
            if meter is not None:
                meter.waits += 1
            log.warning("store busy (another process holds the write lock): %s waits, %.1f s so far",
                        what, waited)
            sleep(min(pause, max(0.0, max_wait_s - waited)))
            pause = min(pause * 2, 1.0)
