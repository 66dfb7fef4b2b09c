"""A demo strategy resumed after a restart matches the venue: the restarted demo simulator starts flat, so
the slot does too (before, it rebuilt a long from the old session's journalled fills while the venue held
nothing, and traded on that phantom position)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.engine.strategy import load_strategy
from cashup_tui.runtime import build_node
from cashup_tui.service.strategies import resume_saved
from cashup_tui.settings import load_settings
from tests.notify_helpers import wait_for

D = Decimal
SYM = "BTC_USDT"
pytestmark = pytest.mark.timeout(90)

LONG_AT_START = '''
from cashup_tui.engine.strategy import Strategy

class LongAtStart(Strategy):
    """Goes long once, when started."""
    vectorised = False

    def on_start(self, ctx):
        ctx.target(1.0)
'''


async def test_a_resumed_demo_slot_is_flat_like_the_fresh_simulator(tmp_path: Path) -> None:
    path = tmp_path / "long_at_start.py"
    path.write_text(LONG_AT_START)
    cls = load_strategy(str(path))
    db = str(tmp_path / "demo.sqlite")
    node = build_node(load_settings(environ={}), "demo", db_url=db, symbols=[SYM])
    await node.start()
    try:
        slot = node.runner.add(cls(), SYM, "1m", name="las", order_notional=D(500), keep=True)
        assert await wait_for(lambda: slot.position != 0, 20, 0.05)
        assert node.sim.state.venue.position(SYM).size == slot.position
    finally:
        await node.stop()
    node2 = build_node(load_settings(environ={}), "demo", db_url=db, symbols=[SYM])
    await node2.start()
    try:
        assert await resume_saved(node2) == []
        slot2 = node2.runner.slots["las"]
        await node2.runner.idle()
        await node2.om.idle()
        # resumed flat, it goes long again (on_start), so slot and venue hold the same; from the old fills
        # it believed itself long already, sent nothing, and held a position the venue did not
        venue = node2.sim.state.venue
        assert await wait_for(lambda: venue.position(SYM).size != 0 and slot2.position == venue.position(SYM).size,
                              20, 0.05), (slot2.position, venue.position(SYM).size)
        assert slot2.fills == len(venue.my_trades(SYM, limit=1000))
    finally:
        await node2.stop()
