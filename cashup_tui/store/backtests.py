"""Backtest runs (fingerprint, params, metrics, status), their trades and equity curves,
and optimisation trials (unique per study and params so a resumed sweep skips finished ones)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update

from cashup_tui.store.engine import transaction
from cashup_tui.store.lite import (
    RUN_STATUSES,
    TRADE_COLUMNS,
    BacktestRun,
    BacktestTrade,
    dumps,
    equity_values,
    run_row,
    trade_values,
)
from cashup_tui.store.sql import insert_ignore, now_ms, table
from cashup_tui.store.tables import BacktestEquityRow, BacktestRunRow, BacktestTradeRow, OptTrialRow

RUNS = table(BacktestRunRow)
TRADES = table(BacktestTradeRow)
EQUITY = table(BacktestEquityRow)
TRIALS = table(OptTrialRow)


@dataclass(frozen=True, slots=True)
class Trial:
    study: str
    params: dict[str, Any]
    objective: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    status: str = "done"
    error: str = ""
    created_ms: int = 0
    id: int | None = None


def save_backtest_run(
    db: Any,
    run: BacktestRun,
    trades: Iterable[BacktestTrade] = (),
    equity: Sequence[tuple[int, float]] | Sequence[tuple[int, float, float]] = (),
) -> int:
    """Store a run with its trades and equity curve in one transaction; returns the run id."""
    with transaction(db) as conn:
        key = conn.execute(insert(RUNS), run_row(run)).inserted_primary_key
        assert key is not None  # a one-row INSERT always has its key
        run_id = int(key[0])
        _add_children(conn, run_id, trades, equity)
    return run_id


def _add_children(conn: Any, run_id: int, trades: Iterable[BacktestTrade], equity: Sequence[Any]) -> None:
    trows = [{"run_id": run_id, **dict(zip(TRADE_COLUMNS, trade_values(t), strict=True))} for t in trades]
    if trows:
        conn.execute(insert(TRADES), trows)
    erows = [{"run_id": run_id, **dict(zip(("ts_ms", "equity", "drawdown"), equity_values(p), strict=True))}
             for p in equity]
    if erows:
        conn.execute(insert(EQUITY), erows)


def finish_backtest_run(
    db: Any,
    run_id: int,
    *,
    metrics: dict[str, Any] | None = None,
    status: str = "done",
    error: str = "",
    trades: Iterable[BacktestTrade] = (),
    equity: Sequence[Any] = (),
) -> None:
    """Close a run started with status 'running': done with metrics, or failed with the error."""
    if status not in RUN_STATUSES:
        raise ValueError(f"backtest status {status!r} not in {RUN_STATUSES}")
    with transaction(db) as conn:
        vals: dict[str, Any] = {"status": status, "error": error, "finished_ms": now_ms()}
        if metrics is not None:
            vals["metrics"] = metrics
        res = conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**vals))
        if res.rowcount != 1:
            raise KeyError(f"backtest run {run_id} not found")
        _add_children(conn, run_id, trades, equity)


def _run_from(r: Any) -> BacktestRun:
    d = dict(r)
    d["params"] = d["params"] or {}
    d["metrics"] = d["metrics"] or {}
    return BacktestRun(**d)


def get_backtest_run(db: Any, run_id: int) -> BacktestRun | None:
    with transaction(db) as conn:
        r = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().first()
    return _run_from(r) if r else None


def find_runs_by_fingerprint(db: Any, fingerprint: str, status: str | None = "done") -> list[BacktestRun]:
    q = select(RUNS).where(RUNS.c.fingerprint == fingerprint)
    if status is not None:
        q = q.where(RUNS.c.status == status)
    with transaction(db) as conn:
        return [_run_from(r) for r in conn.execute(q.order_by(RUNS.c.id.desc())).mappings()]


def list_backtest_runs(
    db: Any, *, strategy: str | None = None, status: str | None = None, limit: int = 50
) -> list[BacktestRun]:
    """Most recent first."""
    q = select(RUNS)
    if strategy is not None:
        q = q.where(RUNS.c.strategy == strategy)
    if status is not None:
        q = q.where(RUNS.c.status == status)
    with transaction(db) as conn:
        return [_run_from(r) for r in conn.execute(q.order_by(RUNS.c.id.desc()).limit(limit)).mappings()]


def load_backtest_trades(db: Any, run_id: int) -> list[BacktestTrade]:
    q = select(TRADES).where(TRADES.c.run_id == run_id).order_by(TRADES.c.id)
    with transaction(db) as conn:
        return [
            BacktestTrade(**{k: v for k, v in dict(r).items() if k not in ("id", "run_id")})
            for r in conn.execute(q).mappings()
        ]


def load_equity(db: Any, run_id: int) -> list[tuple[int, float, float]]:
    q = select(EQUITY.c.ts_ms, EQUITY.c.equity, EQUITY.c.drawdown).where(EQUITY.c.run_id == run_id)
    with transaction(db) as conn:
        return [tuple(r) for r in conn.execute(q.order_by(EQUITY.c.ts_ms))]  # type: ignore[misc]


def delete_backtest_run(db: Any, run_id: int) -> bool:
    """Delete a run; its trades and equity go with it (ON DELETE CASCADE)."""
    with transaction(db) as conn:
        return conn.execute(delete(RUNS).where(RUNS.c.id == run_id)).rowcount == 1


def params_hash(params: dict[str, Any]) -> str:
    """Stable hash of a parameter set (canonical JSON, sorted keys)."""
    return hashlib.sha256(dumps(params).encode()).hexdigest()[:32]


def record_trial(db: Any, trial: Trial) -> bool:
    """Store a finished trial; False when this study already has these params (nothing written)."""
    row = {
        "study": trial.study, "params_hash": params_hash(trial.params), "params": trial.params,
        "run_id": trial.run_id, "objective": trial.objective, "metrics": trial.metrics, "status": trial.status,
        "error": trial.error, "created_ms": trial.created_ms or now_ms(),
    }
    with transaction(db) as conn:
        return insert_ignore(conn, TRIALS, row, keys=("study", "params_hash"))


def finished_trial_hashes(db: Any, study: str) -> set[str]:
    with transaction(db) as conn:
        return set(conn.execute(select(TRIALS.c.params_hash).where(TRIALS.c.study == study)).scalars())


def list_trials(db: Any, study: str, *, best_first: bool = True, limit: int | None = None) -> list[Trial]:
    q = select(TRIALS).where(TRIALS.c.study == study)
    q = q.order_by(TRIALS.c.objective.desc().nulls_last(), TRIALS.c.id) if best_first else q.order_by(TRIALS.c.id)
    if limit is not None:
        q = q.limit(limit)
    with transaction(db) as conn:
        return [
            Trial(**{k: v for k, v in dict(r).items() if k != "params_hash"}) for r in conn.execute(q).mappings()
        ]
