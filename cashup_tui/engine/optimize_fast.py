"""The fast engine's `simulate` for sweep trials, with fewer passes over the bars.

A sweep trial on many bars spends most of its time in per-bar passes that `simulate` makes for
generality (funding, stops, liquidation). In the common case of a sweep (proportional sizing, no
stops, no contract rounding, no funding) and when no bar can bust the account (leverage <= 1,
long only, equity stays positive), the trades come from the engine's own vectorised trade
builder (`fast._trades_vectorised`, so they are the engine's trades), and only the per-bar
carry-forward of the signals and the equity curve are built here, segment by segment with
`np.repeat` instead of per-bar gathers. Anything else, or any doubt, runs `simulate` itself.
Tests check the two give the same trades, equity and metrics.
"""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.backtest import fast
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


def _equity_long(bars: Bars, cfg: RunConfig, tr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Equity at every close (A + B * close per segment, the coefficients of `fast._equity_once`)
    and the side held per bar; None if the curve touches zero (the engine then liquidates)."""
    n = len(bars)
    if tr.size == 0:
        return np.full(n, cfg.cash), np.zeros(n, dtype=np.int8)
    s = tr["entry_idx"].astype(np.int64)
    held = fast._held_end(tr, n)
    side = tr["side"].astype(np.float64)
    units, p = tr["qty"], tr["entry_price"]
    e_after = tr["eq_after"]
    e_before = np.concatenate(([cfg.cash], e_after[:-1]))
    base = e_before - units * p * cfg.fee
    b = side * units
    a = base - b * p + b * 0.0  # the engine adds b * cumulative funding at entry: zero here
    # segments: [0, s0) cash, then per trade k: [s_k, held_k) held, [held_k, s_{k+1}) flat after it
    k = tr.size
    bounds = np.empty(2 * k + 2, dtype=np.int64)
    bounds[0] = 0
    bounds[1 : 2 * k + 1 : 2] = s
    bounds[2 : 2 * k + 2 : 2] = held
    bounds[-1] = n
    lengths = np.diff(bounds)
    if (lengths < 0).any():
        return None
    seg_a = np.empty(2 * k + 1)
    seg_b = np.zeros(2 * k + 1)
    seg_a[0] = cfg.cash
    seg_a[1::2] = a
    seg_b[1::2] = b
    seg_a[2::2] = e_after
    seg_side = np.zeros(2 * k + 1, dtype=np.int8)
    seg_side[1::2] = tr["side"]
    x = bars.close - 0.0  # the engine's close minus cumulative funding
    equity = np.repeat(seg_a, lengths) + np.repeat(seg_b, lengths) * x
    if not bool((equity > 0).all()):
        return None
    return equity, np.repeat(seg_side, lengths)
