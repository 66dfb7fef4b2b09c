"""The notification centre's editor: channels and alert rules of the settings file, changed from the
keyboard through the one settings writer (service/config_edit.py: checked as start-up checks them,
comments kept, atomic).

A channel URL carries its token: it is typed in a masked field, shown only as scheme and host
(`tgram://***/***`) and never logged. Alert rules apply to the running node at once; channel changes
on the next start (the notifier is built at start)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Label, Static

from cashup_tui.domain.errors import CashupError
from cashup_tui.service.config_edit import ALERTS, Change, ChannelRow, ConfigFile

HELP = "[a] add channel  [r] add rule  [enter] edit rule  [space] channel on/off  [d] remove"


class NotifyConfig(Vertical):
    DEFAULT_CSS = """
    NotifyConfig { height: 1fr; }
    NotifyConfig #notify-config { height: 1fr; min-height: 4; }
    NotifyConfig #notify-edit-status { height: auto; max-height: 4; }
    """
    BINDINGS = [
        Binding("a", "add_channel", "Add channel", show=False),
        Binding("r", "add_rule", "Add alert rule", show=False),
        Binding("space", "switch", "Channel on/off", show=False),
        Binding("d,delete", "remove", "Remove", show=False),
    ]

    def __init__(self, config: ConfigFile, apply_rules: Callable[[Sequence[str]], bool] | None = None) -> None:
        super().__init__()
        self.config = config
        self.apply_rules = apply_rules
        self.editing: tuple[str, int] | None = None  # ("channel", -1) | ("rule", -1 new / index)

    def compose(self) -> ComposeResult:
        yield Label(f"In {self.config.path.name}: {HELP}", markup=False)
        yield DataTable(id="notify-config", cursor_type="row", zebra_stripes=False)
        yield Input(id="notify-edit")
        yield Static("", id="notify-edit-status")

    def on_mount(self) -> None:
        table = self.query_one("#notify-config", DataTable)
        table.add_columns("Kind", "On", "Channel URL (masked) / alert rule")
        self.query_one("#notify-edit", Input).display = False
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#notify-config", DataTable)
        at = table.cursor_row
        table.clear()
        for ch in self.config.channels():
            table.add_row("channel", "on" if ch.enabled else "off", ch.shown, key=f"{'on' if ch.enabled else 'off'}:{ch.index}")
        for i, rule in enumerate(self.config.items(ALERTS)):
            table.add_row("rule", "on", Text(rule), key=f"rule:{i}")
        if table.row_count:
            table.move_cursor(row=min(at, table.row_count - 1))

    def _selected(self) -> tuple[str, int] | None:
        table = self.query_one("#notify-config", DataTable)
        if not table.row_count:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        kind, _, index = key.partition(":")
        return kind, int(index)

    def _channel(self, kind: str, index: int) -> ChannelRow:
        return next(c for c in self.config.channels() if c.enabled == (kind == "on") and c.index == index)

    def say(self, text: str, ok: bool) -> None:
        self.query_one("#notify-edit-status", Static).update(Text(text, style="green" if ok else "bold red"))

    def _done(self, change: Change) -> None:
        self.say(change.message, ok=True)
        self._fill()

    def _open(self, what: tuple[str, int], title: str, value: str = "", *, password: bool = False) -> None:
        self.editing = what
        field = self.query_one("#notify-edit", Input)
        field.password = password
        field.value = value
        field.border_title = title
        field.display = True
        field.focus()

    def close_editor(self) -> bool:
        """Esc: an open field closes first (True), then the centre."""
        if self.editing is None:
            return False
        self.editing = None
        field = self.query_one("#notify-edit", Input)
        field.value = ""
        field.display = False
        self.query_one("#notify-config", DataTable).focus()
        return True

    def action_add_channel(self) -> None:
        self._open(("channel", -1), "channel URL, e.g. tgram://TOKEN/CHAT or critical=json://host/hook (masked)",
                   password=True)

    def action_add_rule(self) -> None:
        self._open(("rule", -1), "alert rule, e.g. BTC_USDT price above 70000")

    @on(DataTable.RowSelected, "#notify-config")
    def _edit_rule(self) -> None:
        sel = self._selected()
        if sel is None:
            return
        kind, index = sel
        if kind != "rule":
            self.say("a channel URL is not shown or edited: remove it (d) and add it again (a)", ok=False)
            return
        self._open(("rule", index), f"alert rule {index + 1}", self.config.items(ALERTS)[index])

    def action_switch(self) -> None:
        sel = self._selected()
        if sel is None or sel[0] == "rule":
            return
        kind, index = sel
        self._run(lambda: self.config.enable_channel(self._channel(kind, index), kind == "off"))

    def action_remove(self) -> None:
        sel = self._selected()
        if sel is None:
            return
        kind, index = sel
        if kind == "rule":
            self._run(lambda: self._rules_applied(self.config.remove_item(ALERTS, index)))
        else:
            self._run(lambda: self.config.remove_channel(self._channel(kind, index)))

    def _rules_applied(self, change: Change) -> Change:
        if self.apply_rules is not None and self.apply_rules(self.config.items(ALERTS)):
            return change.applied()
        return change

    def _run(self, edit: Callable[[], Change]) -> bool:
        try:
            change = edit()
        except CashupError as exc:
            self.say(str(exc), ok=False)  # nothing was written
            return False
        self._done(change)
        return True

    @on(Input.Submitted, "#notify-edit")
    def _submit(self, event: Input.Submitted) -> None:
        if self.editing is None:
            return
        kind, index = self.editing
        text = event.value
        if kind == "channel":
            ok = self._run(lambda: self.config.add_channel(text))
        elif index < 0:
            ok = self._run(lambda: self._rules_applied(self.config.add_item(ALERTS, text)))
        else:
            ok = self._run(lambda: self._rules_applied(self.config.replace_item(ALERTS, index, text)))
        if ok:
            self.close_editor()
