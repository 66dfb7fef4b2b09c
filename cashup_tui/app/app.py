"""CashupApp: a thin shell. Panes render read models; every action goes through the node
(risk gate, then order manager). Continuous data is pulled from the node on a timer and only
the visible pane is refreshed; discrete events arrive as toasts. Never a redraw per frame."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.events import Resize
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, TabbedContent, TabPane

from cashup_tui.app.hangup import HangupSafeDriver, ShutdownGuard
from cashup_tui.app.layout import size_classes
from cashup_tui.app.modals.amend import AmendOrder
from cashup_tui.app.modals.audit import AuditLog
from cashup_tui.app.modals.backtest import BacktestDialog, DriftView
from cashup_tui.app.modals.centre import LogViewer, NotificationCentre
from cashup_tui.app.modals.confirm import Confirm
from cashup_tui.app.modals.help import HelpScreen, binding_rows, key_label
from cashup_tui.app.modals.kill import KillSwitch
from cashup_tui.app.modals.leverage import open_leverage_dialog
from cashup_tui.app.modals.passphrase import PassphrasePrompt
from cashup_tui.app.modals.quit import quit_question
from cashup_tui.app.modals.settings import SettingsScreen
from cashup_tui.app.modals.start import open_start_dialog
from cashup_tui.app.modals.ticket import OrderTicket
from cashup_tui.app.panes.fills import FillsPane
from cashup_tui.app.panes.market import BookLadder, CandleChart, FundFlow, MarketPane, TradesTape, Watchlist
from cashup_tui.app.panes.orders import OrdersPane
from cashup_tui.app.panes.positions import PositionsPane
from cashup_tui.app.panes.risk import KILL_LEVELS, RiskPane, kill_rows
from cashup_tui.app.panes.side import SidePanel
from cashup_tui.app.panes.status import KeyBar, StatusBar
from cashup_tui.app.panes.strategies import StrategiesPane
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.app.serial_keys import SerialKeys
from cashup_tui.app.toasts import VIEW_ERRORS_LOGGED, ToastShelf, view_error_key
from cashup_tui.app.watching import open_search, unwatch_selected
from cashup_tui.app.widgets.charts import node_series
from cashup_tui.domain.enums import Side
from cashup_tui.domain.errors import CashupError
from cashup_tui.service.roles import AdminPassphraseRequired
from cashup_tui.service.views import WorkstationNode

log = logging.getLogger(__name__)

TABS = ("market", "orders", "positions", "strategies", "risk", "fills")
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h")


class CashupApp(SerialKeys, App[int]):
    CSS_PATH = "cashup.tcss"
    TITLE = "CashUp"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "tab('market')", "Market", show=False),  # named on the tab bar
        Binding("2", "tab('orders')", "Orders", show=False),  # named on the tab bar
        Binding("3", "tab('positions')", "Positions", show=False),  # named on the tab bar
        Binding("4", "tab('strategies')", "Strategies", show=False),  # named on the tab bar
        Binding("5", "tab('risk')", "Risk", show=False),  # named on the tab bar
        Binding("6", "tab('fills')", "Fills", show=False),  # named on the tab bar
        Binding("b", "ticket('buy')", "Buy"),
        Binding("s", "ticket('sell')", "Sell"),
        Binding("c", "cancel_selected", "Cancel order"),
        Binding("k", "kill", "Kill switch"),
        Binding("slash", "search", "Search"),
        Binding("delete", "unwatch", "Remove from watchlist", show=False),
        Binding("question_mark", "help", "Help", show=False),  # the key bar ends with "? help"
        Binding("q", "quit_app", "Quit"),
        Binding("n", "notifications", "Alerts", show=False),
        Binding("l", "logs", "Log", show=False),
        Binding("A", "audit", "Audit log", show=False),
        Binding("comma", "settings", "Settings", show=False),
        Binding("x", "cancel_all", "Cancel all", show=False),
        Binding("a", "amend", "Amend", show=False),
        Binding("f", "close_position", "Close position", show=False),
        Binding("L", "leverage", "Leverage / margin mode", show=False),
        Binding("r", "reduce_or_resume", "Reduce 50% / resume", show=False),
        Binding("t", "timeframe", "Timeframe", show=False),
        Binding("o", "overlay", "Overlay", show=False),
        Binding("enter", "start_strategy", "Start strategy", show=False, priority=False),
        Binding("p", "pause_strategy", "Pause strategy", show=False),
        Binding("e", "stop_strategy", "Stop strategy", show=False),
        Binding("B", "backtest", "Backtest strategy", show=False),
        Binding("d", "drift", "Drift view", show=False),
    ]

    def __init__(self, node: WorkstationNode, *, refresh_hz: float = 4.0, settings_text: tuple[str, str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.node = node
        self.refresh_hz = refresh_hz
        self.symbol = (list(node.watchlist()) or list(node.symbols()) or ["BTC_USDT"])[0]
        self.loop_lag_ms = 0.0
        self._settings_text = settings_text or ("built-in defaults", "", "unknown")
        self._clock = clock
        self._tick_expected = 0.0
        self._stopping = False
        self.node_ready = False
        self.shutdown_guard: ShutdownGuard | None = None  # SIGHUP/SIGTERM handling, set by `cashup tui`
        self.toasts = ToastShelf(self)
        self._view_errors: set[str] = set()  # logged once each (refresh_views)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast goes through the shelf: at most three at once (app/toasts.py)."""
        self.toasts.show(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            with TabbedContent(id="tabs", initial="market"):
                with TabPane("1 Market", id="market"):
                    yield MarketPane()
                with TabPane("2 Orders", id="orders"):
                    yield OrdersPane()
                with TabPane("3 Positions", id="positions"):
                    yield PositionsPane()
                with TabPane("4 Strategies", id="strategies"):
                    yield StrategiesPane()
                with TabPane("5 Risk", id="risk"):
                    yield RiskPane()
                with TabPane("6 Fills", id="fills"):
                    yield FillsPane()
            yield SidePanel(id="side")
        yield KeyBar(binding_rows(b for b in self._help_bindings() if b.show))

    async def on_mount(self) -> None:
        """Paint at once, then connect: the node starts in a worker while the layout is visible."""
        self.title = f"CashUp {self.node.mode.value.upper()}"
        if self.shutdown_guard is not None:
            self.shutdown_guard.bind(asyncio.get_running_loop())
        self.query_one(StatusBar).show_connecting(self.node.mode)
        self._tick_expected = self._clock() + 0.25
        self.set_interval(0.25, self._lag_probe)
        self.query_one(Watchlist).focus()
        self.run_worker(self._start_node, exclusive=True, group="start")

    async def _start_node(self) -> None:
        try:
            await self.node.start()
        except CashupError as exc:
            self.query_one(StatusBar).show_failure(self.node.mode, str(exc))
            self.notify(str(exc), severity="error", timeout=30)
            return
        self.node_ready = True
        self.set_interval(1 / max(self.refresh_hz, 0.5), self.refresh_views)
        self.refresh_views()

    def _node_ok(self) -> bool:
        """Trading actions wait for the node (connected and reconciled)."""
        if not self.node_ready:
            self.notify("still connecting to the venue and reconciling: try again in a moment", severity="warning")
        return self.node_ready

    def on_resize(self, event: Resize) -> None:
        for name, wanted in size_classes(event.size.width, event.size.height).items():
            self.set_class(wanted, name)

    # -- refresh ---------------------------------------------------------------------------
    def _lag_probe(self) -> None:
        now = self._clock()
        self.loop_lag_ms = max(0.0, (now - self._tick_expected) * 1000)
        self._tick_expected = now + 0.25

    def refresh_views(self, light: bool = False) -> None:
        """Pull read models for the status bar and the visible pane only (`light`: skip the chart).

        A view that fails on what it reads (a bug, data no test foresaw) must not stop the workstation,
        and with it the node, mid-trade: the error is logged with its traceback once and named in a toast."""
        if self.return_code is not None or not self.is_running:  # exiting: a last timer tick as widgets go
            return
        try:
            self._pull_views(light)
        except Exception as exc:  # see the docstring
            seen = f"{type(exc).__name__}: {exc}"
            key = view_error_key(exc, self.query_one(TabbedContent).active)
            if key not in self._view_errors and len(self._view_errors) < VIEW_ERRORS_LOGGED:
                self._view_errors.add(key)
                log.exception("a view could not show its data")
            self.toasts.show(f"display error ({seen}); the node keeps running; details in the log",
                             severity="error", markup=False, key="view-error")

    def _pull_views(self, light: bool) -> None:
        node = self.node
        status = node.status()
        status = dataclasses.replace(status, loop_lag_ms=max(status.loop_lag_ms, self.loop_lag_ms))
        self.query_one(StatusBar).show_status(status)
        tab = self.query_one(TabbedContent).active
        if tab == "market":
            self._refresh_market(chart=not light)
        elif tab == "orders":
            self.query_one(OrdersPane).show(node.open_orders(), node.order_history(), node.bracket_legs())
        elif tab == "positions":
            self.query_one(PositionsPane).show(node.positions())
        elif tab == "strategies":
            pane = self.query_one(StrategiesPane)
            pane.show(node.strategies())
            pane.show_pnl(node)
        elif tab == "risk":
            self.query_one(RiskPane).show(node.risk(), node_series(node, "equity_series"))
        elif tab == "fills":
            history: Any = node
            self.query_one(FillsPane).show(history.fills(), history.round_trips(), history.orders_by_time(),
                                           loading=history.history_loading())
        if self.has_class("-wide"):
            self.query_one(SidePanel).show(node, self.symbol)
        keeper: Any = node  # a long fill history replays in a thread (a read-model node keeps none)
        if hasattr(keeper, "claim_history_build") and keeper.claim_history_build():
            self.run_worker(keeper.build_history, thread=True, group="history", exit_on_error=False)
        for t in node.drain_alerts():
            self.toasts.show(t.text, severity=t.severity if t.severity in ("warning", "error") else "information",
                             markup=False, key=t.key, critical=t.critical)

    def _refresh_market(self, chart: bool = True) -> None:
        node = self.node
        symbols = list(node.watchlist())
        self.query_one(Watchlist).update_tickers(symbols, {s: node.ticker(s) for s in symbols})
        inst = node.instrument(self.symbol)
        qm = float(inst.quanto_multiplier) if inst else 1.0
        trades = node.trades(self.symbol)
        self.query_one(BookLadder).show_book(node.book(self.symbol), inst)
        self.query_one(TradesTape).show_trades(self.symbol, trades, qm)
        if chart:
            self.query_one(MarketPane).show_charts(node, self.symbol)
        self.query_one(FundFlow).show_flow(self.symbol, list(trades)[-200:], node.ticker(self.symbol),
                                           node.funding(self.symbol))

    @on(Watchlist.Selected)
    def _symbol_selected(self, event: Watchlist.Selected) -> None:
        if event.symbol != self.symbol:
            self.symbol = event.symbol
            self._refresh_market()

    @on(DataTable.RowSelected, "#strategies-table")
    def _strategy_row_entered(self) -> None:
        """Enter on a strategy row starts (or resumes) it: the table consumes the enter key itself."""
        self.action_start_strategy()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        # show the pane as last drawn first; fresh data and focus (which rebuilds the footer) follow
        self.call_after_refresh(self._after_tab_change)

    def _after_tab_change(self) -> None:
        if self.node_ready:
            self.refresh_views(light=True)  # the chart (the costliest paint) follows on the next tick
        tab = self.query_one(TabbedContent).active
        target = {"market": Watchlist, "orders": OrdersPane, "positions": PositionsPane,
                  "strategies": StrategiesPane, "risk": RiskPane, "fills": FillsPane}[tab]
        pane: Any = self.query_one(target)
        tables = pane.query(SyncTable) if not isinstance(pane, Watchlist) else [pane]
        (tables.first() if hasattr(tables, "first") else tables[0]).focus() if tables else pane.focus()

    # -- actions -----------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        # Drop focus first: hiding the focused table makes Textual hand focus to its sibling in the old
        # pane, whose TabPane.Focused message then switches the tab straight back (a lost `1`..`5`).
        # `_after_tab_change` focuses the new pane's table.
        tabs = self.query_one(TabbedContent)
        if tabs.active == tab:
            return
        self.set_focus(None)
        tabs.active = tab

    def _price_hint(self, side: Side) -> Decimal | None:
        book = self.node.book(self.symbol)
        if book is not None and book.in_sync:
            lv = book.best_bid if side is Side.BUY else book.best_ask
            if lv is not None:
                return lv.price
        t = self.node.ticker(self.symbol)
        return Decimal(str(t.last)) if t else None

    def action_ticket(self, side: str) -> None:
        if not self._node_ok():
            return
        s = Side(side)
        inst = self.node.instrument(self.symbol)
        size_hint = inst.min_size if inst else Decimal(1)

        def done(order: object) -> None:
            if order is not None:
                self.notify(f"sent {order.side.value.upper()} {order.size} {order.symbol} ({order.client_id})")  # type: ignore[attr-defined]
                self.refresh_views()

        self.push_screen(
            OrderTicket(self.symbol, s, price_hint=self._price_hint(s), size_hint=size_hint,
                        preview=self.node.preview, submit=self.node.submit, instrument=inst),
            done,
        )

    def _selected_order(self) -> str | None:
        if self.has_class("-wide") and self.query_one("#side-orders", SyncTable).has_focus:
            return self.query_one("#side-orders", SyncTable).selected_key
        return self.query_one(OrdersPane).selected_order

    def action_cancel_selected(self) -> None:
        if not self._node_ok():
            return
        cid = self._selected_order()
        if not cid:
            self.notify("no open order selected (2: Orders, arrows to select)", severity="warning")
            return
        self._run_action(self.node.cancel(cid), f"cancel requested for {cid}")

    def action_cancel_all(self) -> None:
        if not self._node_ok():
            return
        def go(ok: bool | None) -> None:
            if ok:
                self._run_action(self.node.cancel_all(None), "cancel all requested")

        self.push_screen(Confirm("Cancel ALL open orders?"), go)

    def action_amend(self) -> None:
        if not self._node_ok():
            return
        cid = self._selected_order()
        if not cid:
            self.notify("select an open order to amend", severity="warning")
            return
        order = next((o for o in self.node.open_orders() if o.client_id == cid), None)
        if order is None:
            self.notify(f"{cid} is no longer open", severity="warning")
            return

        def done(new: object) -> None:
            if new is not None:
                self.notify(f"amended {cid}: {new.size} @ {new.price}")  # type: ignore[attr-defined]
                self.refresh_views()

        self.push_screen(AmendOrder(order, self.node.amend), done)

    def action_close_position(self) -> None:
        if not self._node_ok():
            return
        sym = self.query_one(PositionsPane).selected_symbol
        if not sym:
            self.notify("no position selected (3: Positions)", severity="warning")
            return

        def go(ok: bool | None) -> None:
            if ok:
                self._run_action(self.node.close_position(sym), f"closing {sym}")

        self.push_screen(Confirm(f"Close the whole {sym} position at market?"), go)

    def action_leverage(self) -> None:
        """The selected position's leverage and margin mode (Positions tab), else the market symbol's."""
        if not self._node_ok():
            return
        on_positions = self.query_one(TabbedContent).active == "positions"
        sym = (self.query_one(PositionsPane).selected_symbol if on_positions else None) or self.symbol
        open_leverage_dialog(self, sym)

    def action_reduce_or_resume(self) -> None:
        if not self._node_ok():
            return
        tab = self.query_one(TabbedContent).active
        if tab == "risk":
            def go(ok: bool | None) -> None:
                if ok:
                    self._run_admin_action(self.node.resume, "trading resumed", "Resuming trading")

            self.push_screen(Confirm("Resume trading (back to ACTIVE)?", danger=False), go)
            return
        sym = self.query_one(PositionsPane).selected_symbol
        if tab != "positions" or not sym:
            return

        def go_reduce(ok: bool | None) -> None:
            if ok:
                self._run_action(self.node.close_position(sym, Decimal("0.5")), f"reducing {sym} by 50%")

        self.push_screen(Confirm(f"Reduce {sym} by 50% at market?"), go_reduce)

    def action_kill(self) -> None:
        if not self._node_ok():
            return
        current = self.node.status().kill_level

        def picked(level: int | None) -> None:
            if not level:
                return
            text = dict(KILL_LEVELS)[level]

            def confirmed(ok: bool | None) -> None:
                if ok:
                    self._run_action(self.node.kill(level, "kill switch key"), f"kill switch level {level}: {text}")

            self.push_screen(Confirm(f"Kill switch level {level}: {text}?"), confirmed)

        self.push_screen(KillSwitch(current), picked)

    def action_search(self) -> None:
        open_search(self)

    def action_unwatch(self) -> None:
        unwatch_selected(self)

    def action_help(self) -> None:
        self.push_screen(HelpScreen([("Workstation", binding_rows(self._help_bindings())),
                                     ("Kill switch levels (k)", kill_rows()),
                                     ("Order ticket (b / s)", OrderTicket.help_rows()),
                                     ("Every dialog", [("esc", "Close / cancel")])]))

    def _help_bindings(self) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding)]

    def action_timeframe(self) -> None:
        chart = self.query_one(CandleChart)
        chart.timeframe = TIMEFRAMES[(TIMEFRAMES.index(chart.timeframe) + 1) % len(TIMEFRAMES)]
        self._refresh_market()

    def action_overlay(self) -> None:
        chart = self.query_one(CandleChart)
        chart.overlay = chart.OVERLAYS[(chart.OVERLAYS.index(chart.overlay) + 1) % len(chart.OVERLAYS)]
        self._refresh_market()

    def action_start_strategy(self) -> None:
        if not self._node_ok():
            return
        view = self._selected_strategy()
        if view is None:
            return
        if not view.symbol:  # a strategy, not a running slot: the start dialog asks symbol, size, parameters
            open_start_dialog(self, view.name)
            return
        symbol = view.symbol

        async def go() -> None:
            try:
                slot = await self.node.start_strategy(view.id, symbol, dict(view.params))
            except CashupError as exc:
                self.notify(str(exc), severity="error", timeout=10)
                return
            self.notify(f"started {view.name} on {symbol}")
            self.refresh_views()
            self.query_one("#strategies-table", SyncTable).select_key(slot)  # keep the cursor on it

        self.run_worker(go, group="actions")

    def action_pause_strategy(self) -> None:
        if not self._node_ok():
            return
        sid = self.query_one(StrategiesPane).selected_id
        if self.query_one(TabbedContent).active == "strategies" and sid:
            self._run_action(self.node.pause_strategy(sid), f"paused {sid}")

    def action_stop_strategy(self) -> None:
        if not self._node_ok():
            return
        sid = self.query_one(StrategiesPane).selected_id
        if self.query_one(TabbedContent).active == "strategies" and sid:
            self._run_action(self.node.stop_strategy(sid), f"stopped {sid}")

    def _selected_strategy(self):
        if self.query_one(TabbedContent).active != "strategies":
            return None
        sid = self.query_one(StrategiesPane).selected_id
        return next((v for v in self.node.strategies() if v.id == sid), None)

    def action_backtest(self) -> None:
        if not self._node_ok():
            return
        view = self._selected_strategy()
        if view is None:
            self.notify("select a strategy on the Strategies tab (4) first", severity="warning")
            return
        symbol = view.symbol or self.symbol
        self.push_screen(BacktestDialog(view.name, symbol, dict(view.params), self.node.backtest_terms(symbol),
                                        self.node.backtest))

    def action_drift(self) -> None:
        if not self._node_ok():
            return
        view = self._selected_strategy()
        if view is None or view.state not in ("running", "paused"):
            self.notify("select a running strategy on the Strategies tab (4)", severity="warning")
            return
        self.push_screen(DriftView(view.id, self.node.drift))

    def action_notifications(self) -> None:
        self.toasts.read_all()
        self.push_screen(NotificationCentre(self.node.notifications(), self.node.channels(), self.node.alert_rules(),
                                            self.node.test_notification, getattr(self.node, "config", None),
                                            getattr(self.node, "apply_alert_rules", None)))

    def action_logs(self) -> None:
        self.push_screen(LogViewer(self.node.logs()))

    def action_audit(self) -> None:
        self.push_screen(AuditLog(getattr(self.node, "audit_log", list)()))

    def action_settings(self) -> None:
        self.push_screen(SettingsScreen(*self._settings_text, config=getattr(self.node, "config", None)))

    def action_quit_app(self) -> None:
        node = self.node
        question = quit_question(node.strategies(), node.positions(), node.open_orders()) if self.node_ready else None
        if question is None:
            self.run_worker(self._quit_node(), group="quit")
            return

        def go(ok: bool | None) -> None:
            if ok:
                self.run_worker(self._quit_node(), group="quit")

        self.push_screen(Confirm(question), go)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for b in self._help_bindings():
            action = b.action
            yield SystemCommand(b.description, f"key {key_label(b.key)}", lambda a=action: self.run_action(a))

    # -- plumbing ----------------------------------------------------------------------------
    @work(exclusive=False, group="actions")
    async def _run_action(self, coro: object, done_text: str) -> None:
        try:
            await coro  # type: ignore[misc]
        except CashupError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.notify(done_text)
        self.refresh_views()

    @work(exclusive=False, group="actions")
    async def _run_admin_action(self, make: Callable[[str | None], Awaitable[object]], done_text: str,
                                what: str) -> None:
        """An admin action: tried as is (open in demo/paper when no admin passphrase is set); when the
        session asks for the admin passphrase, a masked prompt, then one retry with it."""
        try:
            await make(None)
        except AdminPassphraseRequired:
            def retry(passphrase: str | None) -> None:
                if passphrase:
                    self._run_action(make(passphrase), done_text)
                else:
                    self.notify(f"{what}: cancelled, nothing was done", severity="warning")

            self.push_screen(PassphrasePrompt(what), retry)
            return
        except CashupError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.notify(done_text)
        self.refresh_views()

    async def _quit_node(self, deliberate: bool = True) -> None:
        """Stop the node (journal flushed, positions saved) and exit. Only a deliberate quit disarms Gate's
        countdown_cancel_all; after SIGHUP/SIGTERM it stays armed, so the venue cancels if we are gone."""
        if self._stopping:
            return
        self._stopping = True
        try:
            stop = self.node.stop() if deliberate else self.node.stop(disarm_dead_man=False)
            await asyncio.wait_for(stop, timeout=10)
            if self.shutdown_guard is not None:
                self.shutdown_guard.node_stopped = True
        finally:
            self.exit(0)

    async def on_unmount(self) -> None:
        """The app ended another way than through `_quit_node` (Textual's ctrl+q, a test's exit): stop the
        node too, so the journal is flushed and the sockets closed."""
        if self.node_ready and not self._stopping:
            self._stopping = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.node.stop(), timeout=10)

    def stop_for_signal(self, signum: int, terminal_gone: bool) -> None:
        """SIGHUP (dropped SSH) or SIGTERM, from ShutdownGuard on the loop: a clean, non-deliberate stop."""
        if terminal_gone and isinstance(self._driver, HangupSafeDriver):
            self._driver.terminal_gone()
        self.run_worker(self._quit_node(deliberate=False), group="quit")
