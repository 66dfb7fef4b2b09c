"""SMA crossover: the reference strategy of the execution model (see cashup_tui/engine/backtest).

Long when the fast SMA of close crosses above the slow one (fast[t] > slow[t] and
fast[t-1] <= slow[t-1]); flat when it crosses below (short instead with --allow-short).
"""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.indicators import SMA, crossed_above, crossed_below, sma
from cashup_tui.engine.strategy import Bars, Param, Strategy, ValidationError


class SmaCross(Strategy):
    """Fast/slow simple moving average crossover."""

    fast = Param(10, min=1, max=1000, step=1, help="fast SMA length (bars)")
    slow = Param(30, min=2, max=5000, step=1, help="slow SMA length (bars)")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise ValidationError(
                f"sma_cross: fast ({self.fast}) must be shorter than slow ({self.slow})",
                hint="e.g. --param fast=10 --param slow=30",
            )

    def warmup(self) -> int:
        return self.slow + 1  # one bar more than the slow SMA: a cross needs yesterday's values

    def signals(self, bars: Bars) -> np.ndarray:
        f, s = sma(bars.close, self.fast), sma(bars.close, self.slow)
        out = np.full(len(bars), np.nan)  # NaN = no opinion, keep the position
        out[crossed_above(f, s)] = 1.0
        out[crossed_below(f, s)] = -1.0  # flat unless shorts are allowed
        return out

    # The same rule one bar at a time (event engine, paper, live): incremental SMAs.
    def on_start(self, ctx) -> None:
        self._f, self._s = SMA(self.fast), SMA(self.slow)
        self._prev = (np.nan, np.nan)

    def on_bar(self, ctx, bar) -> None:
        f, s = self._f.update(bar.close), self._s.update(bar.close)
        pf, ps = self._prev
        self._prev = (f, s)
        if f > s and pf <= ps:
            ctx.target(1.0)
        elif f < s and pf >= ps:
            ctx.target(-1.0)
