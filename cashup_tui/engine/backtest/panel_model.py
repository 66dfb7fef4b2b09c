"""The portfolio execution model, shared by the fast (`panel_fast`) and the event (`panel_event`) engine.

* A portfolio strategy returns target weights W (time x symbol): row t is decided on data up to bar
  t's close. On a rebalance bar t (the row changed, or the strategy's own `rebalance()` mask) the
  account is traded to W[t] at bar t+1's open, every symbol at its own open; a rebalance decided on
  the last bar is never executed. Between rebalances the units are held and the weights drift.
* One cash account. At the rebalance open the account is marked at the opens (E = cash + sum of
  units x open); symbol i's target is W[t, i] x E / open[i] units (+ long, - short). The difference
  is one market fill per symbol at open x (1 +/- slippage) (buys higher, sells lower), paying the
  taker fee (`fee_bps`) on its notional from the cash. A fill under 1e-9 of the equity is skipped.
  An account marked at or below 0 closes everything and trades no more.
* Equity at each close = cash + sum of units x close (perpetuals are marked to market like this).
* Refused before anything is traded, each error naming the symbol and the bar: a NaN or infinite
  weight, a short weight without `allow_short`, and a row whose gross exposure sum |w| exceeds the
  leverage limit (`leverage`).
* Funding per symbol, when the panel has rates (`with_funding`: `--funding store` or SYM=FILE files):
  a settlement at time T is charged at the close of the bar that opened before T (the one-symbol
  mapping, `model.funding_rates`); each symbol's position pays units x close x rate from the cash at
  that close (+ rate: longs pay, shorts receive), before the equity is marked. Without rates, none.
  (`RunConfig.funding` only names the rates' source here; the engines read `Panel.funding`.)
* Not modelled yet: contract rounding, margin/liquidation per symbol (the leverage limit is checked
  on the whole account's weights).
* Per-symbol contribution = the symbol's final units x last close - what its fills cost (notional +
  fees) - the funding it paid; the contributions sum to the final equity minus the cash.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cashup_tui.domain.errors import DataError, StrategyError
from cashup_tui.engine.backtest.model import TRADE_DTYPE, Funding, Result, RunConfig, funding_rates
from cashup_tui.engine.panel import Panel, PortfolioStrategy, run_weights

DUST = 1e-9  # fills smaller than this fraction of the equity are skipped (both engines)

FILL_DTYPE = np.dtype([("bar", np.int64), ("symbol", np.int32), ("qty", np.float64), ("price", np.float64),
                       ("fee", np.float64)])


def run_panel(strategy: PortfolioStrategy, panel: Panel, cfg: RunConfig, simulate: Any) -> PortfolioResult:
    """What both engines do around their `simulate(panel, weights, mask, cfg)`: the settings checked, the
    strategy's weights and rebalance bars on the panel with its higher timeframes, every weight checked
    (nothing is traded on bad input), then the run labelled with the strategy."""
    cfg.check()
    if len(panel) < 2:
        raise DataError(f"only {len(panel)} bar(s): a backtest needs at least 2 (decision, then next open)")
    w, mask = run_weights(strategy, strategy.prepare(panel))
    check_weights(w, panel, cfg, strategy.label())
    res: PortfolioResult = simulate(panel, w, mask, cfg)
    res.strategy, res.params = strategy.label(), dict(strategy.params)
    return res


def check_weights(w: np.ndarray, panel: Panel, cfg: RunConfig, label: str) -> None:
    """Refuse NaN/inf weights, shorts without allow_short and rows over the leverage limit, naming the
    symbol and the bar."""
    from cashup_tui.engine.backtest.data import _fmt

    def at(t: int) -> str:
        return f"bar {t} ({_fmt(int(panel.time_ms[t]))})"

    bad = ~np.isfinite(w)
    if bad.any():
        t, j = map(int, np.argwhere(bad)[0])
        raise StrategyError(f"strategy {label}: weight {w[t, j]} for {panel.symbols[j]} at {at(t)}",
                            hint="weights must be numbers: 0 for flat (there is no 'keep' in a portfolio)")
    if not cfg.allow_short and (w < 0).any():
        t, j = map(int, np.argwhere(w < 0)[0])
        raise StrategyError(f"strategy {label}: short weight {w[t, j]:g} for {panel.symbols[j]} at {at(t)} "
                            "and shorts are not allowed", hint="pass --allow-short, or make the strategy long only")
    gross = np.abs(w).sum(axis=1)
    over = np.flatnonzero(gross > cfg.leverage * (1 + 1e-12))
    if over.size:
        t = int(over[0])
        j = int(np.argmax(np.abs(w[t])))
        raise StrategyError(
            f"strategy {label}: weights at {at(t)} sum to {gross[t]:g} (|w|), over the leverage limit "
            f"{cfg.leverage:g} (largest: {panel.symbols[j]} {w[t, j]:g})",
            hint="scale the weights down, or raise --leverage",
        )


@dataclass
class PortfolioResult:
    """A finished portfolio run: per-bar equity, cash and units per symbol, and the fills."""

    strategy: str
    params: dict[str, Any]
    config: RunConfig
    symbols: tuple[str, ...]
    time_ms: np.ndarray
    close: np.ndarray  # (time, symbol)
    equity: np.ndarray  # at each close
    cash: np.ndarray  # at each close
    units: np.ndarray  # (time, symbol): held during each bar (after its open's fills)
    fills: np.ndarray  # FILL_DTYPE
    engine: str = "fast"
    timeframe: str = ""
    timeframe_ms: int = 0
    notes: list[str] = field(default_factory=list)
    funding: np.ndarray = field(default_factory=lambda: np.zeros(0))  # paid per symbol (- = received); empty: no data

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if self.equity.size else self.config.cash

    def per_symbol(self) -> list[dict[str, Any]]:
        """Contribution (USDT and fraction of the cash), exposure, turnover, fees and fills per symbol."""
        cash0 = self.config.cash
        f = self.fills
        out = []
        n = self.time_ms.size
        for j, sym in enumerate(self.symbols):
            mine = f[f["symbol"] == j]
            cost = float(np.sum(mine["qty"] * mine["price"]) + np.sum(mine["fee"]))
            paid = float(self.funding[j]) if self.funding.size else None
            last = float(self.units[-1, j] * self.close[-1, j]) if n else 0.0
            contrib = last - cost - (paid or 0.0)
            out.append({
                "symbol": sym, "contribution": contrib, "contribution_pct": contrib / cash0,
                "exposure": float(np.count_nonzero(self.units[:, j])) / n if n else 0.0,
                "turnover": float(np.sum(np.abs(mine["qty"] * mine["price"]))) / cash0,
                "fees": float(mine["fee"].sum()), "funding": paid, "fills": int(mine.size),
                "final_weight": last / self.final_equity if self.final_equity > 0 else None,
            })
        return out

    def as_result(self) -> Result:
        """The whole account as a one-curve `Result`, so `metrics.compute` defines its metrics."""
        pos = (np.abs(self.units).sum(axis=1) > 0).astype(np.int8)
        return Result(strategy=self.strategy, params=self.params, config=self.config, time_ms=self.time_ms,
                      close=self.equity, equity=self.equity, position=pos, trades=np.zeros(0, dtype=TRADE_DTYPE),
                      engine=self.engine, timeframe_ms=self.timeframe_ms, symbol=",".join(self.symbols),
                      timeframe=self.timeframe)


def portfolio_metrics(res: PortfolioResult) -> dict[str, Any]:
    """The whole account's metrics (the single-symbol definitions) plus the per-symbol table."""
    from cashup_tui.engine.backtest.metrics import compute
    from cashup_tui.engine.backtest.sleeves import correlation

    m = compute(res.as_result())
    f = res.fills
    m.update({"trade_count": int(f.size), "fills": int(f.size), "fees": float(f["fee"].sum()),
              "turnover": float(np.sum(np.abs(f["qty"] * f["price"]))) / res.config.cash,
              "funding": float(res.funding.sum()) if res.funding.size else None, "symbols": list(res.symbols), "per_symbol": res.per_symbol(),
              "correlation": correlation(symbol_returns(res))})
    for k in ("win_rate", "profit_factor", "avg_trade", "best_trade", "worst_trade", "avg_bars_held"):
        m[k] = None  # round-trip trade statistics do not apply to rebalanced weights
    return m


def symbol_returns(res: PortfolioResult) -> dict[str, np.ndarray]:
    """Each symbol's close-to-close returns (what the per-symbol correlation is of)."""
    c = res.close
    with np.errstate(divide="ignore", invalid="ignore"):
        r = c[1:] / c[:-1] - 1.0
    return {s: r[:, j] for j, s in enumerate(res.symbols)}


def report_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-symbol rows of the HTML report (`report.SYMBOL_COLUMNS`) from `portfolio_metrics`."""
    return [{"symbol": r["symbol"], "pnl": r["contribution"], "contribution": r["contribution_pct"],
             "exposure": r["exposure"], "turnover": r["turnover"], "fees": r["fees"],
             "final_weight": r["final_weight"]} for r in metrics["per_symbol"]]


def with_funding(panel: Panel, rates: dict[str, Funding]) -> Panel:
    """The panel with each symbol's funding settlements as per-bar rates (`Panel.funding`); every symbol
    needs its series (a clear error names the one missing)."""
    missing = [s for s in panel.symbols if s not in rates]
    if missing:
        raise DataError(f"no funding rates for {missing[0]}",
                        hint="give every symbol's funding (--funding store, or SYM=FILE for each), or leave --funding out")
    cols = [funding_rates(panel.time_ms, rates[s]) for s in panel.symbols]
    return replace(panel, funding=np.column_stack(cols))


def executions(mask: np.ndarray) -> np.ndarray:
    """Bars whose open executes a rebalance: t + 1 for every rebalance bar t but the last bar."""
    out: np.ndarray = np.flatnonzero(mask[:-1]) + 1
    return out
