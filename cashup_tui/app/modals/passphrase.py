"""The admin passphrase prompt: admin actions (resume after a kill, ...) are sudo-like, asked each time.

The typed text is masked, never logged or kept: it is handed to the one action that asked and the
input is cleared. Esc cancels (the action is not done)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PassphrasePrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"{self.what} needs the admin passphrase", classes="dialog-title")
            yield Input(password=True, placeholder="admin passphrase", id="admin-passphrase")
            yield Label("[enter] continue   [esc] cancel", markup=False, classes="dim")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value
        event.input.value = ""
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
