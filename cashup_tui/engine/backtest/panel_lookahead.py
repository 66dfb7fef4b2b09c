"""Look-ahead detection for portfolio strategies: a weights row must not change when the future is removed.

The strategy's weights (and rebalance bars) are computed once on the whole panel (with its higher
timeframes), then again on the panel cut after bar t (`panel.head(t + 1)`, the higher timeframes
re-aligned on the cut). Every row at or before t must be identical (NaN == NaN), and so must the
rebalance bars; a change is reported with the cut, the bar, its time and the symbol.

Sampled (the default) cuts at `cuts` distinct bars drawn at random (seeded: the same command gives the
same cuts) after the warm-up, so a peek that shows only on some bars is not always missed at the
same evenly spaced points; the report says how many of the possible cut points it tried. Exhaustive
(`cuts=None`) cuts at every bar after the warm-up: one weights run per bar.
"""

from __future__ import annotations

import numpy as np

from cashup_tui.engine.backtest.lookahead import Change, LookaheadReport
from cashup_tui.engine.panel import Panel, PortfolioStrategy, run_weights

__all__ = ["check_panel", "cut_points"]


def cut_points(start: int, n: int, cuts: int | None, seed: int) -> list[int]:
    """Cut bars in [start, n - 2]: all of them (`cuts=None` or more cuts than points), else a seeded sample."""
    pool = np.arange(start, n - 1)
    if cuts is None or cuts >= pool.size:
        return pool.tolist()
    out: list[int] = np.sort(np.random.default_rng(seed).choice(pool, size=cuts, replace=False)).tolist()
    return out


def check_panel(strategy: PortfolioStrategy, panel: Panel, *, cuts: int | None = 20, seed: int = 7,
                per_cut: int = 5) -> LookaheadReport:
    """Compare the full panel's weights and rebalance bars with those on `cuts` random cuts (None: every bar)."""
    n = len(panel)
    full_w, full_m = run_weights(strategy, strategy.prepare(panel))
    start = min(max(strategy.warmup() + 1, 2), n - 1)
    possible = max(n - 1 - start, 0) if n > 2 else 0
    points = cut_points(start, n, cuts, seed) if n > 2 else []
    rep = LookaheadReport(strategy.label(), dict(strategy.params), n, points, possible=possible)
    for t in points:
        w, m = run_weights(strategy, strategy.prepare(panel.head(t + 1)))
        a = full_w[: t + 1]
        same = (a == w) | (np.isnan(a) & np.isnan(w))
        moved = (full_m[: t + 1] != m) & same.all(axis=1)  # a changed row changes the default mask too
        if same.all() and not moved.any():
            continue
        rep.changed_cuts += 1
        found = [(int(i), int(j)) for i, j in np.argwhere(~same)]
        found += [(int(i), -1) for i in np.flatnonzero(moved)]
        found.sort(key=lambda x: (-x[0], x[1]))  # the most recent first: that is where the future leaked
        for i, j in found[:per_cut]:
            if j < 0:
                rep.changes.append(Change(t, i, int(panel.time_ms[i]), float(full_m[i]), float(m[i]), "rebalance"))
            else:
                rep.changes.append(Change(t, i, int(panel.time_ms[i]), float(a[i, j]), float(w[i, j]),
                                          panel.symbols[j]))
    return rep
