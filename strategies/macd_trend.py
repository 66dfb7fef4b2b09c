"""MACD trend: follow the MACD histogram's sign changes, optionally only with the long-term trend."""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.indicators import crossed_above, crossed_below, ema, macd
from cashup_tui.engine.strategy import Bars, Param, Strategy, ValidationError


class MacdTrend(Strategy):
    """Histogram crosses above 0 -> long, below 0 -> short/flat; with `trend` > 0, a long needs
    close above EMA(trend) and a short close below it (otherwise flat)."""

    fast = Param(12, min=1, max=500, step=1, help="fast EMA length")
    slow = Param(26, min=2, max=1000, step=1, help="slow EMA length")
    signal = Param(9, min=1, max=500, step=1, help="signal EMA length")
    trend = Param(0, min=0, max=5000, step=50, help="trend filter EMA length (0 = off)")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise ValidationError(f"macd_trend: fast ({self.fast}) must be shorter than slow ({self.slow})")

    def warmup(self) -> int:
        return max(self.slow + self.signal, self.trend) + 1

    def signals(self, bars: Bars) -> np.ndarray:
        hist = macd(bars.close, self.fast, self.slow, self.signal).hist
        zero = np.zeros(len(bars))
        up, down = crossed_above(hist, zero), crossed_below(hist, zero)
        out = np.full(len(bars), np.nan)
        if self.trend:
            t = ema(bars.close, self.trend)
            with np.errstate(invalid="ignore"):
                above = bars.close > t
            out[up] = np.where(above[up], 1.0, 0.0)
            out[down] = np.where(above[down], 0.0, -1.0)
        else:
            out[up] = 1.0
            out[down] = -1.0
        return out
