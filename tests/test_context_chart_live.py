"""The 240x60 context chart (15m beside the 1m chart) follows the live minutes between its REST fetches:
the real demo workstation, built by the CLI's factory, on the seed-7 simulator with a standing clock (so
no fetch comes after the first one the test makes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui_support import SNAP_T0, _market_caught_up, settle_snapshot_demo, snapshot_app, wait_until


@pytest.mark.asyncio
async def test_context_chart_forming_bar_moves_with_the_live_minutes(tmp_path: Path) -> None:
    app = snapshot_app(tmp_path)
    async with app.run_test(size=(240, 60)) as pilot:
        await settle_snapshot_demo(pilot)  # every series fetched after its last step
        ws, node = app.node, app.node.node
        sim = node.sim
        before = ws.bars("BTC_USDT", "15m")[-1]
        for k in range(301, 901):  # one more minute of market, into the next 1m bar
            sim.step(SNAP_T0 + k * sim.tick_ms)
        await wait_until(pilot, lambda: _market_caught_up(node), what="the market frames")
        minutes = [b for b in ws.bars("BTC_USDT", "1m") if b.open_ms >= before.open_ms]
        after = ws.bars("BTC_USDT", "15m")[-1]
        assert len(minutes) >= 2
        assert (after.open_ms, after.open) == (before.open_ms, before.open)
        assert after.close == minutes[-1].close != before.close
        assert after.high == max(before.high, *(m.high for m in minutes))
        assert after.low == min(before.low, *(m.low for m in minutes))
        assert after.volume > before.volume and not after.closed
