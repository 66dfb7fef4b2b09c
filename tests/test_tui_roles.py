"""Profiles in the workstation: a viewer cannot trade, admin actions ask the admin passphrase (masked),
and every attempt, allowed or denied, is in the audit log on disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cashup_tui.app.modals.confirm import Confirm
from cashup_tui.app.modals.kill import KillSwitch
from cashup_tui.app.modals.passphrase import PassphrasePrompt
from cashup_tui.app.modals.ticket import OrderTicket
from cashup_tui.domain.enums import TradingState
from tests.test_tui_pilot import SIZE, _open_ticket, _quit, _ready
from tests.tui_support import demo_app, press, screen_text, wait_text, wait_until

pytestmark = pytest.mark.timeout(120)
ADMIN_PP = "adminpassfortuitests9"  # no "-": the key helper types letters and digits


def _audit(tmp_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(tmp_path / "t.sqlite") as db:
        return [(a, b, d) for a, b, d in db.execute("select actor, action, details from audit_log order by id")]


async def test_viewer_sees_everything_but_cannot_trade(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path, environ={"CASHUP_UI_PROFILE": "viewer"})
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        await wait_until(pilot, lambda: "VIEW ONLY" in screen_text(app).splitlines()[0], timeout=15,
                         what="VIEW ONLY in the status bar")
        venue = node.sim.state.venue
        await _open_ticket(pilot, "b", "1")
        await press(pilot, "enter")
        await wait_text(pilot, "NOT SENT: the viewer profile may not place order")
        assert isinstance(app.screen, OrderTicket)  # the ticket stays open with the reason
        assert venue.list_orders() == [] and node.cache.orders() == []
        await press(pilot, "escape")
        # the kill switch is a trading action too
        await press(pilot, "k")
        await wait_until(pilot, lambda: isinstance(app.screen, KillSwitch), timeout=15, what="the kill switch")
        await press(pilot, "1")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the confirmation")
        await press(pilot, "y")
        await pilot.pause(0.5)
        assert node.risk.state is TradingState.ACTIVE
        await _quit(pilot)
    rows = _audit(tmp_path)
    denied = {(a, b) for a, b, d in rows if "DENIED" in d}
    assert ("user:viewer", "order.submit") in denied and ("user:viewer", "kill_switch") in denied


async def test_resume_asks_the_admin_passphrase_when_one_is_set(tmp_path: Path) -> None:
    from cashup_tui.adapters.vault import save_admin_hash
    from cashup_tui.paths import admin_hash_path
    from cashup_tui.service.roles import hash_passphrase

    save_admin_hash(hash_passphrase(ADMIN_PP, n=2**10), admin_hash_path())
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        await press(pilot, "k", "1")  # a trader may always pull the kill switch
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the confirmation")
        await press(pilot, "y")
        await wait_until(pilot, lambda: node.risk.state is TradingState.REDUCING, timeout=15, what="REDUCING")
        await press(pilot, "5")
        for attempt, expect in (("wrongpassphrase", TradingState.REDUCING), (ADMIN_PP, TradingState.ACTIVE)):
            await press(pilot, "r")
            await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="resume confirmation")
            await press(pilot, "y")
            await wait_until(pilot, lambda: isinstance(app.screen, PassphrasePrompt), timeout=15,
                             what="the admin passphrase prompt")
            await wait_until(pilot, lambda: getattr(app.focused, "id", None) == "admin-passphrase", timeout=15,
                             what="the passphrase field focused")
            await press(pilot, *attempt)
            assert attempt not in screen_text(app)  # masked
            await press(pilot, "enter")
            await wait_until(pilot, lambda: not isinstance(app.screen, PassphrasePrompt), timeout=15,
                             what="the prompt to close")
            if expect is TradingState.REDUCING:
                await wait_until(pilot, lambda: any("wrong admin passphrase" in n.message for n in app._notifications),
                                 timeout=15, what="the wrong-passphrase notification")
            else:
                await wait_until(pilot, lambda: node.risk.state is TradingState.ACTIVE, timeout=15, what="ACTIVE")
            assert node.risk.state is expect
        await _quit(pilot)
    resumes = [(a, d) for a, b, d in _audit(tmp_path) if b == "risk.resume" and a.startswith("user:")]
    assert len(resumes) == 2 and "DENIED" in resumes[0][1] and "as=admin" in resumes[1][1]
    assert all(ADMIN_PP not in d for _, _, d in _audit(tmp_path))
