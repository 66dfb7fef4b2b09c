"""Notification centre and log viewer: secondary screens opened from the palette or keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from cashup_tui.app import fmt
from cashup_tui.app.modals.notify_config import NotifyConfig
from cashup_tui.service.config_edit import ConfigFile
from cashup_tui.service.views import LogLine, NotificationView


class NotificationCentre(ModalScreen[None]):
    """Delivered notifications, the running channels and rules, and (with a settings file) the editor of
    channels and alert rules (app/modals/notify_config.py)."""

    BINDINGS = [Binding("escape,q", "close", "Close"), Binding("t", "test", "Test send")]

    def __init__(self, items: Sequence[NotificationView], channels: Sequence[str], rules: Sequence[str],
                 test_send: Callable[[], object], config: ConfigFile | None = None,
                 apply_rules: Callable[[Sequence[str]], bool] | None = None) -> None:
        super().__init__()
        self.items = list(items)
        self.channels = list(channels)
        self.rules = list(rules)
        self._test_send = test_send
        self.config = config
        self.apply_rules = apply_rules

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Notification centre  [t] test send  [esc] close", markup=False, classes="dialog-title")
            yield Static(Text("channels: " + (", ".join(self.channels) or "none configured (see [notify] urls)")))
            yield Static(Text("alert rules: " + (", ".join(self.rules) or "none")))
            table: DataTable[Any] = DataTable(id="notif-table")
            yield table
            yield Static("", id="notif-status")
            if self.config is not None:
                yield NotifyConfig(self.config, self.apply_rules)

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("Time", "Severity", "Channel", "Title", "Delivered")
        for n in self.items:
            t.add_row(fmt.clock(n.ts_ms), n.severity, n.channel, n.title[:50], "yes" if n.delivered else "NO")
        if self.config is not None:
            self.query_one("#notify-config", DataTable).focus()

    def action_test(self) -> None:
        async def go() -> None:
            result = self._test_send()
            if hasattr(result, "__await__"):
                result = await result  # type: ignore[misc]
            self.query_one("#notif-status", Static).update("test sent" if result else "test send FAILED")

        self.run_worker(go(), exclusive=True)

    def action_close(self) -> None:
        if self.config is not None and self.query_one(NotifyConfig).close_editor():
            return
        self.dismiss(None)


class LogViewer(ModalScreen[None]):
    """Searchable log: type to filter (case-insensitive substring over level, source, message)."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, lines: Sequence[LogLine]) -> None:
        super().__init__()
        self.lines = list(lines)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Log  [esc] close", markup=False, classes="dialog-title")
            yield Input(placeholder="filter…", id="log-filter")
            yield Static("", id="log-body")

    def on_mount(self) -> None:
        self._show_lines("")
        self.query_one(Input).focus()

    def _show_lines(self, q: str) -> None:
        q = q.lower()
        t = Text(no_wrap=True)
        shown = [ln for ln in self.lines if q in f"{ln.level} {ln.source} {ln.message}".lower()][-200:]
        for ln in shown:
            style = "red" if ln.level in ("ERROR", "CRITICAL") else "yellow" if ln.level == "WARNING" else ""
            t.append(f"{fmt.clock(ln.ts_ms)} {ln.level:<7} {ln.source:<12} {ln.message}\n", style=style)
        self.query_one("#log-body", Static).update(t if shown else Text("no matching lines", style="dim"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_lines(event.value)

    def action_close(self) -> None:
        self.dismiss(None)
