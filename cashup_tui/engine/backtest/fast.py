"""The fast engine: the execution model of `cashup_tui.engine.backtest` in numpy.

Two paths give the same answer (tests compare them):

* fully vectorised when sizing is proportional to equity (all-in, percent), there are no
  stops and no contract rounding: trades come from the changes of the carried-forward target,
  and equity compounds with a cumulative product over trades;
* a loop over TRADES (never over bars) otherwise: stops are found with one numpy search per
  trade, sizes are computed trade by trade (ATR risk, fixed notional, whole contracts).

Per-bar equity is then built in one vectorised pass from the trade table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cashup_tui.domain.errors import DataError
from cashup_tui.engine.backtest.model import (
    ENGINE_VERSION,
    TRADE_DTYPE,
    UNIT_FLOOR_MATTERS,
    Result,
    RunConfig,
    floor_units,
    funding_rates,
    liquidation_prices,
    maintenance_rate,
    max_units,
    round_units,
)
from cashup_tui.engine.strategy import Bars, Strategy, run_signals

__all__ = ["ENGINE_VERSION", "desired_positions", "run_fast", "simulate"]


def desired_positions(signals: np.ndarray, allow_short: bool) -> np.ndarray:
    """Carry the last non-NaN signal forward (0 before the first); sign only; -1 -> 0 when long only."""
    s = np.sign(signals)
    if not allow_short:
        s[s < 0] = 0.0
    valid = ~np.isnan(s)
    idx = np.where(valid, np.arange(s.size, dtype=np.int32 if s.size < 2**31 else np.int64), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, s[np.maximum(idx, 0)], 0.0)
    return out


def _funding_per_bar(bars: Bars, cfg: RunConfig) -> np.ndarray | None:
    """close * summed funding rate of the settlements charged at each bar's close (see the model)."""
    if cfg.funding is None or cfg.funding.time_ms.size == 0 or len(bars) == 0:
        return None
    out: np.ndarray = bars.close * funding_rates(bars.time_ms, cfg.funding)
    return out


def run_fast(strategy: Strategy, bars: Bars, cfg: RunConfig) -> Result:
    """Signals from the strategy, then `simulate`."""
    cfg.check()
    if len(bars) < 2:
        raise DataError(f"only {len(bars)} bar(s): a backtest needs at least 2 (signal, then next open)")
    sig = run_signals(strategy, bars)
    stop, take = strategy.stops()
    res = simulate(bars, sig, cfg, stop=stop, take=take)
    res.strategy = strategy.label()
    res.params = dict(strategy.params)
    return res


def simulate(bars: Bars, signals: np.ndarray, cfg: RunConfig, *, stop: float | None = None,
             take: float | None = None, force_loop: bool = False, timeframe_ms: int | None = None) -> Result:
    """`timeframe_ms`: the bar step when the caller knows it (a sweep measures it once, not per trial)."""
    n = len(bars)
    desired = desired_positions(np.asarray(signals, dtype=np.float64), cfg.allow_short)
    fpx = _funding_per_bar(bars, cfg)
    fcum = np.zeros(n + 1)
    if fpx is not None:
        np.cumsum(fpx, out=fcum[1:])
    vector = cfg.sizer.proportional and stop is None and take is None and cfg.instrument is None and not force_loop
    if vector:
        tr = _trades_vectorised(bars, desired, cfg, fcum)
        if _any_liquidation(bars, cfg, tr):  # rare: the trade loop books it and carries on from there
            tr = _trades_loop(bars, signals, desired, cfg, fcum, stop, take)
    else:
        tr = _trades_loop(bars, signals, desired, cfg, fcum, stop, take)
    equity, position, tr = _equity(bars, cfg, tr, fcum)
    tf = timeframe_ms if timeframe_ms is not None else int(np.median(np.diff(bars.time_ms))) if n > 1 else 0
    return Result(strategy="", params={}, config=cfg, time_ms=bars.time_ms, close=bars.close, equity=equity,
                  position=position, trades=tr, engine="fast", timeframe_ms=tf, symbol=bars.symbol,
                  timeframe=bars.timeframe)


# ---------------------------------------------------------------------------------------------
def _trades_vectorised(bars: Bars, desired: np.ndarray, cfg: RunConfig, fcum: np.ndarray) -> np.ndarray:
    n = len(bars)
    pos = np.empty(n, dtype=np.int8)
    pos[0] = 0
    pos[1:] = desired[:-1]
    chg = np.flatnonzero(pos[1:] != pos[:-1]) + 1
    entries = chg[pos[chg] != 0]
    exits = chg[pos[chg - 1] != 0]
    return trade_table(bars, entries, exits, pos[entries].astype(np.float64), cfg, fcum)


def trade_table(bars: Bars, entries: np.ndarray, exits: np.ndarray, side: np.ndarray, cfg: RunConfig,
                fcum: np.ndarray) -> np.ndarray:
    """The vectorised trades, given the bars where the held side changes: `entries` (bars whose open
    enters, with their `side`) and `exits` (bars whose open closes a position, in order; an entry
    without one is still open at the end)."""
    n = len(bars)
    f, slip, lev = cfg.fee, cfg.slip, cfg.leverage
    frac = cfg.sizer.value / 100.0 if cfg.sizer.kind == "percent" else 1.0
    k = entries.size
    tr = np.zeros(k, dtype=TRADE_DTYPE)
    if k == 0:
        return tr
    end = np.full(k, n, dtype=np.int64)
    end[: exits.size] = exits
    o, c = bars.open, bars.close
    p = o[entries] * (1.0 + slip * side)
    is_end = end == n
    xp = np.where(is_end, c[-1], o[np.minimum(end, n - 1)] * (1.0 - slip * side))
    fund_u = side * (fcum[end] - fcum[entries])  # funding paid per unit held
    exit_fee_u = np.where(is_end, 0.0, xp * f)
    per_unit = side * (xp - p) - p * f - exit_fee_u - fund_u
    a = frac * max_units(1.0, p, lev, f)  # units per unit of equity
    growth = 1.0 + a * per_unit
    e_after = cfg.cash * np.cumprod(growth)
    e_before = np.empty(k)
    e_before[0] = cfg.cash
    e_before[1:] = e_after[:-1]
    units = a * e_before
    if units.size and units.min() < UNIT_FLOOR_MATTERS:  # equity decayed to dust: the venue's size step
        keep, units, e_after = _dust(cfg.cash, np.asarray(a), per_unit, units, e_after)
        if not keep.all():
            tr = tr[keep]
            entries, end, is_end, side, p, xp = entries[keep], end[keep], is_end[keep], side[keep], p[keep], xp[keep]
            exit_fee_u, fund_u, per_unit = exit_fee_u[keep], fund_u[keep], per_unit[keep]
    tr["eq_after"] = e_after
    tr["entry_idx"] = entries
    tr["exit_idx"] = np.where(is_end, n - 1, end)
    tr["side"] = side
    tr["entry_price"] = p
    tr["exit_price"] = xp
    tr["qty"] = units
    tr["fees"] = units * (p * f + exit_fee_u)
    tr["funding"] = units * fund_u
    tr["pnl"] = units * per_unit
    tr["reason"] = np.where(is_end, "end", "signal")
    return tr


def _dust(cash: float, a: np.ndarray, per_unit: np.ndarray, units: np.ndarray,
          e_after: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From the first trade whose size the step can change on: each sized as the venue does
    (`floor_units`: rounded down to the step, not placed below one step, its segment skipped).
    Returns which trades are placed, their units and the equity after each."""
    k0 = int(np.argmax(units < UNIT_FLOOR_MATTERS))
    keep = np.ones(units.size, dtype=bool)
    units, e_after = units.copy(), e_after.copy()
    eq = float(e_after[k0 - 1]) if k0 else cash
    for j, (aj, pj) in enumerate(zip(a[k0:].tolist(), per_unit[k0:].tolist(), strict=True), k0):
        q = aj * eq
        if q < UNIT_FLOOR_MATTERS:
            q = floor_units(q)
            if q <= 0.0:
                keep[j] = False
                continue
        eq += q * pj
        units[j], e_after[j] = q, eq
    return keep, units[keep], e_after[keep]


def _trades_loop(bars: Bars, signals: np.ndarray, desired: np.ndarray, cfg: RunConfig, fcum: np.ndarray,
                 stop: float | None, take: float | None) -> np.ndarray:
    """Trade by trade: sizes that depend on equity in non-linear ways, and intrabar stops."""
    n = len(bars)
    f, slip, lev = cfg.fee, cfg.slip, cfg.leverage
    mm = maintenance_rate(cfg.instrument)
    o, h, lo, c = bars.open, bars.high, bars.low, bars.close
    sizer = cfg.sizer
    atr_v = None
    if sizer.kind == "atr":
        from cashup_tui.engine.indicators import atr

        atr_v = atr(h, lo, c, sizer.atr_period)
    sig = np.sign(signals)
    if not cfg.allow_short:
        sig[sig < 0] = 0.0
    ev_idx = np.flatnonzero(~np.isnan(sig) & (sig != 0))  # non-zero signal events (re-entry after a stop)
    dchg = np.flatnonzero(desired[1:] != desired[:-1]) + 1
    rows: list[tuple[Any, ...]] = []
    equity = cfg.cash
    # t: the bar whose close asks for a position; the trade enters at t + 1
    t = 0 if desired[0] != 0 else (int(dchg[0]) if dchg.size else n)
    while t < n - 1 and equity > 0:
        side = desired[t]
        if side == 0:  # defensive: find the next non-zero target
            j = np.searchsorted(dchg, t, side="right")
            t = int(dchg[j]) if j < dchg.size else n
            continue
        s = t + 1
        j = np.searchsorted(dchg, t, side="right")
        nat = int(dchg[j]) if j < dchg.size else n  # bar whose close changes the target
        e = nat + 1 if nat < n else n  # natural exit at the open of e (n = still open at the end)
        if e > n - 1 and nat < n:
            e = n  # a change on the last bar is never executed
        p = o[s] * (1.0 + slip * side)
        cap = max_units(equity, p, lev, f)
        if sizer.kind == "all-in":
            units = cap
        elif sizer.kind == "percent":
            units = cap * sizer.value / 100.0
        elif sizer.kind == "notional":
            units = min(sizer.value * lev / p, cap)
        else:
            a = atr_v[t] if atr_v is not None else np.nan
            units = min(sizer.value / 100.0 * equity / (sizer.atr_mult * a), cap) if a == a and a > 0 else 0.0
        # the venue's size step: whole contracts, else fractional coins in steps of model.UNIT_STEP
        units = round_units(units, cfg.instrument) if cfg.instrument is not None else floor_units(units)
        if units <= 0:  # below one step or no ATR yet: the order is not placed, skip this segment
            t = _next_start(desired, dchg, nat, n)
            continue
        # intrabar stop / take-profit, pessimistic ordering; then the venue's liquidation (maintenance margin)
        reason, x, xp = ("end", n, c[-1]) if e == n else ("signal", e, o[e] * (1.0 - slip * side))
        liq = float(liquidation_prices(p, side, lev, mm)) or None
        if stop is not None or take is not None:
            last = min(e, n)  # bars [s, last) are held (the exit bar's open ends the trade)
            if side > 0:
                sp = p * (1.0 - stop) if stop else -np.inf
                tp = p * (1.0 + take) if take else np.inf
                hit_s = lo[s:last] <= sp
                hit_t = h[s:last] >= tp
            else:
                sp = p * (1.0 + stop) if stop else np.inf
                tp = p * (1.0 - take) if take else -np.inf
                hit_s = h[s:last] >= sp
                hit_t = lo[s:last] <= tp
            any_hit = hit_s | hit_t
            if any_hit.any():
                k = int(np.argmax(any_hit))
                x = s + k
                if hit_s[k]:  # the stop first, filled at the stop or worse (gap through it)
                    px = min(o[x], sp) if side > 0 else max(o[x], sp)
                    if x == s:
                        px = sp
                    reason, xp = "stop", px * (1.0 - slip * side)
                else:
                    px = max(o[x], tp) if side > 0 else min(o[x], tp)
                    if x == s:
                        px = tp
                    reason, xp = "take", px
        if liq is not None:
            reason, x, xp = _liquidation(h, lo, o, s, x, reason, xp, side, liq)
        held_end = x if reason in ("stop", "take", "liquid") else (n if reason == "end" else e)
        fund = side * units * (fcum[held_end] - fcum[s])
        fee_in = units * p * f
        fee_out = 0.0 if reason in ("end", "liquid") else units * xp * f
        pnl = side * units * (xp - p) - fee_in - fee_out - fund
        equity += pnl
        rows.append((s, n - 1 if reason == "end" else x, side, p, xp, units, pnl, fee_in + fee_out, fund, reason,
                     equity))
        if reason in ("stop", "take"):
            k2 = np.searchsorted(ev_idx, x, side="left")  # the next non-zero signal at/after the exit bar
            t = int(ev_idx[k2]) if k2 < ev_idx.size else n
        elif reason == "signal":
            t = nat if desired[nat] != 0 else _next_start(desired, dchg, nat, n)
        elif reason == "liquid":  # not blocked: the target of the liquidation bar's close still stands
            t = x if desired[x] != 0 else _next_start(desired, dchg, x, n)
        else:
            break
    tr = np.zeros(len(rows), dtype=TRADE_DTYPE)
    for i, r in enumerate(rows):
        tr[i] = r
    return tr


def _next_start(desired: np.ndarray, dchg: np.ndarray, after: int, n: int) -> int:
    """First bar > `after` whose close asks for a non-zero position."""
    j = np.searchsorted(dchg, after, side="right")
    while j < dchg.size:
        if desired[dchg[j]] != 0:
            return int(dchg[j])
        j += 1
    return n


def _liquidation(h: np.ndarray, lo: np.ndarray, o: np.ndarray, s: int, x: int, reason: str, xp: float,
                 side: float, liq: float) -> tuple[str, int, float]:
    """The venue liquidates at `liq` the first time the bar path reaches it: in a held bar (before the exit
    found so far), at the open of a signal exit, or on the way to a stop that lies beyond it."""
    last = x + 1 if reason in ("stop", "take") else min(x, h.size)  # bars whose path is walked
    hit = lo[s:last] <= liq if side > 0 else h[s:last] >= liq
    if hit.any():
        k = s + int(np.argmax(hit))
        if k < x or reason not in ("stop", "take") or (reason == "stop" and (xp <= liq if side > 0 else xp >= liq)):
            return "liquid", k, liq
        return reason, x, xp
    if reason == "signal" and (o[x] <= liq if side > 0 else o[x] >= liq):
        return "liquid", x, liq
    return reason, x, xp


# ---------------------------------------------------------------------------------------------
def _equity(bars: Bars, cfg: RunConfig, tr: np.ndarray, fcum: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equity at every close and the side held in every bar, from the trade table."""
    equity, position = _equity_once(bars, cfg, tr, fcum)
    return equity, position, tr


def _any_liquidation(bars: Bars, cfg: RunConfig, tr: np.ndarray) -> bool:
    """Whether the venue would liquidate any of these trades (their bars' paths, or a signal exit's open)."""
    if tr.size == 0 or not (cfg.leverage > 1 or bool((tr["side"] < 0).any())):
        return False
    n = len(bars)
    side = tr["side"].astype(np.float64)
    liq = liquidation_prices(tr["entry_price"], side, cfg.leverage, maintenance_rate(cfg.instrument))
    s, held = tr["entry_idx"], _held_end(tr, n)
    span = held - s
    tid = np.repeat(np.arange(tr.size), span)
    bar = np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span) + np.repeat(s, span)
    worst = np.where(side[tid] > 0, bars.low[bar], bars.high[bar])
    ex = tr["reason"] == "signal"
    xo = bars.open[tr["exit_idx"][ex]]
    return bool(np.any(side[tid] * (worst - liq[tid]) <= 0) or np.any(side[ex] * (xo - liq[ex]) <= 0))


def _held_end(tr: np.ndarray, n: int) -> np.ndarray:
    """Exclusive end of the bars held by each trade (intrabar exits do not hold their exit bar)."""
    x = tr["exit_idx"].astype(np.int64)
    return np.where(tr["reason"] == "end", n, x)


def _equity_once(bars: Bars, cfg: RunConfig, tr: np.ndarray, fcum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One pass: per-trade coefficients gathered per bar (equity = A + B * (close - cum funding))."""
    n = len(bars)
    if tr.size == 0:
        return np.full(n, cfg.cash), np.zeros(n, dtype=np.int8)
    s = tr["entry_idx"]
    held = _held_end(tr, n)
    side = tr["side"].astype(np.float64)
    units, p = tr["qty"], tr["entry_price"]
    e_after = tr["eq_after"]
    e_before = np.empty(tr.size)
    e_before[0] = cfg.cash
    e_before[1:] = e_after[:-1]
    base = e_before - units * p * cfg.fee
    b = side * units
    a = base - b * p + b * fcum[s]
    # trade id per bar (-1 before the first) and whether the bar is held: markers + cumulative sums
    mark = np.zeros(n + 1, dtype=np.int32)
    mark[s] += 1
    tid = np.cumsum(mark[:n]) - 1
    held_mark = np.zeros(n + 1, dtype=np.int8)
    held_mark[s] += 1
    np.subtract.at(held_mark, held, 1)
    in_tr = np.cumsum(held_mark[:n], dtype=np.int8).astype(bool)
    # index 0 = before any trade (cash), k + 1 = trade k
    a_ext = np.concatenate([[cfg.cash], a])
    b_ext = np.concatenate([[0.0], b])
    after_ext = np.concatenate([[cfg.cash], e_after])
    t1 = tid + 1
    x = bars.close - fcum[1:]
    equity = np.where(in_tr, a_ext[t1] + b_ext[t1] * x, after_ext[t1])
    side_ext = np.concatenate([[0], tr["side"]]).astype(np.int8)
    position = np.where(in_tr, side_ext[t1], np.int8(0)).astype(np.int8)
    return equity, position
