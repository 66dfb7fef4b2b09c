"""Sleeves: one single-symbol strategy run on several symbols, each with a fixed share of the cash.

The cash is split once (`equal`, or `weights:SYM=W,...` summing to 1) and never rebalanced, so each
sleeve is exactly the one-symbol run with its share of the cash, on either engine; the whole is their
sum. Nothing here changes how a sleeve trades: it aligns the inputs and adds the results up.

Time grids (`align`):
* None (default): every symbol must have the same bar open times; the first one that differs is an error.
* "inner": every symbol is cut to the open times all of them have (a time one symbol lacks is dropped
  from all; if that leaves a gap inside a symbol's bars it is refused unless gaps are allowed).
* "outer": each symbol runs on its own bars; the whole is reported on the union of the times, a sleeve
  counting its cash before its first bar and its last equity at a time it has no bar.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cashup_tui.domain.errors import DataError, ValidationError
from cashup_tui.engine.backtest.data import _fmt, check_bars
from cashup_tui.engine.backtest.metrics import compute
from cashup_tui.engine.backtest.model import TRADE_DTYPE, Result
from cashup_tui.engine.strategy import Bars

ALIGN_MODES = ("inner", "outer")
WEIGHT_TOLERANCE = 1e-9
SYMBOL_RE = re.compile(r"^[A-Z0-9]+_[A-Z0-9]+$")


def parse_allocation(spec: str | None, symbols: list[str]) -> dict[str, float]:
    """`equal` (default) or `weights:SYM=W,...`: one weight per symbol with data, summing to 1."""
    raw = (spec or "equal").strip()
    hint = "use --allocation equal, or weights:BTC_USDT=0.6,ETH_USDT=0.4 (one weight per symbol, summing to 1)"
    if raw.lower() == "equal":
        return {s: 1.0 / len(symbols) for s in symbols}
    kind, _, rest = raw.partition(":")
    if kind.lower() != "weights" or not rest.strip():
        raise ValidationError(f"bad --allocation {spec!r}", hint=hint)
    weights: dict[str, float] = {}
    for part in rest.split(","):
        sym, eq, val = part.strip().partition("=")
        sym = sym.strip().upper()
        try:
            w = float(val)
        except ValueError:
            w = math.nan
        if not eq or not sym or not math.isfinite(w) or w <= 0:
            raise ValidationError(f"--allocation: bad weight {part.strip()!r} (a positive number per symbol)", hint=hint)
        if sym in weights:
            raise ValidationError(f"--allocation: {sym} has two weights", hint=hint)
        if sym not in symbols:
            raise ValidationError(f"--allocation: {sym} has a weight but no data",
                                  hint=f"the symbols with data: {', '.join(symbols)}; give it data or drop its weight")
        weights[sym] = w
    for sym in symbols:
        if sym not in weights:
            raise ValidationError(f"--allocation: {sym} has data but no weight", hint=hint)
    total = math.fsum(weights.values())
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise ValidationError(
            f"--allocation: the weights sum to {total:.12g}, not 1 ("
            + ", ".join(f"{s}={w:g}" for s, w in weights.items()) + ")", hint=hint)
    return {s: weights[s] for s in symbols}


def align(bars: dict[str, Bars], mode: str | None, *, allow_gaps: bool = False) -> dict[str, Bars]:
    """The bars each sleeve runs on, by the module's alignment rule; a clear error naming the symbol."""
    if mode is not None and mode not in ALIGN_MODES:
        raise ValidationError(f"bad --align {mode!r}", hint="use --align inner or --align outer")
    syms = list(bars)
    if mode == "outer" or len(syms) < 2:
        return bars
    ref_sym, ref = syms[0], bars[syms[0]].time_ms
    if mode is None:
        for sym in syms[1:]:
            t = bars[sym].time_ms
            if t.size == ref.size and np.array_equal(t, ref):
                continue
            raise DataError(f"{sym}: its bars are not on {ref_sym}'s time grid ({_grid_diff(ref, t)})",
                            hint="give data covering the same bars, or pass --align inner (only the times every "
                                 "symbol has) or --align outer (each on its own bars, summed on all times)")
        return bars
    common = ref
    for sym in syms[1:]:
        common = np.intersect1d(common, bars[sym].time_ms, assume_unique=True)
        if common.size == 0:
            raise DataError(f"--align inner: {sym} shares no bar time with {', '.join(syms[:syms.index(sym)])}",
                            hint="the symbols' data must overlap in time and sit on the same bar boundaries")
    out: dict[str, Bars] = {}
    for sym, b in bars.items():
        keep = np.isin(b.time_ms, common, assume_unique=True)
        cut = Bars(**{c: getattr(b, c)[keep] for c in Bars.COLUMNS}, symbol=b.symbol, timeframe=b.timeframe)
        out[sym] = check_bars(cut, source=f"{sym} (--align inner)", allow_gaps=allow_gaps)
    return out


def _grid_diff(ref: np.ndarray, t: np.ndarray) -> str:
    if t.size and ref.size and (t[0] != ref[0] or t[-1] != ref[-1]):
        return f"{_fmt(int(t[0]))} .. {_fmt(int(t[-1]))} vs {_fmt(int(ref[0]))} .. {_fmt(int(ref[-1]))}"
    n = min(t.size, ref.size)
    i = int(np.flatnonzero(t[:n] != ref[:n])[0]) if (t[:n] != ref[:n]).any() else n
    return f"{t.size} bars vs {ref.size}, first different at {_fmt(int((t if i < t.size else ref)[i]))}"


@dataclass
class Sleeves:
    """The sleeves' own results and the whole (equity = their sum on the union of times)."""

    whole: Result
    sleeves: dict[str, Result]
    weights: dict[str, float]

    def rows(self) -> list[dict[str, Any]]:
        """Per symbol: weight, cash, final equity, return, contribution to the whole's return (they sum to it),
        trades, exposure (bars with a position), turnover (traded notional / the sleeve's cash)."""
        total_cash = self.whole.config.cash
        out = []
        for sym, r in self.sleeves.items():
            m = compute(r)
            cash = r.config.cash
            out.append({
                "symbol": sym, "weight": self.weights[sym], "cash": cash, "final_equity": m["final_equity"],
                "total_return": m["total_return"], "contribution": (m["final_equity"] - cash) / total_cash,
                "trade_count": m["trade_count"], "exposure": m["exposure"], "turnover": _notional(r) / cash,
                "fees": m["fees"], "max_drawdown": m["max_drawdown"], "sharpe": m["sharpe"],
            })
        return out

    def turnover(self) -> float:
        return sum(_notional(r) for r in self.sleeves.values()) / self.whole.config.cash

    def correlation(self) -> dict[str, dict[str, float | None]]:
        """Pearson correlation of the sleeves' bar returns on the whole's times (None: a flat sleeve)."""
        rets = {}
        for sym, r in self.sleeves.items():
            eq = np.r_[r.config.cash, _on_grid(r, self.whole.time_ms)[0]]
            rets[sym] = np.diff(eq) / eq[:-1]
        return correlation(rets)

    def report_rows(self) -> list[dict[str, Any]]:
        """The per-symbol rows of the HTML report (`report.SYMBOL_COLUMNS`, as a portfolio gives them)."""
        final = float(self.whole.equity[-1]) if self.whole.equity.size else 0.0
        return [{"symbol": r["symbol"], "pnl": r["final_equity"] - r["cash"], "contribution": r["contribution"],
                 "exposure": r["exposure"], "turnover": r["turnover"], "fees": r["fees"],
                 "final_weight": r["final_equity"] / final if final > 0 else None} for r in self.rows()]


def correlation(returns: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
    """Pearson correlation of each pair of return series (NaN/inf bars left out; None: a flat series).
    Sleeves use their bar returns, a portfolio its symbols' close-to-close returns."""
    syms = list(returns)
    out: dict[str, dict[str, float | None]] = {s: {} for s in syms}
    for a in syms:
        for b in syms:
            x, y = returns[a], returns[b]
            ok = np.isfinite(x) & np.isfinite(y)
            sx, sy = np.std(x[ok]), np.std(y[ok])
            out[a][b] = (float(np.corrcoef(x[ok], y[ok])[0, 1]) if ok.sum() > 1 and sx > 0 and sy > 0 else None)
    return out


def _notional(r: Result) -> float:
    tr = r.trades
    if tr.size == 0:
        return 0.0
    closed = tr["reason"] != "end"
    return float(np.sum(tr["qty"] * tr["entry_price"]) + np.sum((tr["qty"] * tr["exit_price"])[closed]))


def _on_grid(r: Result, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sleeve's close equity and side on `grid`: its cash before its first bar, carried forward after."""
    i = np.searchsorted(r.time_ms, grid, side="right") - 1
    have = i >= 0
    j = np.maximum(i, 0)
    eq = np.where(have, r.equity[j], r.config.cash)
    exact = have & (r.time_ms[j] == grid)
    pos = np.where(exact, r.position[j], 0).astype(np.int8)
    return eq, pos


def combine(results: dict[str, Result], weights: dict[str, float], cash: float) -> Sleeves:
    """The whole: equity summed on the union of the sleeves' times, trades of every sleeve (indices on that
    grid, by entry time), position 1 on bars where any sleeve holds one (the whole's exposure)."""
    first = next(iter(results.values()))
    grid = first.time_ms
    for r in list(results.values())[1:]:
        if not np.array_equal(r.time_ms, grid):
            grid = np.union1d(grid, r.time_ms)
    equity = np.zeros(grid.size)
    held = np.zeros(grid.size, dtype=bool)
    trades = []
    for r in results.values():
        eq, pos = _on_grid(r, grid)
        equity += eq
        held |= pos != 0
        tr = r.trades.copy()
        if tr.size:
            tr["entry_idx"] = np.searchsorted(grid, r.time_ms[tr["entry_idx"]])
            tr["exit_idx"] = np.searchsorted(grid, r.time_ms[np.minimum(tr["exit_idx"], r.time_ms.size - 1)])
        trades.append(tr)
    allt = np.concatenate(trades) if trades else np.zeros(0, dtype=TRADE_DTYPE)
    allt = allt[np.argsort(allt["entry_idx"], kind="stable")]
    syms = list(results)
    whole = Result(
        strategy=first.strategy, params=first.params, config=replace(first.config, cash=cash), time_ms=grid,
        close=np.full(grid.size, np.nan), equity=equity, position=held.astype(np.int8), trades=allt,
        engine=first.engine, timeframe_ms=first.timeframe_ms, symbol="+".join(syms), timeframe=first.timeframe,
        rejected=sum(r.rejected for r in results.values()),
        notes=[f"{s}: {n}" for s, r in results.items() for n in r.notes][:10],
    )
    return Sleeves(whole, results, weights)


def whole_fingerprint(fingerprints: dict[str, str], weights: dict[str, float], align_mode: str | None) -> str:
    """The sleeves' own fingerprints (data, strategy, settings, engine) with the split and the alignment."""
    h = hashlib.sha256()
    for sym in fingerprints:
        h.update(f"{sym}:{fingerprints[sym]}:{weights[sym]!r};".encode())
    h.update(f"align:{align_mode}".encode())
    return h.hexdigest()[:24]
