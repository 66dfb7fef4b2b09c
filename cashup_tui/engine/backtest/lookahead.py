"""Look-ahead detection: a signal must not change when the future is removed.

The strategy's signals are computed once on all the bars, then again on the data cut at
several points (bars[:t+1]). Every signal at or before the cut must be identical (NaN == NaN):
a strategy that peeks at later bars (a negative shift, a centred window, a whole-series
normalisation) gives a different answer once those bars are gone, and is reported with the
bars where it happened.

Sampled (the default) cuts at a few evenly spaced bars: a peek on every bar shows at any cut, but
a sparse one (a peek every ~1000 bars) only where a cut lands on it, so the report says how many of
the possible cut points it tried. Exhaustive (`cuts=None`) cuts at every bar after the warm-up:
the signal at t must be the one computed from bars[:t+1]; it costs one signal run per bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cashup_tui.engine.strategy import Bars, Strategy, run_signals


@dataclass
class Change:
    cut: int  # the truncated data ended at this bar (inclusive)
    bar: int  # bar whose signal changed
    time_ms: int
    full: float  # signal (a portfolio: weight) with all the data
    truncated: float  # signal with the data cut at `cut`
    symbol: str = ""  # a portfolio's symbol ("rebalance" when its rebalance bars changed)


@dataclass
class LookaheadReport:
    strategy: str
    params: dict[str, Any]
    bars: int
    cuts: list[int]
    changes: list[Change] = field(default_factory=list)
    changed_cuts: int = 0
    possible: int = 0  # cut points after the warm-up (every one is tried in exhaustive mode)

    @property
    def clean(self) -> bool:
        return not self.changes

    @property
    def exhaustive(self) -> bool:
        return len(self.cuts) >= self.possible

    @property
    def coverage(self) -> float:
        """Share of the possible cut points that were tried."""
        return len(self.cuts) / self.possible if self.possible else 1.0

    def as_dict(self, limit: int = 50) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "params": self.params, "bars": self.bars, "cuts": len(self.cuts),
            "mode": "exhaustive" if self.exhaustive else "sampled", "possible_cuts": self.possible,
            "coverage": self.coverage,
            "clean": self.clean, "changed_cuts": self.changed_cuts, "changed_signals": len(self.changes),
            "changes": [
                {"cut": c.cut, "bar": c.bar, "time": _iso(c.time_ms), "full": _f(c.full), "truncated": _f(c.truncated),
                 **({"symbol": c.symbol} if c.symbol else {})}
                for c in self.changes[:limit]
            ],
        }


def _f(x: float) -> float | None:
    return None if x != x else float(x)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def check(strategy: Strategy, bars: Bars, *, cuts: int | None = 20, per_cut: int = 5) -> LookaheadReport:
    """Compare full-data signals with signals on `cuts` truncations (evenly spaced after the warm-up);
    `cuts=None`: a truncation at every bar after the warm-up (exhaustive)."""
    n = len(bars)
    full = run_signals(strategy, bars)
    start = min(max(strategy.warmup() + 1, 2), n - 1)
    possible = max(n - 1 - start, 0) if n > 2 else 0  # cut points start .. n-2
    if n <= 2:
        points: list[int] = []
    elif cuts is None:
        points = list(range(start, n - 1))
    else:
        points = sorted({int(x) for x in np.linspace(start, n - 2, num=max(cuts, 1))})
    rep = LookaheadReport(strategy.label(), dict(strategy.params), n, points, possible=possible)
    for t in points:
        part = run_signals(strategy, bars[: t + 1])
        a = full[: t + 1]
        same = (a == part) | (np.isnan(a) & np.isnan(part))
        if same.all():
            continue
        bad = np.flatnonzero(~same)
        rep.changed_cuts += 1
        for i in bad[-per_cut:][::-1]:  # the most recent first: that is where the future leaked
            rep.changes.append(Change(t, int(i), int(bars.time_ms[i]), float(a[i]), float(part[i])))
    return rep
