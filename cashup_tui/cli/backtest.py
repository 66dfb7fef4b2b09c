"""`cashup backtest run|list|show|compare|lookahead`.

Only stdlib + typer at import time: numpy, the store (SQLAlchemy) and rich/plotext are imported
inside the commands, so `cashup --help` stays fast and `--json` runs skip the chart libraries.
"""

from __future__ import annotations

from typing import Any

import typer

from cashup_tui.cli import backtest_sleeves as sleeves
from cashup_tui.cli.backtest_view import _f2, _pct, emit_json, equity_chart, metrics_table, trades_table
from cashup_tui.cli.choices import Engine, complete_sizer, complete_timeframe
from cashup_tui.cli.common import db_url_from, fail, input_file, print_json, settings_from

app = typer.Typer(help="Run, list, show and compare backtests.", no_args_is_help=True, add_completion=False)

EQUITY_POINTS = 2000  # equity points kept per stored run (evenly spaced, last bar always kept)

# typer option singletons shared with `cashup optimize`
DATA = typer.Option(None, "--data", "-d", help="OHLCV CSV file (open_time_ms,open,high,low,close[,volume] or "
                    "t,o,h,l,c,v); '-' reads stdin.")
DATA_MANY = typer.Option(None, "--data", "-d", help="OHLCV CSV file (as for one symbol), or SYM=FILE once per "
                         "symbol: a portfolio strategy's symbols, or a one-symbol strategy run on each as sleeves.")
SYMBOL = typer.Option(None, "--symbol", "-s", help="Read candles from the store: contract, e.g. BTC_USDT.")
TIMEFRAME = typer.Option(None, "--timeframe", "-t", help="With --symbol: the stored timeframe, e.g. 1h.",
                         autocompletion=complete_timeframe)
FROM = typer.Option(None, "--from", help="First bar (UTC date/time or epoch ms), inclusive.")
TO = typer.Option(None, "--to", help="End (UTC date/time or epoch ms), exclusive.")
PARAM = typer.Option(None, "--param", "-p", help="Strategy parameter name=value (repeatable).")
CASH = typer.Option(None, "--cash", help="Starting equity in USDT (default: backtest.cash, 10000).")
FEE = typer.Option(None, "--fee-bps", help="Fee per side in basis points of notional (default: backtest.fee_bps, 5).")
SLIP = typer.Option(None, "--slippage-bps", help="Slippage per market fill in bps (default: backtest.slippage_bps, 0).")
LEV = typer.Option(None, "--leverage", help="Position size multiple of equity (default: backtest.leverage, 1).")
SHORT = typer.Option(False, "--allow-short", help="Go short on -1 signals (default: long only, -1 = flat).")
CONTRACTS = typer.Option(False, "--contracts", help="Round sizes down to whole Gate contracts of the symbol.")
FUNDING = typer.Option(None, "--funding", help="Funding CSV (funding_time_ms,funding_rate) charged on positions; a "
                       "portfolio: 'store' (each symbol's stored rates) or BTC_USDT=f.csv,ETH_USDT=g.csv.")
SIZER = typer.Option("all-in", "--sizer", help="all-in | percent:P | notional:USDT | atr:RISK%[:MULT[:PERIOD]].",
                     autocompletion=complete_sizer)
GAPS = typer.Option(False, "--allow-gaps", help="Run on data with gaps (missing bars) and drop rows with NaNs.")


def prepare(
    ctx: typer.Context | None, strategy: str, params: list[str] | None, data: str | None, symbol: str | None,
    timeframe: str | None, start: str | None, end: str | None, *, cash: float | None = None,
    fee_bps: float | None = None, slippage_bps: float | None = None, leverage: float | None = None,
    allow_short: bool = False, contracts: bool = False, funding: str | None = None, sizer: str = "all-in",
    allow_gaps: bool = False, engine: str = "fast", settings: Any = None,
):
    """Validate everything and load the data; raises CashupError (clean CLI message) on bad input."""
    from cashup_tui.domain.errors import ValidationError
    from cashup_tui.engine.backtest.data import check_bars, load_csv, load_funding, need_warmup, slice_bars
    from cashup_tui.engine.backtest.model import RunConfig, known_instrument, parse_sizer
    from cashup_tui.engine.backtest.pipeline import Prepared, build_strategy, check_runnable
    from cashup_tui.engine.strategy import parse_params, strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    s = settings or settings_from(ctx)
    strat = build_strategy(strategy, parse_params(params or []), strategy_dirs(user_strategies_dir()))
    check_runnable(strat, engine)
    if bool(data) == bool(symbol):
        raise ValidationError(
            "give either --data FILE or --symbol S --timeframe TF",
            hint="e.g. --data candles.csv, or --symbol BTC_USDT --timeframe 1h (candles imported with `cashup data import`)",
        )
    if data:
        with input_file(data) as (path, label):
            bars = load_csv(path, allow_gaps=allow_gaps, label=label)
        source = label
    else:
        if not timeframe:
            raise ValidationError("--symbol needs --timeframe", hint="e.g. --symbol BTC_USDT --timeframe 1h")
        bars = _bars_from_store(ctx, s, symbol or "", timeframe, start, end)
        bars = check_bars(bars, source=f"store {symbol} {timeframe}", allow_gaps=allow_gaps)
        source = f"store:{symbol}:{timeframe}"
    bars = slice_bars(bars, start, end)
    need_warmup(bars, strat.warmup(), strat.label())
    inst = known_instrument(symbol or bars.symbol) if contracts else None
    cfg = RunConfig(
        cash=s.backtest.cash if cash is None else cash,
        fee_bps=s.backtest.fee_bps if fee_bps is None else fee_bps,
        slippage_bps=s.backtest.slippage_bps if slippage_bps is None else slippage_bps,
        leverage=s.backtest.leverage if leverage is None else leverage,
        allow_short=allow_short, sizer=parse_sizer(sizer), instrument=inst,
        funding=load_funding(funding) if funding else None,
    )
    cfg.check()
    return Prepared(strat, bars, cfg, source)


def _bars_from_store(ctx: typer.Context | None, s: Any, symbol: str, timeframe: str, start: str | None, end: str | None):
    from cashup_tui.domain.errors import DataError
    from cashup_tui.domain.timeframes import timeframe_ms
    from cashup_tui.engine.backtest.data import parse_when
    from cashup_tui.engine.strategy import Bars
    from cashup_tui.paths import candle_cache_dir
    from cashup_tui.store.candle_cache import read_candle_columns_sqlite

    timeframe_ms(timeframe)  # validates the spelling
    lo = parse_when(start, "--from") if start else None
    hi = parse_when(end, "--to") - 1 if end else None
    url = db_url_from(ctx, s)
    cache = candle_cache_dir()  # derived from the store, safe to delete (store.candle_cache)
    cols = read_candle_columns_sqlite(url, symbol, timeframe, lo, hi, busy_timeout_ms=s.store.busy_timeout_ms,
                                      cache=cache, publish_later=True)  # the backtest does not wait on its fsync
    if cols is None:  # not a current-schema SQLite file: open_store creates, migrates or explains
        from cashup_tui.store import open_store
        from cashup_tui.store.candle_cache import read_columns
        from cashup_tui.store.engine import transaction

        db = open_store(url, synchronous=s.store.synchronous, busy_timeout_ms=s.store.busy_timeout_ms)
        try:
            with transaction(db) as conn:
                cols = read_columns(conn, db.location, symbol, timeframe, lo, hi, cache=cache, publish_later=True)
        finally:
            db.close()
    if len(cols["open_ms"]) == 0:
        raise DataError(
            f"no {symbol} {timeframe} candles in the store" + (" in that date range" if (lo or hi) else ""),
            hint="import some with `cashup data import FILE --symbol ... --timeframe ...`, or list them with `cashup data list`",
        )
    return Bars.from_arrays(cols["open_ms"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"],
                            symbol=symbol, timeframe=timeframe)


# ---------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------
def open_db(ctx: typer.Context | None, s: Any = None):
    from cashup_tui.store import open_store

    s = s or settings_from(ctx)
    return open_store(db_url_from(ctx, s), synchronous=s.store.synchronous, busy_timeout_ms=s.store.busy_timeout_ms)


def save_run(ctx: typer.Context | None, s: Any, prep: Any, res: Any, metrics: dict[str, Any] | None, fp: str,
             engine: str, *, status: str = "done", error: str = "", started_ms: int = 0) -> int:
    """One transaction: the run, its trades and a thinned equity curve (nothing half-written).

    An existing SQLite store at the current schema is written with the stdlib driver
    (`store.lite`: no SQLAlchemy import, a third of a cold run); anything else (a new file, an
    older schema, another backend) goes through `open_store`, which creates or migrates it."""
    import time
    from decimal import Decimal

    import numpy as np

    from cashup_tui.engine.backtest.metrics import drawdown_curve
    from cashup_tui.store.lite import BacktestRun, TradeColumns, save_backtest_run_sqlite

    bars = prep.bars
    meta = {"data": prep.source, "settings": prep.config.as_dict()}
    run = BacktestRun(
        strategy=prep.strategy.label(), symbol=bars.symbol, timeframe=bars.timeframe, fingerprint=fp,
        params=dict(prep.strategy.params), metrics={**(metrics or {}), **meta}, status=status, error=error,
        engine=engine, data_start_ms=int(bars.time_ms[0]), data_end_ms=int(bars.time_ms[-1]),
        started_ms=started_ms or int(time.time() * 1000), finished_ms=int(time.time() * 1000),
        cash=Decimal(str(prep.config.cash)),
    )
    trades, equity = TradeColumns(bars.symbol, [], [], [], [], [], [], [], [], []), []
    if res is not None:
        c = res.trade_columns()
        reason = c["exit_reason"]
        trades = TradeColumns(bars.symbol, c["side"], c["qty"], c["entry_time"], c["entry_price"],
                              [None if r == "end" else x for r, x in zip(reason, c["exit_time"], strict=True)],
                              c["exit_price"], c["pnl"], c["fees"], reason)
        n = res.equity.size
        # evenly spaced and already sorted: np.unique would import numpy.ma (a cold run would pay for it)
        idx = np.r_[np.linspace(0, n - 1, num=min(n, EQUITY_POINTS)).astype(np.int64), n - 1]
        idx = idx[np.r_[True, idx[1:] != idx[:-1]]]
        dd = drawdown_curve(res.equity)
        equity = [(int(res.time_ms[i]), float(res.equity[i]), float(dd[i])) for i in idx]
    url = db_url_from(ctx, s)
    run_id = save_backtest_run_sqlite(url, run, trades, equity, synchronous=s.store.synchronous,
                                      busy_timeout_ms=s.store.busy_timeout_ms)
    if run_id is not None:
        return run_id
    from cashup_tui.store.backtests import save_backtest_run

    db = open_db(ctx, s)
    try:
        return save_backtest_run(db, run, trades.trades(), equity)
    finally:
        db.close()


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------
@app.command("run")
def run_cmd(
    ctx: typer.Context,
    strategy: str = typer.Argument(..., help="Strategy name (see `cashup strategies list`) or a .py path."),
    data: list[str] = DATA_MANY, symbol: str = SYMBOL, symbols: str = sleeves.SYMBOLS, timeframe: str = TIMEFRAME,
    start: str = FROM, end: str = TO, param: list[str] = PARAM,
    allocation: str = sleeves.ALLOCATION, align: str = sleeves.ALIGN,
    engine: Engine = typer.Option(None, "--engine", help="fast (vectorised) or event (default: backtest.engine)."),
    cash: float = CASH, fee_bps: float = FEE, slippage_bps: float = SLIP, leverage: float = LEV,
    allow_short: bool = SHORT, contracts: bool = CONTRACTS, funding: str = FUNDING, sizer: str = SIZER,
    allow_gaps: bool = GAPS,
    json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout (metrics, trades, fingerprint)."),
    report: str = typer.Option(None, "--report", help="Also write a self-contained HTML report to this file."),
    trades_shown: int = typer.Option(10, "--trades", help="How many of the last trades to list."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the run in the store (quick experiments)."),
) -> None:
    """Backtest STRATEGY on a CSV file or stored candles (or several symbols as sleeves: --data SYM=FILE ...,
    --symbols A,B); every run is stored with its fingerprint."""
    import time

    from cashup_tui.domain.errors import StrategyError
    from cashup_tui.engine.backtest.metrics import compute
    from cashup_tui.engine.backtest.pipeline import fingerprint, result_json
    from cashup_tui.engine.backtest.pipeline import run as run_engine

    s = settings_from(ctx)
    engine = engine or s.backtest.engine
    if engine not in ("fast", "event"):
        fail(f"unknown engine {engine!r}", hint="use --engine fast or --engine event", code=2)
    from cashup_tui.cli.profile import require_profile

    require_profile(ctx, s, "backtest", "backtest.run", audit_store=not no_store, strategy=strategy)
    if report and not report.lower().endswith((".html", ".htm")):
        fail(f"--report {report}: the report is HTML", hint="give a file name ending in .html", code=2)
    from cashup_tui.cli import backtest_portfolio as pf

    if pf.is_portfolio(strategy):  # several symbols, target weights: its own path, stored as one run
        return pf.run_portfolio(ctx, s, strategy, param, data, symbols=symbols, timeframe=timeframe, start=start,
                                end=end, engine=engine, cash=cash, fee_bps=fee_bps, slippage_bps=slippage_bps,
                                leverage=leverage, allow_short=allow_short, contracts=contracts, funding=funding,
                                sizer=sizer, allow_gaps=allow_gaps, symbol=symbol, report=report, json_out=json_out,
                                no_store=no_store, save_run=save_run, store=pf.Store(_bars_from_store, open_db))
    if sleeves.wants_sleeves(data, symbols):
        opts = dict(cash=cash, fee_bps=fee_bps, slippage_bps=slippage_bps, leverage=leverage, allow_short=allow_short,
                    contracts=contracts, funding=funding, sizer=sizer, allow_gaps=allow_gaps)
        return sleeves.run_sleeves(ctx, s, strategy, param, data, symbols, symbol, timeframe, start, end, allocation,
                                   align, engine, opts, json_out=json_out, report=report, no_store=no_store,
                                   trades_shown=trades_shown, prepare=prepare, save_run=save_run)
    if len(data or []) > 1 or allocation or align:
        fail("several --data files, --allocation and --align are for sleeves: give each file as SYM=FILE",
             hint="e.g. --data BTC_USDT=btc.csv --data ETH_USDT=eth.csv --allocation equal", code=2)
    started = int(time.time() * 1000)
    prep = prepare(ctx, strategy, param, data[0] if data else None, symbol, timeframe, start, end, cash=cash, fee_bps=fee_bps,
                   slippage_bps=slippage_bps, leverage=leverage, allow_short=allow_short, contracts=contracts,
                   funding=funding, sizer=sizer, allow_gaps=allow_gaps, engine=engine, settings=s)
    fp = fingerprint(prep.strategy, prep.bars, prep.config, engine)
    venue = None
    if engine == "event":  # the shared simulated venue, picked by the composition root
        from cashup_tui.runtime import event_backtest_venue

        venue = event_backtest_venue()
    run_id: int | None
    try:
        res = run_engine(prep, engine, venue)
    except StrategyError as exc:  # the strategy itself failed: record the failed run, then report it
        run_id = save_run(ctx, s, prep, None, None, fp, engine, status="failed", error=str(exc), started_ms=started)
        fail(f"{str(exc).splitlines()[0]} (run {run_id} marked failed)",
             hint="fix the strategy and run again; `cashup backtest show " + str(run_id) + "` has the details")
    metrics = compute(res)
    run_id = None
    if not no_store:
        run_id = save_run(ctx, s, prep, res, metrics, fp, engine, started_ms=started)
    if report:
        from cashup_tui.engine.backtest.report import write_report

        write_report(report, res, metrics, fp, run_id=run_id, source=prep.source)
    if json_out:
        emit_json(result_json(res, metrics, fp, run_id=run_id, source=prep.source))
        return
    _print_result(res, metrics, fp, run_id, prep.source, trades_shown, report)


def _print_result(res: Any, m: dict[str, Any], fp: str, run_id: int | None, source: str, n_trades: int, report: str | None) -> None:
    from cashup_tui.cli.common import console

    c = console()
    title = f"{res.strategy} {res.params}  {res.symbol} {res.timeframe}  ({source})"
    c.print(metrics_table(m, title=(f"run {run_id}: " if run_id is not None else "") + title))
    c.print(equity_chart(res.time_ms, res.equity, width=min(c.width, 110)))
    c.print(trades_table(res.trade_rows()[-n_trades:], title=f"last {min(n_trades, len(res.trades))} of {len(res.trades)} trades"))
    if res.rejected:  # event engine: orders the risk gate or the venue refused are shown, not dropped
        c.print(f"[yellow]{res.rejected} order(s) refused[/]: " + "; ".join(res.notes[:3]), markup=True)
    stored = f"stored as run {run_id}" if run_id is not None else "not stored (--no-store)"
    c.print(f"fingerprint {fp}   {stored}" + (f"   report {report}" if report else ""))


# ---------------------------------------------------------------------------------------------
# list / show / compare
# ---------------------------------------------------------------------------------------------
def _run_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "strategy": r.strategy, "symbol": r.symbol, "timeframe": r.timeframe, "engine": r.engine,
        "status": r.status, "error": r.error, "params": r.params, "fingerprint": r.fingerprint,
        "data_start": r.data_start_ms, "data_end": r.data_end_ms, "started": r.started_ms, "finished": r.finished_ms,
        "cash": r.cash, "metrics": r.metrics,
    }


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    strategy: str = typer.Option(None, "--strategy", help="Only runs of this strategy."),
    limit: int = typer.Option(30, "--limit", "-n", help="How many (most recent first)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Stored backtest runs, most recent first."""
    from cashup_tui.store.backtests import list_backtest_runs

    db = open_db(ctx)
    try:
        runs = list_backtest_runs(db, strategy=strategy, limit=limit)
    finally:
        db.close()
    if json_out:
        print_json({"runs": [_run_dict(r) for r in runs]})
        return
    from rich.table import Table

    from cashup_tui.cli.common import console

    t = Table(title=f"backtest runs ({len(runs)})", title_justify="left")
    for col in ("id", "strategy", "params", "symbol", "tf", "status", "return", "sharpe", "max dd", "trades", "fingerprint"):
        t.add_column(col, justify="right" if col in ("id", "return", "sharpe", "max dd", "trades") else "left")
    for r in runs:
        m = r.metrics or {}
        status = r.status if r.status != "failed" else "[red]failed[/red]"
        t.add_row(str(r.id), r.strategy, _params(r.params), r.symbol, r.timeframe, status, _pct(m.get("total_return")),
                  _f2(m.get("sharpe")), _pct(m.get("max_drawdown")), str(m.get("trade_count", "-")), r.fingerprint[:12])
    console().print(t)


def _params(p: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in (p or {}).items())


def _get_run(db: Any, run_id: int) -> Any:
    from cashup_tui.store.backtests import get_backtest_run

    r = get_backtest_run(db, run_id)
    if r is None:
        fail(f"no backtest run {run_id}", hint="see `cashup backtest list` for ids")
    return r


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="Run id (see `cashup backtest list`)."),
    trades_shown: int = typer.Option(20, "--trades", help="How many of the last trades to list."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """One stored run: metrics, equity chart and trades."""
    from cashup_tui.store.backtests import load_backtest_trades, load_equity

    db = open_db(ctx)
    try:
        r = _get_run(db, run_id)
        trades = load_backtest_trades(db, run_id)
        equity = load_equity(db, run_id)
    finally:
        db.close()
    rows = [{
        "entry_time": t.entry_ms, "exit_time": t.exit_ms, "side": t.side, "qty": float(t.size),
        "entry_price": float(t.entry_price), "exit_price": float(t.exit_price or 0), "pnl": float(t.pnl),
        "fees": float(t.fees), "exit_reason": t.reason,
    } for t in trades]
    if json_out:
        print_json({**_run_dict(r), "trades": rows, "equity": [list(p) for p in equity]})
        return
    from cashup_tui.cli.common import console

    c = console()
    head = f"run {r.id}: {r.strategy} {_params(r.params)}  {r.symbol} {r.timeframe}  [{r.status}]  fingerprint {r.fingerprint}"
    if r.status == "failed":
        c.print(head)
        c.print(f"[red]error:[/red] {r.error}")
        return
    c.print(metrics_table(r.metrics or {}, title=head))
    if equity:
        c.print(equity_chart([p[0] for p in equity], [p[1] for p in equity], width=min(c.width, 110)))
    if (r.metrics or {}).get("per_symbol"):  # a portfolio run
        from cashup_tui.cli.backtest_portfolio import print_symbols

        print_symbols(r.metrics, "correlation of the symbols' bar returns")
        return
    c.print(trades_table(rows[-trades_shown:], title=f"last {min(trades_shown, len(rows))} of {len(rows)} trades"))


COMPARE_KEYS = ("final_equity", "total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate",
                "profit_factor", "exposure", "trade_count", "fees", "funding", "bars")


@app.command("compare")
def compare_cmd(
    ctx: typer.Context,
    run_ids: list[int] = typer.Argument(..., help="Two or more run ids."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Metrics of several runs side by side (and what differs in their parameters and settings)."""
    if len(run_ids) < 2:
        fail("compare needs at least two run ids", hint="e.g. cashup backtest compare 3 7")
    db = open_db(ctx)
    try:
        runs = [_get_run(db, i) for i in run_ids]
    finally:
        db.close()
    if json_out:
        print_json({"runs": [_run_dict(r) for r in runs],
                    "metrics": {k: [(r.metrics or {}).get(k) for r in runs] for k in COMPARE_KEYS}})
        return
    from rich.table import Table

    from cashup_tui.cli.common import console

    t = Table(title="compare", title_justify="left")
    t.add_column("")
    for r in runs:
        t.add_column(f"run {r.id}", justify="right")
    t.add_row("strategy", *[r.strategy for r in runs])
    t.add_row("params", *[_params(r.params) for r in runs])
    t.add_row("data", *[f"{r.symbol} {r.timeframe}" for r in runs])
    t.add_row("status", *[r.status for r in runs])
    pct = {"total_return", "cagr", "max_drawdown", "win_rate", "exposure"}
    for k in COMPARE_KEYS:
        vals = [(r.metrics or {}).get(k) for r in runs]
        t.add_row(k, *[(_pct(v, none="n/a" if k == "cagr" else "-") if k in pct else _f2(v) if isinstance(v, float) else str(v if v is not None else "-")) for v in vals])
    t.add_row("fingerprint", *[r.fingerprint[:12] for r in runs])
    console().print(t)


# ---------------------------------------------------------------------------------------------
# lookahead
# ---------------------------------------------------------------------------------------------
@app.command("lookahead")
def lookahead_cmd(
    ctx: typer.Context,
    strategy: str = typer.Argument(..., help="Strategy name or .py path."),
    data: list[str] = DATA_MANY, symbol: str = SYMBOL, symbols: str = sleeves.SYMBOLS, timeframe: str = TIMEFRAME,
    start: str = FROM, end: str = TO, param: list[str] = PARAM, allow_gaps: bool = GAPS,
    cuts: int = typer.Option(20, "--cuts", min=1, max=500, help="How many truncation points to test."),
    exhaustive: bool = typer.Option(False, "--exhaustive", help="Cut at every bar (one signal run per bar)."),
    seed: int = typer.Option(7, "--seed", help="Portfolio strategies: seed of the random cut points."),
    funding: str = FUNDING, json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-run the strategy's signals (a portfolio strategy's weights) on truncated data; report those that
    change (exit 1 if any)."""
    from cashup_tui.cli import backtest_portfolio as pf
    from cashup_tui.engine.backtest.lookahead import check

    if pf.is_portfolio(strategy):  # the panel cut at random bars (or every bar)
        rep = pf.lookahead(ctx, strategy, param, data, symbols, symbol, timeframe, start, end, allow_gaps,
                           cuts=None if exhaustive else cuts, seed=seed, funding=funding,
                           store=pf.Store(_bars_from_store, open_db))
    else:
        if len(data or []) > 1 or symbols or funding:
            fail(f"{strategy} trades one symbol: its look-ahead check takes one --data FILE or --symbol "
                 "(and no --funding)", code=2)
        prep = prepare(ctx, strategy, param, data[0] if data else None, symbol, timeframe, start, end,
                       allow_gaps=allow_gaps)
        rep = check(prep.strategy, prep.bars, cuts=None if exhaustive else cuts)
    if json_out:
        print_json(rep.as_dict())
    else:
        from cashup_tui.cli.common import console

        c = console()
        if rep.clean:
            c.print(f"[green]no look-ahead[/green]: {rep.strategy} {_params(rep.params)} gave identical signals on "
                    f"{len(rep.cuts)} truncations of {rep.bars} bars")
            if not rep.exhaustive:
                c.print(f"sampled: {len(rep.cuts)} of {rep.possible} possible cut points ({rep.coverage:.2%}); a peek "
                        "at only a few bars can fall between them: --exhaustive cuts at every bar")
        else:
            from rich.table import Table

            t = Table(title=f"[red]look-ahead[/red]: {len(rep.changes)} signal(s) changed at {rep.changed_cuts} of "
                            f"{len(rep.cuts)} cuts when the future was removed", title_justify="left")
            sym = any(ch.symbol for ch in rep.changes)
            for col in ("cut at bar", "bar", "time (UTC)", *(["symbol"] if sym else []), "with future", "without"):
                t.add_column(col, justify="right")
            for ch in rep.as_dict(limit=30)["changes"]:
                t.add_row(str(ch["cut"]), str(ch["bar"]), ch["time"], *([ch.get("symbol", "")] if sym else []),
                          str(ch["full"]), str(ch["truncated"]))
            c.print(t)
            c.print("the strategy uses data from bars after the one it signals on (e.g. a negative shift or a "
                    "whole-series statistic)")
    if not rep.clean:
        raise typer.Exit(1)
