"""The second process of a split cold read (store.candle_half): run as a script with `python -I -S`
(stdlib only, nothing of CashUp imported, so it starts in milliseconds). It reads the bars of one series
from `mid` on, in its own read transaction, and writes to stdout: that transaction's series version and
the row count (two little-endian int64), then the rows as float64, row after row (open_ms included:
exact below 2**53, which the parent checks). Any error: a non-zero exit, and the parent reads those rows
itself. Arguments: PATH SYMBOL TIMEFRAME MID BUSY_TIMEOUT_MS.
"""

import itertools
import sqlite3
import struct
import sys
from array import array
from pathlib import Path

SQL = ("SELECT open_ms, open, high, low, close, volume FROM candles "
       "WHERE symbol = ? AND timeframe = ? AND open_ms >= ? ORDER BY open_ms")


def main(path: str, symbol: str, timeframe: str, mid: str, busy_ms: str) -> None:
    uri = Path(path).absolute().as_uri() + "?mode=rw"  # never creates a file
    conn = sqlite3.connect(uri, uri=True, timeout=int(busy_ms) / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    conn.execute("BEGIN")  # the version and the rows: one snapshot
    row = conn.execute("SELECT version FROM candle_versions WHERE symbol = ? AND timeframe = ?",
                       (symbol, timeframe)).fetchone()
    if row is None:
        raise SystemExit(3)
    values = array("d")
    values.extend(itertools.chain.from_iterable(conn.execute(SQL, (symbol, timeframe, int(mid)))))
    conn.close()
    out = sys.stdout.buffer
    out.write(struct.pack("<qq", int(row[0]), len(values) // 6))
    out.write(memoryview(values).cast("B"))
    out.flush()


if __name__ == "__main__":
    main(*sys.argv[1:6])
