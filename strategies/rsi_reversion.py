"""RSI mean reversion: buy oversold, sell (or short) overbought, go flat back at the midline."""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.indicators import crossed_above, crossed_below, rsi
from cashup_tui.engine.strategy import Bars, Param, Strategy, ValidationError


class RsiReversion(Strategy):
    """Wilder RSI below `lower` -> long, above `upper` -> short/flat, crossing `exit` -> flat."""

    period = Param(14, min=2, max=500, step=1, help="RSI length (bars)")
    lower = Param(30.0, min=1.0, max=99.0, step=5.0, help="oversold level: go long below it")
    upper = Param(70.0, min=1.0, max=99.0, step=5.0, help="overbought level: go short/flat above it")
    exit = Param(50.0, min=1.0, max=99.0, step=5.0, help="flat when RSI crosses this level")
    stop_pct = Param(0.0, min=0.0, max=50.0, step=0.5, help="stop-loss % from entry (0 = none)")

    def validate(self) -> None:
        if not self.lower < self.exit < self.upper:
            raise ValidationError(
                f"rsi_reversion: need lower < exit < upper, got {self.lower} / {self.exit} / {self.upper}"
            )

    def warmup(self) -> int:
        return self.period + 2

    def signals(self, bars: Bars) -> np.ndarray:
        r = rsi(bars.close, self.period)
        level = np.full(len(bars), self.exit)
        out = np.full(len(bars), np.nan)
        out[crossed_above(r, level) | crossed_below(r, level)] = 0.0  # back to the midline: flat
        with np.errstate(invalid="ignore"):
            out[r < self.lower] = 1.0
            out[r > self.upper] = -1.0
        return out
