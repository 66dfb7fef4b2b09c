"""EMA crossover: like sma_cross with exponential averages (react faster, whipsaw more)."""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.indicators import EMA, crossed_above, crossed_below, ema
from cashup_tui.engine.strategy import Bars, Param, Strategy, ValidationError


class EmaCross(Strategy):
    """Fast/slow exponential moving average crossover."""

    fast = Param(12, min=1, max=1000, step=1, help="fast EMA length (bars)")
    slow = Param(26, min=2, max=5000, step=1, help="slow EMA length (bars)")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise ValidationError(f"ema_cross: fast ({self.fast}) must be shorter than slow ({self.slow})")

    def warmup(self) -> int:
        return self.slow + 1

    def signals(self, bars: Bars) -> np.ndarray:
        f, s = ema(bars.close, self.fast), ema(bars.close, self.slow)
        out = np.full(len(bars), np.nan)
        out[crossed_above(f, s)] = 1.0
        out[crossed_below(f, s)] = -1.0
        return out

    def on_start(self, ctx) -> None:
        self._f, self._s = EMA(self.fast), EMA(self.slow)
        self._prev = (np.nan, np.nan)

    def on_bar(self, ctx, bar) -> None:
        f, s = self._f.update(bar.close), self._s.update(bar.close)
        pf, ps = self._prev
        self._prev = (f, s)
        if f > s and pf <= ps:
            ctx.target(1.0)
        elif f < s and pf >= ps:
            ctx.target(-1.0)
