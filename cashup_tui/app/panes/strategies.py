"""Strategies pane: strategies with parameters, state and PnL; start/stop/pause; backtests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar, Static
from textual_plotext import PlotextPlot

from cashup_tui.app import fmt
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.service.views import StrategyView

COLUMNS = ("Id", "Strategy", "Symbol", "TF", "Size", "State", "PnL", "Trades", "Params", "Error")
STATE_STYLE = {"running": "bold green", "paused": "yellow", "failed": "bold white on red", "stopped": "dim"}


def rows(views: Sequence[StrategyView]) -> list[tuple[str, list[object]]]:
    """One row per strategy (to start) and per running slot; a failed slot's error is in its row."""
    return [
        (
            v.id,
            [v.id, v.name, v.symbol or "—", v.timeframe or "—", "—" if v.size is None else fmt.num(v.size),
             Text(v.state.upper(), style=STATE_STYLE.get(v.state, "")), fmt.signed(v.pnl), str(v.trades),
             ", ".join(f"{k}={val}" for k, val in v.params.items())[:40],
             Text(v.error[:120], style="red") if v.error else ""],
        )
        for v in views
    ]


class StrategiesPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Label("Strategies  [enter] start (dialog) / resume  [p] pause  [e] stop  [B] backtest  [d] drift",
                    markup=False, classes="pane-title")
        yield SyncTable(COLUMNS, id="strategies-table")
        yield ProgressBar(total=None, show_eta=False, id="bt-progress")
        yield Static("", id="strategy-detail")
        yield PlotextPlot(id="bt-equity")

    def show(self, views: Sequence[StrategyView]) -> None:
        self.query_one("#strategies-table", SyncTable).sync(rows(views))  # type: ignore[arg-type]
        failed = [v for v in views if v.state == "failed" and v.error]
        detail = self.query_one("#strategy-detail", Static)
        if failed:
            detail.update(Text(f"{failed[0].name}: {failed[0].error}", style="red"))

    @property
    def selected_id(self) -> str | None:
        return self.query_one("#strategies-table", SyncTable).selected_key

    def show_busy(self, text: str) -> None:
        self.query_one("#bt-progress", ProgressBar).display = True
        self.query_one("#strategy-detail", Static).update(Text(text, style="yellow"))

    def show_error(self, text: str) -> None:
        self.query_one("#bt-progress", ProgressBar).display = False
        self.query_one("#strategy-detail", Static).update(Text(text, style="bold red"))

    def show_backtest(self, title: str, result: dict[str, Any]) -> None:
        self.query_one("#bt-progress", ProgressBar).display = False
        self.query_one("#strategy-detail", Static).update(render_metrics(title, result))
        plot = self.query_one("#bt-equity", PlotextPlot)
        eq = result.get("equity") or []
        p = plot.plt
        p.clear_data()
        p.clear_figure()
        p.title("equity")
        if eq:
            p.plot(list(range(len(eq))), eq, marker="braille")
        plot.display = True
        plot.refresh()

    def show_drift(self, slot: str, d: dict[str, Any]) -> None:
        self.query_one("#bt-progress", ProgressBar).display = False
        self.query_one("#bt-equity", PlotextPlot).display = False
        t = Table(title=f"drift: {slot} live vs backtest since {fmt.clock(int(d['since']))}Z", box=None,
                  header_style="bold", title_justify="left")
        t.add_column("#")
        t.add_column("live (time side size @ price)")
        t.add_column("backtest (entry side qty @ price)")
        live, bt = d["live"], d["backtest"]
        for i in range(max(len(live), len(bt), 1)):
            lv = live[i] if i < len(live) else None
            b = bt[i] if i < len(bt) else None
            t.add_row(str(i + 1),
                      f"{fmt.clock(lv['time'])} {lv['side']} {lv['size']} @ {lv['price']}" if lv else "—",
                      f"{fmt.clock(int(b['entry_time']))} {b['side']} {b['qty']:.4g} @ {b['entry_price']:.6g}" if b
                      else "—")
        verdict = "in line" if len(live) == len(bt) else f"DRIFT: {len(live)} live fills vs {len(bt)} backtest trades"
        grid = Table.grid()
        grid.add_row(t)
        grid.add_row(Text(verdict, style="green" if len(live) == len(bt) else "bold yellow"))
        self.query_one("#strategy-detail", Static).update(grid)


METRIC_KEYS = (("total_return", "return", True), ("cagr", "CAGR", True), ("sharpe", "Sharpe", False),
               ("sortino", "Sortino", False), ("max_drawdown", "max DD", True), ("win_rate", "win rate", True),
               ("profit_factor", "profit factor", False), ("trade_count", "trades", False),
               ("final_equity", "final equity", False), ("fees", "fees", False))


def render_metrics(title: str, result: dict[str, Any]) -> Table:
    m = result.get("metrics", {})
    t = Table(title=title, box=None, header_style="bold", title_justify="left")
    for _, label, _pct in METRIC_KEYS:
        t.add_column(label, justify="right")
    row = []
    for key, _, is_pct in METRIC_KEYS:
        v = m.get(key)
        row.append("—" if v is None else f"{v * 100:.2f}%" if is_pct else f"{v:,.2f}" if isinstance(v, float) else str(v))
    t.add_row(*row)
    t.caption = result.get("source", "")
    return t
