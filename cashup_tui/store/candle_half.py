"""A cold full read of a large SQLite series in two processes: the column cache's rebuild (store.candle_cache)
at about half the cost of one process.

Most of a cold read is the Python objects the sqlite3 driver builds per value (the database's own scan is
a fraction of it), bound to one core by the GIL: threads do not help, a second process does. The caller's
connection reads the older half in ITS read transaction; a child (store.candle_half_child, `python -I -S`:
stdlib only, starts in milliseconds) reads the newer half in its own. Two connections never share a
snapshot, so the child also reports its series version (store.candle_versions): a random token that every
write replaces, so an equal version means the child saw exactly the rows of the caller's snapshot. Any
other outcome (another version: a write committed in between; the child failed, or its open_ms would not
be exact as float64) and the caller reads the newer half itself, in its transaction: the columns are
always exactly the rows of the caller's transaction, and the cache file is tagged with its version.
The split runs only while a core is idle (`core_free`): on a busy machine it costs more than it saves.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import cast

import numpy as np

from cashup_tui.store.candle_arrays import COLUMNS, ROW_DTYPE, Columns, candle_sql

CHILD = Path(__file__).with_name("candle_half_child.py")
MIN_ROWS = 200_000  # below this a second process costs about what it saves
HEAD = struct.Struct("<qq")
_ONE = "SELECT {}(open_ms) FROM candles WHERE symbol = ? AND timeframe = ?"
SPAN_SQL = f"SELECT ({_ONE.format('min')}), ({_ONE.format('max')})"  # two index seeks (min and max in one
# aggregate scan the whole series)
LOADAVG = Path("/proc/loadavg")  # its 4th field: tasks runnable now / all tasks
log = logging.getLogger("cashup.store")


def read_halves(conn: sqlite3.Connection, path: str, symbol: str, timeframe: str, version: int,
                tf_ms: int, busy_timeout_ms: int) -> Columns | None:
    """The full series as columns, half read by a child process; None (nothing read) when the series is too
    short to split. `conn` is in the read transaction that read `version`; `timeframe` is canonical."""
    if not core_free():
        return None
    lo, hi = conn.execute(SPAN_SQL, (symbol, timeframe, symbol, timeframe)).fetchone()
    if lo is None or (hi - lo) // max(tf_ms, 1) < MIN_ROWS:
        return None
    mid = lo + (hi - lo) // 2 + 1
    try:
        child: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", "-S", str(CHILD), path, symbol, timeframe, str(mid), str(busy_timeout_ms)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as exc:
        log.info("candle read: no second process (%s)", exc)
        child = None
    try:
        older = _fetch(conn, candle_sql("?", None, mid - 1), (symbol, timeframe, mid - 1))
        newer = None if child is None else _collect(child, version)
    finally:
        if child is not None:
            if child.poll() is None:
                child.kill()
                child.wait()
            cast(io.BufferedReader, child.stdout).close()
    if newer is None:
        newer_rows = _fetch(conn, candle_sql("?", mid, None), (symbol, timeframe, mid))
        return {c: np.concatenate([older[c], newer_rows[c]]) for c in COLUMNS}
    n_old, n_new = len(older), len(newer)
    cols = {c: np.empty(n_old + n_new, older.dtype[c]) for c in COLUMNS}
    for i, c in enumerate(COLUMNS):
        cols[c][:n_old] = older[c]
        cols[c][n_old:] = newer[:, i]
    return cols


def core_free() -> bool:
    """Whether a core is idle now: fewer tasks runnable (this one included) than cores this process may
    use (Linux's /proc/loadavg; elsewhere, two cores or more). On a busy machine the child only competes
    with the caller for the same core, and the split costs more than it saves."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2:
        return False
    try:
        running = int(LOADAVG.read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running < cores


def _fetch(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> np.ndarray:
    return np.fromiter(conn.execute(sql, params), dtype=ROW_DTYPE)


def _collect(child: subprocess.Popen[bytes], version: int) -> np.ndarray | None:
    """The child's rows as an (n, 6) float64 array when it saw `version` and exited cleanly; else None."""
    out = cast(io.BufferedReader, child.stdout)
    head = out.read(HEAD.size)
    seen, rows = HEAD.unpack(head) if len(head) == HEAD.size else (None, -1)
    ok = seen == version and rows >= 0
    newer = np.empty(max(rows, 0) * len(COLUMNS) if ok else 0)
    view, got = newer.data.cast("B"), 0
    while got < len(view):
        n = out.readinto(view[got:])
        if not n:
            break
        got += n
    ok = ok and got == len(view) and not out.read(1)
    if not ok:
        child.kill()  # it may be blocked writing what is not read
    if child.wait() != 0 or not ok:
        log.info("candle read: the second process failed (%s) or saw another version; reading its half here",
                 child.returncode)
        return None
    newer = newer.reshape(rows, len(COLUMNS))
    if rows and not bool((np.abs(newer[:, 0]) < 2.0 ** 53).all()):
        log.info("candle read: open times past 2**53; reading the second half here")
        return None
    return newer
