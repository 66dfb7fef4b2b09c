"""Performance metrics from a run's close-equity curve and trade table.

Definitions (returns are per bar, from the equity at consecutive closes, starting from the cash):
* total_return = final / cash - 1; cagr over the calendar span of the bars (365.25-day years), None
  ("n/a") when that span is under 30 days: a year extrapolated from hours or days is noise (a +2%
  day reads as +1,000%/yr), so no front end shows it; calmar follows it
* sharpe = mean / std (ddof 1) * sqrt(bars per year); sortino uses the downside deviation
  sqrt(mean(min(r, 0)^2)); risk-free rate 0
* max_drawdown: the largest fall from a running peak, as a positive fraction (0.25 = -25%)
* calmar = cagr / max_drawdown; profit_factor = gross profit / gross loss; win_rate over trades
* exposure: fraction of bars with a position
Ratios that are undefined (no trades, no losses, no variance) are None, never NaN/inf, so the
JSON output stays valid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cashup_tui.engine.backtest.model import Result

MS_PER_YEAR = 365.25 * 86_400_000
MIN_CAGR_SPAN_MS = 30 * 86_400_000  # shorter spans: CAGR (and so Calmar) is None, shown as n/a


def cagr(final: float, cash: float, span_ms: float) -> float | None:
    """Compound annual growth over `span_ms` of calendar time; None on spans under 30 days (the one rule
    for the CLI, the report, the optimiser and the workstation); -1 once the equity is gone."""
    if span_ms < MIN_CAGR_SPAN_MS:
        return None
    if final <= 0:
        return -1.0
    return _num((final / cash) ** (MS_PER_YEAR / span_ms) - 1.0)


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def compute(res: Result) -> dict[str, Any]:
    cash = res.config.cash
    eq = np.concatenate([[cash], res.equity])
    final = float(eq[-1])
    n = res.equity.size
    tf = res.timeframe_ms or 60_000
    span_ms = (int(res.time_ms[-1]) - int(res.time_ms[0]) + tf) if n else 0
    total = final / cash - 1.0
    annual = cagr(final, cash, span_ms)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(eq) / eq[:-1]
    r = r[np.isfinite(r)]
    bpy = MS_PER_YEAR / tf
    sharpe = sortino = None
    if r.size > 1:
        sd = float(np.std(r, ddof=1))
        mean = float(np.mean(r))
        if sd > 0:
            sharpe = mean / sd * math.sqrt(bpy)
        dd = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        if dd > 0:
            sortino = mean / dd * math.sqrt(bpy)
    peak = np.maximum.accumulate(eq)
    with np.errstate(divide="ignore", invalid="ignore"):
        draw = np.where(peak > 0, 1.0 - eq / peak, 0.0)
    max_dd = float(np.max(draw)) if draw.size else 0.0
    calmar = (annual / max_dd) if (annual is not None and max_dd > 0) else None
    pnl = res.trades["pnl"]
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_win, gross_loss = float(wins.sum()), float(-losses.sum())
    held = np.where(res.trades["reason"] == "end", n, res.trades["exit_idx"]) - res.trades["entry_idx"]
    return {
        "bars": int(n),
        "start": int(res.time_ms[0]) if n else None,
        "end": int(res.time_ms[-1]) if n else None,
        "trade_count": int(pnl.size),
        "final_equity": final,
        "total_return": total,
        "cagr": annual,
        "sharpe": _num(sharpe) if sharpe is not None else None,
        "sortino": _num(sortino) if sortino is not None else None,
        "calmar": _num(calmar) if calmar is not None else None,
        "max_drawdown": max_dd,
        "win_rate": (wins.size / pnl.size) if pnl.size else None,
        "profit_factor": (gross_win / gross_loss) if gross_loss > 0 else None,
        "exposure": float(np.count_nonzero(res.position)) / n if n else 0.0,
        "fees": float(res.trades["fees"].sum()),
        "funding": float(res.trades["funding"].sum()),
        "avg_trade": float(pnl.mean()) if pnl.size else None,
        "best_trade": float(pnl.max()) if pnl.size else None,
        "worst_trade": float(pnl.min()) if pnl.size else None,
        "avg_bars_held": float(held.mean()) if held.size else None,
    }


def drawdown_curve(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, equity / peak - 1.0, 0.0)


OBJECTIVES = {
    "sharpe": "sharpe", "sortino": "sortino", "calmar": "calmar", "return": "total_return",
    "cagr": "cagr", "profit_factor": "profit_factor", "win_rate": "win_rate", "drawdown": "max_drawdown",
    "final_equity": "final_equity",
}


def objective_value(metrics: dict[str, Any], objective: str) -> float:
    """Higher is better for every objective (drawdown is negated); undefined -> -inf."""
    key = OBJECTIVES[objective]
    v = metrics.get(key)
    if v is None:
        return -math.inf
    return -float(v) if objective == "drawdown" else float(v)
