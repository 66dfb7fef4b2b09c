"""The event portfolio engine: the model of `panel_model` one bar at a time, one order per symbol.

An independent implementation of the same rules (plain Python floats, bar by bar: open -> pending
rebalance orders fill -> close -> mark -> decision), so a test can hold the fast engine to it. The
strategy's weights are computed once over the panel (as the single-symbol event engine does with
signals); orders are filled by this account, not by the order manager and simulated venue (the live
portfolio slot, `engine/portfolio_slot.py`, trades the same weights through them).
"""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.backtest.panel_model import DUST, FILL_DTYPE, PortfolioResult, run_panel
from cashup_tui.engine.panel import Panel, PortfolioStrategy

__all__ = ["run_panel_event", "simulate_panel_event"]


def run_panel_event(strategy: PortfolioStrategy, panel: Panel, cfg: RunConfig) -> PortfolioResult:
    """Weights from the strategy (on the panel with its higher timeframes), checked, then `simulate_panel_event`."""
    return run_panel(strategy, panel, cfg, simulate_panel_event)


class _Account:
    """One cash account holding units per symbol; market fills pay the taker fee from the cash."""

    def __init__(self, cash: float, k: int, fee: float, slip: float) -> None:
        self.cash, self.units, self.fee, self.slip = cash, [0.0] * k, fee, slip
        self.fills: list[tuple[int, int, float, float, float]] = []

    def mark(self, prices: list[float]) -> float:
        eq = self.cash
        for u, p in zip(self.units, prices, strict=True):
            eq += u * p
        return eq

    def market(self, bar: int, j: int, qty: float, price: float) -> None:
        px = price * (1.0 + self.slip) if qty > 0 else price * (1.0 - self.slip)
        fee = abs(qty) * px * self.fee
        self.cash -= qty * px + fee
        self.units[j] += qty
        self.fills.append((bar, j, qty, px, fee))

    def rebalance(self, bar: int, weights: list[float], opens: list[float]) -> bool:
        """Orders to the target weights at these opens; False once the account is gone (then all closed)."""
        eq = self.mark(opens)
        alive = eq > 0
        for j, (wt, op) in enumerate(zip(weights, opens, strict=True)):
            target = wt * eq / op if alive else 0.0
            d = target - self.units[j]
            if d != 0 and abs(d) * op >= DUST * abs(eq):
                self.market(bar, j, d, op)
                self.units[j] = target  # exactly the target (no float residue from the += above)
        return alive


def simulate_panel_event(panel: Panel, w: np.ndarray, mask: np.ndarray, cfg: RunConfig) -> PortfolioResult:
    n, k = panel.shape
    opens, closes, weights = panel.open.tolist(), panel.close.tolist(), w.tolist()
    decide = mask.tolist()
    acct = _Account(cfg.cash, k, cfg.fee, cfg.slip)
    equity, cash, units = [0.0] * n, [0.0] * n, [[0.0] * k] * n
    pending: list[float] | None = None
    alive = True
    rates = panel.funding.tolist() if panel.funding is not None else None
    paid = [0.0] * k
    for t in range(n):
        if pending is not None:  # the open: the orders decided on the previous close fill
            alive = acct.rebalance(t, pending, opens[t])
            pending = None
        if rates is not None:  # the close: each position pays (receives) rate x notional at a settlement
            for j, (u, px, r) in enumerate(zip(acct.units, closes[t], rates[t], strict=True)):
                if u and r:
                    acct.cash -= u * px * r
                    paid[j] += u * px * r
        equity[t] = acct.mark(closes[t])
        cash[t] = acct.cash
        units[t] = acct.units[:]
        if alive and decide[t] and t < n - 1:  # the close: decide (never on the last bar)
            pending = weights[t]
    fills = np.array(acct.fills, dtype=FILL_DTYPE) if acct.fills else np.zeros(0, dtype=FILL_DTYPE)
    return PortfolioResult(strategy="", params={}, config=cfg, symbols=panel.symbols, time_ms=panel.time_ms,
                           close=panel.close, equity=np.array(equity), cash=np.array(cash),
                           units=np.array(units).reshape(n, k), fills=fills, engine="event",
                           timeframe=panel.timeframe, timeframe_ms=panel.timeframe_ms,
                           funding=np.array(paid) if rates is not None else np.zeros(0))
