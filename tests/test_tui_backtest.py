"""The in-app backtest (`B`) and drift view (`d`) on the REAL demo node (in-process Gate simulator on
loopback, our websocket client, ccxt REST, a SQLite journal in tmp_path), driven with keys.

The backtest must use what the account would meet: the contract's fees (the demo venue charges 7.5 bps
taker, the old in-app backtest assumed 5), the account's equity or an asked cash; its chart has a time
axis and CAGR reads n/a on 1000 minutes. The drift window starts when the strategy started.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cashup_tui.app.modals.backtest import BacktestDialog, DriftView
from tests.test_tui_pilot import _quit, _ready, _select_row
from tests.tui_support import demo_app, press, screen_text, table_keys, wait_text, wait_until

pytestmark = pytest.mark.timeout(150)
SIZE = (120, 40)


async def test_backtest_uses_the_venue_fees_and_the_asked_cash_with_a_time_axis(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        inst = node.instruments["BTC_USDT"]
        assert inst.taker_fee_rate == Decimal("0.00075")  # the demo venue's contract
        await press(pilot, "4")
        await wait_until(pilot, lambda: "sma_cross" in table_keys(app, "strategies-table"), timeout=15,
                         what="the strategies list")
        await _select_row(pilot, "strategies-table", "sma_cross")
        await press(pilot, "B")
        await wait_until(pilot, lambda: isinstance(app.screen, BacktestDialog), timeout=15, what="the backtest dialog")
        dialog = app.screen
        equity = float(node.portfolio.equity())
        assert dialog.query_one("#bt-cash").value == f"{equity:.2f}"  # the account's equity, editable
        maker = float(inst.maker_fee_rate) * 10_000
        await wait_text(pilot, f"taker 7.5 bps, maker {maker:g} bps")
        await wait_until(pilot, lambda: getattr(app.focused, "id", None) == "bt-cash", what="the cash field")
        await press(pilot, *(["backspace"] * 12), "5", "0", "0", "0", "enter")
        await wait_until(pilot, lambda: dialog.result is not None, timeout=90, what="the backtest result")
        result = dialog.result
        assert result["fee_bps"] == pytest.approx(7.5) and result["cash"] == 5000.0
        m = result["metrics"]
        assert m["bars"] > 100 and m["end"] - m["start"] < 30 * 86_400_000
        assert m["cagr"] is None  # under 30 days: no annualised figure
        if m["trade_count"]:  # every fill paid the taker rate on its notional
            t = result["trades"][0]
            assert t["fees"] >= t["qty"] * t["entry_price"] * 0.00075 * 0.999
        assert "cash 5,000.00 USDT (asked)" in result["source"]
        await wait_until(pilot, lambda: "CAGR" in screen_text(app) and "n/a" in screen_text(app),
                         what="the metrics with CAGR n/a")
        await wait_until(pilot, lambda: "equity (USDT)" in screen_text(app), what="the equity chart")
        text = screen_text(app)
        # the chart's x axis is UTC time, first point to last
        first = result["equity_time"][0]
        import time as _t

        assert _t.strftime("%H:%M", _t.gmtime(first / 1000)) in text
        assert len(re.findall(r"\b\d\d:\d\d\b", text)) >= 3
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, BacktestDialog), what="the dialog to close")
        # the service's default cash is the account's equity
        terms = app.node.backtest_terms("BTC_USDT")
        assert terms["cash"] == pytest.approx(float(node.portfolio.equity()))
        assert terms["taker_bps"] == pytest.approx(7.5) and terms["maker_bps"] == pytest.approx(maker)
        await _quit(pilot)


async def test_drift_window_starts_at_the_strategy_start(tmp_path: Path) -> None:
    """Right after a start the strategy has no live fills; the backtest over the same bars has trades in
    the hour before (fast=2/slow=3 crosses often): none of them may count, so no false DRIFT."""
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        slot = await app.node.start_strategy("sma_cross", "BTC_USDT", {"fast": 2, "slow": 3})
        started = node.clock.now_ms()
        await press(pilot, "4")
        await wait_until(pilot, lambda: slot in table_keys(app, "strategies-table"), timeout=15,
                         what="the running strategy row")
        await _select_row(pilot, "strategies-table", slot)
        await press(pilot, "d")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftView), timeout=15, what="the drift view")
        await wait_until(pilot, lambda: "live fill (time" in screen_text(app) or "failed" in screen_text(app),
                         timeout=90, what="the drift table")
        d = await app.node.drift(slot)
        assert started - 5_000 <= d["since"] <= started
        assert d["unit"] == "BTC"
        assert all(f["time"] >= d["since"] for f in d["live"] + d["backtest"])
        inst = node.instruments["BTC_USDT"]
        for o in node.cache.orders():
            if o.strategy == slot and o.filled > 0:  # live sizes in BTC, like the backtest's
                assert any(f["size"] == pytest.approx(float(o.filled * inst.quanto_multiplier)) for f in d["live"])
        text = screen_text(app)
        assert "since its start" in text and "sizes in BTC" in text, text
        if not d["live"]:
            assert "DRIFT: 0 live fills" not in text or d["backtest"]
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DriftView), what="the drift view to close")
        await app.node.stop_strategy(slot)
        await _quit(pilot)


def test_backtest_fills_count_only_trades_entered_since_the_start() -> None:
    """The false 'DRIFT: 0 live fills vs 1 backtest trades': a backtest trade entered before the
    strategy started (exit after it, or still open) has no live counterpart and is not counted."""
    from cashup_tui.service.jobs import backtest_fills

    def trade(entry: int, exit_: int, side: str, reason: str) -> dict[str, Any]:
        return {"entry_time": entry, "exit_time": exit_, "side": side, "entry_price": 100.0, "exit_price": 101.0,
                "qty": 0.5, "exit_reason": reason}

    start = 1_000_000
    trades = [trade(start - 120_000, start + 60_000, "long", "signal"), trade(start - 60_000, start + 600_000, "long", "end"),
              trade(start + 60_000, start + 180_000, "short", "signal"), trade(start + 240_000, start + 300_000, "long", "end")]
    fills = backtest_fills(trades, start)
    assert [(f["time"] - start, f["side"]) for f in fills] == [(60_000, "sell"), (180_000, "buy"), (240_000, "buy")]
    assert all(f["size"] == 0.5 for f in fills)
