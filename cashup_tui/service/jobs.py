"""Background jobs: backtests from the Strategies pane, run in a worker process so the UI never waits.

The backtest and the drift check read bars over REST and fills from the engine cache; the fast
engine runs in a spawned process (CPU-heavy work never runs on the event loop).
"""

from __future__ import annotations

import asyncio
import math
from functools import partial
from typing import Any

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.market import Bar
from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.service.roles import Action


# -- backtests from the Strategies pane (run in a separate process: the UI never waits) ----------------
def backtest_job(name: str, params: dict[str, Any], symbol: str, timeframe: str,
                 cols: tuple[list[int], list[float], list[float], list[float], list[float], list[float]],
                 cash: float, fee_bps: float, *, notional: float | None = None,
                 allow_short: bool = False) -> dict[str, Any]:
    """Runs in a worker process: the fast engine on the given bars; returns metrics, equity (with the
    time of each point, for the chart's time axis) and trades. `notional`: size every entry at that many
    USDT, as a running strategy's slot does (the drift view), instead of all-in."""
    from cashup_tui.engine.backtest import metrics as m
    from cashup_tui.engine.backtest.fast import run_fast
    from cashup_tui.engine.backtest.model import RunConfig, Sizer
    from cashup_tui.engine.backtest.pipeline import build_strategy
    from cashup_tui.engine.strategy import Bars, strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    strategy = build_strategy(name, params, strategy_dirs(user_strategies_dir()))
    bars = Bars.from_arrays(*cols, symbol=symbol, timeframe=timeframe)
    if len(bars) <= strategy.warmup() + 2:
        raise ValidationError(f"{name}: {len(bars)} bars is too little data (needs more than {strategy.warmup()})")
    sizer = Sizer("notional", notional) if notional else Sizer()
    cfg = RunConfig(cash=cash, fee_bps=fee_bps, allow_short=allow_short, sizer=sizer)
    cfg.check()
    res = run_fast(strategy, bars, cfg)
    step = max(1, res.equity.size // 400)
    return {"metrics": m.compute(res), "equity": res.equity[::step].tolist(),
            "equity_time": res.time_ms[::step].tolist(), "trades": res.trade_rows()}


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
    """Backtest and drift for EngineWorkstation (kept apart: they only read bars and fills).

    Both use what the live account would meet: the venue's fee schedule from the contract (a fast
    backtest fills at the next bar's open, so every fill pays the taker rate) and the account's equity as
    cash unless a cash is asked for."""

    node: Any

    @property
    def _started_ms(self) -> dict[str, int]:
        """slot name -> when it started running here (kept on the instance; the mixin has no __init__)."""
        return self.__dict__.setdefault("_strategy_started_ms", {})

    async def _history(self, symbol: str, timeframe: str, count: int) -> list[Bar]:
        return list(await self.node.rest.recent_bars(symbol, timeframe, count, self.node.clock.now_ms()))

    def backtest_terms(self, symbol: str) -> dict[str, float]:
        """Cash (the account's equity, else `backtest.cash`) and fees (bps; the contract's maker/taker,
        else `backtest.fee_bps` for both) an in-app backtest on `symbol` uses."""
        bt = self.node.settings.backtest
        pf = self.node.portfolio
        equity = float(pf.equity()) if pf is not None else 0.0
        inst = self.node.instruments.get(symbol)
        taker = float(inst.taker_fee_rate) * 10_000 if inst is not None else bt.fee_bps
        maker = float(inst.maker_fee_rate) * 10_000 if inst is not None else bt.fee_bps
        return {"cash": equity if equity > 0 else bt.cash, "taker_bps": taker, "maker_bps": maker,
                "from_venue": inst is not None}

    async def backtest(self, name: str, symbol: str, params: dict[str, object], *, timeframe: str = "1m",
                       bars: int = 1000, cash: float | None = None, notional: float | None = None,
                       allow_short: bool = False) -> dict[str, Any]:
        """Fast backtest of `name` on the venue's last `bars` candles of `symbol`, in a worker process (a profile
        action: roles.py lets a viewer do none)."""
        self.node.authorize(Action.BACKTEST, "backtest.run", strategy=name, symbol=symbol)
        return await self._backtest(name, symbol, params, timeframe=timeframe, bars=bars, cash=cash,
                                    notional=notional, allow_short=allow_short)

    async def _backtest(self, name: str, symbol: str, params: dict[str, object], *, timeframe: str = "1m",
                        bars: int = 1000, cash: float | None = None, notional: float | None = None,
                        allow_short: bool = False) -> dict[str, Any]:
        if cash is not None and not (math.isfinite(cash) and 0 < cash <= 1e12):
            raise ValidationError(f"cash must be a positive amount of USDT up to 1e12, got {cash}")
        from cashup_tui.service.strategies import is_portfolio

        if is_portfolio(name):
            raise ValidationError(f"{name} is a portfolio strategy: the in-app backtest runs one symbol",
                                  hint=f"backtest it over several: cashup backtest run {name} --symbols "
                                       f"BTC_USDT,ETH_USDT,SOL_USDT --timeframe {timeframe}")
        hist = await self._history(symbol, timeframe, bars)
        if not hist:
            raise ValidationError(f"no {timeframe} candles for {symbol} to backtest on")
        cols = ([b.open_ms for b in hist], [b.open for b in hist], [b.high for b in hist], [b.low for b in hist],
                [b.close for b in hist], [b.volume for b in hist])
        terms = self.backtest_terms(symbol)
        use_cash = terms["cash"] if cash is None else cash
        out = await run_in_process(partial(backtest_job, notional=notional, allow_short=allow_short), name,
                                   dict(params), symbol, timeframe, cols, use_cash, terms["taker_bps"])
        fees = (f"taker {terms['taker_bps']:g} bps (maker {terms['maker_bps']:g}) from the contract"
                if terms["from_venue"] else f"{terms['taker_bps']:g} bps (backtest.fee_bps)")
        out["source"] = (f"{len(hist)} x {timeframe} {symbol} bars from the venue; cash {use_cash:,.2f} USDT "
                         f"({'asked' if cash is not None else 'account equity'}); fees {fees}")
        out["cash"], out["fee_bps"] = use_cash, terms["taker_bps"]
        return out

    def note_strategy_started(self, slot_name: str) -> None:
        """Remember when a strategy started running here: the drift view's window begins there."""
        self._started_ms.setdefault(slot_name, int(self.node.clock.now_ms()))

    async def drift(self, slot_name: str) -> dict[str, Any]:
        """Live fills of a running strategy against a backtest of the same strategy over the same bars.

        The window starts when the strategy started (nothing before it counts on either side); both
        sides are fills (a backtest trade is an entry and, once closed, an exit) with sizes in the
        contract's base currency, the backtest sized at the slot's notional per entry."""
        runner = self.node.runner
        slot = runner.slots.get(slot_name) if runner is not None else None
        if slot is None:
            raise ValidationError(f"{slot_name} is not running", hint="start it first (enter on the Strategies tab)")
        if slot.portfolio:
            raise ValidationError(f"{slot_name} is a portfolio strategy: drift compares one symbol's fills",
                                  hint="its per-symbol targets and positions are under the Strategies table")
        now = self.node.clock.now_ms()
        filled = [o for o in self.node.cache.orders() if o.strategy == slot_name and o.filled > 0]
        # started before this workstation (a slot resumed from the store): from its first order here
        since = self._started_ms.get(slot_name, min((o.created_ms for o in filled), default=now))
        inst = self.node.instruments[slot.symbol]
        mine = [o for o in filled if o.created_ms >= since]
        tf = timeframe_ms(slot.timeframe)
        count = max(50, (now - since) // tf + slot.strategy.warmup() + 5)
        result = await self._backtest(slot.strategy.label(), slot.symbol, dict(slot.strategy.params),
                                     timeframe=slot.timeframe, bars=int(count), notional=float(slot.order_notional),
                                     allow_short=slot.allow_short)
        live = [{"time": o.created_ms, "side": o.side.value, "size": float(o.filled * inst.quanto_multiplier),
                 "price": float(o.avg_fill_price)} for o in sorted(mine, key=lambda o: o.created_ms)]
        return {"live": live, "backtest": backtest_fills(result["trades"], since), "since": since,
                "unit": inst.base, "metrics": result["metrics"]}


def backtest_fills(trades: list[dict[str, Any]], since: int) -> list[dict[str, Any]]:
    """The fills of a backtest's trades entered at or after `since` (a live strategy starts flat, so a
    trade entered before it started, and its exit, has no live counterpart): each entry, and the exit of
    a closed trade (one still open at the end is marked, not exited). Sides are buy/sell, as live fills are."""
    out = []
    for t in trades:
        if t["entry_time"] < since:
            continue
        long = t["side"] == "long"
        out.append({"time": int(t["entry_time"]), "side": "buy" if long else "sell", "size": float(t["qty"]),
                    "price": float(t["entry_price"])})
        if t["exit_reason"] != "end":
            out.append({"time": int(t["exit_time"]), "side": "sell" if long else "buy", "size": float(t["qty"]),
                        "price": float(t["exit_price"])})
    return sorted(out, key=lambda f: f["time"])
