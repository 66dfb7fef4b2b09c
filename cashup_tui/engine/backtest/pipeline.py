"""From user inputs to a finished run: strategy + params, bars, config, fingerprint, JSON.

Shared by `cashup backtest run|lookahead` and `cashup optimize` so they validate the same way
and fail before anything is written anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashup_tui.domain.errors import ValidationError
from cashup_tui.engine.backtest.model import ENGINE_VERSION, Result, RunConfig
from cashup_tui.engine.strategy import Bars, Strategy, load_strategy


@dataclass
class Prepared:
    strategy: Strategy
    bars: Bars
    config: RunConfig
    source: str  # where the bars came from (file path or store series)


def build_strategy(ref: str, params: dict[str, Any], dirs: Sequence[Path] | None = None) -> Strategy:
    cls = load_strategy(ref, dirs)
    return cls(**params)


def fingerprint(strategy: Strategy, bars: Bars, cfg: RunConfig, engine: str = "fast") -> str:
    """Hash of the data slice + strategy source + params + run settings + engine version."""
    h = hashlib.sha256()
    h.update(bars.digest().encode())
    h.update(strategy.source_text().encode())
    h.update(json.dumps(strategy.params, sort_keys=True, default=str).encode())
    h.update(json.dumps(cfg.as_dict(), sort_keys=True, default=str).encode())
    h.update(f"{engine}:{ENGINE_VERSION}".encode())
    return h.hexdigest()[:24]


def run(prep: Prepared, engine: str = "fast", venue_factory: Any = None) -> Result:
    """Run the prepared backtest; the event engine needs the venue class from the caller (layering)."""
    if engine == "fast":
        from cashup_tui.engine.backtest.fast import run_fast

        return run_fast(prep.strategy, prep.bars, prep.config)
    if engine == "event":
        from cashup_tui.engine.backtest.event import run_event

        return run_event(prep.strategy, prep.bars, prep.config, venue_factory)
    raise ValidationError(f"unknown engine {engine!r}", hint="use --engine fast or --engine event")


def check_runnable(strategy: Strategy, engine: str) -> None:
    if engine not in ("fast", "event"):
        raise ValidationError(f"unknown engine {engine!r}", hint="use --engine fast or --engine event")
    if getattr(strategy, "portfolio", False):
        raise ValidationError(
            f"{strategy.label()} is a portfolio strategy: it runs on several symbols (`cashup backtest run|lookahead`, "
            "`cashup optimize`), not here",
            hint=f"cashup backtest run {strategy.label()} --data BTC_USDT=btc.csv --data ETH_USDT=eth.csv ...",
        )
    if engine == "fast" and not strategy.vectorised:
        raise ValidationError(
            f"{strategy.label()} has event hooks only and cannot run on the fast (vectorised) engine",
            hint="use --engine event",
        )


def result_json(res: Result, metrics: dict[str, Any], fp: str, *, run_id: int | None = None,
                source: str = "", max_trades: int | None = None) -> dict[str, Any]:
    trades = res.trade_rows()
    if max_trades is not None:
        trades = trades[-max_trades:]
    out: dict[str, Any] = {
        "strategy": res.strategy,
        "params": res.params,
        "engine": res.engine,
        "symbol": res.symbol,
        "timeframe": res.timeframe,
        "data": source,
        "settings": res.config.as_dict(),
        **metrics,
        "trades": trades,
        "fingerprint": fp,
    }
    if res.engine == "event":
        out["rejected_orders"] = res.rejected
        out["notes"] = res.notes
    if run_id is not None:
        out["run_id"] = run_id
    return out
