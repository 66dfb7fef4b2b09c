"""Cross-sectional momentum: rank the symbols by trailing return, long the best, short the worst or flat.

Every `rebalance_every` bars (from bar `lookback`, the first with a full window), each symbol's
return over the last `lookback` bars (close[t] / close[t - lookback] - 1) ranks the panel, best
first (ties: the symbol listed first ranks higher). Long only (`short=false`): the `top` best get
1/top of the equity each. Long/short (`short=true`, needs --allow-short and at least 2 x top
symbols): the `top` best get +0.5/top and the `top` worst -0.5/top (gross 1, dollar neutral).
Weights are held, and drift, between rebalances; the engine trades them at the next bar's open.
"""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.panel import Panel, PortfolioStrategy, every, hold
from cashup_tui.engine.strategy import Param, ValidationError


class XsecMomentum(PortfolioStrategy):
    """Cross-sectional momentum over a panel of symbols (long the top k, short the bottom k or flat)."""

    lookback = Param(24, min=1, max=10_000, step=1, help="trailing return length (bars)")
    top = Param(1, min=1, max=100, step=1, help="symbols per leg (k)")
    short = Param(False, help="short the bottom k (else the rest is flat)")
    rebalance_every = Param(24, min=1, max=10_000, step=1, help="bars between rebalances")

    def warmup(self) -> int:
        return self.lookback + 1

    def rebalance(self, panel: Panel) -> np.ndarray:
        return every(len(panel), self.lookback, self.rebalance_every)

    def weights(self, panel: Panel) -> np.ndarray:
        n, k = panel.shape
        need = 2 * self.top if self.short else self.top
        if need > k:
            raise ValidationError(f"xsec_momentum: top={self.top} needs {need} symbols, the panel has {k}",
                                  hint="lower --param top, or give more symbols")
        c = panel.close
        ret = np.full((n, k), np.nan)
        ret[self.lookback:] = c[self.lookback:] / c[:-self.lookback] - 1.0
        mask = self.rebalance(panel)
        rows = np.zeros((n, k))
        r = ret[mask]
        leg = 0.5 / self.top if self.short else 1.0 / self.top
        order = np.argsort(-r, axis=1, kind="stable")  # best first; ties: the symbol listed first
        picked = np.zeros_like(r)
        np.put_along_axis(picked, order[:, : self.top], leg, axis=1)
        if self.short:
            np.put_along_axis(picked, order[:, -self.top :], -leg, axis=1)
        rows[mask] = picked
        return hold(rows, mask)
