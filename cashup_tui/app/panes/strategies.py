"""Strategies pane: strategies with parameters, state and PnL; start/stop/pause; backtests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Static

from cashup_tui.app import fmt
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.app.widgets.charts import EquityChart, node_series
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


def legs_text(v: StrategyView) -> Text:
    """A portfolio slot per symbol: target weight vs held weight, target vs held contracts, net PnL."""
    out = Text(f"{v.id}: per symbol target/held weight, contracts, net PnL USDT", style="bold")
    if v.error:
        out.append(f"\n{v.error[:150]}", style="red")
    for x in v.legs:
        off = abs(float(x["target"]) - float(x["position"])) > 0
        out.append(f"\n{x['symbol']:<12} w {x['target_weight']:+.2f}/{x['weight']:+.2f}  "
                   f"{x['target']:>8}/{x['position']:<8} ", style="yellow" if off else "")
        out.append_text(fmt.signed(x["net_pnl"]))
    return out


class StrategiesPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Label("Strategies  [enter] start (dialog) / resume  [p] pause  [e] stop  [B] backtest  [d] drift",
                    markup=False, classes="pane-title")
        yield SyncTable(COLUMNS, id="strategies-table")
        yield Static("", id="strategy-detail")
        yield EquityChart(id="strategy-pnl")

    def show(self, views: Sequence[StrategyView]) -> None:
        self.query_one("#strategies-table", SyncTable).sync(rows(views))  # type: ignore[arg-type]
        failed = [v for v in views if v.state == "failed" and v.error]
        detail = self.query_one("#strategy-detail", Static)
        sid = self.selected_id
        chosen = next((v for v in views if v.id == sid and v.legs), None)
        if chosen is not None:
            detail.update(legs_text(chosen))
        elif failed:
            detail.update(Text(f"{failed[0].name}: {failed[0].error}", style="red"))

    def show_pnl(self, node: Any) -> None:
        """The selected strategy's cumulative net PnL from its fills (service/equity.py); while it has none,
        that of every fill, titled so."""
        sid = self.selected_id
        series = node_series(node, "pnl_series", sid) if sid else None
        chart = self.query_one(EquityChart)
        chart.display = series is not None
        if series is None:
            return
        title = f"{sid} net PnL (USDT, after fees), time UTC"
        if not series[1]:
            series = node_series(node, "pnl_series") or series
            title = f"net PnL of every fill (USDT, after fees; {sid} has none yet), time UTC"
        chart.show_series(title, *series)

    @property
    def selected_id(self) -> str | None:
        return self.query_one("#strategies-table", SyncTable).selected_key
