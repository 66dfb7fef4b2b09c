"""The audit log viewer (`A`): every user action of this mode's store, allowed or denied, newest first.
The rows are `cashup audit`'s (service/fills.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from cashup_tui.app.panes.fills import when


class AuditLog(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        super().__init__()
        self.rows = list(rows)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            denied = sum(r["outcome"] == "denied" for r in self.rows)
            yield Label(f"Audit log: {len(self.rows)} actions, {denied} denied (`cashup audit`)  [esc] close",
                        markup=False, classes="dialog-title")
            table: DataTable[Any] = DataTable(id="audit-table", cursor_type="row")
            yield table

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("Time", "Actor", "Action", "Outcome", "Detail")
        for r in self.rows:
            outcome = Text("DENIED", style="bold red") if r["outcome"] == "denied" else Text("allowed", style="green")
            t.add_row(when(r["ts_ms"]), r["actor"], r["action"], outcome, str(r["detail"])[:80])
        t.focus()

    def action_close(self) -> None:
        self.dismiss(None)
