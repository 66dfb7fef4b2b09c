"""Parameter search over the fast engine: grid or random, optional walk-forward, local processes or Dask.

* Search space: `--grid name=start:stop:step` (inclusive) or `--grid name=a,b,c`; parameters not
  gridded keep their defaults. Combinations the strategy rejects (e.g. fast >= slow) are skipped.
  `--random N` samples N distinct combinations of the grid (seeded).
* Each trial is one fast backtest with fresh cash on the chosen bars; the objective (sharpe,
  sortino, calmar, return, cagr, profit_factor, win_rate, drawdown, final_equity) is "higher is
  better" (drawdown is negated). Undefined objectives (no trades) rank last. A user's own
  objective (`SOURCE:FUNCTION`) is `optimize_objective`.
* Shared work: trials in a worker share each indicator series (`optimize_cache`) and take the
  lean trial path (`optimize_fast`) where it gives the engine's answer.
* Walk-forward K: the bars are cut into K+1 consecutive blocks; fold i (1..K) optimises on the
  blocks before i (anchored, growing) and is scored out of sample on block i, with the
  indicators warmed on the bars just before it. The report shows each fold's winner and its
  out-of-sample result, and the compounded out-of-sample return.
* Execution: this process and N-1 spawned workers (`ProcessPoolExecutor`; the bars memory-mapped,
  `optimize_share`) or a Dask
  distributed cluster (`--cluster tcp://host:8786`; data scattered once, batches sized from the
  cluster's threads). Results stream back batch by batch as each finishes, so a caller stores
  each batch at once (resumable sweeps: a lost worker or Ctrl-C loses only batches in flight).
* Workers get the strategy's source text, not its path, and compile it themselves: a worker on
  another machine needs cashup installed, not the strategy file. The sweep also runs the code
  whose hash names the study, even if the file is edited meanwhile.
* Dask is optional (`pip install 'cashup[cluster]'`) and imported only on the cluster path.

The store is not imported here: callers pass `skip` (finished parameter sets) and `on_result`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from cashup_tui.domain.errors import CashupError, StrategyError, ValidationError
from cashup_tui.engine.backtest.metrics import OBJECTIVES, objective_value
from cashup_tui.engine.backtest.model import Result, RunConfig
from cashup_tui.engine.optimize_cache import CACHE, share_indicators, use_bars
from cashup_tui.engine.optimize_fast import trial_simulate, trial_summary
from cashup_tui.engine.optimize_objective import UserObjective, score
from cashup_tui.engine.optimize_share import MappedBars, keep_freed_memory, spill
from cashup_tui.engine.strategy import Bars, Param, Strategy, _pick_class, run_signals

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
    """Everything a worker needs; pickled once per worker (processes) or scattered once (Dask).

    The strategy travels as source text (`strategy_path` only names it in errors)."""

    strategy_source: str
    strategy_path: str
    bars: Bars
    config: RunConfig
    objective: str
    folds: list[tuple[int, int, int]] = field(default_factory=list)  # (is_end, oos_start, oos_end)
    user_objective: UserObjective | None = None  # --objective SOURCE:FUNCTION (optimize_objective)

    @classmethod
    def of(cls, strategy: type[Strategy], bars: Bars, config: RunConfig, objective: str,
           folds: list[tuple[int, int, int]] | None = None, user_objective: UserObjective | None = None) -> EvalContext:
        return cls(strategy.source_text(), strategy.source_path or strategy.__qualname__, bars, config, objective,
                   folds or [], user_objective)


_COMPILED: dict[str, type[Strategy]] = {}


def strategy_from_source(source: str, path: str) -> type[Strategy]:
    """Compile a strategy file's text (as `path`, for error locations) into its Strategy class, once per text."""
    digest = hashlib.sha1(f"{path}\0{source}".encode()).hexdigest()[:16]
    if digest in _COMPILED:
        return _COMPILED[digest]
    mod_name = f"cashup_strategy_src_{digest}"
    module = ModuleType(mod_name)
    module.__file__ = path
    sys.modules[mod_name] = module  # dataclasses/pickling look modules up by name
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except SyntaxError as exc:
        sys.modules.pop(mod_name, None)
        raise StrategyError(f"strategy file {path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
        loc = f"{path}:{lines[-1]}" if lines else path
        raise StrategyError(f"strategy file {loc}: {type(exc).__name__}: {exc}") from None
    share_indicators(module)  # indicator series computed once per sweep worker (optimize_cache)
    klass = _pick_class(module, Path(path))
    klass.source_path = path
    if not klass.name:
        klass.name = Path(path).stem
    _COMPILED[digest] = klass
    return klass


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


class _Shared:
    """What every trial of one context reuses in a worker: the bar slices (so the indicator cache
    knows their columns) and each slice's bar step; built on the first trial of a context."""

    def __init__(self, ctx: EvalContext) -> None:
        self.ctx = ctx  # kept alive: `_SHARED` is keyed by its id
        self.slices: dict[tuple[int, int], Bars] = {(0, len(ctx.bars)): ctx.bars}
        self.tf: dict[tuple[int, int], int] = {}
        for is_end, oos_start, oos_end in ctx.folds:
            self.slices[(0, is_end)] = ctx.bars[:is_end]
            self.slices.setdefault((oos_start, oos_end), ctx.bars[oos_start:oos_end])
        use_bars(*self.slices.values())

    def bars(self, start: int, end: int) -> Bars:
        b = self.slices.get((start, end))
        if b is None:  # e.g. an out-of-sample block with this strategy's warm-up before it
            b = self.slices[(start, end)] = self.ctx.bars[start:end]
            CACHE.register(b)
        return b

    def timeframe(self, start: int, end: int) -> int:
        tf = self.tf.get((start, end))
        if tf is None:
            t = self.ctx.bars.time_ms[start:end]
            tf = self.tf[(start, end)] = int(np.median(np.diff(t))) if t.size > 1 else 0
        return tf


_SHARED: _Shared | None = None


def _shared(ctx: EvalContext) -> _Shared:
    global _SHARED
    sh = _SHARED
    if sh is None or sh.ctx is not ctx:
        sh = _SHARED = _Shared(ctx)
    return sh


def run_trial(strategy: Strategy, sh: _Shared, start: int, end: int, warm: int = 0) -> Result:
    """The fast engine on bars [start + warm, end), signals computed on [start, end) (the first
    `warm` bars only warm up): the same trades and equity as `run_fast` on that slice."""
    bars = sh.bars(start, end)
    sig = run_signals(strategy, bars)
    part = bars[warm:] if warm else bars
    stop, take = strategy.stops()
    return trial_simulate(part, sig[warm:], sh.ctx.config, stop=stop, take=take,
                          timeframe_ms=sh.timeframe(start + warm, end))


def trial_metrics(strategy: Strategy, sh: _Shared, start: int, end: int, warm: int = 0) -> dict[str, Any]:
    """The summary metrics of `run_trial(...)` (what a sweep stores), without building its curve when it can."""
    bars = sh.bars(start, end)
    sig = run_signals(strategy, bars)
    part = bars[warm:] if warm else bars
    stop, take = strategy.stops()
    return _summary(trial_summary(part, sig[warm:], sh.ctx.config, stop=stop, take=take,
                                  timeframe_ms=sh.timeframe(start + warm, end)))


def evaluate(ctx: EvalContext, params: dict[str, Any]) -> dict[str, Any]:
    """One trial: {params, objective, metrics | folds, status, error}. Never raises (errors are results)."""
    own = getattr(ctx, "evaluate", None)
    if own is not None:  # a portfolio sweep's context evaluates its own trials (optimize_panel)
        out: dict[str, Any] = own(params)
        return out
    try:
        cls = strategy_from_source(ctx.strategy_source, ctx.strategy_path)
        strat = cls(**params)
        sh = _shared(ctx)
        if not ctx.folds:
            m = trial_metrics(strat, sh, 0, len(ctx.bars))
            return {"params": params, "objective": _obj(m, ctx), "metrics": m, "status": "done", "error": ""}
        folds: list[dict[str, Any]] = []
        w = strat.warmup()
        for is_end, oos_start, oos_end in ctx.folds:
            ism = trial_metrics(strat, sh, 0, is_end)
            ws = max(0, oos_start - w - 1)
            oos = trial_metrics(strat, sh, ws, oos_end, warm=oos_start - ws)
            folds.append({"is": ism, "oos": oos, "is_objective": _obj(ism, ctx),
                          "oos_objective": _obj(oos, ctx)})
        vals = [f["is_objective"] for f in folds if f["is_objective"] is not None]
        return {"params": params, "objective": float(np.mean(vals)) if vals else None, "metrics": {"folds": folds},
                "status": "done", "error": ""}
    except CashupError as exc:
        return {"params": params, "objective": None, "metrics": {}, "status": "failed", "error": str(exc).splitlines()[0]}


def _obj(m: dict[str, Any], ctx: EvalContext) -> float | None:
    if ctx.user_objective is not None:
        return score(ctx.user_objective, m)
    v = objective_value(m, ctx.objective)
    return None if not math.isfinite(v) else v


# worker-process plumbing (module level so it pickles)
_CTX: EvalContext | None = None


def _init_worker(ctx: EvalContext, mapped: MappedBars | None = None) -> None:
    global _CTX
    keep_freed_memory()
    if mapped is not None:  # the bars come from files the parent wrote (optimize_share), not the pipe
        ctx.bars = mapped.load()
    _CTX = ctx


def _eval_batch(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert _CTX is not None
    return [evaluate(_CTX, p) for p in batch]


def _eval_batch_with(batch: list[dict[str, Any]], ctx: EvalContext) -> list[dict[str, Any]]:
    return [evaluate(ctx, p) for p in batch]


@dataclass(frozen=True)
class Plan:
    """How a sweep is spread: told to the caller before the first result (for progress and the report)."""

    executor: str  # "processes" (1 = this one) | "dask"
    workers: int
    threads: int
    batches: int
    batch_size: int


def _batches(todo: list[dict[str, Any]], slots: int, batch: int | None) -> list[list[dict[str, Any]]]:
    """About four batches per execution slot (so results stream and a lost worker loses little), at most 64 trials each."""
    if batch is None:
        batch = max(1, min(64, math.ceil(len(todo) / (max(1, slots) * 4))))
    return [todo[i : i + batch] for i in range(0, len(todo), batch)]


def run_trials(ctx: EvalContext, todo: list[dict[str, Any]], *, workers: int = 1, cluster: Any = None,
               batch: int | None = None, wait_workers: float = 30.0,
               on_plan: Callable[[Plan], None] | None = None) -> Iterator[dict[str, Any]]:
    """Evaluate `todo`, yielding results as they complete (any order); see `run_batches`."""
    for finished in run_batches(ctx, todo, workers=workers, cluster=cluster, batch=batch,
                                wait_workers=wait_workers, on_plan=on_plan):
        yield from finished


def run_batches(ctx: EvalContext, todo: list[dict[str, Any]], *, workers: int = 1, cluster: Any = None,
                batch: int | None = None, wait_workers: float = 30.0,
                on_plan: Callable[[Plan], None] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Evaluate `todo`, yielding each batch's results as soon as that batch finishes (any order).

    A batch is the unit of work a worker runs and the unit a caller stores in one transaction, so
    what an interrupted sweep or a lost worker can lose is bounded by the batches in flight.
    `cluster` is a Dask scheduler address (or a Client); it must be reachable and have a worker
    within `wait_workers` seconds, else CashupError. `on_plan` hears how the work was split."""
    if not todo:
        return
    if cluster:
        yield from _run_dask(ctx, todo, cluster, batch, wait_workers, on_plan)
        return
    batches = _batches(todo, workers, batch)
    if on_plan is not None:
        on_plan(Plan("processes", max(1, workers), max(1, workers), len(batches), len(batches[0])))
    if workers <= 1 or len(batches) == 1:
        for b in batches:
            yield _eval_batch_with(b, ctx)
        return
    import dataclasses
    import multiprocessing as mp
    import tempfile
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    # This process is one of the `workers`: it has the bars and the strategy already, and sat idle
    # waiting before; so one worker start and one set of the indicator series less. The folder of the
    # mapped bars outlives the pool (exits in reverse order), whatever ends the sweep.
    queue = deque(batches)
    pending: set[Future[list[dict[str, Any]]]] = set()
    keep_freed_memory()
    with tempfile.TemporaryDirectory(prefix="cashup-sweep-") as tmp, ProcessPoolExecutor(
            max_workers=workers - 1, initializer=_init_worker, mp_context=mp.get_context("spawn"),
            initargs=(dataclasses.replace(ctx, bars=ctx.bars[:0]), spill(ctx.bars, tmp))) as pool:
        try:
            while queue or pending:
                while queue and len(pending) < 2 * (workers - 1):  # each worker one batch ahead
                    pending.add(pool.submit(_eval_batch, queue.popleft()))
                done = {f for f in pending if f.done()}
                if not done and queue:  # the workers are busy: take the next batch here
                    yield _eval_batch_with(queue.popleft(), ctx)
                    continue
                if not done:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                pending -= done
                for f in done:
                    yield f.result()
        except BaseException:
            for f in pending:
                f.cancel()
            raise


def _run_dask(ctx: EvalContext, todo: list[dict[str, Any]], address: Any, batch: int | None, wait_workers: float,
              on_plan: Callable[[Plan], None] | None) -> Iterator[list[dict[str, Any]]]:
    """The same sweep on a Dask distributed scheduler (address string or an existing Client)."""
    from cashup_tui.extras import require

    require("distributed", extra="cluster", why="--cluster needs Dask, which is not installed")
    from distributed import Client, as_completed
    own = not hasattr(address, "submit")
    if own:
        try:
            client: Any = Client(address, timeout=wait_workers)
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError; ValueError: a malformed address
            raise ValidationError(
                f"cannot reach the Dask scheduler at {address} within {wait_workers:g} s: {exc}",
                hint="start one with `dask scheduler` (+ `dask worker ADDRESS` where cashup is installed), "
                     "check the address, or drop --cluster",
            ) from None
    else:
        client = address
    try:
        try:
            client.wait_for_workers(1, timeout=wait_workers)
        except TimeoutError:
            raise CashupError(
                f"no Dask worker joined the scheduler at {client.scheduler.address} within {wait_workers:g} s",
                hint=f"start one with `dask worker {client.scheduler.address}` (cashup must be installed there), "
                     "or wait longer with --wait-workers SECONDS",
            ) from None
        nthreads = client.nthreads()
        batches = _batches(todo, sum(nthreads.values()), batch)
        if on_plan is not None:
            on_plan(Plan("dask", len(nthreads), sum(nthreads.values()), len(batches), len(batches[0])))
        data = client.scatter(ctx, broadcast=True)
        futures = {client.submit(_eval_batch_with, b, data, pure=False): b for b in batches}
        for fut in as_completed(list(futures)):
            # popped so the result is released once read: a worker dying later does not get it recomputed
            yield _dask_result(fut, futures.pop(fut))
    finally:
        if own:
            client.close()


def _dask_result(fut: Any, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A finished batch's results (waiting while Dask recomputes one whose worker died before it was
    read); a batch Dask could not run (e.g. its workers kept dying) fails its trials."""
    from concurrent.futures import CancelledError

    try:
        out: list[dict[str, Any]] = fut.result()
        return out
    except CancelledError:
        raise CashupError(
            "lost the Dask scheduler during the sweep",
            hint="finished trials are stored: run the same command again to resume",
        ) from None
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        err = f"dask: {type(exc).__name__}" + (f": {msg}" if msg else "")
        return [{"params": p, "objective": None, "metrics": {}, "status": "failed", "error": err} for p in batch]


# ---------------------------------------------------------------------------------------------
# ranking and walk-forward selection
# ---------------------------------------------------------------------------------------------
def rank(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best objective first; failed/undefined last."""
    return sorted(results, key=lambda r: (r.get("objective") is None, -(r.get("objective") or 0.0)))


def walk_forward_report(results: list[dict[str, Any]], folds: list[tuple[int, int, int]], bars: Bars) -> dict[str, Any]:
    """Per fold: the in-sample winner and its out-of-sample metrics; compounded OOS return."""
    ok = [r for r in results if r.get("status") == "done" and r.get("metrics", {}).get("folds")]
    rows: list[dict[str, Any]] = []
    growth = 1.0
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
