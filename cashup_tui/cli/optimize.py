"""`cashup optimize STRATEGY --grid fast=5:50:5 --grid slow=20:200:10 ...`: grid/random search,
walk-forward, local processes or a Dask cluster; resumable (finished trials live in the store)."""

from __future__ import annotations

from typing import Any

import typer

from cashup_tui.cli.backtest import (
    CASH,
    CONTRACTS,
    DATA_MANY,
    FEE,
    FROM,
    FUNDING,
    GAPS,
    LEV,
    PARAM,
    SHORT,
    SIZER,
    SLIP,
    SYMBOL,
    TIMEFRAME,
    TO,
)
from cashup_tui.cli.backtest_sleeves import SYMBOLS
from cashup_tui.cli.common import fail, settings_from
from cashup_tui.domain.errors import CashupError


def command(
    ctx: typer.Context,
    strategy: str = typer.Argument(..., help="Strategy name or .py path."),
    grid: list[str] = typer.Option(None, "--grid", "-g", help="name=start:stop:step (inclusive) or name=v1,v2 (repeatable)."),
    random_n: int = typer.Option(None, "--random", min=1, help="Evaluate N random combinations of the grid."),
    tpe: int = typer.Option(None, "--tpe", min=1, metavar="N", help="Search N parameter sets with Optuna's TPE sampler over the --grid values (needs cashup[optuna]); stored and resumable like a grid."),
    seed: int = typer.Option(7, "--seed", help="Seed for --random and --tpe."),
    objective: str = typer.Option("sharpe", "--objective", help="sharpe|sortino|calmar|return|cagr|profit_factor|win_rate|drawdown|final_equity, or SOURCE:FUNCTION (your own; SOURCE = a .py file, a module or `strategy`)."),
    walk_forward: int = typer.Option(0, "--walk-forward", min=0, max=50, help="K anchored walk-forward folds (0 = off)."),
    workers: int = typer.Option(None, "--workers", "-w", min=1, max=256, help="Local worker processes (default: CPU count, max 8)."),
    cluster: str = typer.Option(None, "--cluster", help="Dask scheduler address (tcp://host:8786) instead of local processes (needs cashup[cluster])."),
    wait_workers: float = typer.Option(30.0, "--wait-workers", min=0.1, metavar="SECONDS", help="With --cluster: how long to wait for the scheduler and a first worker."),
    heat: str = typer.Option(None, "--heatmap", help="Two parameters for the heat-map, e.g. fast,slow (default: the first two grids)."),
    top: int = typer.Option(10, "--top", min=1, help="Rows in the results table."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore trials stored by an earlier run of the same study."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    data: list[str] = DATA_MANY, symbols: str = SYMBOLS, symbol: str = SYMBOL, timeframe: str = TIMEFRAME,
    start: str = FROM, end: str = TO,
    param: list[str] = PARAM, cash: float = CASH, fee_bps: float = FEE, slippage_bps: float = SLIP,
    leverage: float = LEV, allow_short: bool = SHORT, contracts: bool = CONTRACTS, funding: str = FUNDING,
    sizer: str = SIZER, allow_gaps: bool = GAPS,
) -> None:
    """Search STRATEGY's parameters on the fast engine (a portfolio strategy: --data SYM=FILE ... or --symbols);
    re-running the same study skips finished trials."""
    import dataclasses
    import hashlib
    import json
    import math
    import os
    import time

    from cashup_tui.cli.backtest import _bars_from_store, open_db, prepare
    from cashup_tui.engine import optimize as opt
    from cashup_tui.engine import optimize_objective as uobj

    if objective not in opt.objectives() and not uobj.is_user_objective(objective):
        fail(f"unknown objective {objective!r}",
             hint=f"use one of {', '.join(opt.objectives())}, or SOURCE:FUNCTION (your own)", code=2)
    if not grid:
        fail("nothing to search: give at least one --grid", hint="e.g. --grid fast=5:50:5 --grid slow=20:200:10", code=2)
    if tpe and (random_n or cluster):
        fail("--tpe chooses its own trials: it does not combine with --random or --cluster",
             hint="drop --random/--cluster (TPE runs on this machine's --workers)", code=2)
    if tpe:
        from cashup_tui.extras import require

        require("optuna", extra="optuna", why="--tpe needs Optuna")
    s = settings_from(ctx)
    from cashup_tui.cli.profile import require_profile

    require_profile(ctx, s, "optimize", "optimize.run", strategy=strategy)
    from cashup_tui.cli import backtest_portfolio as pf

    portfolio = pf.is_portfolio(strategy)
    if portfolio:  # weights over a panel of symbols (engine/optimize_panel.py)
        from cashup_tui.engine.optimize_panel import PanelEvalContext

        prep: Any = pf.prepare_for_sweep(ctx, s, strategy, param, data, symbols, symbol, timeframe, start, end,
                                         cash=cash, fee_bps=fee_bps, slippage_bps=slippage_bps, leverage=leverage,
                                         allow_short=allow_short, contracts=contracts, funding=funding, sizer=sizer,
                                         allow_gaps=allow_gaps, store=pf.Store(_bars_from_store, open_db))
    else:
        if len(data or []) > 1 or symbols:
            fail(f"{strategy} trades one symbol: a sweep takes one --data FILE or --symbol", code=2,
                 hint="sweep each symbol on its own")
        prep = prepare(ctx, strategy, param, data[0] if data else None, symbol, timeframe, start, end, cash=cash,
                       fee_bps=fee_bps, slippage_bps=slippage_bps, leverage=leverage, allow_short=allow_short,
                       contracts=contracts, funding=funding, sizer=sizer, allow_gaps=allow_gaps, settings=s)
    cls = type(prep.strategy)
    spec = cls.parameters()
    grids: dict[str, list[Any]] = {}
    for g in grid:
        name, values = opt.parse_grid(g, spec, cls.label())
        grids[name] = values
    fixed = {k: v for k, v in prep.strategy.params.items() if k not in grids}
    # --tpe samples the space itself: the grid is never enumerated (only a sample, for the warm-up below)
    combos, rejected = opt.combinations(cls, grids, random_n=min(50, tpe) if tpe else random_n, seed=seed, base=fixed)
    if not combos:
        fail(f"no valid parameter combination in the grid ({rejected} rejected by {cls.label()})",
             hint="check the ranges, e.g. fast must stay below slow")
    folds = opt.walk_forward_folds(len(prep.bars), walk_forward, max(
        cls(**c).warmup() for c in combos[:: max(1, len(combos) // 50)])) if walk_forward else []
    user_obj = None
    if uobj.is_user_objective(objective):
        try:
            user_obj = uobj.resolve(objective, strategy_source=cls.source_text(),
                                    strategy_path=cls.source_path or cls.__qualname__)
        except CashupError as exc:
            fail(str(exc), hint=getattr(exc, "hint", None) or uobj.HINT, code=2)
    ectx: Any = (PanelEvalContext if portfolio else opt.EvalContext).of(cls, prep.bars, prep.config, objective, folds,
                                                                         user_obj)
    key = hashlib.sha256(json.dumps({
        "src": ectx.strategy_source, "data": prep.bars.digest(), "cfg": prep.config.as_dict(), "obj": objective,
        "wf": walk_forward, "fixed": fixed, **({"obj_src": user_obj.source} if user_obj else {}),
    }, sort_keys=True, default=str).encode()).hexdigest()[:16]
    study = f"{cls.label()}-{key}"

    from cashup_tui.store import transaction
    from cashup_tui.store.backtests import (
        Trial,
        finished_trial_hashes,
        list_trials,
        params_hash,
        record_trial,
    )

    db = open_db(ctx, s)
    results: list[dict[str, Any]] = []
    interrupted = False
    try:
        done = set() if fresh else finished_trial_hashes(db, study)
        wanted = {params_hash(c): c for c in combos}
        if done:
            for t in list_trials(db, study, best_first=False):
                h = params_hash(t.params)
                if (h in wanted or (tpe and _in_space(t.params, grids, fixed))) and t.status == "done":
                    results.append({"params": t.params, "objective": t.objective, "metrics": t.metrics,
                                    "status": t.status, "error": t.error, "resumed": True})
        have = {params_hash(r["params"]) for r in results}
        todo = [] if tpe else [c for h, c in wanted.items() if h not in have]
        resumed = len(results)
        n_workers = workers or min(8, os.cpu_count() or 1)
        plan: list[opt.Plan] = []
        t0 = time.perf_counter()
        progress = None
        if not json_out:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            progress.start()
            task = progress.add_task(study, total=max(0, tpe - resumed) if tpe else len(todo))

        def planned(p: opt.Plan) -> None:
            plan.append(p)
            if progress is not None:
                progress.update(task, description=f"{study} ({_where_out(dataclasses.asdict(p))})")

        def save(batch: list[dict[str, Any]]) -> None:
            """A finished batch's trials in one transaction, as soon as it arrives (a commit per trial
            would cost more than the trials; a failed trial is not stored: the next run tries it again)."""
            done_ = [r for r in batch if r["status"] == "done"]
            if done_:
                with transaction(db) as conn:
                    for r in done_:
                        record_trial(conn, Trial(study=study, params=r["params"], objective=r["objective"],
                                                 metrics=r["metrics"], status=r["status"], error=r["error"]))

        if tpe:
            from cashup_tui.engine.optimize_tpe import tpe_search

            planned(opt.Plan("processes", max(1, n_workers), max(1, n_workers), max(0, tpe - resumed), 1))
            batches: Any = ([r] for r in tpe_search(ectx, cls, grids, fixed, n_trials=tpe, seed=seed,
                                                    workers=n_workers, known=list(results)))
        else:
            batches = opt.run_batches(ectx, todo, workers=n_workers, cluster=cluster, wait_workers=wait_workers,
                                      on_plan=planned)
        try:
            for batch in batches:
                save(batch)
                results.extend(batch)
                if progress is not None:
                    progress.advance(task, len(batch))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if progress is not None:
                progress.stop()
        elapsed = time.perf_counter() - t0
    finally:
        db.close()
    ranked = opt.rank(results)
    wf = opt.walk_forward_report(results, folds, prep.bars) if folds else None
    failed = [r for r in results if r["status"] != "done"]
    p = plan[0] if plan else opt.Plan("dask" if cluster else "processes", 0, 0, 0, 0)
    names = list(grids)
    if heat:
        hx = [h.strip() for h in heat.split(",")]
        if len(hx) != 2 or any(h not in grids for h in hx):
            fail(f"--heatmap {heat!r}: give two gridded parameters", hint=f"gridded: {', '.join(names)}", code=2)
        names = hx
    out = {
        "strategy": cls.label(), "study": study, "objective": objective, "grid": grids, "fixed": fixed,
        "combinations": math.prod(len(v) for v in grids.values()) if tpe else len(combos),
        "rejected": None if tpe else rejected, "sampler": "tpe" if tpe else ("random" if random_n else "grid"),
        "resumed": resumed, "evaluated": len(results) - resumed,
        "failed": len(failed), "seconds": round(elapsed, 3), "interrupted": interrupted,
        "executor": p.executor, "workers": p.workers, "threads": p.threads, "batches": p.batches,
        "error": failed[0]["error"] if failed else None,
        "best": _brief(ranked[0]) if ranked and ranked[0]["objective"] is not None else None,
        "results": [_brief(r) for r in ranked[:top]],
        "walk_forward": wf,
    }
    if json_out:
        from cashup_tui.cli.backtest import emit_json

        emit_json(out)
    else:
        _print(out, ranked[:top], results, names, wf, failed)
    if interrupted:
        import sys

        sys.stderr.write(f"interrupted: {len(results) - resumed - len(failed)} trial(s) saved; "
                         "run the same command to resume\n")
        raise typer.Exit(130)
    if failed and len(failed) == len(results):
        fail(f"all {len(failed)} trial(s) failed; the first: {failed[0]['error']}",
             hint="fix the cause and run the same command again (failed trials are not stored)")
    if failed:
        import sys

        sys.stderr.write(f"warning: {len(failed)} of {len(results)} trial(s) failed (not stored; the next run "
                         f"retries them); the first: {failed[0]['error']}\n")


def _in_space(params: dict[str, Any], grids: dict[str, list[Any]], fixed: dict[str, Any]) -> bool:
    """A stored trial TPE may reuse: its searched parameters on the grid, the others as fixed now."""
    return all(params.get(k) in v for k, v in grids.items()) and all(
        params.get(k) == v for k, v in fixed.items())


def _where_out(out: dict[str, Any]) -> str:
    """"dask: 2 worker(s), 4 thread(s), 16 batch(es)" for the progress line and the summary."""
    if not out["batches"]:
        return "nothing to run"
    if out["executor"] == "dask":
        return f"dask: {out['workers']} worker(s), {out['threads']} thread(s), {out['batches']} batch(es)"
    return f"{out['executor']}: {out['workers']} process(es), {out['batches']} batch(es)"


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    m = r.get("metrics") or {}
    if "folds" in m:
        m = {"folds": len(m["folds"]), "mean_is_objective": r.get("objective"),
             "mean_oos_return": _mean([f["oos"].get("total_return") for f in m["folds"]])}
    return {"params": r["params"], "objective": r.get("objective"), "status": r.get("status"),
            "error": r.get("error") or None, "resumed": bool(r.get("resumed")), "metrics": m}


def _mean(xs: list[Any]) -> float | None:
    v = [x for x in xs if x is not None]
    return sum(v) / len(v) if v else None


def _print(out: dict[str, Any], top: list[dict[str, Any]], results: list[dict[str, Any]], names: list[str],
           wf: dict[str, Any] | None, failed: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from cashup_tui.cli.common import console

    c = console()
    searched = (f"TPE over {out['combinations']} combinations" if out["sampler"] == "tpe"
                else f"{out['combinations']} combinations ({out['rejected']} rejected)")
    c.print(f"[bold]{out['strategy']}[/bold] study {out['study']}: {searched}, {out['evaluated']} evaluated in {out['seconds']:.1f} s "
            f"({_where_out(out)}), {out['resumed']} resumed from the store")
    t = Table(title=f"top {len(top)} by {out['objective']}", title_justify="left")
    t.add_column("#", justify="right")
    for n in out["grid"]:
        t.add_column(n, justify="right")
    for col in ("objective", "return", "max dd", "trades", "sharpe"):
        t.add_column(col, justify="right")
    for i, r in enumerate(top, 1):
        m = r.get("metrics") or {}
        if "folds" in m:
            m = {}
        t.add_row(str(i), *[str(r["params"].get(n)) for n in out["grid"]], _f(r.get("objective")),
                  _p(m.get("total_return")), _p(m.get("max_drawdown")), str(m.get("trade_count", "-")), _f(m.get("sharpe")))
    c.print(t)
    if len(names) >= 2:
        from cashup_tui.engine.optimize import heatmap

        xs, ys, grid = heatmap(results, names[0], names[1])
        if len(xs) > 1 and len(ys) > 1:
            c.print(heatmap_chart(xs, ys, grid, names[0], names[1], out["objective"], width=min(c.width, 100)))
    if wf:
        w = Table(title=f"walk-forward: compounded out-of-sample return {_p(wf['oos_compounded_return'])}",
                  title_justify="left")
        for col in ("fold", "best params (in sample)", "IS objective", "OOS objective", "OOS return", "OOS trades"):
            w.add_column(col)
        for f in wf["folds"]:
            w.add_row(str(f["fold"]), " ".join(f"{k}={v}" for k, v in (f["params"] or {}).items() if k in out["grid"]),
                      _f(f["is_objective"]), _f(f["oos_objective"]), _p(f["oos_return"]), str(f.get("oos_trades", "-")))
        c.print(w)
    for r in failed[:5]:
        c.print(f"[red]failed[/red] {r['params']}: {r['error']}")


def heatmap_chart(xs: list[Any], ys: list[Any], grid: list[list[float | None]], xn: str, yn: str, objective: str,
                  *, width: int = 90) -> Any:
    """A plotext heat-map (a fresh figure, public API: cli/charts.py): one filled rectangle per cell, red
    (worst) to green (best)."""
    from rich.text import Text

    from cashup_tui.cli.charts import build, plotext_figure

    vals = [v for row in grid for v in row if v is not None]
    if not vals:
        return Text("")
    lo, hi = min(vals), max(vals)
    with plotext_figure(width, min(40, max(12, 2 * len(ys) + 6))) as plt:
        for r, row in enumerate(grid):
            for ci, v in enumerate(row):
                if v is None:
                    continue
                q = 0.5 if hi == lo else (v - lo) / (hi - lo)
                color = (int(220 * (1 - q)), int(200 * q), 40)
                plt.rectangle([ci - 0.5, ci + 0.5], [r - 0.5, r + 0.5], marker="sd", color=color, fill=True)
        plt.xticks(list(range(len(xs))), [str(x) for x in xs])
        plt.yticks(list(range(len(ys))), [str(y) for y in ys])
        plt.xlabel(xn)
        plt.ylabel(yn)
        plt.title(f"best {objective} per ({xn}, {yn}): red {lo:.3g} .. green {hi:.3g}")
        plt.theme("clear")
        return build(plt)


def _f(x: Any) -> str:
    return "-" if x is None else f"{x:,.3f}"


def _p(x: Any) -> str:
    return "-" if x is None else f"{x * 100:,.2f}%"
