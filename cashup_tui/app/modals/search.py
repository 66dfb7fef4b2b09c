"""`/`: search symbols by substring; enter picks the first match."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option


class SymbolSearch(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "focus_list", show=False)]

    def __init__(self, symbols: Sequence[str]) -> None:
        super().__init__()
        self.symbols = sorted(symbols)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Input(placeholder="symbol, e.g. btc", id="search-input")
            yield OptionList(*[Option(s, id=s) for s in self.symbols[:50]], id="search-results")

    def _matches(self, text: str) -> list[str]:
        q = text.strip().upper().replace("/", "_").replace("-", "_")
        starts = [s for s in self.symbols if s.startswith(q)]
        return starts + [s for s in self.symbols if q in s and s not in starts]

    def on_input_changed(self, event: Input.Changed) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        ol.add_options([Option(s, id=s) for s in self._matches(event.value)[:50]])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        m = self._matches(event.value)
        self.dismiss(m[0] if m else None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_focus_list(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
