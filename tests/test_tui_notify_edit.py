"""Pilot test of editing notification channels and alert rules in the notification centre (`n`), on the
workstation `cashup` builds (real demo node) over a settings file: a channel URL typed masked, checked as
start-up checks it, shown masked, switched off and on, removed; alert rules checked, applied to the running
node at once and written back; the token never on screen nor in the log."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from cashup_tui.app.modals.centre import NotificationCentre
from cashup_tui.cli.tui import make_app
from cashup_tui.settings import load_settings
from tests.tui_support import press, screen_text, wait_until

pytestmark = pytest.mark.timeout(150)
TOKEN = "123456789:AAFakeTokenForTestsOnly0123456789"
URL = f"tgram://{TOKEN}/987654321"


async def _status(pilot: Any, needle: str) -> None:
    status = pilot.app.screen.query_one("#notify-edit-status", Static)
    await wait_until(pilot, lambda: needle in str(status.render()), timeout=15, what=f"{needle!r} in the status")


async def _row(pilot: Any, index: int) -> None:
    table = pilot.app.screen.query_one("#notify-config", DataTable)
    await press(pilot, *["up"] * table.row_count, *["down"] * index)
    await wait_until(pilot, lambda: table.cursor_row == index, timeout=10, what=f"row {index}")


async def test_channels_and_rules_edited_from_the_centre(tmp_path: Path) -> None:
    cfg = tmp_path / "cashup.toml"
    cfg.write_text(resources.files("cashup_tui").joinpath("cashup.example.toml").read_text(encoding="utf-8"),
                   encoding="utf-8")
    app = make_app(load_settings(cfg, environ={}), "demo", str(tmp_path / "t.sqlite"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.node_ready, timeout=30, what="the node")
        engine = app.node.node.alerts
        await press(pilot, "n")
        await wait_until(pilot, lambda: isinstance(app.screen, NotificationCentre), timeout=15, what="the centre")
        field = app.screen.query_one("#notify-edit", Input)
        # a channel the notifier would refuse: said, nothing written
        await press(pilot, "a")
        await wait_until(pilot, lambda: app.focused is field and field.password, timeout=10, what="masked field")
        await press(pilot, *"nosuchscheme://x/y", "enter")
        await _status(pilot, "rejected by apprise")
        assert load_settings(cfg, environ={}).notify.urls == []
        await press(pilot, *["backspace"] * 20, *URL, "enter")
        await _status(pilot, "notify.urls = [\"tgram://***/***\"]")
        await _status(pilot, "applies after a restart")
        assert not field.display and load_settings(cfg, environ={}).notify.urls == [URL]
        # switched off and on (kept in notify.disabled_urls meanwhile)
        await _row(pilot, 0)
        await press(pilot, "space")
        await _status(pilot, "notify.disabled_urls")
        s = load_settings(cfg, environ={}).notify
        assert (s.urls, s.disabled_urls) == ([], [URL])
        await press(pilot, "space")
        await _status(pilot, "notify.urls")
        assert load_settings(cfg, environ={}).notify.urls == [URL]
        # alert rules: a bad one refused, a good one in force at once and in the file
        await press(pilot, "r")
        await wait_until(pilot, lambda: app.focused is field and not field.password, timeout=10, what="rule field")
        await press(pilot, *"BTC_USDT price sideways", "enter")
        await _status(pilot, "expected SYMBOL KIND OP VALUE")
        await press(pilot, *["backspace"] * 30, *"BTC_USDT price above 1000000", "enter")
        await _status(pilot, "applies now")
        assert [r.describe() for r in engine.rules] == app.node.alert_rules() and len(engine.rules) == 1
        assert load_settings(cfg, environ={}).notify.alerts == ["BTC_USDT price above 1000000"]
        # enter on the rule edits it
        await _row(pilot, 1)
        await press(pilot, "enter")
        await wait_until(pilot, lambda: field.value == "BTC_USDT price above 1000000", timeout=10, what="the rule")
        await press(pilot, "end", *["backspace"] * 7, "2", "0", "0", "0", "0", "enter")  # focus selects all: end keeps it
        await _status(pilot, "applies now")
        assert load_settings(cfg, environ={}).notify.alerts == ["BTC_USDT price above 20000"]
        assert "20000" in engine.rules[0].describe() or "20,000" in engine.rules[0].describe()
        # d removes the rule (and from the running node), then the channel
        await _row(pilot, 1)
        await press(pilot, "d")
        await _status(pilot, "notify.alerts = []")
        assert engine.rules == []
        await _row(pilot, 0)
        await press(pilot, "d")
        await _status(pilot, "notify.urls = []")
        assert load_settings(cfg, environ={}).notify.urls == []
        # the token: never on screen, never in the log
        assert TOKEN not in screen_text(app) and "AAFakeToken" not in screen_text(app)
        assert not any("AAFakeToken" in line.message for line in app.node.logs())
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, NotificationCentre), timeout=10, what="closed")
        await press(pilot, "q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20, what="the app to exit")
