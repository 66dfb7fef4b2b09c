"""Help: every key, generated from the bindings so it can never drift from the code."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> ComposeResult:
        table = Table(box=None, header_style="bold")
        table.add_column("Key")
        table.add_column("Action")
        for key, desc in self.rows:
            table.add_row(key, desc)
        with VerticalScroll(classes="dialog wide"):
            yield Label("CashUp keys  (ctrl+p: command palette; the mouse works but is never required)",
                        classes="dialog-title")
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
