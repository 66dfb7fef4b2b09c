"""Issue 10: strategies started from the start dialog, several at once on their own symbols, a raising one
stopped cleanly with its error in its row and the log, and the running set resumed after a restart.

The real workstation on the real demo node (in-process Gate simulator on loopback, the engine, a SQLite
journal in tmp_path), driven with keys; the test strategies live in $CASHUP_STRATEGIES_DIR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from cashup_tui.app.modals.confirm import Confirm
from cashup_tui.app.modals.start import StartStrategy
from cashup_tui.app.panes.tables import SyncTable
from tests.tui_support import demo_app, press, screen_text, table_keys, wait_text, wait_until

pytestmark = pytest.mark.timeout(240)
SIZE = (120, 36)

EAGER = '''
from cashup_tui.engine.strategy import Param, Strategy


class Eager(Strategy):
    """Goes long as soon as it has a price (a test strategy)."""

    vectorised = False
    exposure = Param(1.0, min=0.0, max=1.0, help="target exposure, fraction of the size")

    def on_start(self, ctx):
        self.ticks = 0

    def on_ticker(self, ctx, ticker):
        self.ticks += 1
        if ctx.position == 0:
            ctx.target(self.exposure)
'''

BOOM = '''
from cashup_tui.engine.strategy import Strategy


class Boom(Strategy):
    """Raises on its first ticker (a test strategy)."""

    vectorised = False

    def on_ticker(self, ctx, ticker):
        raise RuntimeError("boom on purpose")
'''


@pytest.fixture
def strategies_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "strats"
    d.mkdir()
    (d / "eager.py").write_text(EAGER)
    (d / "boom.py").write_text(BOOM)
    monkeypatch.setenv("CASHUP_STRATEGIES_DIR", str(d))
    return d


async def _ready(pilot: Any, node: Any) -> None:
    await wait_until(pilot, lambda: pilot.app.node_ready and node.started, timeout=30, what="the demo node")
    await press(pilot, "4")
    await wait_until(pilot, lambda: "eager" in table_keys(pilot.app, "strategies-table"), timeout=15,
                     what="the strategies list")


async def _select_row(pilot: Any, key: str) -> None:
    table = pilot.app.query_one("#strategies-table", SyncTable)
    table.focus()
    table.move_cursor(row=0)
    for _ in range(table.row_count + 1):
        if table.selected_key == key:
            return
        await press(pilot, "down")
    raise AssertionError(f"row {key} not reachable with the arrow keys")


async def _type(pilot: Any, field: str, text: str) -> None:
    """Focus a dialog field, clear it with the keyboard, type `text`."""
    inp = pilot.app.screen.query_one(f"#{field}", Input)
    inp.focus()
    await press(pilot, "end", *["backspace"] * len(inp.value), *text)
    assert inp.value == text


async def _open_dialog(pilot: Any, strategy: str) -> StartStrategy:
    await _select_row(pilot, strategy)
    await press(pilot, "enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StartStrategy), timeout=15, what="the start dialog")
    return pilot.app.screen  # type: ignore[return-value]


async def _closed(pilot: Any) -> None:
    """The slot exists before the dialog closes: wait for it to close before the next key (else it goes there)."""
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, StartStrategy), timeout=30,
                     what="the start dialog to close")


async def _quit(pilot: Any) -> None:
    await press(pilot, "q")
    if await _confirm_shown(pilot):
        await press(pilot, "y")
    await wait_until(pilot, lambda: pilot.app.return_code is not None, timeout=20, what="the app to exit")


async def _confirm_shown(pilot: Any) -> bool:
    try:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, Confirm), timeout=5, what="quit question")
    except AssertionError:
        return False
    return True


async def test_start_dialog_two_strategies_one_raises_and_both_resume_after_a_restart(
        tmp_path: Path, strategies_dir: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        dialog = await _open_dialog(pilot, "eager")
        text = screen_text(app)
        assert "exposure" in text and "float in [0.0, 1.0], default 1.0" in text and "DEMO" in text
        await _type(pilot, "st-symbol", "ETH_USDT")
        await _type(pilot, "st-size", "500")
        await _type(pilot, "st-p-exposure", "2")  # out of range: the strategy's own check says so
        await press(pilot, "enter")
        await wait_text(pilot, "'exposure' = 2.0 is out of range")
        assert app.screen is dialog and not node.runner.slots
        await _type(pilot, "st-symbol", "NOPE_USDT")
        await _type(pilot, "st-p-exposure", "1")
        await press(pilot, "enter")
        await wait_text(pilot, "NOPE_USDT is not a contract this venue lists")
        await _type(pilot, "st-symbol", "eth_usdt")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: "eager-ETH_USDT" in node.runner.slots, timeout=20, what="eager started")
        await _closed(pilot)
        eager = node.runner.slots["eager-ETH_USDT"]
        assert eager.order_notional == 500 and eager.timeframe == "1m" and eager.strategy.params == {"exposure": 1.0}

        await _open_dialog(pilot, "boom")
        await _type(pilot, "st-symbol", "BTC_USDT")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: "boom-BTC_USDT" in node.runner.slots, timeout=20, what="boom started")
        await _closed(pilot)
        boom = node.runner.slots["boom-BTC_USDT"]
        # the raising one: FAILED, its error in its row and in the log; the other keeps running and trades
        await wait_until(pilot, lambda: boom.state.value == "failed", timeout=30, what="boom to fail")
        await wait_until(pilot, lambda: eager.fills >= 1 and eager.position > 0, timeout=30, what="eager to trade")
        assert eager.state.value == "running"
        table = app.query_one("#strategies-table", SyncTable)
        await wait_until(pilot, lambda: "boom on purpose" in str(table.get_row("boom-BTC_USDT")[-1]), timeout=15,
                         what="the error in boom's row")
        assert any("boom-BTC_USDT" in ln.message and "boom on purpose" in ln.message for ln in app.node.logs())
        await _quit(pilot)

    # restart on the same journal: the running set comes back, eager running (its hooks called), boom failed
    app2, node2 = demo_app(tmp_path)
    async with app2.run_test(size=SIZE) as pilot:
        await _ready(pilot, node2)
        await wait_until(pilot, lambda: {"eager-ETH_USDT", "boom-BTC_USDT"} <= set(table_keys(app2, "strategies-table")),
                         timeout=20, what="both slots listed again")
        eager2, boom2 = node2.runner.slots["eager-ETH_USDT"], node2.runner.slots["boom-BTC_USDT"]
        assert eager2.state.value == "running" and eager2.order_notional == 500
        assert eager2.strategy.params == {"exposure": 1.0} and eager2.timeframe == "1m"
        assert boom2.state.value == "failed" and "boom on purpose" in boom2.error
        await wait_until(pilot, lambda: eager2.strategy.ticks > 0, timeout=30, what="the resumed eager to run")
        assert "boom on purpose" in str(app2.query_one("#strategies-table", SyncTable).get_row("boom-BTC_USDT")[-1])
        await _quit(pilot)
