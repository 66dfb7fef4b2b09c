"""Store write throughput: bulk candle inserts and order-journal appends.

Inserts N synthetic candle rows (default 200,000) into a fresh SQLite file through the store's
bulk path (`cashup_tui.store.candles.insert_candles` / `import_candles`: SQLAlchemy Core
executemany in batches, one transaction, WAL, synchronous=FULL) and compares with stdlib
sqlite3 `executemany` of the same rows into an equivalent table measured in the same run.
Also measures order-journal appends: bulk (`append_order_events`) and one-transaction-per-event
(`append_order_event`, what a live order manager does, fsync per commit with FULL).

Target (issue 2): >= 50,000 candle rows/s through the store.

`--cli N` (issue 13, "data from the store as fast as from a file") instead writes N synthetic 1-minute
bars to a CSV and times, as cold `cashup` processes in one session: `data import` of that file (rows/s
and the child's peak RSS against the file size), `data list`, and `backtest run sma_cross --symbol ...
--timeframe 1m` from the store against the same backtest with `--data FILE` (both `--no-store --json`,
interleaved, best of --repeats; the trades and final equity must agree): from the store three times: right
after a fresh `data import` of the file (the user's flow: an import into an empty series writes the column
cache itself, store.candle_cache_fill), cold (the column cache emptied first: SQLite is read, half of it in a
second process when a core is free (store.candle_half), and the cache written: the rebuild cost) and warm (read from the cache), and once more right after a fetch-like
upsert of the newest 60 bars (the last one revised; its own time in the child reported: `data fetch`'s
store cost; this tree carries the column cache over, store.candle_cache_upsert); then copies the series 19 times
in SQL and times `data list` over 20 series of N rows. Beside the import, in the same run: SQLite's own
insert rate (stdlib sqlite3 of the same rows into an identical table: executemany, and multi-row INSERTs
of 250 rows, about the ceiling of any import that binds each value) and the import's memory above its own
baseline (peak RSS minus that of the same command on a 1,000-row file). Targets: store <= 1.2x CSV (after import
and warm; cold reported beside them), list <= 0.2 s, import >= 500k rows/s with peak RSS <= 2x the file (reported absolute and above the
baseline) and <= 300 MB. Run with another tree's interpreter (`cd OTHER && .venv/bin/python THIS_SCRIPT`) the
`cashup` processes run that tree's code, for before/after figures.
`--list-store DIR` times only that last `data list` (best and median of --repeats cold processes, beside
a bare interpreter start) on a store of 20 series kept in DIR, built there on the first run.
Run: .venv/bin/python bench/store.py [--rows 200000] [--events 20000] [--single 500] | [--cli 1000000]
     [--list-store DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
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


def bench_stdlib(path: Path, cols: dict[str, np.ndarray], per_statement: int = 1) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute(
        "CREATE TABLE candles (symbol TEXT NOT NULL, timeframe TEXT NOT NULL, open_ms INTEGER NOT NULL, "
        "open FLOAT NOT NULL, high FLOAT NOT NULL, low FLOAT NOT NULL, close FLOAT NOT NULL, volume FLOAT NOT NULL, "
        "PRIMARY KEY (symbol, timeframe, open_ms)) WITHOUT ROWID"
    )
    t0 = time.perf_counter()
    con.execute("BEGIN")
    if per_statement == 1:
        rows = zip(["BTC_USDT"] * len(cols["open_ms"]), ["1m"] * len(cols["open_ms"]),
                   *(cols[c].tolist() for c in candles.COLUMNS), strict=True)
        con.executemany("INSERT INTO candles VALUES (?,?,?,?,?,?,?,?)", rows)
    else:  # many rows a statement, parameters row after row: SQLite's own insert rate with little binding cost
        flat = np.empty((len(cols["open_ms"]), len(candles.COLUMNS)), dtype=object)
        for i, c in enumerate(candles.COLUMNS):
            flat[:, i] = cols[c].tolist()
        for i in range(0, len(flat), per_statement):
            part = flat[i : i + per_statement]
            con.execute("INSERT INTO candles VALUES " + ", ".join(["('BTC_USDT', '1m', ?, ?, ?, ?, ?, ?)"] * len(part)),
                        part.ravel().tolist())
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


# `python -m cashup_tui ARGS` that reports its own peak RSS (KiB) on stderr at exit. VmHWM, not ru_maxrss:
# Linux carries the parent's peak into a child's ru_maxrss across fork/vfork + exec, so a large bench
# process would inflate every figure (a 1,000-row import read as 383 MB after the stdlib reference ran).
_RSS_WRAPPER = (
    "import atexit, resource, runpy, sys\n"
    "def _peak():\n"
    "    try:\n"
    "        return next(int(ln.split()[1]) for ln in open('/proc/self/status') if ln.startswith('VmHWM:'))\n"
    "    except (OSError, StopIteration):\n"
    "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "atexit.register(lambda: sys.stderr.write(f'\\nMAXRSS {_peak()}\\n'))\n"
    "sys.argv = ['cashup', *sys.argv[1:]]\n"
    "runpy.run_module('cashup_tui', run_name='__main__')\n"
)


def _cashup(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run one cold `cashup` process: (wall seconds, peak RSS bytes of that process, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, *args], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"cashup {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    rss = int(p.stderr.rpartition("MAXRSS ")[2].split()[0]) * 1024
    out = p.stdout
    return dt, rss, out


def _write_csv(path: Path, n: int) -> dict[str, np.ndarray]:
    """N synthetic 1-minute bars on the minute (as `data import` requires) as CSV; returns them."""
    cols = synthetic(n)
    cols["open_ms"] = cols["open_ms"] - 40_000
    with path.open("w") as fh:
        fh.write("open_time_ms,open,high,low,close,volume\n")
        np.savetxt(fh, np.column_stack([cols[c] for c in candles.COLUMNS]),
                   fmt=["%d", "%.2f", "%.2f", "%.2f", "%.2f", "%.0f"], delimiter=",")
    return cols


def _cli_env(base: Path) -> dict[str, str]:
    env = {**os.environ, "CASHUP_DATA_DIR": str(base / "data"), "CASHUP_CONFIG_DIR": str(base / "cfg"),
           "CASHUP_LOG_DIR": str(base / "log"), "CASHUP_DB": str(base / "store.sqlite"),
           "CASHUP_CACHE_DIR": str(base / "cache")}
    env.pop("CASHUP_CONFIG", None)
    return env


def _copy_series(db: Path, series: int) -> None:
    """series - 1 more copies of the BTC_USDT series, in SQL (fast); their stats rows are left missing."""
    con = sqlite3.connect(db)
    for k in range(1, series):
        con.execute(f"INSERT INTO candles SELECT 'S{k:02d}_USDT', timeframe, open_ms, open, high, low, close, "
                    "volume FROM candles WHERE symbol = 'BTC_USDT'")
    con.commit()
    con.close()


def _fresh_import(imp: list[str], env: dict[str, str], cache: Path) -> tuple[float, int]:
    """`data import` into a new store file with an empty cache directory: (seconds, peak RSS bytes)."""
    shutil.rmtree(cache, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(env["CASHUP_DB"] + suffix).unlink(missing_ok=True)
    dt, rss, _ = _cashup(imp, env)
    return dt, rss


_FETCH_LIKE = (  # what `data fetch` of the newest 60 bars writes: the last stored bar revised, 59 new ones
    "import inspect, sys, time\n"
    "import numpy as np\n"
    "from cashup_tui.paths import candle_cache_dir\n"
    "from cashup_tui.store import candles, open_store\n"
    "kw = {'cache': candle_cache_dir()} if 'cache' in inspect.signature(candles.upsert_candles).parameters else {}\n"
    "last = int(sys.argv[1])\n"
    "t = last + np.arange(60, dtype='int64') * 60_000\n"
    "x = 30_000.0 + np.arange(60) * 0.5\n"
    "with open_store(sys.argv[2]) as db:\n"
    "    t0 = time.perf_counter()\n"
    "    candles.upsert_candles(db, 'BTC_USDT', '1m', {'open_ms': t, 'open': x, 'high': x + 1, 'low': x - 1, "
    "'close': x + 0.25, 'volume': x}, **kw)\n"
    "    print(time.perf_counter() - t0)\n"
)


def _fetch_like(db: str, last_ms: int, env: dict[str, str]) -> float:
    """The fetch-like upsert of the newest 60 bars in a child process of this interpreter's tree: its seconds."""
    p = subprocess.run([sys.executable, "-c", _FETCH_LIKE, str(last_ms), db], capture_output=True, text=True,
                       env=env, check=True)
    return float(p.stdout.split()[-1])


def bench_cli(n: int, repeats: int, series: int = 20) -> dict[str, float | int | bool]:
    """Import, list and backtest-from-the-store against backtest-from-the-CSV (see module docstring)."""
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        csv = base / "BTC_USDT_1m.csv"
        cols = _write_csv(csv, n)
        tiny = base / "tiny.csv"  # the same command on 1,000 rows: the process's own baseline memory
        tiny.write_text("".join(csv.open().readlines()[:1001]))
        env = _cli_env(base)
        imp = ["data", "import", str(csv), "--symbol", "BTC_USDT", "--timeframe", "1m"]
        t_imp = t_ref = t_multi = float("inf")
        rss_imp = rss_base = 0
        for i in range(repeats):  # interleaved: SQLite's own insert of the same rows, the command, its baseline
            t_ref = min(t_ref, bench_stdlib(base / f"ref{i}.sqlite", cols))
            t_multi = min(t_multi, bench_stdlib(base / f"multi{i}.sqlite", cols, per_statement=250))
            env["CASHUP_DB"] = str(base / f"tiny{i}.sqlite")
            rss_base = max(rss_base, _cashup(["data", "import", str(tiny), "--symbol", "BTC_USDT", "--timeframe",
                                              "1m"], env)[1])
            env["CASHUP_DB"] = str(base / "store.sqlite")
            dt, rss = _fresh_import(imp, env, Path(env["CASHUP_CACHE_DIR"]))
            t_imp, rss_imp = min(t_imp, dt), max(rss_imp, rss)
        t_list1 = min(_cashup(["data", "list", "--json"], env)[0] for _ in range(repeats))
        common = ["backtest", "run", "sma_cross", "--no-store", "--json"]
        store_run = [*common, "--symbol", "BTC_USDT", "--timeframe", "1m"]
        t_csv = t_first = t_cold = t_warm = t_fetched = float("inf")
        t_upsert: list[float] = []
        wrote = kept = False
        outs: dict[str, str] = {}
        cache = Path(env["CASHUP_CACHE_DIR"])
        for _ in range(repeats):  # interleaved so machine noise hits all four alike
            dt, _, outs["csv"] = _cashup([*common, "--data", str(csv)], env)
            t_csv = min(t_csv, dt)
            _fresh_import(imp, env, cache)  # what a user does: import the file, then backtest it
            wrote = any(cache.rglob("*.candles"))  # the import left the column cache file (this tree does)
            dt, _, outs["first"] = _cashup(store_run, env)
            t_first = min(t_first, dt)
            shutil.rmtree(cache, ignore_errors=True)  # cold: reads SQLite and writes the column cache
            dt, _, outs["cold"] = _cashup(store_run, env)
            t_cold = min(t_cold, dt)
            dt, _, outs["warm"] = _cashup(store_run, env)  # from the cache
            t_warm = min(t_warm, dt)
            t_upsert.append(_fetch_like(env["CASHUP_DB"], int(cols["open_ms"][-1]), env))  # then `data fetch`
            kept = any(b'"rows": %d' % (n + 59) in p.read_bytes()[:256] for p in cache.rglob("*.candles"))
            dt, _, outs["fetched"] = _cashup(store_run, env)  # the first backtest after the fetch
            t_fetched = min(t_fetched, dt)
        _copy_series(base / "store.sqlite", series)  # 19 more series of n rows
        # the first list finds the copies' stats missing and builds them (a scan each); the next ones read them
        t_rebuild, _, out = _cashup(["data", "list", "--json"], env)
        assert len(json.loads(out)) == series, out
        t_list = min(_cashup(["data", "list", "--json"], env)[0] for _ in range(repeats))
        a = json.loads(outs["csv"])
        same = all(a[k] == json.loads(outs[run])[k] for k in ("bars", "trade_count", "final_equity", "trades")
                   for run in ("first", "cold", "warm"))
        size = csv.stat().st_size
    return {"bars": n, "csv_bytes": size, "import_s": round(t_imp, 2), "import_rows_per_s": round(n / t_imp),
            "stdlib_executemany_rows_per_s": round(n / t_ref), "import_vs_stdlib_rate": round(t_ref / t_imp, 2),
            "stdlib_multirow_rows_per_s": round(n / t_multi), "import_vs_multirow_rate": round(t_multi / t_imp, 2),
            "import_peak_rss_mb": round(rss_imp / 1e6), "import_baseline_rss_mb": round(rss_base / 1e6),
            "import_rss_above_baseline_mb": round((rss_imp - rss_base) / 1e6),
            "import_rss_above_baseline_vs_file": round((rss_imp - rss_base) / size, 2),
            "list_1_series_s": round(t_list1, 3),
            "list_s": round(t_list, 3), "series": series, "list_after_raw_copy_s": round(t_rebuild, 2),
            "backtest_csv_s": round(t_csv, 2), "backtest_store_after_import_s": round(t_first, 2),
            "backtest_store_cold_s": round(t_cold, 2), "backtest_store_warm_s": round(t_warm, 2),
            "store_after_import_vs_csv": round(t_first / t_csv, 2), "import_wrote_cache": wrote, "store_cold_vs_csv": round(t_cold / t_csv, 2),
            "store_warm_vs_csv": round(t_warm / t_csv, 2), "same_metrics": same,
            "fetch_like_upsert_60_median_s": round(statistics.median(t_upsert), 3),
            "backtest_store_after_fetch_s": round(t_fetched, 2), "store_after_fetch_vs_csv": round(t_fetched / t_csv, 2),
            "fetch_kept_cache": kept, "load_1m": round(os.getloadavg()[0], 2)}


def bench_list(n: int, repeats: int, keep: Path, series: int = 20) -> dict[str, float | int]:
    """Only `data list` on `series` x n bars kept in `keep` (built there on the first run, reused after):
    cold processes, interleaved with a bare interpreter start (the floor), best and median."""
    keep.mkdir(parents=True, exist_ok=True)
    env = _cli_env(keep)
    if not (keep / "store.sqlite").exists():
        csv = keep / "BTC_USDT_1m.csv"
        _write_csv(csv, n)
        _cashup(["data", "import", str(csv), "--symbol", "BTC_USDT", "--timeframe", "1m"], env)
        csv.unlink()
        _copy_series(keep / "store.sqlite", series)
    got = json.loads(_cashup(["data", "list", "--json"], env)[2])  # the first one builds the copies' stats
    if [r["rows"] for r in got] != [n] * series:
        raise SystemExit(f"{keep} holds {[r['rows'] for r in got]} rows per series, not {series} x {n}")
    t_list: list[float] = []
    t_py: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        t_py.append(time.perf_counter() - t0)
        t_list.append(_cashup(["data", "list", "--json"], env)[0])
    return {"bars": n, "series": series, "repeats": repeats, "list_best_s": round(min(t_list), 3),
            "list_median_s": round(statistics.median(t_list), 3), "python_start_best_s": round(min(t_py), 3),
            "python_start_median_s": round(statistics.median(t_py), 3), "load_1m": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--single", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=2, help="best of N, each into a fresh file")
    ap.add_argument("--cli", type=int, default=0, metavar="BARS", help="time the CLI paths on BARS bars instead")
    ap.add_argument("--list-store", type=Path, metavar="DIR",
                    help="time only `data list` on 20 series of BARS (--cli, default 1,000,000) kept in DIR: "
                         "built there on the first run (minutes), reused after")
    args = ap.parse_args()
    if args.cli or args.list_store:
        res = (bench_list(args.cli or 1_000_000, args.repeats, args.list_store) if args.list_store
               else bench_cli(args.cli, args.repeats))
        for k, v in res.items():
            print(f"  {k:>34}: {v}")
        print(json.dumps(res))
        return
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
