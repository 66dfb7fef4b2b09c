"""Store write throughput: bulk candle inserts and order-journal appends.

Inserts N synthetic candle rows (default 200,000) into a fresh SQLite file through the store's
bulk path (`cashup_tui.store.candles.insert_candles` / `import_candles`: SQLAlchemy Core
executemany in batches, one transaction, WAL, synchronous=FULL) and compares with stdlib
sqlite3 `executemany` of the same rows into an equivalent table measured in the same run.
Also measures order-journal appends: bulk (`append_order_events`) and one-transaction-per-event
(`append_order_event`, what a live order manager does, fsync per commit with FULL).

Target (issue 2): >= 50,000 candle rows/s through the store.
Run: .venv/bin/python bench/store.py [--rows 200000] [--events 20000] [--single 500]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

from cashup_tui.domain.enums import Side
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.orders import Fill, OrderEvent, OrderEventKind
from cashup_tui.store import candles, open_store, orders

TARGET_ROWS_PER_S = 50_000


def synthetic(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = 1_600_000_000_000 + np.arange(n, dtype="int64") * 60_000
    close = 30_000 + np.cumsum(rng.normal(0, 10, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 5, n)
    low = np.minimum(open_, close) - rng.uniform(0, 5, n)
    return {"open_ms": t, "open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(0, 1e6, n)}


def bench_store(path: Path, cols: dict[str, np.ndarray], strict: bool) -> float:
    s = open_store(str(path))
    t0 = time.perf_counter()
    if strict:
        candles.import_candles(s, "BTC_USDT", "1m", cols)
    else:
        candles.insert_candles(s, "BTC_USDT", "1m", cols)
    dt = time.perf_counter() - t0
    with s.begin() as conn:
        n = conn.exec_driver_sql("SELECT COUNT(*) FROM candles").scalar_one()
    assert n == len(cols["open_ms"]), n
    s.close()
    return dt


def bench_stdlib(path: Path, cols: dict[str, np.ndarray]) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute(
        "CREATE TABLE candles (symbol TEXT NOT NULL, timeframe TEXT NOT NULL, open_ms INTEGER NOT NULL, "
        "open FLOAT NOT NULL, high FLOAT NOT NULL, low FLOAT NOT NULL, close FLOAT NOT NULL, volume FLOAT NOT NULL, "
        "PRIMARY KEY (symbol, timeframe, open_ms)) WITHOUT ROWID"
    )
    t0 = time.perf_counter()
    rows = zip(["BTC_USDT"] * len(cols["open_ms"]), ["1m"] * len(cols["open_ms"]),
               *(cols[c].tolist() for c in candles.COLUMNS), strict=True)
    con.execute("BEGIN")
    con.executemany("INSERT INTO candles VALUES (?,?,?,?,?,?,?,?)", rows)
    con.execute("COMMIT")
    dt = time.perf_counter() - t0
    con.close()
    return dt


def bench_journal(path: Path, n_bulk: int, n_single: int) -> tuple[float, float]:
    s = open_store(str(path))
    fill = Fill("299207900263708423", ClientOrderId("t-bench-1"), "BTC_USDT", Side.BUY, Decimal("1"),
                Decimal("65000.1"), ts_ms=1)
    evs = [("t-bench-1", OrderEvent(OrderEventKind.FILLED if i % 3 == 0 else OrderEventKind.ACCEPTED, i,
                                    fill=fill if i % 3 == 0 else None)) for i in range(n_bulk)]
    t0 = time.perf_counter()
    orders.append_order_events(s, evs, mode="bench")
    bulk = n_bulk / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n_single):
        orders.append_order_event(s, "t-bench-2", OrderEvent(OrderEventKind.ACCEPTED, i), mode="bench")
    single = n_single / (time.perf_counter() - t0)
    s.close()
    return bulk, single


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--single", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=2, help="best of N, each into a fresh file")
    args = ap.parse_args()
    cols = synthetic(args.rows)
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        bench_store(base / "warm.sqlite", synthetic(2_000), strict=True)  # imports, statement compile caches
        ref = fast = strict = float("inf")
        for i in range(args.repeats):  # interleaved so machine noise hits all three alike
            ref = min(ref, bench_stdlib(base / f"ref{i}.sqlite", cols))
            fast = min(fast, bench_store(base / f"store{i}.sqlite", cols, strict=False))
            strict = min(strict, bench_store(base / f"import{i}.sqlite", cols, strict=True))
        bulk, single = bench_journal(base / "journal.sqlite", args.events, args.single)
    n = args.rows
    result = {
        "rows": n,
        "stdlib_sqlite3_rows_per_s": round(n / ref),
        "store_insert_rows_per_s": round(n / fast),
        "store_import_rows_per_s": round(n / strict),
        "ratio_store_vs_stdlib": round(ref / fast, 2),
        "ratio_import_vs_stdlib": round(ref / strict, 2),
        "journal_bulk_events_per_s": round(bulk),
        "journal_single_commit_events_per_s": round(single),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "meets_target": n / fast >= TARGET_ROWS_PER_S and n / strict >= TARGET_ROWS_PER_S,
    }
    print(f"candles: {n:,} rows")
    print(f"  stdlib sqlite3 executemany : {n / ref:>10,.0f} rows/s  ({ref:.2f} s)")
    print(f"  store insert_candles       : {n / fast:>10,.0f} rows/s  ({fast:.2f} s)  {ref / fast:.2f}x stdlib speed")
    print(f"  store import_candles       : {n / strict:>10,.0f} rows/s  ({strict:.2f} s)  {ref / strict:.2f}x stdlib speed"
          " (incl. conflict check)")
    print(f"  target >= {TARGET_ROWS_PER_S:,} rows/s: {'met' if result['meets_target'] else 'NOT met'}")
    print(f"journal: bulk {bulk:,.0f} events/s; one commit per event {single:,.0f} events/s (synchronous=FULL)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
