"""The fast engine's `simulate` for sweep trials, with fewer passes over the bars.

A sweep trial on many bars spends most of its time in per-bar passes that `simulate` makes for
generality (funding, stops, liquidation). In the common case of a sweep (proportional sizing, no
stops, no contract rounding, no funding) and when no bar can bust the account (leverage <= 1,
long only, equity stays positive), the trades come from the engine's own vectorised trade
builder (`fast._trades_vectorised`, so they are the engine's trades), and only the per-bar
carry-forward of the signals and the equity curve are built here, segment by segment with
`np.repeat` instead of per-bar gathers. Anything else, or any doubt, runs `simulate` itself.
Tests check the two give the same trades, equity and metrics.

A sweep only needs a trial's summary metrics, not its curve: `trial_summary` computes them on
the lean path from the curve without its flat stretches (between trades the equity does not
move, so those bars add returns of exactly 0 and never a new peak), with `metrics.compute`'s
definitions and bar counts; a test holds it to `compute` on every pair of a grid.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from cashup_tui.engine.backtest import fast
from cashup_tui.engine.backtest.metrics import MS_PER_YEAR, cagr, compute
from cashup_tui.engine.backtest.model import Result, RunConfig
from cashup_tui.engine.strategy import Bars


def lean_ok(cfg: RunConfig, stop: float | None, take: float | None) -> bool:
    """Whether `trial_simulate` may take the lean path for this configuration."""
    return (cfg.sizer.proportional and stop is None and take is None and cfg.instrument is None
            and cfg.funding is None and cfg.leverage <= 1 and not cfg.allow_short)


def carry(signals: np.ndarray, allow_short: bool) -> np.ndarray:
    """`fast.desired_positions` from the signal events only (one pass to find them, one to fill)."""
    n = signals.size
    ev = np.flatnonzero(~np.isnan(signals))
    vals = np.sign(signals[ev])
    if not allow_short:
        vals[vals < 0] = 0.0
    starts = np.concatenate(([0], ev))
    lengths = np.diff(np.concatenate((starts, [n])))
    return np.repeat(np.concatenate(([0.0], vals)), lengths)


def changes(signals: np.ndarray, allow_short: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries (with their side) and exits `fast._trades_vectorised` finds, from the signal
    events alone: the carried target changes only at an event, the held side one bar later (a
    change on the last bar is never executed)."""
    n = signals.size
    ev = np.flatnonzero(~np.isnan(signals))
    vals = np.sign(signals[ev])
    if not allow_short:
        vals[vals < 0] = 0.0
    prev = np.empty_like(vals)
    prev[:1] = 0.0
    prev[1:] = vals[:-1]
    ch = (vals != prev) & (ev < n - 1)
    at, new, old = ev[ch] + 1, vals[ch], prev[ch]
    entering = new != 0
    return at[entering], at[old != 0], new[entering]


def trial_simulate(bars: Bars, signals: np.ndarray, cfg: RunConfig, *, stop: float | None = None,
                   take: float | None = None, timeframe_ms: int) -> Result:
    """What `fast.simulate(bars, signals, cfg, stop=, take=)` returns, sooner when it can."""
    n = len(bars)
    if n < 2 or not lean_ok(cfg, stop, take):
        return fast.simulate(bars, signals, cfg, stop=stop, take=take, timeframe_ms=timeframe_ms)
    desired = carry(np.asarray(signals, dtype=np.float64), cfg.allow_short)
    fcum = np.zeros(n + 1)
    tr = fast._trades_vectorised(bars, desired, cfg, fcum)
    curve = _equity_long(bars, cfg, tr)
    if curve is None:  # a bust is possible: the engine's own equity pass (with liquidation)
        equity, position, tr = fast._equity(bars, cfg, tr, fcum)
    else:
        equity, position = curve
    return Result(strategy="", params={}, config=cfg, time_ms=bars.time_ms, close=bars.close, equity=equity,
                  position=position, trades=tr, engine="fast", timeframe_ms=timeframe_ms, symbol=bars.symbol,
                  timeframe=bars.timeframe)


class _Spans(NamedTuple):
    """A lean trial's equity by spans of bars: `spans` counts the bars of [0, s0), [s0, held0),
    [held0, s1), ..., [held_last, n) (even spans flat, odd spans held); while trade k is held the
    equity is a[k] + b[k] * close (the coefficients of `fast._equity_once`), then e_after[k]."""

    spans: np.ndarray
    a: np.ndarray
    b: np.ndarray
    e_after: np.ndarray


def _spans(cfg: RunConfig, tr: np.ndarray, n: int) -> _Spans | None:
    """The spans of a non-empty trade table; None if they overlap (not the lean case)."""
    s = tr["entry_idx"].astype(np.int64)
    held = fast._held_end(tr, n)
    side = tr["side"].astype(np.float64)
    units, p = tr["qty"], tr["entry_price"]
    e_after = tr["eq_after"]
    e_before = np.concatenate(([cfg.cash], e_after[:-1]))
    b = side * units
    a = e_before - units * p * cfg.fee - b * p  # the engine adds b * cumulative funding at entry: zero here
    bounds = np.empty(2 * tr.size + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, n
    bounds[1:-1:2] = s
    bounds[2:-1:2] = held
    spans = np.diff(bounds)
    if (spans < 0).any():
        return None
    return _Spans(spans, a, b, e_after)


def _equity_long(bars: Bars, cfg: RunConfig, tr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Equity at every close and the side held per bar; None if the curve touches zero (the
    engine then liquidates)."""
    n = len(bars)
    if tr.size == 0:
        return np.full(n, cfg.cash), np.zeros(n, dtype=np.int8)
    sp = _spans(cfg, tr, n)
    if sp is None:
        return None
    k = tr.size
    seg_a = np.empty(2 * k + 1)
    seg_b = np.zeros(2 * k + 1)
    seg_a[0] = cfg.cash
    seg_a[1::2] = sp.a
    seg_b[1::2] = sp.b
    seg_a[2::2] = sp.e_after
    seg_side = np.zeros(2 * k + 1, dtype=np.int8)
    seg_side[1::2] = tr["side"]
    x = bars.close - 0.0  # the engine's close minus cumulative funding
    equity = np.repeat(seg_a, sp.spans) + np.repeat(seg_b, sp.spans) * x
    if not bool((equity > 0).all()):
        return None
    return equity, np.repeat(seg_side, sp.spans)


def trial_summary(bars: Bars, signals: np.ndarray, cfg: RunConfig, *, stop: float | None = None,
                  take: float | None = None, timeframe_ms: int) -> dict[str, Any]:
    """`metrics.compute(fast.simulate(...))` for a sweep: the summary keys at least, sooner when it can."""
    n = len(bars)
    if n >= 2 and lean_ok(cfg, stop, take):
        entries, exits, side = changes(np.asarray(signals, dtype=np.float64), cfg.allow_short)
        tr = fast.trade_table(bars, entries, exits, side, cfg, np.zeros(n + 1))
        m = _lean_summary(bars, cfg, tr, timeframe_ms)
        if m is not None:
            return m
    return compute(trial_simulate(bars, signals, cfg, stop=stop, take=take, timeframe_ms=timeframe_ms))


def _moving_curve(bars: Bars, cfg: RunConfig, tr: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The equity curve with the cash first and each flat stretch as one value (the curve of
    `_equity_long` with repeats dropped), and the number of bars held; None if it touches zero."""
    if tr.size == 0:
        return np.array([cfg.cash]), 0
    sp = _spans(cfg, tr, len(bars))
    if sp is None:
        return None
    held = np.repeat(np.arange(sp.spans.size) % 2 == 1, sp.spans)
    lengths = sp.spans[1::2]
    values = bars.close[held]
    values *= np.repeat(sp.b, lengths)
    values += np.repeat(sp.a, lengths)
    flat = sp.spans[2::2] > 0  # a flat stretch after the trade: one value, e_after
    curve = np.insert(values, np.cumsum(lengths)[flat], sp.e_after[flat])
    curve = np.concatenate(([cfg.cash], curve))
    if not bool((curve > 0).all()):
        return None
    return curve, int(lengths.sum())


def max_drawdown(eq: np.ndarray, block: int = 256) -> float:
    """`max(1 - eq / np.maximum.accumulate(eq))` (as `metrics.compute`), the running peak taken
    element by element only in the blocks of `block` values that make a new high: elsewhere the
    peak is the one before the block and the block's low gives its deepest fall."""
    m = eq.size // block * block
    if m == 0:
        return float(np.max(1.0 - eq / np.maximum.accumulate(eq)))
    rows = eq[:m].reshape(-1, block)
    hi, lo = rows.max(axis=1), rows.min(axis=1)
    before = np.empty_like(hi)  # the peak before each block
    before[0] = -np.inf
    np.maximum.accumulate(hi[:-1], out=before[1:])
    new = hi > before
    worst = float(np.max(1.0 - lo[~new] / before[~new])) if not new.all() else 0.0
    peaks = np.maximum.accumulate(np.maximum(rows[new], before[new, None]), axis=1)
    worst = max(worst, float(np.max(1.0 - rows[new] / peaks)))
    if m < eq.size:
        tail = eq[m:]
        peak = np.maximum.accumulate(np.maximum(tail, max(float(hi.max()), float(before[-1]))))
        worst = max(worst, float(np.max(1.0 - tail / peak)))
    return worst


def _lean_summary(bars: Bars, cfg: RunConfig, tr: np.ndarray, timeframe_ms: int) -> dict[str, Any] | None:
    got = _moving_curve(bars, cfg, tr)
    if got is None:
        return None
    eq, held = got
    n, cash = len(bars), cfg.cash
    final = float(eq[-1])
    tf = timeframe_ms or 60_000
    total = final / cash - 1.0
    annual = cagr(final, cash, int(bars.time_ms[-1]) - int(bars.time_ms[0]) + tf)
    r = np.diff(eq) / eq[:-1]  # every other bar's return is exactly 0 (n returns in all)
    mean = float(r.sum()) / n
    dev = r - mean
    var = (float(np.square(dev, out=dev).sum()) + (n - r.size) * mean * mean) / (n - 1)
    sd = math.sqrt(var)
    bpy = MS_PER_YEAR / tf
    sharpe = mean / sd * math.sqrt(bpy) if sd > 0 else None
    down = np.minimum(r, 0.0, out=dev)
    dd = math.sqrt(float(np.square(down, out=down).sum()) / n)
    sortino = mean / dd * math.sqrt(bpy) if dd > 0 else None
    max_dd = max_drawdown(eq)
    pnl = tr["pnl"]
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_loss = float(-losses.sum())

    def num(x: float | None) -> float | None:
        return float(x) if x is not None and math.isfinite(x) else None

    return {
        "total_return": total, "cagr": annual, "sharpe": num(sharpe), "sortino": num(sortino),
        "calmar": num(annual / max_dd) if (annual is not None and max_dd > 0) else None, "max_drawdown": max_dd,
        "win_rate": (wins.size / pnl.size) if pnl.size else None,
        "profit_factor": (float(wins.sum()) / gross_loss) if gross_loss > 0 else None,
        "exposure": held / n, "trade_count": int(pnl.size), "final_equity": final, "fees": float(tr["fees"].sum()),
    }
