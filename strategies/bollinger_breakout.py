"""Bollinger breakout: follow closes outside the bands, exit at the middle band, optional stop."""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.indicators import bollinger, crossed_above, crossed_below
from cashup_tui.engine.strategy import Bars, Param, Strategy


class BollingerBreakout(Strategy):
    """Close above the upper band -> long; below the lower band -> short/flat; crossing the mid -> flat."""

    period = Param(20, min=2, max=1000, step=1, help="band length (bars)")
    width = Param(2.0, min=0.1, max=10.0, step=0.25, help="band width in standard deviations")
    stop_pct = Param(0.0, min=0.0, max=50.0, step=0.5, help="stop-loss % from entry (0 = none)")
    take_pct = Param(0.0, min=0.0, max=500.0, step=1.0, help="take-profit % from entry (0 = none)")

    def warmup(self) -> int:
        return self.period + 1

    def signals(self, bars: Bars) -> np.ndarray:
        up, mid, lo = bollinger(bars.close, self.period, self.width)
        c = bars.close
        out = np.full(len(bars), np.nan)
        out[crossed_below(c, mid) | crossed_above(c, mid)] = 0.0
        with np.errstate(invalid="ignore"):
            out[c > up] = 1.0
            out[c < lo] = -1.0
        return out
