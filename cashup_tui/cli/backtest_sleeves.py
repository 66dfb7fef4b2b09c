"""`cashup backtest run` over several symbols as sleeves (`--data SYM=FILE ...` or `--symbols A,B`).

Each sleeve is prepared, run and stored exactly as a one-symbol run with its share of the cash (the
engine module `engine/backtest/sleeves.py` has the rules); this module parses the options, prints the
whole and the per-symbol table, and maps bad input to exit 2 before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from cashup_tui.cli.common import fail
from cashup_tui.cli.data_specs import is_spec, parse_specs

ALLOCATION = typer.Option(None, "--allocation", help="With several symbols: equal (default) or "
                          "weights:BTC_USDT=0.6,ETH_USDT=0.4 (summing to 1); the cash is split once, never rebalanced.")
ALIGN = typer.Option(None, "--align", help="With several symbols whose bar times differ: inner = only the times "
                     "every symbol has; outer = each on its own bars, the whole summed on all times (a sleeve's "
                     "cash before its first bar, its last equity after). Default: refuse.")
SYMBOLS = typer.Option(None, "--symbols", help="Several stored contracts as sleeves, e.g. BTC_USDT,ETH_USDT "
                       "(with --timeframe).")


def wants_sleeves(data: list[str] | None, symbols: str | None) -> bool:
    """Sleeves when --symbols is given or any --data is SYM=FILE; a single plain --data FILE runs as before."""
    return bool(symbols) or any(is_spec(d) for d in data or [])


def _prepare_all(ctx: typer.Context, s: Any, strategy: str, param: list[str] | None, specs: list[tuple[str, str | None]],
                 timeframe: str | None, start: str | None, end: str | None, allocation: str | None, align_mode: str | None,
                 opts: dict[str, Any], prepare: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, float]]:
    from dataclasses import replace

    from cashup_tui.domain.errors import CashupError, DataError, ValidationError
    from cashup_tui.engine.backtest.data import need_warmup
    from cashup_tui.engine.backtest.model import known_instrument
    from cashup_tui.engine.backtest.sleeves import ALIGN_MODES, align, parse_allocation

    if align_mode is not None and align_mode not in ALIGN_MODES:
        raise ValidationError(f"bad --align {align_mode!r}", hint="use --align inner or --align outer")
    if opts.get("funding"):
        raise ValidationError("--funding is one symbol's rates: it cannot be charged to several sleeves",
                              hint="run the symbols one by one with their own --funding file, or leave it out")
    syms = [sym for sym, _ in specs]
    weights = parse_allocation(allocation, syms)
    total = s.backtest.cash if opts["cash"] is None else opts["cash"]
    contracts = opts.pop("contracts")
    preps: dict[str, Any] = {}
    for sym, path in specs:
        try:
            p = prepare(ctx, strategy, param, path, None if path else sym, None if path else timeframe, start, end,
                        settings=s, **{**opts, "cash": total * weights[sym]})
        except CashupError as exc:  # name the symbol when the message does not
            if sym in exc.args[0]:
                raise
            raise (DataError if isinstance(exc, DataError) else ValidationError)(f"{sym}: {exc.args[0]}",
                                                                                 hint=exc.hint) from None
        cfg = replace(p.config, instrument=known_instrument(sym)) if contracts else p.config
        p.bars = replace(p.bars, symbol=sym)
        p.config = cfg
        preps[sym] = p
    aligned = align({sym: p.bars for sym, p in preps.items()}, align_mode, allow_gaps=opts["allow_gaps"])
    for sym, p in preps.items():
        p.bars = aligned[sym]
        need_warmup(p.bars, p.strategy.warmup(), f"{p.strategy.label()} on {sym}")
    return preps, weights


def run_sleeves(ctx: typer.Context, s: Any, strategy: str, param: list[str] | None, data: list[str] | None,
                symbols: str | None, symbol: str | None, timeframe: str | None, start: str | None, end: str | None,
                allocation: str | None, align_mode: str | None, engine: str, opts: dict[str, Any], *,
                json_out: bool, report: str | None, no_store: bool, trades_shown: int,
                prepare: Callable[..., Any], save_run: Callable[..., int]) -> None:
    """`prepare` and `save_run` are `backtest run`'s own (passed in: this module sits below cli.backtest)."""
    import time

    from cashup_tui.domain.errors import CashupError, StrategyError
    from cashup_tui.engine.backtest.metrics import compute
    from cashup_tui.engine.backtest.pipeline import fingerprint, result_json
    from cashup_tui.engine.backtest.pipeline import run as run_engine
    from cashup_tui.engine.backtest.sleeves import combine, whole_fingerprint

    started = int(time.time() * 1000)
    try:
        specs = parse_specs(data, symbols, symbol, timeframe)
        preps, weights = _prepare_all(ctx, s, strategy, param, specs, timeframe, start, end, allocation, align_mode,
                                      {**opts, "engine": engine}, prepare)
    except CashupError as exc:  # bad input: nothing has run or been stored
        fail(exc.args[0], hint=exc.hint, code=2)
    fps = {sym: fingerprint(p.strategy, p.bars, p.config, engine) for sym, p in preps.items()}
    venue = None
    if engine == "event":
        from cashup_tui.runtime import event_backtest_venue

        venue = event_backtest_venue()
    results = {}
    for sym, p in preps.items():
        try:
            results[sym] = run_engine(p, engine, venue)
        except StrategyError as exc:
            fail(f"{sym}: {str(exc).splitlines()[0]}", hint="fix the strategy and run again; nothing was stored")
    run_ids: dict[str, int | None] = {}
    for sym, p in preps.items():
        run_ids[sym] = None if no_store else save_run(ctx, s, p, results[sym], compute(results[sym]), fps[sym],
                                                      engine, started_ms=started)
    sl = combine(results, weights, sum(p.config.cash for p in preps.values()))
    metrics = {**compute(sl.whole), "turnover": sl.turnover()}
    fp = whole_fingerprint(fps, weights, align_mode)
    source = ", ".join(f"{sym}={p.source}" for sym, p in preps.items())
    if report:
        from cashup_tui.engine.backtest.report import write_report

        write_report(report, sl.whole, metrics, fp, source=source, per_symbol=sl.report_rows(),
                     correlation=sl.correlation(), corr_what="sleeve bar returns")
    rows = sl.rows()
    corr = sl.correlation()
    if json_out:
        from cashup_tui.cli.backtest_view import emit_json

        whole = result_json(sl.whole, metrics, fp, source=source)
        whole["trades"] = [{"symbol": sym, **t} for sym, r in results.items() for t in r.trade_rows()]
        whole["trades"].sort(key=lambda t: t["entry_time"])
        whole["allocation"] = weights
        whole["settings"] = {**whole["settings"], "contracts": ([p.config.instrument.symbol for p in preps.values() if p.config.instrument]
                                                                if opts.get("contracts") else None)}
        whole["align"] = align_mode
        whole["sleeves"] = [{**row, "fingerprint": fps[row["symbol"]], "run_id": run_ids[row["symbol"]],
                             "data": preps[row["symbol"]].source} for row in rows]
        whole["correlation"] = corr
        emit_json(whole)
        return
    _print(sl, metrics, rows, corr, fp, run_ids, trades_shown, report)


def _print(sl: Any, m: dict[str, Any], rows: list[dict[str, Any]], corr: dict[str, dict[str, float | None]], fp: str,
           run_ids: dict[str, int | None], n_trades: int, report: str | None) -> None:
    from rich.table import Table

    from cashup_tui.cli.backtest_view import (
        _f2,
        _pct,
        correlation_table,
        equity_chart,
        metrics_table,
        trades_table,
    )
    from cashup_tui.cli.common import console

    c = console()
    w = sl.whole
    c.print(metrics_table(m, title=f"{w.strategy} {w.params}  {len(rows)} sleeves {w.symbol} {w.timeframe}  "
                                   f"(turnover {m['turnover']:.2f}x)"))
    c.print(equity_chart(w.time_ms, w.equity, width=min(c.width, 110)))
    t = Table(title="per symbol (contributions sum to the total return)", title_justify="left")
    for col in ("symbol", "weight", "cash", "final equity", "return", "contribution", "trades", "exposure",
                "turnover", "max dd", "run"):
        t.add_column(col, justify="left" if col == "symbol" else "right")
    for r in rows:
        rid = run_ids[r["symbol"]]
        t.add_row(r["symbol"], f"{r['weight']:.4g}", _f2(r["cash"]), _f2(r["final_equity"]), _pct(r["total_return"]),
                  _pct(r["contribution"]), str(r["trade_count"]), _pct(r["exposure"]), f"{r['turnover']:.2f}x",
                  _pct(r["max_drawdown"]), "-" if rid is None else str(rid))
    c.print(t)
    c.print(correlation_table(corr, "correlation of sleeve bar returns"))
    for sym, r in sl.sleeves.items():
        rows_t = r.trade_rows()[-n_trades:]
        c.print(trades_table(rows_t, title=f"{sym}: last {len(rows_t)} of {len(r.trades)} trades"))
    if w.rejected:
        c.print(f"[yellow]{w.rejected} order(s) refused[/]: " + "; ".join(w.notes[:3]), markup=True)
    stored = ("sleeves stored as runs " + ", ".join(f"{s}={i}" for s, i in run_ids.items())
              if any(i is not None for i in run_ids.values()) else "not stored (--no-store)")
    c.print(f"fingerprint {fp}   {stored}" + (f"   report {report}" if report else ""))
