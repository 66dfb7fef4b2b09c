"""EngineWorkstation: the running `runtime.Node` seen as a `WorkstationNode` (service/views.py).

Why one object for the workstation: the panes want small read models and one call per user action;
the engine has many parts (cache, portfolio, risk, order manager, runner). Every action here runs
a command of service/commands.py (the same ones the CLI runs): profile check, risk gate, write-ahead,
venue; nothing calls an adapter to trade. Market data is read from the engine cache and the
market-data port. Discrete engine events (fills, denials, risk trips, strategy failures, feed drops)
are collected from the bus into a small queue the app drains on its timer. Nothing here imports
textual: the app turns these into messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from cashup_tui.domain.alerts import AlertKind
from cashup_tui.domain.enums import Mode, OrderStatus, OrderType, TimeInForce, TradingState
from cashup_tui.domain.errors import CashupError, ValidationError
from cashup_tui.domain.events import (
    FeedDisconnected,
    OrderDenied,
    OrderFilled,
    OrderUpdated,
    RiskTripped,
    StrategyFailed,
    TradingStateChanged,
)
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.live_bars import FetchMark, follow_live
from cashup_tui.domain.market import Bar, BookSnapshot, Ticker, Trade
from cashup_tui.domain.orders import Order
from cashup_tui.domain.positions import Position
from cashup_tui.engine.triggers import bracket_legs
from cashup_tui.service import commands
from cashup_tui.service.alert_rules import AlertRulesMixin
from cashup_tui.service.equity import EquityMixin
from cashup_tui.service.fill_history import HistoryMixin
from cashup_tui.service.funding import FundingView, funding_view
from cashup_tui.service.jobs import BacktestMixin
from cashup_tui.service.leverage import LeverageMixin
from cashup_tui.service.margin import MarginWatch
from cashup_tui.service.roles import Action
from cashup_tui.service.strategies import StrategiesMixin, resume_saved
from cashup_tui.service.toasts import Toast, ToastFeed
from cashup_tui.service.views import (
    HeaderStatus,
    LimitUsage,
    LogLine,
    NotificationView,
    OrderRequest,
    PositionView,
    RiskView,
    StrategyView,
    StressRow,
    TicketPreview,
)
from cashup_tui.service.watchlist import WatchlistMixin

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


HEAVY_MODULES = (
    "cashup_tui.runtime", "cashup_tui.store", "cashup_tui.store.journal", "cashup_tui.adapters.gateio.rest",
    "cashup_tui.adapters.gateio.market_data", "cashup_tui.adapters.gateio.execution", "cashup_tui.adapters.sim.server",
    "cashup_tui.adapters.sim.execution", "cashup_tui.adapters.notify",
)


def _preload() -> None:
    """Import the engine and adapters (ccxt, SQLAlchemy, aiohttp: about a second) off the UI thread."""
    import importlib

    for name in HEAVY_MODULES:
        importlib.import_module(name)


class EngineWorkstation(BacktestMixin, LeverageMixin, StrategiesMixin, HistoryMixin, EquityMixin, WatchlistMixin,
                        AlertRulesMixin):
    """`node` is a built `runtime.Node`, or a zero-argument factory that builds it; with a factory the
    workstation paints at once and the engine is imported and built while the user sees it. `clock`:
    monotonic seconds for the ack latency and the chart and margin refresh cadence."""

    def __init__(self, node: Any, *, chart_refresh_s: float = 30.0, notifier: Any = None,
                 mode: str | None = None, symbols: Sequence[str] = (),
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._factory = node if callable(node) and not hasattr(node, "start") else None
        self.node = None if self._factory is not None else node
        self.mode = Mode(mode or self.node.mode)
        self._symbols = list(symbols) or (list(self.node.symbols) if self.node is not None else [])
        self.chart_refresh_s = chart_refresh_s
        self._clock = clock
        self.notifier = notifier
        self.ring = RingLog()
        self.toasts = ToastFeed()
        self._bars: dict[tuple[str, str], list[Bar]] = {}
        self._bars_at: dict[tuple[str, str], float] = {}
        self._bars_mark: dict[tuple[str, str], FetchMark | None] = {}  # the live minute at each fetch (follow_live)
        self._wanted: set[tuple[str, str]] = set()
        self._daily: dict[str, list[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self.last_ack_ms: float | None = None
        self._notifications: deque[NotificationView] = deque(maxlen=500)
        self._seen_alerts: set[int] = set()
        self.margin = MarginWatch(None)  # the venue's account and position margins, once the node is up

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        logging.getLogger("cashup").addHandler(self.ring)
        if self.node is None:
            assert self._factory is not None
            await asyncio.to_thread(_preload)
            self.node = self._factory()
            self._symbols = list(self.node.symbols)
        await self.node.start()
        bus = self.node.bus  # subscribed before anything else is awaited: no event goes unseen
        bus.subscribe(OrderFilled, self._on_fill)
        bus.subscribe(OrderUpdated, self._on_order)
        bus.subscribe(OrderDenied, lambda e: self._alert("warning", f"DENIED {e.client_id}: {e.message}",
                                                         key=f"order:{e.client_id}"))
        bus.subscribe(RiskTripped, lambda e: self._alert("error", f"RISK {e.rule}: {e.message}", key="risk",
                                                         critical=True))
        bus.subscribe(TradingStateChanged, lambda e: self._alert("warning", f"trading {e.old.value} -> {e.new.value}",
                                                                 key="risk", critical=True))
        bus.subscribe(StrategyFailed, lambda e: self._alert("error", f"strategy {e.strategy} failed at {e.where}: "
                                                                      f"{e.message}", critical=True))
        bus.subscribe(FeedDisconnected, lambda e: self._alert("warning", f"feed {e.stream} disconnected: {e.reason}"))
        self.margin = MarginWatch(self.node.execution, clock=self._clock)
        await self.margin.refresh()
        market = self.node.market
        if market is not None:
            with contextlib.suppress(CashupError):
                await market.subscribe(self.node.symbols, ["trades", "candles:1m"])
        for change in self.node.reconcile_changes:
            self._alert("information", f"reconciled: {change}")
        for problem in await resume_saved(self.node):  # the strategies this workstation ran before a restart
            self._alert("error", problem)
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

    def _alert(self, severity: str, text: str, *, key: str = "", critical: bool = False) -> None:
        self.toasts.add(severity, text, key=key, critical=critical)
        self._notifications.append(NotificationView(self._now_ms(), severity, text[:80], text, "screen", True))

    def _on_fill(self, e: OrderFilled) -> None:
        self.toasts.fill(e.fill)  # one toast per order (service/toasts.py); each fill in the centre
        f = e.fill
        text = f"FILL {f.side.value.upper()} {f.size} {f.symbol} @ {f.price} ({f.client_id})"
        self._notifications.append(NotificationView(self._now_ms(), "information", text, text, "screen", True))

    def _now_ms(self) -> int:
        return self.node.clock.now_ms() if self.node is not None else int(time.time() * 1000)

    def _on_order(self, e: OrderUpdated) -> None:
        o = e.order
        if o.status is OrderStatus.REJECTED:
            self._alert("error", f"REJECTED {o.side.value.upper()} {o.size} {o.symbol} ({o.client_id}): {o.reason}",
                        key=f"order:{o.client_id}", critical=True)

    def drain_alerts(self) -> list[Toast]:
        fired = self.node.alerts_fired
        for f in fired[-20:]:
            if id(f) not in self._seen_alerts:
                self._seen_alerts.add(id(f))
                self._alert("warning", f"ALERT {f.rule.describe()}: {f.message}",
                            critical=f.rule.kind is AlertKind.LIQUIDATION_DISTANCE)
        return self.toasts.drain()

    # -- market reads -------------------------------------------------------------------------
    def watchlist(self) -> Sequence[str]:
        return list(self._symbols)

    def symbols(self) -> Sequence[str]:
        return sorted(self.node.instruments) if self.node is not None and self.node.instruments else self.watchlist()

    def instrument(self, symbol: str) -> Instrument | None:
        return self.node.instruments.get(symbol) if self.node is not None else None

    def ticker(self, symbol: str) -> Ticker | None:
        return self.node.cache.ticker(symbol) if self.node is not None else None

    def funding(self, symbol: str) -> FundingView | None:
        """The next settlement's rate, the predicted rate and the countdown on the node's clock."""
        n = self.node
        return funding_view(n.cache.ticker(symbol), n.instruments.get(symbol), n.clock.now_ms()) if n else None

    def book(self, symbol: str) -> BookSnapshot | None:
        """The engine cache's book: the one the risk gate and the paper venue see (one source, copied
        from the feed every engine tick, the last in-sync book kept while the feed resyncs)."""
        return self.node.cache.book(symbol) if self.node is not None else None

    def trades(self, symbol: str) -> Sequence[Trade]:
        md = self.node.market if self.node is not None else None
        return md.trades(symbol) if md is not None else ()

    def bars(self, symbol: str, timeframe: str) -> Sequence[Bar]:
        key = (symbol, timeframe)
        self._wanted.add(key)
        hist = self._bars.get(key, [])
        md = self.node.market if self.node is not None else None
        if md is not None and timeframe != "1m":  # the forming bar follows the live minutes between fetches
            return follow_live(hist, md.live_bars(symbol, "1m"), self._bars_mark.get(key))
        live = md.live_bars(symbol, timeframe) if md is not None else []
        if not live:
            return hist
        if not hist:
            return live
        start = live[0].open_ms
        return [b for b in hist if b.open_ms < start] + list(live)

    async def _history_loop(self) -> None:
        """Fetch chart history over REST for the series the panes ask for (never per frame)."""
        while True:
            await self.margin.refresh(due_only=True)
            now = self._clock()
            for key in list(self._wanted):
                if now - self._bars_at.get(key, 0.0) >= self.chart_refresh_s:
                    self._bars_at[key] = now
                    await self._fetch_bars(*key)
            await asyncio.sleep(0.5)

    async def _fetch_bars(self, symbol: str, timeframe: str, count: int = 200) -> None:
        rest = self.node.rest
        if rest is None:
            return
        try:
            bars = await rest.recent_bars(symbol, timeframe, count, self.node.clock.now_ms(), closed_only=False)
        except CashupError as exc:
            log.info("chart history %s %s: %s", symbol, timeframe, exc)
            return
        live = self.node.market.live_bars(symbol, "1m") if self.node.market is not None else []
        self._bars_mark[(symbol, timeframe)] = FetchMark(live[-1].open_ms, live[-1].volume) if live else None
        self._bars[(symbol, timeframe)] = bars

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> HeaderStatus:
        n = self.node
        pf, risk = n.portfolio, n.risk
        now = n.clock.now_ms()
        streams = n.stream_health()
        equity = pf.equity() if pf else ZERO
        self.sample_equity(now, equity)  # the Risk pane's equity history (service/equity.py)
        return HeaderStatus(
            mode=self.mode,
            equity=equity,
            day_pnl=pf.day_pnl() if pf else ZERO,
            trading_state=risk.state if risk else TradingState.ACTIVE,
            streams=tuple(streams),
            latency_ms=self.last_ack_ms,
            now_ms=now,
            kill_level=risk.status.kill_level if risk else 0,
            profile=n.profile.value,
            available=self.margin.account.available if self.margin.account else None,
        )

    # -- orders and positions ----------------------------------------------------------------
    def open_orders(self) -> Sequence[Order]:
        if self.node is None:
            return []
        return sorted(self.node.cache.open_orders(), key=lambda o: o.created_ms, reverse=True)

    def bracket_legs(self) -> dict[str, tuple[str, str]]:
        """Bracket exits linked by id: leg client id -> (entry client id, "SL" | "TP")."""
        return bracket_legs(self.node.om.emulator.brackets) if self.node is not None and self.node.om else {}

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
            vm = self.margin.position(v.symbol)  # the venue's margin and liquidation price, once reported
            margin = vm.margin if vm is not None and vm.margin > 0 else v.margin
            roe = v.unrealized_pnl / margin * HUNDRED if margin > 0 else ZERO
            liq = vm.liq_price if vm is not None else v.liquidation_price
            dist = abs(mark - liq) / mark * HUNDRED if liq is not None and mark > 0 else None
            out.append(PositionView(p, mark, v.unrealized_pnl, roe, liq, dist, margin, vm))
        return out

    # -- strategies ------------------------------------------------------------------------------
    def strategies(self) -> Sequence[StrategyView]:
        from cashup_tui.engine.strategy import discover, load_strategy, strategy_dirs
        from cashup_tui.paths import user_strategies_dir

        dirs = strategy_dirs(user_strategies_dir())
        runner = self.node.runner if self.node is not None else None
        out: list[StrategyView] = []
        if runner is not None:
            for s in runner.status():
                out.append(StrategyView(s["name"], s["strategy"], s["symbol"], s["state"], s["params"],
                                        s["net_pnl"], s["orders"], s["error"], s["timeframe"], s["order_notional"],
                                        tuple(s.get("legs", ()))))
        for name in sorted(discover(dirs)):  # each stays listed: another instance may start on another symbol
            try:
                cls = load_strategy(name, dirs)
                params = {k: p.default for k, p in cls.parameters().items()}
            except CashupError as exc:
                out.append(StrategyView(name, name, "", "failed", {}, error=str(exc)))
                continue
            out.append(StrategyView(name, name, "", "stopped", params))
        return out

    async def start_strategy(self, name: str, symbol: str, params: dict[str, object]) -> str:
        slot = await commands.start_strategy(self.node, name, symbol, params, authorize=self.node.authorize)
        self.note_strategy_started(slot)  # the drift view's window starts here
        return slot

    async def stop_strategy(self, strategy_id: str) -> None:
        commands.stop_strategy(self.node, strategy_id, authorize=self.node.authorize)

    async def pause_strategy(self, strategy_id: str) -> None:
        commands.pause_strategy(self.node, strategy_id, authorize=self.node.authorize)

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
        return RiskView(risk.state, risk.status.kill_level, usages, exposure, var95, var99, stress, self.margin.account)

    # -- actions (service/commands.py: the same commands the CLI runs) -----------------------------
    async def preview(self, req: OrderRequest) -> TicketPreview:
        inst = self.instrument(req.symbol)
        if inst is None:
            raise ValidationError(f"unknown symbol {req.symbol}")
        order = commands.order_from(self.node, req, client_id=PREVIEW_ID)
        pf = self.node.portfolio
        mark = self.node.cache.mark(req.symbol) or pf.mark_of(req.symbol) or ZERO
        ref = req.price or req.trigger_price or mark
        notional = inst.notional(req.size, ref)
        pos = pf.positions.get(req.symbol)
        pm = self.margin_of(req.symbol)  # the venue's leverage when it reported one
        lev = pm.leverage if pm is not None and pm.leverage > 0 else pos.leverage if pos is not None and \
            pos.leverage > 0 else pf.leverage.get(req.symbol, pf.default_leverage)
        fee_rate = inst.taker_fee_rate if req.order_type is OrderType.MARKET or req.tif in (TimeInForce.IOC, TimeInForce.FOK) \
            else max(inst.maker_fee_rate, ZERO)
        after = (pos.size if pos else ZERO) + req.size * req.side.sign
        liq = None
        if after != 0 and ref > 0:
            liq = Position(req.symbol, inst.quanto_multiplier, after, ref, leverage=lev).liquidation_price(
                inst.maintenance_rate)
        denial = commands.preview_denial(self.node, req, order)  # what sending would refuse, and why
        lim = self.node.risk.limits
        headroom = (
            LimitUsage("order notional", float(notional), float(lim.max_order_notional)),
            LimitUsage("position after", float(inst.notional(after, ref)), float(lim.max_position_notional)),
        )
        return TicketPreview(notional, notional / lev if lev else notional, notional * fee_rate, liq, headroom,
                             denial or "", self.leverage_label(req.symbol), available=pf.equity() - pf.margin_used(),
                             leverage=lev, fee_rate=fee_rate)

    async def submit(self, req: OrderRequest) -> Order:
        t0 = self._clock()
        placed = await commands.place(self.node, req, authorize=self.node.authorize)
        self.last_ack_ms = (self._clock() - t0) * 1000
        return placed.order

    async def cancel(self, client_id: str) -> Order:
        return await commands.cancel(self.node, client_id, authorize=self.node.authorize,
                                     reason="cancelled from the workstation")

    async def amend(self, client_id: str, *, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        return await commands.amend(self.node, client_id, authorize=self.node.authorize, price=price, size=size)

    async def cancel_all(self, symbol: str | None = None) -> int:
        return len(await commands.cancel_all(self.node, symbol, authorize=self.node.authorize,
                                             reason="cancel all from the workstation"))

    async def close_position(self, symbol: str, fraction: Decimal = Decimal(1)) -> Order | None:
        return await commands.close_position(self.node, symbol, fraction, authorize=self.node.authorize)

    async def kill(self, level: int, reason: str) -> None:
        await commands.kill(self.node, level, reason, authorize=self.node.authorize, source="workstation")

    async def resume(self, passphrase: str | None = None) -> None:
        """Back to ACTIVE: an admin action (raises AdminPassphraseRequired for the app to prompt)."""
        commands.resume(self.node.risk, authorize=self.node.authorize, reason="resumed from the workstation",
                        source="workstation", passphrase=passphrase)

    @property
    def profile(self) -> str:
        return self.node.profile.value if self.node is not None else "trader"

    # -- notifications and logs ------------------------------------------------------------------
    def notifications(self, limit: int = 200) -> Sequence[NotificationView]:
        items = list(self._notifications)
        svc = self.node.notifier if self.node is not None else None
        if svc is not None:
            items += [NotificationView(r.ts_ms, r.severity, r.title, r.event, r.channel, r.outcome == "sent")
                      for r in svc.history]
        return sorted(items, key=lambda n: n.ts_ms, reverse=True)[:limit]

    def channels(self) -> Sequence[str]:
        svc = self.node.notifier if self.node is not None else None
        return [c.label for c in svc.channels] if svc is not None else []

    def alert_rules(self) -> Sequence[str]:
        eng = self.node.alerts if self.node is not None else None
        return [r.describe() for r in eng.rules] if eng is not None else []

    async def test_notification(self) -> bool:
        if self.node is not None:
            self.node.authorize(Action.TEST_NOTIFY, "notify.test")
        svc = self.node.notifier if self.node is not None else None
        if svc is not None:
            return bool(await svc.notify("CashUp test", "test notification from the workstation", severity="info"))
        if self.notifier is None:
            self._alert("information", "test notification (no channels configured: shown here only)")
            return True
        return bool(await self.notifier.notify("CashUp test", "test notification from the workstation",
                                               severity="info"))

    def logs(self, limit: int = 500) -> Sequence[LogLine]:
        return list(self.ring.lines)[-limit:]


