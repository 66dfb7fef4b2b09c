"""Multi-factor score: z-scored momentum, volatility and funding-rate factors combined with weights,
traded in proportion.

Every `rebalance_every` bars (from the first bar with every factor in use), for each symbol:
momentum = the return over `lookback` bars; volatility = the standard deviation (ddof 0) of its 1-bar
returns over the last `vol_window` bars; funding = the sum of the funding rates settled over the last
`funding_window` bars (what a long paid per unit of notional; the panel's `funding`, given with
`--funding store` or SYM=FILE files; a rate settled at a bar's close is known at that close). Each
factor is z-scored across the symbols at that bar ((x - mean) / std, ddof 0; 0 when the symbols are
equal: std <= 1e-12 x the largest |x|), and score = mom_weight x z_mom + vol_weight x z_vol +
funding_weight x z_funding (a negative vol_weight prefers calm symbols, a negative funding_weight
symbols whose longs pay less). funding_weight defaults to 0: the factor is then not computed, needs
no funding data and the first rebalance bar is max(lookback, vol_window) as before; otherwise it is
max(lookback, vol_window, funding_window). Long/short (`short=true`, needs --allow-short): weight =
score / sum |score| (gross 1). Long only: the positive scores, weight = score / sum of positive
scores (flat when none is positive). Weights are held, and drift, between rebalances; the engine
trades them at the next bar's open.

No taker-imbalance factor: the product has no taker buy/sell split to compute it from (Gate candles,
the stored candles and the shared market files carry total volume only, and public trades are not
stored), so it is left out rather than approximated.
"""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.panel import Panel, PortfolioStrategy, every, hold
from cashup_tui.engine.strategy import Param, ValidationError


def _z(x: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    spread = sd > 1e-12 * np.abs(x).max(axis=1, keepdims=True)  # equal symbols: rounding noise, not a spread
    z: np.ndarray = np.where(spread, (x - mu) / np.where(spread, sd, 1.0), 0.0)
    return z


class FactorScore(PortfolioStrategy):
    """Z-scored momentum, volatility and funding-rate factors combined into one score per symbol."""

    lookback = Param(24, min=1, max=10_000, step=1, help="momentum: trailing return length (bars)")
    vol_window = Param(24, min=2, max=10_000, step=1, help="volatility: window of 1-bar returns (bars)")
    funding_window = Param(24, min=1, max=10_000, step=1, help="funding: window of settled rates summed (bars)")
    mom_weight = Param(1.0, min=-10.0, max=10.0, help="weight of the momentum z-score")
    vol_weight = Param(-0.5, min=-10.0, max=10.0, help="weight of the volatility z-score")
    funding_weight = Param(0.0, min=-10.0, max=10.0, help="weight of the funding z-score (needs --funding)")
    short = Param(False, help="go short the negative scores (else long only)")
    rebalance_every = Param(24, min=1, max=10_000, step=1, help="bars between rebalances")

    def _first(self) -> int:
        return max(self.lookback, self.vol_window, self.funding_window if self.funding_weight else 0)

    def warmup(self) -> int:
        return self._first() + 1

    def rebalance(self, panel: Panel) -> np.ndarray:
        return every(len(panel), self._first(), self.rebalance_every)

    def weights(self, panel: Panel) -> np.ndarray:
        n, k = panel.shape
        c = panel.close
        mask = self.rebalance(panel)
        at = np.flatnonzero(mask)
        mom = c[at] / c[at - self.lookback] - 1.0
        r1 = np.zeros((n, k))
        r1[1:] = c[1:] / c[:-1] - 1.0
        win = np.lib.stride_tricks.sliding_window_view(r1, self.vol_window, axis=0)  # (n - w + 1, k, w)
        vol = win[at - self.vol_window + 1].std(axis=2)
        score = self.mom_weight * _z(mom) + self.vol_weight * _z(vol)
        if self.funding_weight:
            if panel.funding is None:
                raise ValidationError("factor_score: funding_weight needs funding rates",
                                      hint="give them with --funding store (or SYM=FILE,...), or set funding_weight=0")
            fwin = np.lib.stride_tricks.sliding_window_view(panel.funding, self.funding_window, axis=0)
            paid = fwin[at - self.funding_window + 1].sum(axis=2)  # rates settled on bars at-w+1 .. at (exact 0s)
            score = score + self.funding_weight * _z(paid)
        if not self.short:
            score = np.maximum(score, 0.0)
        gross = np.abs(score).sum(axis=1, keepdims=True)
        picked = np.where(gross > 0, score / np.where(gross > 0, gross, 1.0), 0.0)
        rows = np.zeros((n, k))
        rows[at] = picked
        return hold(rows, mask)
