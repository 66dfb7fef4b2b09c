"""The order ticket says a trailing stop trails only while CashUp runs (held locally, not at the venue)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Select

from cashup_tui.app.modals.ticket import TRAILING_HINT, OrderTicket
from tests.tui_support import demo_app, press, screen_text, wait_until

pytestmark = pytest.mark.timeout(90)


async def test_the_ticket_hints_that_a_trailing_stop_needs_the_process(tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path)  # the real demo node (the app stops it when it exits)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.node_ready, timeout=45, what="the demo node")
        await press(pilot, "b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderTicket), timeout=15, what="the order ticket")
        await wait_until(pilot, lambda: "notional" in screen_text(app), timeout=15, what="the preview")
        assert TRAILING_HINT not in screen_text(app)  # a limit order: no hint
        app.screen.query_one("#t-kind", Select).value = "trailing-stop"
        app.screen.query_one("#t-trail").value = "1"  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: TRAILING_HINT in screen_text(app), timeout=15, what="the trailing hint")
