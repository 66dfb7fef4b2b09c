"""Background jobs: backtests from the Strategies pane, run in a worker process so the UI never waits.

The backtest and the drift check read bars over REST and fills from the engine cache; the fast
engine runs in a spawned process (CPU-heavy work never runs on the event loop).
"""

from __future__ import annotations

import asyncio
from typing import Any

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.market import Bar
from cashup_tui.domain.timeframes import timeframe_ms


# -- backtests from the Strategies pane (run in a separate process: the UI never waits) ----------------
def backtest_job(name: str, params: dict[str, Any], symbol: str, timeframe: str,
                 cols: tuple[list[int], list[float], list[float], list[float], list[float], list[float]],
                 cash: float, fee_bps: float) -> dict[str, Any]:
    """Runs in a worker process: the fast engine on the given bars; returns metrics, equity, trades."""
    from cashup_tui.engine.backtest import metrics as m
    from cashup_tui.engine.backtest.fast import run_fast
    from cashup_tui.engine.backtest.model import RunConfig
    from cashup_tui.engine.backtest.pipeline import build_strategy
    from cashup_tui.engine.strategy import Bars, strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    strategy = build_strategy(name, params, strategy_dirs(user_strategies_dir()))
    bars = Bars.from_arrays(*cols, symbol=symbol, timeframe=timeframe)
    if len(bars) <= strategy.warmup() + 2:
        raise ValidationError(f"{name}: {len(bars)} bars is too little data (needs more than {strategy.warmup()})")
    res = run_fast(strategy, bars, RunConfig(cash=cash, fee_bps=fee_bps))
    step = max(1, res.equity.size // 400)
    return {"metrics": m.compute(res), "equity": res.equity[::step].tolist(), "trades": res.trade_rows()}


async def run_in_process(fn: Any, *args: Any) -> Any:
    """CPU-heavy work in a spawned worker process, awaited without blocking the event loop."""
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    loop = asyncio.get_running_loop()
    # Textual captures stderr with an object whose fileno() is -1; multiprocessing hands that fd to its
    # resource tracker and fails ("bad value(s) in fds_to_keep"): give it the real stderr meanwhile.
    saved = sys.stderr
    sys.stderr = sys.__stderr__ or saved
    try:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        fut = loop.run_in_executor(pool, fn, *args)
    finally:
        sys.stderr = saved
    try:
        return await fut
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class BacktestMixin:
    """Backtest and drift for EngineWorkstation (kept apart: they only read bars and fills)."""

    node: Any

    async def _history(self, symbol: str, timeframe: str, count: int) -> list[Bar]:
        return list(await self.node.rest.recent_bars(symbol, timeframe, count, self.node.clock.now_ms()))

    async def backtest(self, name: str, symbol: str, params: dict[str, object], *, timeframe: str = "1m",
                       bars: int = 1000) -> dict[str, Any]:
        hist = await self._history(symbol, timeframe, bars)
        if not hist:
            raise ValidationError(f"no {timeframe} candles for {symbol} to backtest on")
        cols = ([b.open_ms for b in hist], [b.open for b in hist], [b.high for b in hist], [b.low for b in hist],
                [b.close for b in hist], [b.volume for b in hist])
        bt = self.node.settings.backtest
        out = await run_in_process(backtest_job, name, dict(params), symbol, timeframe, cols, bt.cash, bt.fee_bps)
        out["source"] = f"{len(hist)} x {timeframe} {symbol} bars from the venue"
        return out

    async def drift(self, slot_name: str) -> dict[str, Any]:
        """Live trades of a running strategy against a backtest of the same strategy over the same bars."""
        runner = self.node.runner
        slot = runner.slots.get(slot_name) if runner is not None else None
        if slot is None:
            raise ValidationError(f"{slot_name} is not running", hint="start it first (enter on the Strategies tab)")
        mine = [o for o in self.node.cache.orders() if o.strategy == slot_name and o.filled > 0]
        since = min((o.created_ms for o in mine), default=self.node.clock.now_ms() - 3_600_000)
        tf = timeframe_ms(slot.timeframe)
        count = max(50, (self.node.clock.now_ms() - since) // tf + slot.strategy.warmup() + 5)
        result = await self.backtest(slot.strategy.label(), slot.symbol, dict(slot.strategy.params),
                                     timeframe=slot.timeframe, bars=int(count))
        bt_entries = [t for t in result["trades"] if t["entry_time"] >= since - tf]
        live = [{"time": o.created_ms, "side": o.side.value, "size": str(o.filled), "price": str(o.avg_fill_price)}
                for o in sorted(mine, key=lambda o: o.created_ms)]
        return {"live": live, "backtest": bt_entries, "since": since, "metrics": result["metrics"]}
