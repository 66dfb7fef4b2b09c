"""Pilot test of editing settings in the workstation (`,`), built by `cashup`'s own factory over a settings
file: a key picked with the arrows and enter, a bad value refused with the key and its range (nothing
written), a good one written back with the file's comments and mode kept and marked "after a restart";
secrets stay masked and editing one is refused with where to manage it."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from cashup_tui.app.modals.settings import SettingsScreen
from cashup_tui.cli.tui import make_app
from cashup_tui.settings import load_settings
from tests.tui_support import press, screen_text, wait_text, wait_until

pytestmark = pytest.mark.timeout(150)
TOKEN = "123456789:AAFakeTokenForTestsOnly0123456789"


def _settings_file(tmp_path: Path) -> Path:
    p = tmp_path / "cashup.toml"
    text = resources.files("cashup_tui").joinpath("cashup.example.toml").read_text(encoding="utf-8")
    p.write_text(text.replace("urls = []", f'urls = ["tgram://{TOKEN}/987654321"]', 1), encoding="utf-8")
    os.chmod(p, 0o640)
    return p


async def _status(pilot: Any, needle: str) -> None:
    """The status line under the table (long messages wrap on screen)."""
    status = pilot.app.screen.query_one("#settings-status", Static)
    await wait_until(pilot, lambda: needle in str(status.render()), timeout=15, what=f"{needle!r} in the status")


async def _pick(pilot: Any, key: str) -> None:
    """Arrow keys to `key`'s row, then enter."""
    table = pilot.app.screen.query_one("#settings-table", DataTable)
    await press(pilot, "home")
    target = table.get_row_index(key)
    await press(pilot, *["down"] * target)
    await wait_until(pilot, lambda: table.cursor_row == target, timeout=10, what=f"the cursor on {key}")
    await press(pilot, "enter")


async def test_settings_edit_validated_written_back_secrets_refused(tmp_path: Path) -> None:
    cfg = _settings_file(tmp_path)
    original = cfg.read_text(encoding="utf-8")
    app = make_app(load_settings(cfg, environ={}), "demo", str(tmp_path / "t.sqlite"))
    async with app.run_test(size=(100, 30)) as pilot:
        await press(pilot, "comma")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), timeout=15, what="the settings")
        screen = app.screen
        field = screen.query_one("#settings-value", Input)
        # a bad value: refused by name and range, the file untouched
        await _pick(pilot, "risk.max_leverage")
        await wait_until(pilot, lambda: app.focused is field and field.value == "10.0", timeout=10,
                         what="the value open for editing")
        await press(pilot, *["backspace"] * 4, "5", "0", "0", "0", "enter")
        await _status(pilot, "'risk.max_leverage' must be in (0, 1000], got 5000.0")
        assert cfg.read_text(encoding="utf-8") == original
        # a good one: written back, comments and mode kept, in force after a restart
        await press(pilot, *["backspace"] * 4, "3", "enter")
        await _status(pilot, "applies after a restart")
        assert not field.display
        after = cfg.read_text(encoding="utf-8")
        assert [ln for ln in after.splitlines() if ln != "max_leverage = 3.0"] == \
               [ln for ln in original.splitlines() if ln != "max_leverage = 10.0"]
        assert load_settings(cfg, environ={}).risk.max_leverage == 3.0
        assert oct(cfg.stat().st_mode & 0o777) == "0o640"
        await wait_text(pilot, "next start: 3.0")
        # esc while editing cancels, nothing written
        await _pick(pilot, "ui.refresh_hz")
        await wait_until(pilot, lambda: app.focused is field, timeout=10, what="editing refresh_hz")
        await press(pilot, "9", "escape")
        await wait_until(pilot, lambda: not field.display, timeout=10, what="the edit cancelled")
        assert cfg.read_text(encoding="utf-8") == after and isinstance(app.screen, SettingsScreen)
        # secrets: masked, and editing is refused with where they are managed
        await _pick(pilot, "notify.urls")
        await _status(pilot, "notification centre (n)")
        await _pick(pilot, "gate.api_key")
        await _status(pilot, "cashup keys set gateio")
        assert not field.display
        seen = screen_text(app)
        assert "AAFakeToken" not in seen and TOKEN not in seen
        await press(pilot, "end")
        await wait_text(pilot, "[log]")
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen), timeout=10, what="closed")
        await wait_until(pilot, lambda: app.node_ready, timeout=30, what="the node")
        await press(pilot, "q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20, what="the app to exit")
