"""Issue 15, live: a portfolio strategy started from the workstation's start dialog with its symbols trades
them from one slot, and the Strategies pane shows its per-symbol targets against the held positions (80x24).

The real workstation on the real demo node (in-process Gate simulator on loopback, the engine, a SQLite
journal in tmp_path), driven with keys; the test strategy (fixed weights) lives in $CASHUP_STRATEGIES_DIR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cashup_tui.engine.portfolio_slot import PortfolioSlot
from cashup_tui.engine.runner import SlotState
from tests.test_portfolio_live import FIXED, SYMS, close_bar
from tests.test_tui_strategies_start import _closed, _open_dialog, _quit, _select_row, _type
from tests.tui_support import demo_app, press, screen_text, table_keys, wait_text, wait_until

pytestmark = pytest.mark.timeout(240)


async def test_a_portfolio_strategy_starts_from_the_dialog_with_its_symbols(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "strats"
    d.mkdir()
    (d / "fixed.py").write_text(FIXED)
    monkeypatch.setenv("CASHUP_STRATEGIES_DIR", str(d))
    app, node = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.node_ready and node.started, timeout=30, what="the demo node")
        await press(pilot, "4")
        await wait_until(pilot, lambda: {"fixed", "xsec_momentum", "factor_score"} <= set(table_keys(app, "strategies-table")),
                         timeout=15, what="the portfolio strategies listed")
        dialog = await _open_dialog(pilot, "fixed")
        text = screen_text(app)
        assert "symbols" in text and "BTC_USDT,ETH_USDT,SOL_USDT" in text  # the watchlist's first three
        await _type(pilot, "st-symbol", "BTC_USDT,NOPE_USDT")
        await press(pilot, "enter")
        await wait_text(pilot, "NOPE_USDT not listed by this venue")
        assert app.screen is dialog and not node.runner.slots
        await _type(pilot, "st-symbol", "btc_usdt,eth_usdt,sol_usdt")
        await _type(pilot, "st-size", "3000")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: "fixed-BTC_USDT+2" in node.runner.slots, timeout=20, what="fixed started")
        await _closed(pilot)
        slot = node.runner.slots["fixed-BTC_USDT+2"]
        assert isinstance(slot, PortfolioSlot) and list(slot.symbols) == SYMS and slot.order_notional == 3000
        assert slot.state is SlotState.RUNNING and "fixed-BTC_USDT+2" in node.journal.kv_get("runner.index")
        await wait_until(pilot, lambda: slot.decided_ms > 0, timeout=20, what="the warm-up bars")
        close_bar(node, slot)  # every symbol closes a bar: the slot rebalances to 0.5 / 0.3 / -0.2
        await wait_until(pilot, lambda: all(slot.books[s].size != 0 for s in SYMS) and not slot.pending,
                         timeout=30, what="the three fills")
        await _select_row(pilot, "fixed-BTC_USDT+2")
        await wait_until(pilot, lambda: "w -0.20/-0." in screen_text(app),
                         timeout=15, what="the per-symbol detail")
        text = screen_text(app)
        for sym in SYMS:
            held = slot.books[sym].size
            assert any(ln.startswith(sym) and f"/{held} " in ln for ln in text.splitlines()), (sym, held, text)
        assert "w +0.50/+0." in text and "w +0.30/+0." in text
        await _quit(pilot)
