"""Parameter search over the fast engine: grid or random, optional walk-forward, local processes or Dask.

* Search space: `--grid name=start:stop:step` (inclusive) or `--grid name=a,b,c`; parameters not
  gridded keep their defaults. Combinations the strategy rejects (e.g. fast >= slow) are skipped.
  `--random N` samples N distinct combinations of the grid (seeded).
* Each trial is one fast backtest with fresh cash on the chosen bars; the objective (sharpe,
  sortino, calmar, return, cagr, profit_factor, win_rate, drawdown, final_equity) is "higher is
  better" (drawdown is negated). Undefined objectives (no trades) rank last.
* Walk-forward K: the bars are cut into K+1 consecutive blocks; fold i (1..K) optimises on the
  blocks before i (anchored, growing) and is scored out of sample on block i, with the
  indicators warmed on the bars just before it. The report shows each fold's winner and its
  out-of-sample result, and the compounded out-of-sample return.
* Execution: `ProcessPoolExecutor` (data sent once per worker by the initializer) or a Dask
  distributed cluster (`--cluster tcp://host:8786`; data scattered once). Results stream back as
  they finish so a caller can record each trial (resumable sweeps) and draw progress.

The store is not imported here: callers pass `skip` (finished parameter sets) and `on_result`.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cashup_tui.domain.errors import CashupError, ValidationError
from cashup_tui.engine.backtest.metrics import OBJECTIVES, compute, objective_value
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.strategy import Bars, Param, Strategy, load_strategy, run_signals

SUMMARY_KEYS = ("total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate", "profit_factor",
                "exposure", "trade_count", "final_equity", "fees")


# ---------------------------------------------------------------------------------------------
# the search space
# ---------------------------------------------------------------------------------------------
def parse_grid(spec: str, params: dict[str, Param], strategy: str = "") -> tuple[str, list[Any]]:
    """`fast=5:50:5` (inclusive range) or `fast=5,10,20` -> ("fast", [values]) checked against the Param."""
    name, sep, body = spec.partition("=")
    name = name.strip()
    hint = "use --grid name=start:stop:step (inclusive) or --grid name=v1,v2,v3"
    if not sep or not name or not body.strip():
        raise ValidationError(f"bad --grid {spec!r}", hint=hint)
    if name not in params:
        import difflib

        close = difflib.get_close_matches(name, list(params), n=1)
        raise ValidationError(
            f"--grid {spec!r}: {strategy or 'the strategy'} has no parameter {name!r}",
            hint=(f"did you mean {close[0]!r}? " if close else "") + f"parameters: {', '.join(params)}",
        )
    p = params[name]
    body = body.strip()
    if ":" in body:
        parts = body.split(":")
        if len(parts) not in (2, 3):
            raise ValidationError(f"bad --grid {spec!r}", hint=hint)
        try:
            lo, hi = float(parts[0]), float(parts[1])
            step = float(parts[2]) if len(parts) == 3 else float(p.step or 1)
        except ValueError:
            raise ValidationError(f"bad --grid {spec!r}: numbers expected", hint=hint) from None
        if step <= 0 or hi < lo or not all(map(math.isfinite, (lo, hi, step))):
            raise ValidationError(f"bad --grid {spec!r}: need start <= stop and step > 0", hint=hint)
        count = math.floor((hi - lo) / step + 1e-9) + 1
        if count > 100_000:
            raise ValidationError(f"--grid {spec!r} has {count:,} values", hint="use a larger step")
        raw: list[Any] = [lo + i * step for i in range(count)]
        raw = [round(v) for v in raw] if p.type is int else [round(v, 12) for v in raw]
    else:
        raw = [v.strip() for v in body.split(",") if v.strip()]
    values = []
    for v in raw:
        cv = p.coerce(v, strategy)  # out-of-range values are an error, not silently dropped
        if cv not in values:
            values.append(cv)
    return name, values


def combinations(cls: type[Strategy], grids: dict[str, list[Any]], *, random_n: int | None = None,
                 seed: int = 7, base: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Every valid parameter set (or a seeded random sample of N); returns (sets, rejected count)."""
    names = list(grids)
    total = math.prod(len(v) for v in grids.values()) if grids else 1
    if total > 1_000_000 and not random_n:
        raise ValidationError(f"the grid has {total:,} combinations", hint="use --random N or coarser steps")
    combos: Iterable[tuple[Any, ...]]
    if random_n and random_n < total:
        rng = random.Random(seed)
        picks = sorted(rng.sample(range(total), random_n))
        sizes = [len(grids[n]) for n in names]
        combos = (_unravel(i, sizes, [grids[n] for n in names]) for i in picks)
    else:
        combos = itertools.product(*[grids[n] for n in names])
    out, rejected = [], 0
    for combo in combos:
        params = {**(base or {}), **dict(zip(names, combo, strict=True))}
        try:
            cls(**params)
        except ValidationError:
            rejected += 1
            continue
        out.append(params)
    return out, rejected


def _unravel(i: int, sizes: list[int], values: list[list[Any]]) -> tuple[Any, ...]:
    idx = []
    for s in reversed(sizes):
        idx.append(i % s)
        i //= s
    return tuple(v[j] for v, j in zip(values, reversed(idx), strict=True))


# ---------------------------------------------------------------------------------------------
# evaluating one parameter set
# ---------------------------------------------------------------------------------------------
@dataclass
class EvalContext:
    """Everything a worker needs; pickled once per worker (processes) or scattered once (Dask)."""

    strategy_path: str
    bars: Bars
    config: RunConfig
    objective: str
    folds: list[tuple[int, int, int]] = field(default_factory=list)  # (is_end, oos_start, oos_end)


def walk_forward_folds(n: int, k: int, warmup: int) -> list[tuple[int, int, int]]:
    """K anchored folds over n bars: in-sample [0, is_end), out-of-sample [oos_start, oos_end)."""
    if k < 1:
        return []
    block = n // (k + 1)
    if block < max(warmup + 2, 10):
        raise ValidationError(
            f"--walk-forward {k}: {n} bars give blocks of {block} bars, too short for the strategy "
            f"(needs {warmup + 2})",
            hint="use fewer folds or more data",
        )
    return [(i * block, i * block, n if i == k else (i + 1) * block) for i in range(1, k + 1)]


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in SUMMARY_KEYS}


def _run(strategy: Strategy, bars: Bars, cfg: RunConfig, warm: int = 0) -> dict[str, Any]:
    """Backtest `bars[warm:]` with signals computed on all of `bars` (the first `warm` bars only warm up)."""
    from cashup_tui.engine.backtest.fast import simulate

    sig = run_signals(strategy, bars)
    part = bars[warm:] if warm else bars
    stop, take = strategy.stops()
    res = simulate(part, sig[warm:], cfg, stop=stop, take=take)
    return _summary(compute(res))


def evaluate(ctx: EvalContext, params: dict[str, Any]) -> dict[str, Any]:
    """One trial: {params, objective, metrics | folds, status, error}. Never raises (errors are results)."""
    try:
        cls = load_strategy(ctx.strategy_path)
        strat = cls(**params)
        if not ctx.folds:
            m = _run(strat, ctx.bars, ctx.config)
            return {"params": params, "objective": _obj(m, ctx.objective), "metrics": m, "status": "done", "error": ""}
        folds = []
        w = strat.warmup()
        for is_end, oos_start, oos_end in ctx.folds:
            ism = _run(strat, ctx.bars[:is_end], ctx.config)
            ws = max(0, oos_start - w - 1)
            oos = _run(strat, ctx.bars[ws:oos_end], ctx.config, warm=oos_start - ws)
            folds.append({"is": ism, "oos": oos, "is_objective": _obj(ism, ctx.objective),
                          "oos_objective": _obj(oos, ctx.objective)})
        vals = [f["is_objective"] for f in folds if f["is_objective"] is not None]
        return {"params": params, "objective": float(np.mean(vals)) if vals else None, "metrics": {"folds": folds},
                "status": "done", "error": ""}
    except CashupError as exc:
        return {"params": params, "objective": None, "metrics": {}, "status": "failed", "error": str(exc).splitlines()[0]}


def _obj(m: dict[str, Any], objective: str) -> float | None:
    v = objective_value(m, objective)
    return None if not math.isfinite(v) else v


# worker-process plumbing (module level so it pickles)
_CTX: EvalContext | None = None


def _init_worker(ctx: EvalContext) -> None:
    global _CTX
    _CTX = ctx


def _eval_batch(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert _CTX is not None
    return [evaluate(_CTX, p) for p in batch]


def _eval_batch_with(batch: list[dict[str, Any]], ctx: EvalContext) -> list[dict[str, Any]]:
    return [evaluate(ctx, p) for p in batch]


def run_trials(ctx: EvalContext, todo: list[dict[str, Any]], *, workers: int = 1, cluster: str | None = None,
               batch: int | None = None) -> Iterator[dict[str, Any]]:
    """Evaluate `todo`, yielding results as they complete (any order)."""
    if not todo:
        return
    if batch is None:
        per = max(1, workers) * 4
        batch = max(1, min(64, math.ceil(len(todo) / per)))
    batches = [todo[i : i + batch] for i in range(0, len(todo), batch)]
    if cluster:
        yield from _run_dask(ctx, batches, cluster)
        return
    if workers <= 1:
        for b in batches:
            yield from _eval_batch_with(b, ctx)
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(ctx,),
                             mp_context=mp.get_context("spawn")) as pool:
        pending = {pool.submit(_eval_batch, b) for b in batches}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield from f.result()
        except BaseException:
            for f in pending:
                f.cancel()
            raise


def _run_dask(ctx: EvalContext, batches: list[list[dict[str, Any]]], address: Any) -> Iterator[dict[str, Any]]:
    """The same sweep on a Dask distributed scheduler (address string or an existing Client/cluster)."""
    from cashup_tui.extras import require

    require("distributed", extra="cluster", why="--cluster needs dask[distributed]")
    from distributed import Client, as_completed
    own = False
    if hasattr(address, "submit"):
        client = address
    else:
        try:
            client = Client(address, timeout="10s")
            own = True
        except OSError as exc:
            raise ValidationError(
                f"cannot reach the Dask scheduler at {address}: {exc}",
                hint="start one with `dask scheduler` (+ `dask worker ADDRESS`) or drop --cluster",
            ) from None
    try:
        data = client.scatter(ctx, broadcast=True)
        futures = [client.submit(_eval_batch_with, b, data, pure=False) for b in batches]
        for fut in as_completed(futures):
            yield from fut.result()
    finally:
        if own:
            client.close()


# ---------------------------------------------------------------------------------------------
# ranking and walk-forward selection
# ---------------------------------------------------------------------------------------------
def rank(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best objective first; failed/undefined last."""
    return sorted(results, key=lambda r: (r.get("objective") is None, -(r.get("objective") or 0.0)))


def walk_forward_report(results: list[dict[str, Any]], folds: list[tuple[int, int, int]], bars: Bars) -> dict[str, Any]:
    """Per fold: the in-sample winner and its out-of-sample metrics; compounded OOS return."""
    ok = [r for r in results if r.get("status") == "done" and r.get("metrics", {}).get("folds")]
    rows, growth = [], 1.0
    for i, (is_end, oos_start, oos_end) in enumerate(folds):
        scored = [r for r in ok if r["metrics"]["folds"][i]["is_objective"] is not None]
        if not scored:
            rows.append({"fold": i + 1, "params": None, "is_objective": None, "oos_objective": None,
                         "oos_return": None})
            continue
        best = max(scored, key=lambda r: r["metrics"]["folds"][i]["is_objective"])
        f = best["metrics"]["folds"][i]
        ret = f["oos"].get("total_return") or 0.0
        growth *= 1.0 + ret
        rows.append({
            "fold": i + 1, "in_sample": [int(bars.time_ms[0]), int(bars.time_ms[is_end - 1])],
            "out_of_sample": [int(bars.time_ms[oos_start]), int(bars.time_ms[oos_end - 1])],
            "params": best["params"], "is_objective": f["is_objective"], "oos_objective": f["oos_objective"],
            "oos_return": ret, "oos_trades": f["oos"].get("trade_count"), "oos_max_drawdown": f["oos"].get("max_drawdown"),
        })
    return {"folds": rows, "oos_compounded_return": growth - 1.0}


def heatmap(results: list[dict[str, Any]], x: str, y: str) -> tuple[list[Any], list[Any], list[list[float | None]]]:
    """Best objective for each (x, y) cell (maximised over the other parameters)."""
    xs = sorted({r["params"][x] for r in results if x in r["params"]})
    ys = sorted({r["params"][y] for r in results if y in r["params"]})
    grid: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for r in results:
        o = r.get("objective")
        if o is None or x not in r["params"] or y not in r["params"]:
            continue
        cell = grid[yi[r["params"][y]]][xi[r["params"][x]]]
        if cell is None or o > cell:
            grid[yi[r["params"][y]]][xi[r["params"][x]]] = o
    return xs, ys, grid


def objectives() -> list[str]:
    return list(OBJECTIVES)


ProgressFn = Callable[[int, int], None]
