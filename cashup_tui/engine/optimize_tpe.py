"""Optuna's TPE sampler over a strategy's parameter grid: `cashup optimize --tpe N`.

Why: a grid grows as the product of its axes, and most of it is far from the best region; TPE spends
N evaluations where earlier ones did well. The search space is each parameter's `--grid` values
(categorical), so a TPE trial and a grid trial of the same parameters are the same stored trial.
Trials run in the same worker processes as a grid sweep, one per worker at a time: when one finishes
its result is told to the sampler and the next set is asked (a constant liar stands in for the ones
still running). The caller stores each finished trial at once; a rerun tells the stored ones to the
sampler first, so an interrupted search resumes where it stopped and they count toward N.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from cashup_tui.domain.errors import ValidationError
from cashup_tui.engine import optimize as opt
from cashup_tui.engine.strategy import Strategy

MAX_ASKS_PER_TRIAL = 20  # a small space: TPE keeps proposing sets already tried; stop when it is exhausted


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def tpe_search(ctx: opt.EvalContext, cls: type[Strategy], grids: dict[str, list[Any]], fixed: dict[str, Any], *,
               n_trials: int, seed: int, workers: int, known: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield each new trial's result as it finishes, until `n_trials` (stored ones included) are done or
    the space has nothing new. `known`: this study's stored results (told to the sampler first)."""
    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(logging.WARNING)
    dists: dict[str, BaseDistribution] = {name: CategoricalDistribution(values) for name, values in grids.items()}
    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=min(10, max(1, n_trials // 4)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    tried: dict[str, dict[str, Any]] = {}
    for r in known:
        free = {k: r["params"].get(k) for k in grids}
        if r.get("objective") is None or any(free[k] not in grids[k] for k in grids):
            continue
        study.add_trial(create_trial(params=free, distributions=dists, value=float(r["objective"])))
        tried[_key({**fixed, **free})] = r
    left = n_trials - len(tried)

    def ask() -> tuple[Any, dict[str, Any]] | None:
        for _ in range(MAX_ASKS_PER_TRIAL):
            trial = study.ask(dists)
            params = {**fixed, **trial.params}
            seen = tried.get(_key(params))
            if seen is not None:  # already evaluated: the sampler hears its value again, nothing runs
                study.tell(trial, seen["objective"] if seen.get("objective") is not None else None,
                           state=TrialState.COMPLETE if seen.get("objective") is not None else TrialState.FAIL)
                continue
            try:
                cls(**params)
            except ValidationError:  # the strategy refuses the set (e.g. fast >= slow)
                study.tell(trial, state=TrialState.FAIL)
                continue
            tried[_key(params)] = {}
            return trial, params
        return None

    def told(trial: Any, result: dict[str, Any]) -> None:
        tried[_key(result["params"])] = result
        value = result.get("objective")
        if value is None:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, float(value))

    if left <= 0:
        return
    if workers <= 1:
        while left > 0 and (job := ask()) is not None:
            result = opt._eval_batch_with([job[1]], ctx)[0]
            told(job[0], result)
            left -= 1
            yield result
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(max_workers=workers, initializer=opt._init_worker, initargs=(ctx,),
                             mp_context=mp.get_context("spawn")) as pool:
        running: dict[Future[list[dict[str, Any]]], Any] = {}
        try:
            while left > 0 or running:
                while left - len(running) > 0 and len(running) < workers:
                    job = ask()
                    if job is None:
                        left = len(running)  # nothing new to try: finish what runs
                        break
                    running[pool.submit(opt._eval_batch, [job[1]])] = job[0]
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()[0]
                    told(running.pop(fut), result)
                    left -= 1
                    yield result
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
