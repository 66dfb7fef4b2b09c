"""Positions pane: size, entry, mark, uPnL and ROE, the venue's leverage and margin mode, liquidation
price and distance, margin, fees, funding and realised PnL.

Why columns are dropped by width: a table wider than the pane would scroll sideways and hide the right
half; on a narrow terminal (80x24) the least important columns go first (DROP_ORDER), then headers are
abbreviated (SHORT), so Symbol, Side, Size, Entry, Mark, uPnL, Liq, Liq dist and Realised stay whole; the
selected position's full figures stay readable in the line under the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Static

from cashup_tui.app import fmt
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.service.views import PositionView

COLUMNS = ("Symbol", "Side", "Size", "Entry", "Mark", "uPnL", "ROE", "Lev", "Liq", "Liq dist", "Margin", "Fees",
           "Funding", "Realised")
# first dropped first: what the detail line under the table repeats goes before what a trader watches
DROP_ORDER = ("Funding", "Fees", "Margin", "ROE", "Lev", "Realised", "Liq dist", "Entry")
SHORT = {"Liq dist": "Liq%", "Realised": "Real."}


def lev_text(v: PositionView) -> str:
    """The venue's leverage ('10x', 'C5x' = cross 5x), else the engine's."""
    return v.venue.label if v.venue is not None else f"{float(v.position.leverage):g}x"


def cells(v: PositionView) -> dict[str, object]:
    p = v.position
    side = Text("LONG", style="green") if p.size > 0 else Text("SHORT", style="red")
    dist = v.liq_distance_pct
    dist_text = Text("—") if dist is None else Text(f"{float(dist):.1f}%", style="bold red" if dist < 5 else "")
    return {
        "Symbol": p.symbol, "Side": side, "Size": fmt.num(abs(p.size), 4).rstrip("0").rstrip("."),
        "Entry": fmt.price(p.entry_price), "Mark": fmt.price(v.mark), "uPnL": fmt.signed(v.unrealized),
        "ROE": fmt.signed(v.roe_pct, 2, "%"), "Lev": lev_text(v), "Liq": fmt.price(v.liq_price), "Liq dist": dist_text,
        "Margin": fmt.num(v.margin), "Fees": fmt.num(p.fees), "Funding": fmt.signed(p.funding),
        "Realised": fmt.signed(p.net_pnl),
    }


def keyed_cells(views: Sequence[PositionView]) -> list[tuple[str, dict[str, object]]]:
    return [(v.position.symbol, cells(v)) for v in views]


def detail(v: PositionView) -> Text:
    """Every figure of one position on one line (what narrow tables drop)."""
    c = cells(v)
    t = Text(f"{v.position.symbol} {c['Lev']} ", style="bold")
    for k in ("Margin", "Fees", "Funding", "Realised", "Liq dist"):
        t.append(f" {k.lower()} ")
        cell = c[k]
        t.append_text(cell) if isinstance(cell, Text) else t.append(str(cell))
    return t


class PositionsPane(Vertical):
    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._views: dict[str, PositionView] = {}

    def compose(self) -> ComposeResult:
        yield Label("Positions  [f] close  [r] reduce 50%  [L] leverage/margin", markup=False, classes="pane-title")
        yield SyncTable(COLUMNS, id="positions-table")
        yield Static("", id="positions-detail")

    def show(self, views: Sequence[PositionView]) -> None:
        table = self.query_one("#positions-table", SyncTable)
        selected = table.selected_key
        self._views = {v.position.symbol: v for v in views}
        table.sync_fitted(COLUMNS, keyed_cells(views), DROP_ORDER, SHORT)
        if selected is not None and table.selected_key != selected:
            table.select_key(selected)
        sel = self._views.get(table.selected_key or "")
        self.query_one("#positions-detail", Static).update(detail(sel) if sel is not None else "")

    @property
    def selected_symbol(self) -> str | None:
        return self.query_one("#positions-table", SyncTable).selected_key
