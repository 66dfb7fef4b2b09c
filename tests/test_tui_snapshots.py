"""Snapshot tests of the workstation at 80x24 (one pane, tabs) and 160x48 (side panel) on a deterministic
demo: the simulator's seeded market stepped 300 times at a fixed test clock (tests/tui_support.py).

Update after an intended layout change with `pytest tests/test_tui_snapshots.py --snapshot-update` and
review the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input

from cashup_tui.app.app import CashupApp
from tests.tui_support import SeededMarketNode, screen_text

pytestmark = pytest.mark.timeout(60)


def _app() -> CashupApp:
    # a constant clock: the loop-lag probe reads 0 ms, so the status bar is the same on every run
    return CashupApp(SeededMarketNode(), refresh_hz=4.0, clock=lambda: 0.0)


async def _settle(pilot: Any) -> None:
    """Refresh once the layout has its final size (widgets size their content to it), then let it paint."""
    await pilot.pause()
    pilot.app.refresh_views()
    await pilot.pause()


async def _open_ticket(pilot: Any) -> None:
    await _settle(pilot)
    await pilot.press("b")
    await pilot.pause()
    for inp in pilot.app.screen.query(Input):
        inp.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    deadline = 100
    while "notional" not in screen_text(pilot.app) and deadline:
        deadline -= 1
        await pilot.pause(0.02)
    await pilot.pause()


def test_market_80x24(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_settle)


def test_orders_80x24(snap_compare: Any) -> None:
    assert snap_compare(_app(), press=["2"], terminal_size=(80, 24), run_before=_settle)


def test_ticket_80x24(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_open_ticket)


def test_market_160x48_with_side_panel(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=(160, 48), run_before=_settle)


def test_risk_160x48(snap_compare: Any) -> None:
    assert snap_compare(_app(), press=["5"], terminal_size=(160, 48), run_before=_settle)


def test_seeded_node_is_deterministic() -> None:
    """The snapshots rest on this: two nodes from the same seed serve identical market data."""
    a, b = SeededMarketNode(), SeededMarketNode()
    for s in a.watchlist():
        assert a.ticker(s) == b.ticker(s)
        assert a.book(s) == b.book(s)
        assert list(a.trades(s)) == list(b.trades(s))
        assert list(a.bars(s, "1m")) == list(b.bars(s, "1m"))
    assert a.status() == b.status()
    c = SeededMarketNode(seed=8)
    assert c.ticker("BTC_USDT") != a.ticker("BTC_USDT")
