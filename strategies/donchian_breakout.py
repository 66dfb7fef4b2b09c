"""Donchian (turtle-style) breakout: new n-bar high -> long, new n-bar low -> short/flat."""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.indicators import donchian
from cashup_tui.engine.strategy import Bars, Param, Strategy


class DonchianBreakout(Strategy):
    """Close above the previous n-bar high -> long; below the previous n-bar low -> short/flat;
    crossing the previous channel's midpoint -> flat."""

    period = Param(20, min=2, max=1000, step=1, help="channel length (bars)")
    stop_pct = Param(0.0, min=0.0, max=50.0, step=0.5, help="stop-loss % from entry (0 = none)")

    def warmup(self) -> int:
        return self.period + 2

    def signals(self, bars: Bars) -> np.ndarray:
        up, mid, lo = donchian(bars.high, bars.low, self.period)
        # The channel of the bars BEFORE this one: this bar's own high cannot break itself.
        pu, pm, pl = (np.r_[np.nan, x[:-1]] for x in (up, mid, lo))
        c = bars.close
        prev_c = np.r_[np.nan, c[:-1]]
        out = np.full(len(bars), np.nan)
        with np.errstate(invalid="ignore"):
            out[((c < pm) & (prev_c >= pm)) | ((c > pm) & (prev_c <= pm))] = 0.0
            out[c > pu] = 1.0
            out[c < pl] = -1.0
        return out
