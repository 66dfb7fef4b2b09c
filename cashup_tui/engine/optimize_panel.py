"""Parameter sweeps of portfolio strategies: the grid/random/TPE search, objectives, walk-forward and
executors of `optimize` (one code path), each trial a fast portfolio backtest on the panel.

A `PanelEvalContext` is what `optimize.evaluate` hands a portfolio trial to (it travels to worker
processes or Dask like `EvalContext`: the strategy as source text, the panel's arrays). A trial is
`run_panel_fast` on the panel (with the strategy's higher timeframes), so each result is the one
`cashup backtest run` gives for that parameter set; its summary has the same keys as a one-symbol
trial (`trade_count` counts fills; the round-trip statistics are None, as in the run's metrics).

Walk-forward folds cut the panel's bars as they cut one symbol's; an out-of-sample block is
warmed on the bars just before it (weights computed from the warm-up on, traded from the block).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cashup_tui.domain.errors import CashupError
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.backtest.panel_fast import simulate_panel
from cashup_tui.engine.backtest.panel_model import PortfolioResult, check_weights, portfolio_metrics
from cashup_tui.engine.optimize_objective import UserObjective, score
from cashup_tui.engine.panel import PRICE_COLUMNS, Panel, PortfolioStrategy, run_weights
from cashup_tui.engine.strategy import Strategy

__all__ = ["PanelEvalContext", "panel_rows", "panel_trial"]


def panel_rows(panel: Panel, start: int, end: int) -> Panel:
    """Bars [start, end) of every symbol (the higher timeframes are re-aligned by `prepare`)."""
    cut = {c: getattr(panel, c)[start:end] for c in PRICE_COLUMNS}
    fr = None if panel.funding is None else panel.funding[start:end]
    return replace(panel, time_ms=panel.time_ms[start:end], higher={}, funding=fr, **cut)


def panel_trial(strategy: PortfolioStrategy, panel: Panel, cfg: RunConfig, warm: int = 0) -> PortfolioResult:
    """The fast portfolio engine on `panel[warm:]`, with weights decided on the whole `panel` (its first
    `warm` bars only warm up): with warm=0 exactly `run_panel_fast(strategy, panel, cfg)`."""
    from cashup_tui.engine.backtest.panel_model import run_panel

    if not warm:
        return run_panel(strategy, panel, cfg, simulate_panel)
    w, mask = run_weights(strategy, strategy.prepare(panel))
    part = panel_rows(panel, warm, len(panel))
    check_weights(w[warm:], part, cfg, strategy.label())
    res = simulate_panel(part, w[warm:], mask[warm:], cfg)
    res.strategy, res.params = strategy.label(), dict(strategy.params)
    return res


@dataclass
class PanelEvalContext:
    """A portfolio sweep's worker context (see the module); `evaluate` is what `optimize.evaluate` calls."""

    strategy_source: str
    strategy_path: str
    bars: Panel  # named as `EvalContext`'s so the sweep's callers treat both alike
    config: RunConfig
    objective: str
    folds: list[tuple[int, int, int]] = field(default_factory=list)
    user_objective: UserObjective | None = None

    @classmethod
    def of(cls, strategy: type[Strategy], panel: Panel, config: RunConfig, objective: str,
           folds: list[tuple[int, int, int]] | None = None,
           user_objective: UserObjective | None = None) -> PanelEvalContext:
        return cls(strategy.source_text(), strategy.source_path or strategy.__qualname__, panel, config, objective,
                   folds or [], user_objective)

    def metrics(self, strategy: PortfolioStrategy, start: int, end: int, warm: int = 0) -> dict[str, Any]:
        from cashup_tui.engine.optimize import SUMMARY_KEYS

        panel = self.bars if (start, end) == (0, len(self.bars)) else panel_rows(self.bars, start, end)
        m = portfolio_metrics(panel_trial(strategy, panel, self.config, warm))
        return {k: m.get(k) for k in SUMMARY_KEYS}

    def objective_of(self, m: dict[str, Any]) -> float | None:
        from cashup_tui.engine.backtest.metrics import objective_value

        if self.user_objective is not None:
            return score(self.user_objective, m)
        v = objective_value(m, self.objective)
        return None if not math.isfinite(v) else v

    def evaluate(self, params: dict[str, Any]) -> dict[str, Any]:
        """One trial: {params, objective, metrics | folds, status, error}. Never raises (errors are results)."""
        from cashup_tui.engine.optimize import strategy_from_source

        try:
            strat = strategy_from_source(self.strategy_source, self.strategy_path)(**params)
            if not isinstance(strat, PortfolioStrategy):
                raise CashupError(f"{strat.label()} is not a portfolio strategy")
            if not self.folds:
                m = self.metrics(strat, 0, len(self.bars))
                return {"params": params, "objective": self.objective_of(m), "metrics": m, "status": "done",
                        "error": ""}
            folds: list[dict[str, Any]] = []
            w = strat.warmup()
            for is_end, oos_start, oos_end in self.folds:
                ism = self.metrics(strat, 0, is_end)
                ws = max(0, oos_start - w - 1)
                oos = self.metrics(strat, ws, oos_end, warm=oos_start - ws)
                folds.append({"is": ism, "oos": oos, "is_objective": self.objective_of(ism),
                              "oos_objective": self.objective_of(oos)})
            vals = [f["is_objective"] for f in folds if f["is_objective"] is not None]
            return {"params": params, "objective": float(np.mean(vals)) if vals else None,
                    "metrics": {"folds": folds}, "status": "done", "error": ""}
        except CashupError as exc:
            return {"params": params, "objective": None, "metrics": {}, "status": "failed",
                    "error": str(exc).splitlines()[0]}
