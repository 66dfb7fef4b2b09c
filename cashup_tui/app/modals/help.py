"""Help: every key, generated from the bindings so it can never drift from the code.

Keys are named as people type them (`/`, `?`, `,`, `esc`, `enter`), not by Textual's key names
("slash", "question_mark", "comma", "escape")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Label, Static

# Textual shows enter as a symbol; the ticket and the README say "enter"
_SPOKEN = {"enter": "enter", "escape": "esc"}


def key_label(key: str) -> str:
    """One binding key (or a comma list of them) as typed: `slash` -> `/`, `ctrl+s` -> `ctrl+s`."""
    labels = []
    for one in key.split(","):
        one = one.strip()
        *mods, last = one.split("+")
        labels.append("+".join([*mods, _SPOKEN.get(last) or format_key(last)]))
    return " ".join(labels)


def binding_rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(key as typed, description) for each `Binding` of a screen or app."""
    return [(key_label(b.key), b.description) for b in bindings if isinstance(b, Binding)]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> None:
        """`sections`: (title, [(key as typed, what it does)]), e.g. the workstation, then the ticket."""
        super().__init__()
        self.sections = [(title, list(rows)) for title, rows in sections]

    @property
    def rows(self) -> list[tuple[str, str]]:
        return [row for _, rows in self.sections for row in rows]

    def compose(self) -> ComposeResult:
        table = Table(box=None, header_style="bold")
        table.add_column("Key")
        table.add_column("Action")
        for title, rows in self.sections:
            table.add_row(Text(title, style="bold underline"), "")
            for key, desc in rows:
                table.add_row(Text(f"  {key}"), Text(desc))
        with VerticalScroll(classes="dialog wide"):
            yield Label("CashUp keys  (ctrl+p: command palette; the mouse works but is never required)",
                        classes="dialog-title")
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
