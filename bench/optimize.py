"""Sweep benchmark: `python bench/optimize.py [--bars N] [--repeat R] [--before PATH] [--no-vbt]`.

The 10 x 18 sma_cross grid (fast 5..50 step 5, slow 20..190 step 10, fast < slow: 164 pairs) on N
(1,000,000) synthetic 1-minute bars, fee 5 bps, all in, long only:

1. the plain numpy loop: `reference()` of bench/backtest.py run once per pair, serially, in this
   process (bars already in memory);
2. the whole `cashup optimize sma_cross --data FILE --grid ... --json` command, as a user runs it
   (a subprocess: start-up, reading the CSV, the sweep on the default local workers, the store),
   into a new SQLite store each time; then the same command again (a finished study: 0 trials);
3. with `--before PATH` (a checkout of another revision, e.g. `git archive main | tar -x -C PATH`):
   the same command run from that code, in this session, for before/after figures;
4. vectorbt's broadcasting sweep (`MA.run` over the paired windows, crossed_above/below,
   `Portfolio.from_signals`), if vectorbt is importable; in-process, bars in memory, its JIT warmed
   on a small series first, columns in chunks of `--vbt-chunk` to bound memory. Its fills are at
   the signal bar's close (its default), not the next open: the work is the same, the numbers are not.

Targets: cashup optimize <= 0.5x the numpy loop, and faster than vectorbt. Every pair's final
equity from cashup is checked against the numpy loop (relative 1e-9). Best of R; the machine may
be shared: the contenders' repetitions are interleaved, and CPU seconds (of the command and its
worker processes) are printed beside wall seconds, as load slows wall time far more than CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from backtest import CASH, FEE, best, reference, synthetic  # noqa: E402  (bench/backtest.py)

FASTS = list(range(5, 51, 5))
SLOWS = list(range(20, 191, 10))
PAIRS = [(f, s) for f in FASTS for s in SLOWS if f < s]


def numpy_loop(o: np.ndarray, c: np.ndarray) -> dict[tuple[int, int], float]:
    return {(f, s): float(reference(o, c, f, s, FEE, CASH)[2][-1]) for f, s in PAIRS}


def vbt_sweep(vbt, close, chunk: int) -> int:
    """vectorbt's sweep over the same pairs; returns the number of columns evaluated."""
    done = 0
    for i in range(0, len(PAIRS), chunk):
        part = PAIRS[i : i + chunk]
        fast = vbt.MA.run(close, [f for f, _ in part], short_name="fast")
        slow = vbt.MA.run(close, [s for _, s in part], short_name="slow")
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        pf = vbt.Portfolio.from_signals(close, entries, exits, fees=FEE, init_cash=CASH, freq="1min")
        pf.sharpe_ratio()
        done += len(part)
    return done


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", help="a checkout of another revision to time the same command from")
    ap.add_argument("--no-vbt", action="store_true")
    ap.add_argument("--vbt-chunk", type=int, default=41, help="vectorbt columns per broadcast (memory)")
    a = ap.parse_args()
    n = a.bars
    t, o, h, lo, c, v = synthetic(n)
    print(f"sma_cross sweep: {len(FASTS)} x {len(SLOWS)} grid, {len(PAIRS)} valid pairs, {n:,} 1-minute bars, "
          f"{os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.1f} at start")

    reference(o[:1000], c[:1000])  # first numpy calls
    rows: dict[str, list[tuple[float, float]]] = {"numpy": [], "cashup": [], "before": []}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "BTC_USDT_1m.csv"
        with path.open("w") as fh:
            fh.write("open_time_ms,open,high,low,close,volume\n")
            np.savetxt(fh, np.column_stack([t, o, h, lo, c, v]), fmt=["%d", "%.1f", "%.1f", "%.1f", "%.1f", "%d"],
                       delimiter=",")
        env = {**os.environ, "CASHUP_DATA_DIR": str(Path(tmp) / "data"), "CASHUP_CONFIG_DIR": str(Path(tmp) / "cfg"),
               "CASHUP_LOG_DIR": str(Path(tmp) / "log")}
        env.pop("CASHUP_DB", None)
        env.pop("CASHUP_CONFIG", None)
        runs = 0

        def run_cli(code: Path | None, db: Path | None = None) -> tuple[float, float, dict]:
            """(wall s, CPU s of the command and its workers, its JSON)."""
            nonlocal runs
            runs += 1
            db = db or Path(tmp) / f"sweep{runs}.sqlite"
            e = dict(env)
            if code is not None:
                e["PYTHONPATH"] = str(code)
            cmd = [sys.executable, "-m", "cashup_tui", "--db", str(db), "optimize", "sma_cross", "--data", str(path),
                   "--grid", "fast=5:50:5", "--grid", "slow=20:190:10", "--fee-bps", "5", "--top", "1000", "--json"]
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=tmp)
            wall = time.perf_counter() - t0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            if p.returncode != 0:
                raise SystemExit(f"cashup optimize failed ({code or REPO}): {p.stderr[-2000:]}")
            out = json.loads(p.stdout)
            out["_db"] = db
            return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), out

        out: dict = {}
        ref: dict = {}
        for _ in range(a.repeat):  # interleaved, so a change of load hits every contender alike
            c0, t0 = time.process_time(), time.perf_counter()
            ref = numpy_loop(o, c)
            rows["numpy"].append((time.perf_counter() - t0, time.process_time() - c0))
            wall, cpu, got_out = run_cli(None)
            if not rows["cashup"] or wall < min(rows["cashup"])[0]:
                out = got_out  # the JSON of the fastest run, whose figures are printed
            rows["cashup"].append((wall, cpu))
            if a.before:
                wall, cpu, _ = run_cli(Path(a.before).resolve())
                rows["before"].append((wall, cpu))
        (t_np, c_np), (t_cli, c_cli) = min(rows["numpy"]), min(rows["cashup"])
        print(f"  numpy loop (serial, 1 core)     {t_np:7.2f} s wall {c_np:7.2f} s CPU   "
              f"{t_np / len(PAIRS) * 1e3:6.1f} ms per pair")
        got = {(r["params"]["fast"], r["params"]["slow"]): r["metrics"]["final_equity"] for r in out["results"]}
        worst = max(abs(got[k] / ref[k] - 1.0) for k in ref) if set(got) == set(ref) else float("inf")
        ok = worst <= 1e-9
        print(f"  cashup optimize (command)       {t_cli:7.2f} s wall {c_cli:7.2f} s CPU   wall ratio "
              f"{t_cli / t_np:.2f}x of the numpy loop (target <= 0.5x) {'OK' if t_cli <= 0.5 * t_np else 'ABOVE TARGET'}"
              f"; CPU ratio {c_cli / c_np:.2f}x; {out['evaluated']} trials on {out['workers']} process(es), "
              f"{out['seconds']:.2f} s of it sweeping")
        print(f"    final equity of every pair vs the numpy loop: max rel. diff {worst:.1e} (<= 1e-9) "
              f"{'OK' if ok else 'FAIL'}")
        t_again, _, again = run_cli(None, out["_db"])
        print(f"    the same command again        {t_again:7.2f} s wall   ({again['evaluated']} trials run, "
              f"{again['resumed']} resumed from the store)")
        ok = ok and again["evaluated"] == 0
        if a.before:
            t_before, c_before = min(rows["before"])
            print(f"  before ({a.before})  {t_before:7.2f} s wall {c_before:7.2f} s CPU   wall ratio "
                  f"{t_before / t_np:.2f}x of the numpy loop, CPU ratio {c_before / c_np:.2f}x; now "
                  f"{t_before / t_cli:.1f}x faster (wall), {c_before / c_cli:.1f}x less CPU")

    if a.no_vbt:
        print("  vectorbt: skipped (--no-vbt)")
    else:
        try:
            import pandas as pd
            import vectorbt as vbt
        except ImportError as exc:
            vbt = None
            print(f"  vectorbt: skipped (not importable: {exc})")
        if vbt is not None:
            idx = pd.date_range("2020-09-13", periods=n, freq="1min")
            close = pd.Series(c, index=idx)
            vbt_sweep(vbt, close.iloc[:2000], a.vbt_chunk)  # JIT compile outside the timing
            c0 = time.process_time()
            t_vbt, cols = best(lambda: vbt_sweep(vbt, close, a.vbt_chunk), 1)
            c_vbt = time.process_time() - c0
            print(f"  vectorbt {vbt.__version__} broadcasting    {t_vbt:7.2f} s wall {c_vbt:7.2f} s CPU   ratio {t_vbt / t_np:.2f}x of the "
                  f"numpy loop ({cols} columns in chunks of {a.vbt_chunk}, in-process, bars in memory)")
            print(f"    cashup optimize vs vectorbt: {t_cli / t_vbt:.2f}x its wall time, {c_cli / c_vbt:.2f}x its CPU "
                  f"{'(ahead)' if t_cli < t_vbt else '(BEHIND)'}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
