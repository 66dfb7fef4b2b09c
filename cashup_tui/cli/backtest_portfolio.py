"""`cashup backtest run PORTFOLIO_STRATEGY --data SYM=FILE --data SYM=FILE ...`: a portfolio backtest.

Called from `backtest run` when the strategy is a `PortfolioStrategy`; prints the whole account's
metrics and each symbol's contribution (or one JSON document) and stores the run like a one-symbol run
(the whole account's equity; the per-symbol table and correlation in its metrics). Also `backtest lookahead`'s and
`optimize`'s portfolio path.
Only stdlib + typer at import time, like the other CLI modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from cashup_tui.cli.common import fail, settings_from

SYMBOL_HINT = "use --data SYMBOL=FILE for each symbol, e.g. --data BTC_USDT=btc.csv --data ETH_USDT=eth.csv"


def is_portfolio(strategy: str) -> bool:
    """Whether STRATEGY (a name or a path) is a portfolio strategy; False when it does not load (the
    single-symbol path then reports why)."""
    from cashup_tui.domain.errors import CashupError
    from cashup_tui.engine.strategy import load_strategy, strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    try:
        return bool(getattr(load_strategy(strategy, strategy_dirs(user_strategies_dir())), "portfolio", False))
    except CashupError:
        return False


@dataclass
class PanelPrep:
    """A validated portfolio run's inputs (what `backtest run`, `backtest lookahead` and `optimize` share)."""

    strategy: Any  # PortfolioStrategy
    panel: Any  # Panel
    config: Any  # RunConfig
    source: str


@dataclass(frozen=True)
class Store:
    """`cli.backtest`'s store readers, passed in by the commands (this module sits below cli.backtest)."""

    bars: Callable[..., Any]  # (ctx, settings, symbol, timeframe, start, end) -> Bars
    open_db: Callable[..., Any]  # (ctx, settings) -> an open store


def load_panel(ctx: typer.Context | None, s: Any, specs: list[tuple[str, str | None]], timeframe: str | None,
               start: str | None, end: str | None, allow_gaps: bool, store: Store) -> tuple[Any, str]:
    """Load (a CSV, or the store for --symbols), cut (--from/--to) and align every symbol's bars into one
    panel; returns (panel, source text)."""
    from cashup_tui.domain.errors import ValidationError
    from cashup_tui.engine.backtest.data import check_bars, load_csv, slice_bars
    from cashup_tui.engine.panel import panel_from_bars

    series, names, sources = [], [], []
    for sym, path in specs:
        if path is None:
            bars = check_bars(store.bars(ctx, s, sym, timeframe or "", start, end),
                              source=f"store {sym} {timeframe}", allow_gaps=allow_gaps)
            src = f"store:{sym}:{timeframe}"
        else:
            bars, src = load_csv(path, symbol=sym, allow_gaps=allow_gaps), path
        bars = slice_bars(bars, start, end)
        if not bars.symbol:
            raise ValidationError(f"no symbol for {path}", hint=SYMBOL_HINT)
        series.append(bars)
        names.append(bars.symbol)
        sources.append(f"{bars.symbol}={src}")
    return panel_from_bars(series, names), ", ".join(sources)


def load_funding_specs(ctx: typer.Context | None, s: Any, spec: str, symbols: tuple[str, ...],
                       store: Store) -> dict[str, Any]:
    """`--funding store` (each symbol's stored funding history, `cashup data import` of a funding file) or
    `--funding BTC_USDT=f.csv,ETH_USDT=g.csv` -> {symbol: Funding}."""
    import numpy as np

    from cashup_tui.cli.data_specs import parse_specs
    from cashup_tui.domain.errors import ValidationError
    from cashup_tui.engine.backtest.data import load_funding
    from cashup_tui.engine.backtest.model import Funding

    if spec.strip().lower() == "store":
        from cashup_tui.store import candles

        db = store.open_db(ctx, s)
        try:
            rows = {sym: candles.load_funding(db, sym) for sym in symbols}
        finally:
            db.close()
        return {sym: Funding(np.array([t for t, _ in r], dtype=np.int64), np.array([float(x) for _, x in r]),
                             f"store:{sym}:funding") for sym, r in rows.items() if r}
    try:
        specs = parse_specs([p for p in spec.split(",") if p.strip()], option="--funding")
    except ValidationError as exc:
        raise ValidationError(exc.args[0], hint="--funding store, or --funding BTC_USDT=f.csv,ETH_USDT=g.csv") from None
    return {sym: load_funding(path or "") for sym, path in specs}


def prepare_panel(ctx: typer.Context | None, strategy: str, params: list[str] | None, data: list[str] | None,
                  symbols: str | None, timeframe: str | None, start: str | None, end: str | None, *,
                  cash: float | None = None, fee_bps: float | None = None, slippage_bps: float | None = None,
                  leverage: float | None = None, allow_short: bool = False, allow_gaps: bool = False,
                  funding: str | None = None, settings: Any = None, store: Store) -> PanelPrep:
    """Validate everything and load the panel; raises CashupError (clean CLI message) on bad input."""
    from cashup_tui.cli.data_specs import parse_specs
    from cashup_tui.domain.errors import StrategyError, ValidationError
    from cashup_tui.engine.backtest.model import RunConfig
    from cashup_tui.engine.backtest.pipeline import build_strategy
    from cashup_tui.engine.panel import PortfolioStrategy
    from cashup_tui.engine.strategy import parse_params, strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    s = settings or settings_from(ctx)
    strat = build_strategy(strategy, parse_params(params or []), strategy_dirs(user_strategies_dir()))
    if not isinstance(strat, PortfolioStrategy):
        raise StrategyError(f"{strategy} is not a portfolio strategy")
    specs = parse_specs(data, symbols, None, timeframe, file_names=True)
    if len(specs) < 2:
        raise ValidationError(f"{strategy} is a portfolio strategy: give at least two symbols", hint=SYMBOL_HINT)
    panel, source = load_panel(ctx, s, specs, timeframe, start, end, allow_gaps, store)
    if len(panel) < strat.warmup() + 1:
        raise ValidationError(f"{strat.label()} needs at least {strat.warmup() + 1} bars, the data has {len(panel)}",
                              hint="use a longer range (--from/--to) or shorter periods (--param ...)")
    cfg = RunConfig(
        cash=s.backtest.cash if cash is None else cash,
        fee_bps=s.backtest.fee_bps if fee_bps is None else fee_bps,
        slippage_bps=s.backtest.slippage_bps if slippage_bps is None else slippage_bps,
        leverage=s.backtest.leverage if leverage is None else leverage, allow_short=allow_short,
    )
    cfg.check()
    if funding:  # the rates go into the panel; the config only names their source (settings, fingerprint)
        from dataclasses import replace

        import numpy as np

        from cashup_tui.domain.errors import CashupError
        from cashup_tui.engine.backtest.model import Funding
        from cashup_tui.engine.backtest.panel_model import with_funding

        try:
            panel = with_funding(panel, load_funding_specs(ctx, s, funding, panel.symbols, store))
        except CashupError as exc:  # bad --funding: exit 2, nothing has run
            fail(exc.args[0], hint=exc.hint, code=2)
        cfg = replace(cfg, funding=Funding(np.zeros(0, dtype=np.int64), np.zeros(0), funding))
    return PanelPrep(strat, panel, cfg, source)


def fingerprint(strategy: Any, panel: Any, cfg: Any, engine: str) -> str:
    import hashlib
    import json

    from cashup_tui.engine.backtest.model import ENGINE_VERSION

    h = hashlib.sha256(panel.digest().encode())
    h.update(strategy.source_text().encode())
    h.update(json.dumps(strategy.params, sort_keys=True, default=str).encode())
    h.update(json.dumps(cfg.as_dict(), sort_keys=True, default=str).encode())
    h.update(f"panel-{engine}:{ENGINE_VERSION}".encode())
    return h.hexdigest()[:24]


@dataclass
class PortfolioRun:
    result: Any  # PortfolioResult
    metrics: dict[str, Any]
    fingerprint: str
    source: str
    run_id: int | None = None

    def json(self) -> dict[str, Any]:
        r = self.result
        return {"strategy": r.strategy, "params": r.params, "engine": r.engine, "timeframe": r.timeframe,
                "data": self.source, "settings": r.config.as_dict(), **self.metrics, "fingerprint": self.fingerprint,
                "stored": self.run_id is not None, "run_id": self.run_id}

    def title(self) -> str:
        r = self.result
        head = f"run {self.run_id}: " if self.run_id is not None else ""
        return f"{head}{r.strategy} {r.params}  {len(r.symbols)} symbols {r.timeframe}  ({r.engine} engine)"

    def footer(self, report: str | None = None) -> str:
        stored = f"stored as run {self.run_id}" if self.run_id is not None else "not stored (--no-store)"
        return (f"data {self.source}\nfingerprint {self.fingerprint}   {stored}"
                + (f"   report {report}" if report else ""))


def symbol_table(metrics: dict[str, Any]) -> Any:
    """The per-symbol table of a portfolio run's metrics (`backtest run`, `backtest show`)."""
    from rich.table import Table

    t = Table(title="per symbol", title_justify="left")
    t.add_column("symbol", no_wrap=True)
    for col in ("PnL", "of cash", "exposure", "turnover", "fees", "fills", "weight now"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in metrics["per_symbol"]:
        w = r["final_weight"]
        t.add_row(r["symbol"], f"{r['contribution']:,.2f}", f"{r['contribution_pct']:.2%}", f"{r['exposure']:.2%}",
                  f"{r['turnover']:,.2f}x", f"{r['fees']:,.2f}", str(r["fills"]), "-" if w is None else f"{w:.2%}")
    return t


def print_symbols(metrics: dict[str, Any], corr_title: str) -> None:
    """The per-symbol table and the correlation table of a portfolio run."""
    from cashup_tui.cli.backtest_view import correlation_table
    from cashup_tui.cli.common import console

    c = console()
    c.print(symbol_table(metrics))
    if metrics.get("correlation"):
        c.print(correlation_table(metrics["correlation"], corr_title))


def run_portfolio(ctx: typer.Context, s: Any, strategy: str, params: list[str] | None, data: list[str] | None, *,
                  symbols: str | None, timeframe: str | None, start: str | None, end: str | None, engine: str,
                  cash: float | None, fee_bps: float | None, slippage_bps: float | None, leverage: float | None,
                  allow_short: bool, contracts: bool, funding: str | None, sizer: str, allow_gaps: bool,
                  symbol: str | None, report: str | None, json_out: bool, no_store: bool,
                  save_run: Callable[..., int], store: Store) -> None:
    """Validate, load the panel, run the engine, store the run (as one run: the whole account, the
    per-symbol table in its metrics), write the report and print. `save_run` is `backtest run`'s own."""
    import time
    from types import SimpleNamespace

    from cashup_tui.engine.backtest.panel_model import portfolio_metrics, report_rows

    unsupported = [(contracts, "--contracts"), (sizer not in ("all-in", ""), "--sizer"), (bool(symbol), "--symbol")]
    for on, flag in unsupported:
        if on:
            fail(f"{flag} is not supported for portfolio strategies yet", code=2,
                 hint="portfolio weights size the positions; give the candles with --data SYMBOL=FILE")
    if not symbols and (not data or len(data) < 2):
        fail(f"{strategy} is a portfolio strategy: give at least two symbols", hint=SYMBOL_HINT, code=2)
    started = int(time.time() * 1000)
    p = prepare_panel(ctx, strategy, params, data, symbols, timeframe, start, end, cash=cash, fee_bps=fee_bps,
                      slippage_bps=slippage_bps, leverage=leverage, allow_short=allow_short, allow_gaps=allow_gaps,
                      funding=funding, settings=s, store=store)
    if engine == "event":
        from cashup_tui.engine.backtest.panel_event import run_panel_event as run
    else:
        from cashup_tui.engine.backtest.panel_fast import run_panel_fast as run
    res = run(p.strategy, p.panel, p.config)  # bad weights raise here: nothing is stored
    out = PortfolioRun(res, portfolio_metrics(res), fingerprint(p.strategy, p.panel, p.config, engine), p.source)
    whole = res.as_result()  # the account as one curve: what the store and the report take
    if not no_store:
        bars = SimpleNamespace(symbol=whole.symbol, timeframe=res.timeframe, time_ms=res.time_ms)
        view = SimpleNamespace(strategy=p.strategy, bars=bars, config=p.config, source=p.source)
        out.run_id = save_run(ctx, s, view, whole, out.metrics, out.fingerprint, engine, started_ms=started)
    if report:
        from cashup_tui.engine.backtest.report import write_report

        write_report(report, whole, out.metrics, out.fingerprint, run_id=out.run_id, source=p.source,
                     per_symbol=report_rows(out.metrics), correlation=out.metrics["correlation"],
                     corr_what="symbol close-to-close returns")
    if json_out:
        from cashup_tui.cli.backtest_view import emit_json

        return emit_json(out.json())
    from cashup_tui.cli.backtest_view import equity_chart, metrics_table
    from cashup_tui.cli.common import console

    c = console()
    c.print(metrics_table(out.metrics, title=out.title()))
    c.print(equity_chart(res.time_ms, res.equity, width=min(c.width, 110)))
    print_symbols(out.metrics, "correlation of the symbols' bar returns")
    c.print(out.footer(report))
    return None


def lookahead(ctx: typer.Context, strategy: str, params: list[str] | None, data: list[str] | None,
              symbols: str | None, symbol: str | None, timeframe: str | None, start: str | None, end: str | None,
              allow_gaps: bool, *, cuts: int | None, seed: int, funding: str | None, store: Store) -> Any:
    """`backtest lookahead` on a portfolio strategy: its weights on the panel cut at random bars."""
    from cashup_tui.engine.backtest.panel_lookahead import check_panel

    if symbol:
        fail(f"{strategy} is a portfolio strategy: give its symbols with --data SYM=FILE ... or --symbols A,B",
             hint=SYMBOL_HINT, code=2)
    p = prepare_panel(ctx, strategy, params, data, symbols, timeframe, start, end, allow_gaps=allow_gaps,
                      allow_short=True, leverage=125.0, funding=funding, store=store)
    return check_panel(p.strategy, p.panel, cuts=cuts, seed=seed)


def prepare_for_sweep(ctx: typer.Context, s: Any, strategy: str, params: list[str] | None, data: list[str] | None,
                      symbols: str | None, symbol: str | None, timeframe: str | None, start: str | None,
                      end: str | None, *, cash: float | None, fee_bps: float | None, slippage_bps: float | None,
                      leverage: float | None, allow_short: bool, contracts: bool, funding: str | None, sizer: str,
                      allow_gaps: bool, store: Store) -> Any:
    """`optimize` on a portfolio strategy: the panel and settings as `backtest run` takes them, as an object
    with `.strategy`, `.bars` (the panel) and `.config`, like a one-symbol sweep's `prepare`."""
    from types import SimpleNamespace

    for on, flag in ((contracts, "--contracts"), (sizer not in ("all-in", ""), "--sizer"), (bool(symbol), "--symbol")):
        if on:
            fail(f"{flag} is not supported for portfolio strategies yet", code=2, hint=SYMBOL_HINT)
    p = prepare_panel(ctx, strategy, params, data, symbols, timeframe, start, end, cash=cash, fee_bps=fee_bps,
                      slippage_bps=slippage_bps, leverage=leverage, allow_short=allow_short, allow_gaps=allow_gaps,
                      funding=funding, settings=s, store=store)
    return SimpleNamespace(strategy=p.strategy, bars=p.panel, config=p.config, source=p.source)
