"""The fast portfolio engine: the model of `panel_model` with numpy, a loop over REBALANCES (never bars).

Each rebalance is a few vector operations over the symbols; the per-bar units, cash and equity are
then gathered in one pass (units are constant between rebalances).
"""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.backtest.panel_model import (
    DUST,
    FILL_DTYPE,
    PortfolioResult,
    executions,
    run_panel,
)
from cashup_tui.engine.panel import Panel, PortfolioStrategy

__all__ = ["run_panel_fast", "simulate_panel"]


def run_panel_fast(strategy: PortfolioStrategy, panel: Panel, cfg: RunConfig) -> PortfolioResult:
    """Weights from the strategy (on the panel with its higher timeframes), checked, then `simulate_panel`."""
    return run_panel(strategy, panel, cfg, simulate_panel)


def simulate_panel(panel: Panel, w: np.ndarray, mask: np.ndarray, cfg: RunConfig) -> PortfolioResult:
    n, k = panel.shape
    o, c = panel.open, panel.close
    f, slip = cfg.fee, cfg.slip
    ex = executions(mask)
    ops, rows = o[ex], w[ex - 1]
    units = np.zeros(k)
    cash = cfg.cash
    u_after = np.zeros((ex.size, k))
    c_after = np.zeros(ex.size)
    done = ex.size
    # funding per unit held through each bar's close (close x rate), summed: cum[t] = bars before t
    per_unit = c * panel.funding if panel.funding is not None else None
    cum = np.vstack([np.zeros((1, k)), np.cumsum(per_unit, axis=0)]) if per_unit is not None else None
    for i in range(ex.size):
        op = ops[i]
        if cum is not None and i:  # funding on the units held since the last rebalance, up to this open
            cash -= float(units @ (cum[ex[i]] - cum[ex[i - 1]]))
        eq = cash + float(units @ op)
        target = rows[i] * (eq / op) if eq > 0 else np.zeros(k)
        a = (target - units) * op  # signed notional at the open; the fill price adds the slippage
        aa = np.abs(a)
        trade = (aa > 0) & (aa >= DUST * abs(eq))
        if not trade.all():
            a, aa, target = np.where(trade, a, 0.0), np.where(trade, aa, 0.0), np.where(trade, target, units)
        sa, saa = float(a.sum()), float(aa.sum())
        cash -= sa + slip * saa + f * (saa + slip * sa)  # sum of qty x price + fee over the fills
        units = target
        u_after[i], c_after[i] = units, cash
        if eq <= 0:
            done = i + 1
            break
    ex, u_after, c_after = ex[:done], u_after[:done], c_after[:done]
    row = np.searchsorted(ex, np.arange(n), side="right") - 1  # the last rebalance at or before each bar
    have = row >= 0
    u_bar = np.where(have[:, None], u_after[np.maximum(row, 0)] if done else 0.0, 0.0)
    cash_bar = np.where(have, c_after[np.maximum(row, 0)] if done else 0.0, cfg.cash)
    paid = np.zeros(0)
    if cum is not None and per_unit is not None:  # funding since the bar's last rebalance, its own close included
        since = cum[1:] - (cum[ex[np.maximum(row, 0)]] if done else 0.0)
        cash_bar = cash_bar - np.einsum("ij,ij->i", u_bar, since)
        paid = np.einsum("ij,ij->j", u_bar, per_unit)
    equity = cash_bar + np.einsum("ij,ij->i", u_bar, c)
    return PortfolioResult(strategy="", params={}, config=cfg, symbols=panel.symbols, time_ms=panel.time_ms,
                           close=c, equity=equity, cash=cash_bar, units=u_bar, fills=_fills(ex, u_after, o, cfg),
                           engine="fast", timeframe=panel.timeframe, timeframe_ms=panel.timeframe_ms, funding=paid)


def _fills(ex: np.ndarray, u_after: np.ndarray, o: np.ndarray, cfg: RunConfig) -> np.ndarray:
    """The fills from the units before and after each rebalance (a symbol not traded keeps its units exactly)."""
    before = np.vstack([np.zeros((1, u_after.shape[1])), u_after[:-1]])
    d = u_after - before
    r, j = np.nonzero(d)
    qty = d[r, j]
    px = o[ex[r], j] * (1.0 + cfg.slip * np.sign(qty))
    out = np.zeros(r.size, dtype=FILL_DTYPE)
    out["bar"], out["symbol"], out["qty"], out["price"], out["fee"] = ex[r], j, qty, px, np.abs(qty) * px * cfg.fee
    return out
