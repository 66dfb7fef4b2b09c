"""The in-app backtest (`B`) and the drift view (`d`): dialogs over the Strategies pane.

The backtest dialog shows the terms the run will use before it runs (the account's equity as cash,
editable; the venue's maker/taker fees from the contract), runs in a worker process through the
service, then shows the metrics and an equity chart with a time axis. CAGR reads `n/a` on spans under
30 days (the metrics say None: `engine/backtest/metrics.cagr`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static
from textual_plotext import PlotextPlot

from cashup_tui.app import fmt
from cashup_tui.app.modals.ticket import TicketError, ticket_number
from cashup_tui.app.widgets.chart_draw import time_ticks
from cashup_tui.domain.errors import CashupError

METRIC_KEYS = (("total_return", "return", True), ("cagr", "CAGR", True), ("sharpe", "Sharpe", False),
               ("sortino", "Sortino", False), ("max_drawdown", "max DD", True), ("win_rate", "win rate", True),
               ("profit_factor", "profit factor", False), ("trade_count", "trades", False),
               ("final_equity", "final equity", False), ("fees", "fees", False))


def metric_text(key: str, value: Any, is_pct: bool) -> str:
    if value is None:
        return "n/a" if key == "cagr" else "—"  # CAGR: the span was under 30 days
    if is_pct:
        return f"{value * 100:.2f}%"
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def render_metrics(title: str, result: dict[str, Any]) -> Table:
    m = result.get("metrics", {})
    t = Table(title=title, box=None, header_style="bold", title_justify="left")
    for _, label, _pct in METRIC_KEYS:
        t.add_column(label, justify="right")
    t.add_row(*[metric_text(key, m.get(key), is_pct) for key, _, is_pct in METRIC_KEYS])
    t.caption = result.get("source", "")
    return t


class BacktestDialog(ModalScreen[None]):
    """Cash (prefilled with the account's equity) and the fees the run will pay; enter runs it."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, name: str, symbol: str, params: dict[str, object], terms: dict[str, float],
                 run: Callable[..., Awaitable[dict[str, Any]]]) -> None:
        super().__init__()
        self.strategy = name
        self.symbol = symbol
        self.params = params
        self.terms = terms
        self._run = run
        self.result: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        t = self.terms
        fees = (f"taker {t['taker_bps']:g} bps, maker {t['maker_bps']:g} bps (contract)"
                if t.get("from_venue") else f"{t['taker_bps']:g} bps a side (backtest.fee_bps)")
        with Vertical(classes="dialog wide"):
            yield Label(f"BACKTEST {self.strategy} on {self.symbol}: last 1000 x 1m bars from the venue",
                        markup=False, classes="dialog-title")
            with Horizontal(classes="trow"):
                yield Label("cash USDT", classes="tlabel")
                yield Input(f"{t['cash']:.2f}", id="bt-cash", compact=True)
            yield Label(f"fees: {fees}; fills at the next bar's open pay taker", markup=False, classes="dim")
            yield Static("", id="bt-status")
            yield Static("", id="bt-metrics")
            yield PlotextPlot(id="bt-chart")
            yield Label("[enter] run  [esc] close", markup=False, classes="dim")

    def on_mount(self) -> None:
        self.query_one("#bt-chart", PlotextPlot).display = False
        self.query_one("#bt-cash", Input).focus()

    def on_input_submitted(self) -> None:
        self.run_worker(self._go, exclusive=True, group="backtest")

    async def _go(self) -> None:
        status = self.query_one("#bt-status", Static)
        try:
            cash = ticket_number(self.query_one("#bt-cash", Input).value, "cash", required=True)
        except TicketError as exc:
            status.update(Text(str(exc), style="bold yellow"))
            return
        status.update(Text(f"backtesting {self.strategy} (worker process)…", style="yellow"))
        try:
            result = await self._run(self.strategy, self.symbol, dict(self.params), cash=float(cash or 0))
        except CashupError as exc:
            status.update(Text(str(exc), style="bold red"))
            return
        except Exception as exc:  # a strategy bug in the worker: reported, never a crash
            status.update(Text(f"{self.strategy} failed: {type(exc).__name__}: {exc}", style="bold red"))
            return
        self.result = result
        status.update("")
        self.show_result(result)

    def show_result(self, result: dict[str, Any]) -> None:
        self.query_one("#bt-metrics", Static).update(render_metrics(f"{self.strategy} {self.symbol} 1m", result))
        plot = self.query_one("#bt-chart", PlotextPlot)
        eq = list(result.get("equity") or [])
        times = list(result.get("equity_time") or [])
        p = plot.plt
        p.clear_data()
        p.clear_figure()
        p.title("equity (USDT), time UTC")
        if eq:
            p.plot(list(range(len(eq))), eq, marker="braille")
            if len(times) == len(eq):
                p.xticks(*time_ticks(times))
        plot.display = True
        plot.refresh()

    def action_close(self) -> None:
        self.dismiss(None)


def render_drift(d: dict[str, Any]) -> Table:
    unit = d.get("unit", "")
    t = Table(title=f"live vs backtest fills since its start {fmt.clock(int(d['since']))}Z; sizes in {unit}",
              box=None, header_style="bold", title_justify="left")
    t.add_column("#")
    t.add_column("live fill (time side size @ price)")
    t.add_column("backtest fill (time side size @ price)")
    live, bt = d["live"], d["backtest"]

    def cell(f: dict[str, Any] | None) -> str:
        return f"{fmt.clock(int(f['time']))} {f['side']} {f['size']:.6g} @ {f['price']:.6g}" if f else "—"

    for i in range(max(len(live), len(bt), 1)):
        t.add_row(str(i + 1), cell(live[i] if i < len(live) else None), cell(bt[i] if i < len(bt) else None))
    same = len(live) == len(bt)
    verdict = "in line" if same else f"DRIFT: {len(live)} live fills vs {len(bt)} backtest fills"
    t.caption = verdict
    t.caption_style = "green" if same else "bold yellow"
    return t


class DriftView(ModalScreen[None]):
    """A running strategy's live fills beside a backtest's over the same window (since it started)."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, slot: str, drift: Callable[[str], Awaitable[dict[str, Any]]]) -> None:
        super().__init__()
        self.slot = slot
        self._drift = drift

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"DRIFT {self.slot}", markup=False, classes="dialog-title")
            yield Static(Text(f"comparing {self.slot}'s live fills with a backtest over the same bars…",
                              style="yellow"), id="drift-body")
            yield Label("[esc] close", markup=False, classes="dim")

    def on_mount(self) -> None:
        self.run_worker(self._go, exclusive=True, group="drift")

    async def _go(self) -> None:
        body = self.query_one("#drift-body", Static)
        try:
            d = await self._drift(self.slot)
        except CashupError as exc:
            body.update(Text(str(exc), style="bold red"))
            return
        except Exception as exc:
            body.update(Text(f"drift failed: {type(exc).__name__}: {exc}", style="bold red"))
            return
        body.update(render_drift(d))

    def action_close(self) -> None:
        self.dismiss(None)
