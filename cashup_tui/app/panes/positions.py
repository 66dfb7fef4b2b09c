"""Positions pane: size, entry, mark, uPnL and ROE, leverage, liquidation price and distance."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from cashup_tui.app import fmt
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.service.views import PositionView

COLUMNS = ("Symbol", "Side", "Size", "Entry", "Mark", "uPnL", "ROE", "Lev", "Liq", "Liq dist", "Realised")


def rows(views: Sequence[PositionView]) -> list[tuple[str, list[object]]]:
    out = []
    for v in views:
        p = v.position
        side = Text("LONG", style="green") if p.size > 0 else Text("SHORT", style="red")
        dist = v.liq_distance_pct
        dist_text = Text("—") if dist is None else Text(f"{float(dist):.1f}%", style="bold red" if dist < 5 else "")
        out.append(
            (
                p.symbol,
                [p.symbol, side, fmt.num(abs(p.size), 4).rstrip("0").rstrip("."), fmt.price(p.entry_price),
                 fmt.price(v.mark), fmt.signed(v.unrealized), fmt.signed(v.roe_pct, 2, "%"),
                 f"{float(p.leverage):g}x", fmt.price(v.liq_price), dist_text, fmt.signed(p.net_pnl)],
            )
        )
    return out


class PositionsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Label("Positions  [f] close  [r] reduce 50%", markup=False, classes="pane-title")
        yield SyncTable(COLUMNS, id="positions-table")

    def show(self, views: Sequence[PositionView]) -> None:
        self.query_one("#positions-table", SyncTable).sync(rows(views))  # type: ignore[arg-type]

    @property
    def selected_symbol(self) -> str | None:
        return self.query_one("#positions-table", SyncTable).selected_key
