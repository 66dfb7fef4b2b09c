"""The workstation behind `cashup serve`: Textual's web driver, made to leave the way a terminal does.

Why this exists: textual-serve runs one `cashup tui` process per browser tab and talks to it over a
pipe. Textual's own web driver ends the app with a bare exit when the browser closes, on SIGINT and on
SIGTERM, so the node's clean stop (journal flushed, strategies saved, resting state written) never
ran; and when the server itself went away the app kept running with nobody to draw for. Here every
way out takes the same path as a dropped SSH session (app/hangup.py): the browser closing its
session, the server's pipe closing (end of input, or a write that finds no reader), and the signals.
The shutdown guard then stops the node, bounded by its hard exit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.drivers.web_driver import WebDriver

from cashup_tui.app.hangup import DEAD_TTY_ERRNOS, ShutdownGuard, set_current_driver

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"  # what textual-serve puts in TEXTUAL_DRIVER


class ServedDriver(WebDriver):
    """Textual's web driver whose exits all go through the shutdown guard."""

    guard: ShutdownGuard | None = None  # set by `cashup tui` when it runs under textual-serve

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._raw_write = self._write
        self._write = self._write_all  # type: ignore[assignment]
        self.gone = False
        set_current_driver(self)

    def _write_all(self, data: bytes) -> None:
        """Write a whole packet (a signal can cut a pipe write short, and a short packet would garble the
        stream for good); once the server's end is closed, drop output and leave."""
        if self.gone:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[self._raw_write(view):]
        except OSError as exc:
            if exc.errno not in DEAD_TTY_ERRNOS:
                raise
            self._left("the browser's server closed the pipe")

    def terminal_gone(self) -> None:
        self.gone = True
        self.exit_event.set()
        self._input_reader.close()

    def start_application_mode(self) -> None:
        super().start_application_mode()  # installs its own SIGINT/SIGTERM handlers on the loop
        if self.guard is not None:
            self.guard.claim(asyncio.get_running_loop())

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # end of input while the app still runs: the server is gone
            self._left("the browser's server closed the session")

    def on_meta(self, packet_type: str, payload: dict[str, object]) -> None:
        if packet_type == "quit":  # textual-serve says this when the browser's websocket closes
            self._left("the browser closed the session")
            return
        super().on_meta(packet_type, payload)

    def _left(self, why: str) -> None:
        guard = self.guard
        if guard is None:
            super().on_meta("quit", {})  # no guard (a bare app): Textual's own exit
            return
        guard.leave(f"{why}: stopping the node")
