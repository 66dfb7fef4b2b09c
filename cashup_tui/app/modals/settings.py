"""`,`: the settings in force, one row per key, and editing from the keyboard.

Arrows, page up/down and home/end move through every section at any terminal height; enter on a key
opens its value for editing; enter saves through the one settings writer (service/config_edit.py: the
loader's own checks, comments kept, atomic), esc cancels. A refused value shows the writer's message
(the key and what is allowed) and nothing is written. Secrets are never shown (only <set>/<not set>,
`***` in URLs) and cannot be edited here: the row says where they are managed."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from cashup_tui.domain.errors import CashupError
from cashup_tui.service.config_edit import ConfigFile, refuse_secret


class SettingsTable(DataTable[object]):
    """home/end go to the first/last key (DataTable's own home/end scroll sideways)."""

    BINDINGS = [Binding("home", "first", "First", show=False), Binding("end", "last", "Last", show=False)]

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=self.row_count - 1)


class SettingsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    SettingsScreen #settings-table { height: 1fr; }
    SettingsScreen #settings-status { height: auto; max-height: 4; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False)]

    def __init__(self, source: str, toml_text: str, key_status: str, config: ConfigFile | None = None) -> None:
        super().__init__()
        self.source = source
        self.toml_text = toml_text
        self.key_status = key_status
        self.config = config
        self.editing: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            if self.config is None:  # no settings file to write to: the text, read-only
                yield Label(f"Settings ({self.source})  [↑↓ pgup pgdn home end] scroll  [esc] close", markup=False,
                            classes="dialog-title")
                with VerticalScroll(id="settings-body"):
                    yield Static(Text(f"API keys: {self.key_status}"))
                    yield Static(Text(self.toml_text))
                return
            yield Label(f"Settings ({self.source})  [↑↓ pgup pgdn home end] move  [enter] edit  [esc] close",
                        markup=False, classes="dialog-title")
            yield Static(Text(f"API keys: {self.key_status}   file: {self.config.path}"), id="settings-keys")
            yield SettingsTable(id="settings-table", cursor_type="row", zebra_stripes=False)
            yield Input(id="settings-value")
            yield Static("", id="settings-status")

    def on_mount(self) -> None:
        if self.config is None:
            self.query_one("#settings-body", VerticalScroll).focus()
            return
        table = self.query_one("#settings-table", DataTable)
        table.add_columns("Setting", "Value", "Note")
        self._fill()
        self.query_one("#settings-value", Input).display = False
        table.focus()

    def _fill(self) -> None:
        assert self.config is not None
        table = self.query_one("#settings-table", DataTable)
        at = table.cursor_row
        table.clear()
        section = ""
        for row in self.config.rows():
            sec, _, name = row.key.partition(".")
            if sec != section:
                section = sec
                table.add_row(Text(f"[{sec}]", style="bold"), "", "", key=f"[{sec}]")
            note = ("secret: " + ("cashup keys" if sec == "gate" else "edit in n") if row.secret else "")
            if row.env:
                note = f"{row.env} overrides the file"
            if row.saved:
                note = f"next start: {row.saved}"
            table.add_row(f"  {name}", Text(row.value, no_wrap=True, overflow="ellipsis"),
                          Text(note, style="yellow" if row.saved else "dim"), key=row.key)
        if at:
            table.move_cursor(row=min(at, table.row_count - 1))

    def _say(self, text: str, ok: bool) -> None:
        self.query_one("#settings-status", Static).update(Text(text, style="green" if ok else "bold red"))

    @on(DataTable.RowSelected, "#settings-table")
    def _edit(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if key.startswith("[") or self.config is None:
            return
        try:
            refuse_secret(key)
            current = self.config.text_of(key)
        except CashupError as exc:
            self._say(str(exc), ok=False)
            return
        self.editing = key
        field = self.query_one("#settings-value", Input)
        field.display = True
        field.border_title = f"{key}: enter saves, esc cancels"
        field.value = current
        field.focus()
        self._say(f"editing {key} (lists: a, b)", ok=True)

    @on(Input.Submitted, "#settings-value")
    def _save(self, event: Input.Submitted) -> None:
        if self.editing is None or self.config is None:
            return
        try:
            change = self.config.set(self.editing, event.value)
        except CashupError as exc:
            self._say(str(exc), ok=False)  # nothing was written; the field stays for another try
            return
        self._say(change.message, ok=True)
        self._stop_editing()
        self._fill()

    def _stop_editing(self) -> None:
        self.editing = None
        self.query_one("#settings-value", Input).display = False
        self.query_one("#settings-table", DataTable).focus()

    def action_close(self) -> None:
        if self.editing is not None:
            self._stop_editing()
            self._say("not changed", ok=True)
            return
        self.dismiss(None)
