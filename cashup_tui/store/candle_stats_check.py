"""Whether `candle_stats` rows can be trusted, and `data list` on the stdlib driver when they all can.

A row is current when it was computed at its series' current `candle_versions` version and every version
trigger is in place (`store.candle_stats` says why that sees any write, a hand edit inside a series
included). Like `store.candle_list`, nothing heavier than `sqlite3` is imported: `data list` should cost
about what starting the interpreter costs.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cashup_tui.store.candle_list import (
    FUNDING_SQL,
    STATS_SQL,
    VERSIONS_SQL,
    Stats,
    one_of,
    open_current,
    series_keys,
)
from cashup_tui.store.candle_versions import triggers_intact


def stale_keys(conn: Any, rows: list[Any]) -> set[tuple[str, str]]:
    """The (symbol, timeframe) of the STATS_SQL rows not computed at their series' current version:
    a write since (ours or a hand edit: the triggers bump the version), a row from before v8 (no
    version), or every row when a version trigger is missing (then a write need not bump)."""
    if not triggers_intact(conn):
        return {(str(r[0]), str(r[1])) for r in rows}
    got = (conn.execute(VERSIONS_SQL).fetchall() if isinstance(conn, sqlite3.Connection)
           else conn.exec_driver_sql(VERSIONS_SQL).all())
    versions = {(str(s), str(tf)): v for s, tf, v in got}
    return {(str(r[0]), str(r[1])) for r in rows if r[6] is None or versions.get((str(r[0]), str(r[1]))) != r[6]}


def list_series_sqlite(url: str, *, busy_timeout_ms: int = 5000) -> tuple[list[Stats], list[tuple[Any, ...]]] | None:
    """(candle stats, funding spans) of a current-schema SQLite store on the stdlib driver, or None when
    that is not possible or a stats row is missing or stale (the caller's `open_store` path rebuilds it)."""
    conn = open_current(url, busy_timeout_ms)
    if conn is None:
        return None
    try:
        rows = conn.execute(STATS_SQL).fetchall()
        if [tuple(r[:2]) for r in rows] != series_keys(one_of(conn)) or stale_keys(conn, rows):
            return None
        return [tuple(r[:6]) for r in rows], [tuple(r) for r in conn.execute(FUNDING_SQL).fetchall()]  # type: ignore[misc]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
