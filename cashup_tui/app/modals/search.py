"""`/`: search every contract the venue lists by substring; enter shows the first match (or the one
picked) in Market and puts it on the watchlist. No match says so and keeps the dialog open."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

SHOWN = 50


class SymbolSearch(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "focus_list", show=False)]

    def __init__(self, symbols: Sequence[str], watched: Sequence[str] = ()) -> None:
        super().__init__()
        self.symbols = sorted(symbols)
        self.watched = set(watched)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Search {len(self.symbols)} contracts  [enter] show + watch  [esc] close", markup=False,
                        classes="dialog-title")
            yield Input(placeholder="symbol, e.g. btc", id="search-input")
            yield Static("", id="search-status")
            yield OptionList(*self._options(self.symbols), id="search-results")

    def _options(self, symbols: Sequence[str]) -> list[Option]:
        return [Option(f"{s}  (watched)" if s in self.watched else s, id=s) for s in symbols[:SHOWN]]

    def _matches(self, text: str) -> list[str]:
        q = text.strip().upper().replace("/", "_").replace("-", "_")
        starts = [s for s in self.symbols if s.startswith(q)]
        return starts + [s for s in self.symbols if q in s and s not in starts]

    def on_input_changed(self, event: Input.Changed) -> None:
        found = self._matches(event.value)
        ol = self.query_one(OptionList)
        ol.clear_options()
        ol.add_options(self._options(found))
        self._say(event.value, found)

    def _say(self, text: str, found: Sequence[str]) -> None:
        status = self.query_one("#search-status", Static)
        if not found:
            status.update(Text(f"no match for {text.strip()!r} among the {len(self.symbols)} contracts listed",
                               style="bold yellow"))
        elif len(found) > SHOWN:
            status.update(Text(f"{len(found)} matches, first {SHOWN} shown: type more", style="dim"))
        else:
            status.update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        m = self._matches(event.value)
        if m:
            self.dismiss(m[0])
        else:
            self._say(event.value, m)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_focus_list(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
