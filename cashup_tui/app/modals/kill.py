"""The graded kill switch: pick a level, then confirm it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from cashup_tui.app.panes.risk import KILL_EFFECTS, KILL_LEVELS


class KillSwitch(ModalScreen[int | None]):
    """Returns the chosen level (1..4), or None. The caller asks for confirmation."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), *[Binding(str(n), f"pick({n})", show=False) for n in range(1, 5)]]

    def __init__(self, current: int) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"KILL SWITCH (now level {self.current})", classes="dialog-title danger")
            yield OptionList(
                *[Option(f"{n}  {text}: {KILL_EFFECTS[n]}", id=str(n)) for n, text in KILL_LEVELS if n > 0], id="kill-levels"
            )
            yield Label("[1-4] or [enter] choose, [esc] cancel; you confirm next", markup=False, classes="dim")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    def action_pick(self, n: int) -> None:
        self.dismiss(n)

    def action_cancel(self) -> None:
        self.dismiss(None)
