"""EngineWorkstation: the running `runtime.Node` seen as a `WorkstationNode`.

Why a bridge: the panes want small read models and one call per user action; the engine
has many parts (cache, portfolio, risk, order manager, runner). Every action here goes
through the order manager (risk gate, write-ahead, venue); nothing calls an adapter to
trade. Discrete engine events (fills, denials, risk trips, strategy failures, feed drops)
are collected from the bus into a small queue the app drains on its timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cashup_tui.app.model import (
    HeaderStatus,
    LimitUsage,
    LogLine,
    NotificationView,
    OrderRequest,
    PositionView,
    RiskView,
    StrategyView,
    StreamHealth,
    StressRow,
    TicketPreview,
)
from cashup_tui.domain.enums import Mode, OrderType, Side, TradingState
from cashup_tui.domain.errors import CashupError, ValidationError
from cashup_tui.domain.events import (
    FeedDisconnected,
    OrderDenied,
    OrderFilled,
    RiskTripped,
    StrategyFailed,
    TradingStateChanged,
)
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, BookSnapshot, Ticker, Trade
from cashup_tui.domain.orders import Order
from cashup_tui.domain.positions import Position
from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.engine.roles import Action

log = logging.getLogger("cashup.app")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
PREVIEW_ID = "t-preview"


class RingLog(logging.Handler):
    """Keeps the last lines of the `cashup` loggers for the log viewer (already redacted
    by the filter that logging_setup installs on every handler)."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__(logging.INFO)
        from cashup_tui.logging_setup import RedactingFilter

        self.addFilter(RedactingFilter())
        self.lines: deque[LogLine] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record) if self.formatter else record.getMessage()
        except Exception:  # a bad log call must never break the UI
            msg = str(record.msg)
        self.lines.append(LogLine(int(record.created * 1000), record.levelname, record.name.removeprefix("cashup."),
                                  msg))


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
        tf = timeframe_ms(timeframe)
        now = self.node.clock.now_ms()
        candles = await self.node.rest.fetch_candles(symbol, timeframe, now - tf * count, now - now % tf)
        return [Bar(symbol, timeframe, c.open_ms, float(c.open), float(c.high), float(c.low), float(c.close),
                    float(c.volume)) for c in candles if c.open_ms + tf <= now]

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



HEAVY_MODULES = (
    "cashup_tui.runtime", "cashup_tui.store", "cashup_tui.store_journal", "cashup_tui.adapters.gateio.rest",
    "cashup_tui.adapters.gateio.market_data", "cashup_tui.adapters.gateio.execution", "cashup_tui.adapters.sim.server",
    "cashup_tui.adapters.sim.execution", "cashup_tui.adapters.notify",
)


def _preload() -> None:
    """Import the engine and adapters (ccxt, SQLAlchemy, aiohttp: about a second) off the UI thread."""
    import importlib

    for name in HEAVY_MODULES:
        importlib.import_module(name)


class EngineWorkstation(BacktestMixin):
    """`node` is a built `runtime.Node`, or a zero-argument factory that builds it; with a factory the
    workstation paints at once and the engine is imported and built while the user sees it."""

    def __init__(self, node: Any, *, chart_refresh_s: float = 30.0, notifier: Any = None,
                 mode: str | None = None, symbols: Sequence[str] = ()) -> None:
        self._factory = node if callable(node) and not hasattr(node, "start") else None
        self.node = None if self._factory is not None else node
        self.mode = Mode(mode or self.node.mode)
        self._symbols = list(symbols) or (list(self.node.symbols) if self.node is not None else [])
        self.chart_refresh_s = chart_refresh_s
        self.notifier = notifier
        self.ring = RingLog()
        self._alerts: deque[tuple[str, str]] = deque(maxlen=100)
        self._bars: dict[tuple[str, str], list[Bar]] = {}
        self._bars_at: dict[tuple[str, str], float] = {}
        self._wanted: set[tuple[str, str]] = set()
        self._daily: dict[str, list[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self.last_ack_ms: float | None = None
        self._notifications: deque[NotificationView] = deque(maxlen=500)
        self._seen_alerts: set[int] = set()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        logging.getLogger("cashup").addHandler(self.ring)
        if self.node is None:
            assert self._factory is not None
            await asyncio.to_thread(_preload)
            self.node = self._factory()
            self._symbols = list(self.node.symbols)
        await self.node.start()
        bus = self.node.bus
        bus.subscribe(OrderFilled, self._on_fill)
        bus.subscribe(OrderDenied, lambda e: self._alert("warning", f"DENIED {e.client_id}: {e.message}"))
        bus.subscribe(RiskTripped, lambda e: self._alert("error", f"RISK {e.rule}: {e.message}"))
        bus.subscribe(TradingStateChanged, lambda e: self._alert("warning", f"trading {e.old.value} -> {e.new.value}"))
        bus.subscribe(StrategyFailed, lambda e: self._alert("error", f"strategy {e.strategy} failed at {e.where}: "
                                                                      f"{e.message}"))
        bus.subscribe(FeedDisconnected, lambda e: self._alert("warning", f"feed {e.stream} disconnected: {e.reason}"))
        market = self.node.market
        if market is not None:
            with contextlib.suppress(CashupError):
                await market.subscribe(self.node.symbols, ["trades", "candles:1m"])
        for change in self.node.reconcile_changes:
            self._alert("information", f"reconciled: {change}")
        # Everything loaded so far (ccxt's markets, the engine, Textual's widgets) lives for the whole
        # session: move it out of the collector's sight so a full collection never stalls a key press.
        import gc

        gc.collect()
        gc.freeze()
        self._task = asyncio.get_running_loop().create_task(self._history_loop(), name="chart-history")

    async def stop(self, *, disarm_dead_man: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        try:
            if self.node is not None:
                await self.node.stop(disarm_dead_man=disarm_dead_man)
        finally:
            logging.getLogger("cashup").removeHandler(self.ring)

    def _alert(self, severity: str, text: str) -> None:
        self._alerts.append((severity, text))
        self._notifications.append(NotificationView(int(time.time() * 1000), severity, text[:80], text, "screen",
                                                    True))

    def _on_fill(self, e: OrderFilled) -> None:
        f = e.fill
        self._alert("information", f"FILL {f.side.value.upper()} {f.size} {f.symbol} @ {f.price} ({f.client_id})")

    def drain_alerts(self) -> list[tuple[str, str]]:
        fired = getattr(self.node, "alerts_fired", [])
        for f in fired[-20:]:
            if id(f) not in self._seen_alerts:
                self._seen_alerts.add(id(f))
                self._alert("warning", f"ALERT {f.rule.describe()}: {f.message}")
        out = list(self._alerts)
        self._alerts.clear()
        return out

    # -- market reads -------------------------------------------------------------------------
    def watchlist(self) -> Sequence[str]:
        return list(self._symbols)

    def symbols(self) -> Sequence[str]:
        return sorted(self.node.instruments) if self.node is not None and self.node.instruments else self.watchlist()

    def instrument(self, symbol: str) -> Instrument | None:
        return self.node.instruments.get(symbol) if self.node is not None else None

    def ticker(self, symbol: str) -> Ticker | None:
        return self.node.cache.ticker(symbol) if self.node is not None else None

    def book(self, symbol: str) -> BookSnapshot | None:
        if self.node is None:
            return None
        md = self.node.market
        if md is not None:
            live = md.book(symbol)
            if live is not None:
                return live
        return self.node.cache.book(symbol)

    def trades(self, symbol: str) -> Sequence[Trade]:
        md = self.node.market if self.node is not None else None
        return md.trades(symbol) if md is not None else ()

    def bars(self, symbol: str, timeframe: str) -> Sequence[Bar]:
        key = (symbol, timeframe)
        self._wanted.add(key)
        hist = self._bars.get(key, [])
        md = self.node.market if self.node is not None else None
        live = md.live_bars(symbol, timeframe) if md is not None and timeframe == "1m" else []
        if not live:
            return hist
        if not hist:
            return live
        start = live[0].open_ms
        return [b for b in hist if b.open_ms < start] + list(live)

    async def _history_loop(self) -> None:
        """Fetch chart history over REST for the series the panes ask for (never per frame)."""
        while True:
            now = time.monotonic()
            for key in list(self._wanted):
                if now - self._bars_at.get(key, 0.0) >= self.chart_refresh_s:
                    self._bars_at[key] = now
                    await self._fetch_bars(*key)
            await asyncio.sleep(0.5)

    async def _fetch_bars(self, symbol: str, timeframe: str, count: int = 200) -> None:
        rest = self.node.rest
        if rest is None:
            return
        tf = timeframe_ms(timeframe)
        now = self.node.clock.now_ms()
        try:
            candles = await rest.fetch_candles(symbol, timeframe, now - tf * count, now + tf)
        except CashupError as exc:
            log.info("chart history %s %s: %s", symbol, timeframe, exc)
            return
        self._bars[(symbol, timeframe)] = [
            Bar(symbol, timeframe, c.open_ms, float(c.open), float(c.high), float(c.low), float(c.close),
                float(c.volume)) for c in candles
        ]

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> HeaderStatus:
        n = self.node
        pf, risk = n.portfolio, n.risk
        streams: list[StreamHealth] = []
        now = n.clock.now_ms()
        md = n.market
        if md is not None:
            st = md.client.stats
            last = getattr(st, "last_msg_ms", None) or max((n.cache.last_update_ms(s) or 0 for s in n.symbols),
                                                            default=0)
            streams.append(StreamHealth("mkt", bool(getattr(md.client, "connected", True)),
                                        (now - last) if last else None, st.msgs_per_s, st.reconnects))
        ex = n.execution
        client = getattr(ex, "ws", None) or getattr(ex, "client", None)
        if client is not None and hasattr(client, "stats"):
            st = client.stats
            streams.append(StreamHealth("priv", bool(getattr(client, "connected", True)), None, st.msgs_per_s,
                                        st.reconnects))
        return HeaderStatus(
            mode=self.mode,
            equity=pf.equity() if pf else ZERO,
            day_pnl=pf.day_pnl() if pf else ZERO,
            trading_state=risk.state if risk else TradingState.ACTIVE,
            streams=tuple(streams),
            latency_ms=self.last_ack_ms,
            now_ms=now,
            kill_level=risk.status.kill_level if risk else 0,
            profile=n.profile.value,
        )

    # -- orders and positions ----------------------------------------------------------------
    def open_orders(self) -> Sequence[Order]:
        if self.node is None:
            return []
        return sorted(self.node.cache.open_orders(), key=lambda o: o.created_ms, reverse=True)

    def order_history(self, limit: int = 200) -> Sequence[Order]:
        if self.node is None:
            return []
        done = [o for o in self.node.cache.orders() if not o.is_open]
        return sorted(done, key=lambda o: o.updated_ms, reverse=True)[:limit]

    def positions(self) -> Sequence[PositionView]:
        pf = self.node.portfolio if self.node is not None else None
        if pf is None:
            return []
        out = []
        for v in pf.views():
            p: Position = pf.positions[v.symbol]
            mark = v.mark if v.mark is not None else v.entry_price
            roe = v.unrealized_pnl / v.margin * HUNDRED if v.margin > 0 else ZERO
            liq = v.liquidation_price
            dist = abs(mark - liq) / mark * HUNDRED if liq is not None and mark > 0 else None
            out.append(PositionView(p, mark, v.unrealized_pnl, roe, liq, dist, v.margin))
        return out

    # -- strategies ------------------------------------------------------------------------------
    def strategies(self) -> Sequence[StrategyView]:
        from cashup_tui.engine.strategy import discover, load_strategy, strategy_dirs
        from cashup_tui.paths import user_strategies_dir

        dirs = strategy_dirs(user_strategies_dir())
        runner = self.node.runner if self.node is not None else None
        out: list[StrategyView] = []
        running_labels = set()
        if runner is not None:
            for s in runner.status():
                running_labels.add(s["strategy"])
                out.append(StrategyView(s["name"], s["strategy"], s["symbol"], s["state"], s["params"],
                                        self._strategy_pnl(s["name"]), s["orders"], s["error"]))
        for name in sorted(discover(dirs)):
            if name in running_labels:
                continue
            try:
                cls = load_strategy(name, dirs)
                params = {k: p.default for k, p in cls.parameters().items()}
            except CashupError as exc:
                out.append(StrategyView(name, name, "", "failed", {}, error=str(exc)))
                continue
            out.append(StrategyView(name, name, "", "stopped", params))
        return out

    def _strategy_pnl(self, slot_name: str) -> Decimal:
        total = ZERO
        for o in self.node.cache.orders():
            if o.strategy == slot_name and o.filled:
                total -= o.fees
        return total

    async def start_strategy(self, name: str, symbol: str, params: dict[str, object]) -> str:
        self.node.authorize(Action.START_STRATEGY, "strategy.start", strategy=name, symbol=symbol,
                            params=",".join(f"{k}={v}" for k, v in params.items()))
        runner = self.node.runner
        for key in (name, f"{name}-{symbol}"):  # a row is either a slot or a strategy name
            if key in runner.slots:
                runner.resume(key)
                return key
        from cashup_tui.engine.strategy import load_strategy, strategy_dirs
        from cashup_tui.paths import user_strategies_dir

        cls = load_strategy(name, strategy_dirs(user_strategies_dir()))
        slot = runner.add(cls(**params), symbol, "1m")
        await self.node.warm_up(slot.name)
        return slot.name

    async def stop_strategy(self, strategy_id: str) -> None:
        self.node.authorize(Action.STOP_STRATEGY, "strategy.stop", strategy=strategy_id)
        self.node.runner.stop(strategy_id)

    async def pause_strategy(self, strategy_id: str) -> None:
        self.node.authorize(Action.STOP_STRATEGY, "strategy.pause", strategy=strategy_id)
        self.node.runner.pause(strategy_id)

    # -- risk -----------------------------------------------------------------------------------
    def risk(self) -> RiskView:
        n = self.node
        risk, pf = n.risk, n.portfolio
        lim = risk.limits
        snap = risk.snapshot()
        largest_pos = max((pf.notional(s) for s, p in pf.positions.items() if not p.is_flat), default=ZERO)
        day_loss = max(ZERO, -pf.day_pnl())
        usages = (
            LimitUsage("gross exposure", float(pf.gross_exposure()), float(lim.max_gross_exposure)),
            LimitUsage("largest position", float(largest_pos), float(lim.max_position_notional)),
            LimitUsage("leverage", float(min(pf.effective_leverage(), Decimal(999))), float(lim.max_leverage), "x"),
            LimitUsage("open orders", float(snap["open_orders"]), float(lim.max_open_orders), ""),
            LimitUsage("daily loss", float(day_loss), float(lim.daily_loss_limit)),
            LimitUsage("drawdown", float(pf.drawdown_pct()), float(lim.max_drawdown_pct), "%"),
        )
        exposure = tuple(
            (sym, side, v) for sym, sides in pf.exposure_by_symbol().items() for side, v in sides.items() if v > 0
        )
        var95 = var99 = None
        if self._daily:
            with contextlib.suppress(CashupError, ValueError):
                vr = pf.historical_var(self._daily)
                var95, var99 = Decimal(str(round(vr.var95, 2))), Decimal(str(round(vr.var99, 2)))
        stress = tuple(
            StressRow(f"{r.scope} {r.shock_pct:+d}%", r.pnl, r.margin_after, r.liquidated) for r in pf.stress()
        )
        if not self._daily and any(not p.is_flat for p in pf.positions.values()):
            for s in n.symbols:
                self._wanted.add((s, "1d"))
        for s in n.symbols:
            bars = self._bars.get((s, "1d"))
            if bars:
                self._daily[s] = [b.close for b in bars]
        return RiskView(risk.state, risk.status.kill_level, usages, exposure, var95, var99, stress)

    # -- actions ----------------------------------------------------------------------------------
    def _order_from(self, req: OrderRequest, *, client_id: str | None = None) -> Order:
        om = self.node.om
        return om.build(req.symbol, req.side, req.size, order_type=req.order_type, price=req.price,
                        tif=req.tif, reduce_only=req.reduce_only, trigger_price=req.trigger_price,
                        client_id=client_id, post_only=req.post_only)

    def _trailing(self, order: Order, req: OrderRequest) -> Order:
        """The ticket asks for a trail in percent; the engine trails by a price distance."""
        if req.order_type is not OrderType.TRAILING_STOP or req.trail_pct is None:
            return order
        from msgspec.structs import replace

        inst = self.instrument(req.symbol)
        mark = self.node.cache.mark(req.symbol)
        if inst is None or mark is None:
            raise ValidationError(f"no mark price for {req.symbol} yet: cannot size the trailing distance")
        distance = max(inst.round_price(mark * req.trail_pct / HUNDRED), inst.price_tick)
        return replace(order, trigger_price=distance)

    async def preview(self, req: OrderRequest) -> TicketPreview:
        inst = self.instrument(req.symbol)
        if inst is None:
            raise ValidationError(f"unknown symbol {req.symbol}")
        order = self._order_from(req, client_id=PREVIEW_ID)
        order = self._trailing(order, req)
        pf = self.node.portfolio
        mark = self.node.cache.mark(req.symbol) or pf.mark_of(req.symbol) or ZERO
        ref = req.price or req.trigger_price or mark
        notional = inst.notional(req.size, ref)
        pos = pf.positions.get(req.symbol)
        lev = pos.leverage if pos is not None and pos.leverage > 0 else pf.default_leverage
        fee_rate = inst.taker_fee_rate if req.order_type is OrderType.MARKET or req.tif.value in ("ioc", "fok") \
            else max(inst.maker_fee_rate, ZERO)
        after = (pos.size if pos else ZERO) + req.size * req.side.sign
        liq = None
        if after != 0 and ref > 0:
            liq = Position(req.symbol, inst.quanto_multiplier, after, ref, leverage=lev).liquidation_price(
                inst.maintenance_rate)
        denial = self.node.risk.preview(order)
        lim = self.node.risk.limits
        headroom = (
            LimitUsage("order notional", float(notional), float(lim.max_order_notional)),
            LimitUsage("position after", float(inst.notional(after, ref)), float(lim.max_position_notional)),
        )
        return TicketPreview(notional, notional / lev if lev else notional, notional * fee_rate, liq, headroom,
                             "" if denial is None else str(denial).removeprefix("risk: "))

    async def submit(self, req: OrderRequest) -> Order:
        order = self._trailing(self._order_from(req), req)
        om = self.node.om
        t0 = time.perf_counter()
        self.node.authorize(Action.PLACE_ORDER, "order.submit", client_id=order.client_id, side=order.side.value,
                            size=order.size, symbol=order.symbol, type=order.order_type.value, price=order.price)
        if req.take_profit is not None or req.stop_loss is not None:
            if req.take_profit is None or req.stop_loss is None:
                raise ValidationError("a bracket needs both a take-profit and a stop-loss price",
                                      hint="fill both TP and SL, or neither")
            result = await om.bracket(order, stop_price=req.stop_loss, take_profit_price=req.take_profit)
        else:
            result = (await om.submit(order)).order
        self.last_ack_ms = (time.perf_counter() - t0) * 1000
        return result

    async def cancel(self, client_id: str) -> Order:
        self.node.authorize(Action.CANCEL_ORDER, "order.cancel", client_id=client_id)
        return await self.node.om.cancel(client_id, reason="cancelled from the workstation")

    async def amend(self, client_id: str, *, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        self.node.authorize(Action.AMEND_ORDER, "order.amend", client_id=client_id, price=price, size=size)
        return await self.node.om.amend(client_id, price=price, size=size)

    async def cancel_all(self, symbol: str | None = None) -> int:
        self.node.authorize(Action.CANCEL_ORDER, "order.cancel_all", symbol=symbol or "*")
        return len(await self.node.om.cancel_all(symbol, reason="cancel all from the workstation"))

    async def close_position(self, symbol: str, fraction: Decimal = Decimal(1)) -> Order | None:
        self.node.authorize(Action.CLOSE_POSITION, "position.close", symbol=symbol, fraction=fraction)
        om = self.node.om
        if fraction >= 1:
            return await om.close_position(symbol)
        pos = self.node.portfolio.positions.get(symbol)
        inst = self.instrument(symbol)
        if pos is None or pos.is_flat or inst is None:
            return None
        size = inst.round_size(abs(pos.size) * fraction)
        if size <= 0:
            raise ValidationError(f"{symbol}: position too small to reduce by {fraction:%}")
        side = Side.SELL if pos.size > 0 else Side.BUY
        order = om.build(symbol, side, size, order_type=OrderType.MARKET, reduce_only=True)
        return (await om.submit(order)).order

    async def kill(self, level: int, reason: str) -> None:
        self.node.authorize(Action.KILL_SWITCH, "kill_switch", level=level, reason=reason)
        await self.node.om.kill(level, reason, source="workstation")

    async def resume(self, passphrase: str | None = None) -> None:
        """Back to ACTIVE: an admin action (raises AdminPassphraseRequired for the app to prompt)."""
        self.node.authorize(Action.RESUME_TRADING, "risk.resume", passphrase=passphrase)
        self.node.risk.resume("resumed from the workstation", source="workstation")

    @property
    def profile(self) -> str:
        return self.node.profile.value if self.node is not None else "trader"

    # -- notifications and logs ------------------------------------------------------------------
    def notifications(self, limit: int = 200) -> Sequence[NotificationView]:
        items = list(self._notifications)
        svc = getattr(self.node, "notifier", None)
        if svc is not None:
            items += [NotificationView(r.ts_ms, r.severity, r.title, r.event, r.channel, r.outcome == "sent")
                      for r in svc.history]
        return sorted(items, key=lambda n: n.ts_ms, reverse=True)[:limit]

    def channels(self) -> Sequence[str]:
        svc = getattr(self.node, "notifier", None) if self.node is not None else None
        return [c.label for c in svc.channels] if svc is not None else []

    def alert_rules(self) -> Sequence[str]:
        eng = getattr(self.node, "alerts", None)
        return [r.describe() for r in eng.rules] if eng is not None else []

    async def test_notification(self) -> bool:
        if self.node is not None:
            self.node.authorize(Action.TEST_NOTIFY, "notify.test")
        svc = getattr(self.node, "notifier", None)
        if svc is not None:
            return bool(await svc.notify("CashUp test", "test notification from the workstation", severity="info"))
        if self.notifier is None:
            self._alert("information", "test notification (no channels configured: shown here only)")
            return True
        return bool(await self.notifier.notify("CashUp test", "test notification from the workstation",
                                               severity="info"))

    def logs(self, limit: int = 500) -> Sequence[LogLine]:
        return list(self.ring.lines)[-limit:]


