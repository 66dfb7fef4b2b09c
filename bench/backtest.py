"""Backtest benchmark: `python bench/backtest.py [--bars N] [--repeat R] [--no-cold]`.

1. sma_cross 10/30 on N (1,000,000) synthetic 1-minute bars: the fast engine vs a plain numpy
   reference of the same rules written here (targets: >= 0.67x the reference, >= 10M bars/s;
   same trades; equity equal within 1e-9 relative).
2. The event engine on the same bars, one run (target >= 300k bars/s; same trades, equity within 1e-9;
   wall and per-CPU-second figures: the machine is shared).
3. Cold `cashup backtest run sma_cross --data FILE --json` on the same bars written to a CSV, vs
   a minimal numpy script that reads the CSV and computes the same backtest (target <= 2x). The run is
   recorded in a SQLite store that an earlier run created, without the store (`--no-store`), the first
   run into a new store file (it also creates the schema) and the bench's very first cashup process
   (its module files may be cold in the OS cache), each printed separately.
Figures are measured in this run on this machine; best of R repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FEE = 5e-4
CASH = 10_000.0


def synthetic(n: int, seed: int = 42):
    rng = np.random.default_rng(seed)
    t = 1_600_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    c = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    o = np.r_[30_000.0, c[:-1]]
    wick = np.abs(rng.normal(0, 0.0004, (2, n)))
    h = np.maximum(o, c) * (1 + wick[0])
    lo = np.minimum(o, c) * (1 - wick[1])
    v = rng.integers(1, 100_000, n).astype(np.float64)
    return t, np.round(o, 1), np.round(h, 1), np.round(lo, 1), np.round(c, 1), v


REFERENCE_SRC = r'''
def reference(o, c, fast=10, slow=30, fee=5e-4, cash=10_000.0):
    """sma_cross, all in, long only, signal at close -> fill at next open; plain numpy."""
    n = c.size
    f = np.full(n, np.nan); f[fast - 1:] = np.convolve(c, np.full(fast, 1.0 / fast), "valid")
    s = np.full(n, np.nan); s[slow - 1:] = np.convolve(c, np.full(slow, 1.0 / slow), "valid")
    with np.errstate(invalid="ignore"):
        up = np.r_[False, (f[1:] > s[1:]) & (f[:-1] <= s[:-1])]
        dn = np.r_[False, (f[1:] < s[1:]) & (f[:-1] >= s[:-1])]
    ev = np.flatnonzero(up | dn)
    target = np.zeros(n)
    if ev.size:
        k = np.searchsorted(ev, np.arange(n), side="right") - 1
        target = np.where(k >= 0, up[ev[np.maximum(k, 0)]].astype(float), 0.0)
    pos = np.r_[0.0, target[:-1]]
    entries = np.flatnonzero(np.diff(pos) > 0) + 1
    exits = np.flatnonzero(np.diff(pos) < 0) + 1
    closed = exits.size
    growth = o[exits] * (1 - fee) / (o[entries[:closed]] * (1 + fee))
    e_before = cash * np.r_[1.0, np.cumprod(growth)]
    tid = np.cumsum(np.isin(np.arange(n), entries)) - 1
    eq = np.full(n, cash)
    have = tid >= 0
    tt = np.maximum(tid, 0)
    ex_of = np.r_[exits, [n] * (entries.size - closed)]
    inside = have & (np.arange(n) < ex_of[tt])
    eq[have & ~inside] = e_before[tt[have & ~inside] + 1]
    eq[inside] = e_before[tt[inside]] / (o[entries[tt[inside]]] * (1 + fee)) * c[inside]
    return entries, exits, eq
'''
exec(REFERENCE_SRC)  # defines reference(); the same text is used by the minimal cold script


def best(fn, repeat: int) -> tuple[float, object]:
    out, t_best = None, float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--event-bars", type=int, default=1_000_000,
                    help="bars for the event engine timing (default: the whole benchmark; one run)")
    a = ap.parse_args()
    n = a.bars

    from cashup_tui.engine.backtest.fast import run_fast
    from cashup_tui.engine.backtest.model import RunConfig
    from cashup_tui.engine.strategy import Bars, load_strategy

    t, o, h, lo, c, v = synthetic(n)
    bars = Bars.from_arrays(t, o, h, lo, c, v, symbol="BTC_USDT", timeframe="1m")
    strat = load_strategy("sma_cross")(fast=10, slow=30)
    cfg = RunConfig(cash=CASH, fee_bps=FEE * 1e4)
    run_fast(strat, bars, cfg)  # warm caches (first numpy calls)

    t_ref, (entries, exits, eq_ref) = best(lambda: reference(o, c), a.repeat)  # noqa: F821
    t_eng, res = best(lambda: run_fast(strat, bars, cfg), a.repeat)
    same_trades = (res.trades["entry_idx"].tolist() == entries.tolist()
                   and res.trades["exit_idx"][: exits.size].tolist() == exits.tolist())
    rel = float(np.max(np.abs(res.equity - eq_ref) / np.abs(eq_ref)))
    print(f"fast engine   sma_cross 10/30 on {n:,} bars, {res.trades.size:,} trades")
    print(f"  reference   {t_ref * 1e3:8.1f} ms  {n / t_ref / 1e6:6.1f} M bars/s")
    print(f"  engine      {t_eng * 1e3:8.1f} ms  {n / t_eng / 1e6:6.1f} M bars/s")
    ratio = t_ref / t_eng
    print(f"  ratio       {ratio:.2f}x of the reference (target >= 0.67x)   "
          f"{'OK' if ratio >= 0.67 else 'BELOW TARGET'};  >= 10M bars/s: {'OK' if n / t_eng >= 10e6 else 'NO'}")
    print(f"  same trades {same_trades};  max equity rel. diff {rel:.1e} (target <= 1e-9) {'OK' if rel <= 1e-9 else 'FAIL'}")

    from cashup_tui.adapters.sim.execution import VenueExecution
    from cashup_tui.engine.backtest.event import run_event

    m = min(n, a.event_bars)  # every order: OrderManager -> RiskEngine -> VenueExecution -> Venue
    ev_bars = bars[:m] if m < n else bars
    c0, t0 = time.process_time(), time.perf_counter()
    ev = run_event(strat, ev_bars, cfg, VenueExecution.with_venue)
    t_ev, c_ev = time.perf_counter() - t0, time.process_time() - c0
    fast_m = res if m == n else run_fast(strat, ev_bars, cfg)
    ev_rel = float(np.max(np.abs(ev.equity - fast_m.equity) / np.abs(fast_m.equity)))
    ev_same = (ev.trades["entry_idx"].tolist() == fast_m.trades["entry_idx"].tolist()
               and ev.trades["exit_idx"].tolist() == fast_m.trades["exit_idx"].tolist())
    orders = int(np.count_nonzero(ev.trades["reason"] != "end")) + ev.trades.size
    print(f"event engine  sma_cross 10/30 on {m:,} bars, {ev.trades.size:,} trades ({orders:,} orders through the "
          f"order manager, risk gate and venue; {ev.rejected} refused)")
    print(f"  wall        {t_ev:8.2f} s   {m / t_ev / 1e3:8.1f} k bars/s (target >= 300k bars/s: "
          f"{'OK' if m / t_ev >= 300e3 else 'NO'})")
    print(f"  CPU         {c_ev:8.2f} s   {m / c_ev / 1e3:8.1f} k bars per CPU-second of this process "
          f"({'OK' if m / c_ev >= 300e3 else 'NO'});  {c_ev / max(orders, 1) * 1e6:.0f} us CPU per order incl. its bars")
    print(f"  same trades as fast: {ev_same};  max equity rel. diff {ev_rel:.1e} (target <= 1e-9) "
          f"{'OK' if ev_rel <= 1e-9 else 'FAIL'}")

    from cashup_tui.engine.strategy import Strategy

    class Hold(Strategy):  # one trade: what the bar loop alone costs (orders excluded)
        def signals(self, b: Bars) -> np.ndarray:
            return np.ones(len(b))

    c0 = time.process_time()
    run_event(Hold(), ev_bars, cfg, VenueExecution.with_venue)
    c_hold = time.process_time() - c0
    print(f"  bar loop    {c_hold:8.2f} s CPU  {m / c_hold / 1e3:8.1f} k bars per CPU-second holding one position "
          f"(orders cost the rest: {(c_ev - c_hold) / max(orders, 1) * 1e6:.0f} us CPU each)")

    if a.no_cold:
        return 0 if (same_trades and rel <= 1e-9) else 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "BTC_USDT_1m.csv"
        with path.open("w") as fh:
            fh.write("open_time_ms,open,high,low,close,volume\n")
            np.savetxt(fh, np.column_stack([t, o, h, lo, c, v]), fmt=["%d", "%.1f", "%.1f", "%.1f", "%.1f", "%d"],
                       delimiter=",")
        minimal = (
            "import json, numpy as np\n" + REFERENCE_SRC +
            f"\nd = np.loadtxt({str(path)!r}, delimiter=',', skiprows=1)\n"
            "en, ex, eq = reference(d[:, 1], d[:, 4])\n"
            "print(json.dumps({'trades': int(en.size), 'final_equity': float(eq[-1])}))\n"
        )
        env = {**os.environ, "CASHUP_DATA_DIR": str(Path(tmp) / "data"), "CASHUP_CONFIG_DIR": str(Path(tmp) / "cfg"),
               "CASHUP_LOG_DIR": str(Path(tmp) / "log")}
        env.pop("CASHUP_DB", None)
        env.pop("CASHUP_CONFIG", None)
        cli = [str(REPO / ".venv" / "bin" / "cashup"), "backtest", "run", "sma_cross", "--data", str(path),
               "--fee-bps", "5", "--json"]
        if not Path(cli[0]).exists():
            cli = [sys.executable, "-m", "cashup_tui", *cli[1:]]

        def run_cli(args: list[str] | None = None):
            p = subprocess.run(args or cli, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                raise SystemExit(f"cashup failed: {p.stderr}")
            return json.loads(p.stdout)

        def run_min():
            p = subprocess.run([sys.executable, "-c", minimal], capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"minimal script failed: {p.stderr}")
            return json.loads(p.stdout)

        reps = max(1, min(a.repeat, 3))
        t_min, out_min = best(run_min, reps)
        t0 = time.perf_counter()
        run_cli([*cli, "--no-store"])  # the first cashup process of this bench: its module files may be cold
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_cli()  # the first run that stores: it also creates the store file and its schema
        t_first = time.perf_counter() - t0
        t_cli, out_cli = best(run_cli, reps)
        cli.append("--no-store")
        t_ns, _ = best(run_cli, reps)
        agree = out_cli["trade_count"] == out_min["trades"] and abs(out_cli["final_equity"] / out_min["final_equity"] - 1) < 1e-9
        print(f"cold CLI run  {n:,} bars from CSV, --json, recorded in a SQLite store (a new one per bench run)")
        print(f"  minimal numpy script {t_min:6.2f} s")
        print(f"  cashup backtest run  {t_cli:6.2f} s   ratio {t_cli / t_min:.2f}x (target <= 2x) "
              f"{'OK' if t_cli <= 2 * t_min else 'ABOVE TARGET'};  same result: {agree}")
        print(f"  ... with --no-store  {t_ns:6.2f} s   ratio {t_ns / t_min:.2f}x (the store write: "
              f"{out_cli['trade_count']:,} trade rows with the stdlib sqlite3 driver)")
        print(f"  ... new store        {t_first:6.2f} s   ratio {t_first / t_min:.2f}x (the first run into a new database "
              "file: it also creates the schema)")
        print(f"  ... first process    {t_cold:6.2f} s   ratio {t_cold / t_min:.2f}x (the bench's first cashup process, "
              "--no-store: its module files may still be cold in the OS cache)")
    return 0 if (same_trades and rel <= 1e-9) else 1


if __name__ == "__main__":
    raise SystemExit(main())
