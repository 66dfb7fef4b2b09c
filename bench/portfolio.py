"""Portfolio benchmark: `python bench/portfolio.py [--symbols 10] [--bars 8766] [--repeat R]`.

xsec_momentum (lookback 24, top 3 long / 3 short, rebalance every 24 bars; then every bar as a stress
case) on a synthetic panel of 10 symbols x 8,766 1h bars (one year, 87,660 symbol-bars):
1. the fast engine (strategy weights + execution) vs a pandas reference of the same rules written here
   (pandas rank for the weights, a pandas loop over the rebalances for the account); target < 0.5 s;
2. the event engine's symbol-bars/s (target >= 300k), wall and per CPU second (the machine is shared).
All three give the same equity (1e-9 relative, checked). Best of R repetitions (the reference's
every-bar case runs once: it takes seconds), measured in this run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

H = 3_600_000


def synthetic(n: int, k: int, seed: int = 7):
    from cashup_tui.engine.panel import Panel

    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.008, (n, k)), axis=0))
    o = np.vstack([c[:1], c[:-1]]) * (1 + rng.normal(0, 0.001, (n, k)))
    t = 1_700_000_000_000 - 1_700_000_000_000 % H + np.arange(n, dtype=np.int64) * H
    return Panel(t, tuple(f"S{j:02d}_USDT" for j in range(k)), o, np.maximum(o, c) * 1.001,
                 np.minimum(o, c) * 0.999, c, np.ones((n, k)), "1h", H)


def pandas_reference(panel, lookback: int, top: int, every: int, fee: float, cash: float) -> np.ndarray:
    """xsec_momentum long/short + the portfolio execution model, in pandas: equity at every close."""
    close = pd.DataFrame(panel.close, columns=list(panel.symbols))
    opens = pd.DataFrame(panel.open, columns=list(panel.symbols))
    ret = close / close.shift(lookback) - 1.0
    rank = ret.rank(axis=1, ascending=False, method="first")
    k = len(panel.symbols)
    w = ((rank <= top).astype(float) - (rank > k - top).astype(float)) * (0.5 / top)
    decide = range(lookback, len(panel) - 1, every)
    units = pd.Series(0.0, index=close.columns)
    acct = cash
    unit_rows = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    cash_rows = pd.Series(np.nan, index=close.index)
    unit_rows.iloc[0], cash_rows.iloc[0] = 0.0, cash
    for t in decide:
        op = opens.iloc[t + 1]
        eq = acct + float((units * op).sum())
        target = w.iloc[t] * eq / op
        d = target - units
        trade = d.abs() * op >= 1e-9 * abs(eq)
        acct -= float((d * op + d.abs() * op * fee)[trade].sum())
        units = units.where(~trade, target)
        unit_rows.iloc[t + 1], cash_rows.iloc[t + 1] = units, acct
    unit_rows, cash_rows = unit_rows.ffill(), cash_rows.ffill()
    return (cash_rows + (unit_rows * close).sum(axis=1)).to_numpy()


def best(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall and CPU seconds of `repeat` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--bars", type=int, default=8766)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from cashup_tui.engine.backtest.model import RunConfig
    from cashup_tui.engine.backtest.panel_event import run_panel_event
    from cashup_tui.engine.backtest.panel_fast import run_panel_fast
    from cashup_tui.engine.strategy import load_strategy

    panel = synthetic(a.bars, a.symbols)
    cells = a.bars * a.symbols
    cfg = RunConfig(allow_short=True, fee_bps=5.0)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min); "
          f"{a.symbols} symbols x {a.bars:,} bars = {cells:,} symbol-bars; best of {a.repeat}")
    ok = True
    for every in (24, 1):
        strat = load_strategy("xsec_momentum")(lookback=24, top=3, short=True, rebalance_every=every)
        fw, _, fast = best(lambda s=strat: run_panel_fast(s, panel, cfg), a.repeat)
        reps = a.repeat if every > 1 else 1  # the reference's bar-by-bar case takes seconds: once
        pw, _, ref = best(lambda e=every: pandas_reference(panel, 24, 3, e, cfg.fee, cfg.cash), reps)
        ew, ec, event = best(lambda s=strat: run_panel_event(s, panel, cfg), a.repeat)
        same = bool(np.allclose(fast.equity, ref, rtol=1e-9, atol=0)
                    and np.allclose(fast.equity, event.equity, rtol=1e-9, atol=0))
        ok &= same
        print(f"rebalance every {every:>2} bar(s), {fast.fills.size:,} fills; same equity: {same}")
        print(f"  fast engine    {fw * 1000:8.1f} ms   (target < 500 ms)   pandas reference {pw * 1000:8.1f} ms "
              f"= {pw / fw:5.1f}x the fast engine's time")
        print(f"  event engine   {ew * 1000:8.1f} ms   {cells / ew / 1e3:,.0f}k symbol-bars/s wall, "
              f"{cells / max(ec, 1e-9) / 1e3:,.0f}k per CPU second (target >= 300k)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
