"""The status bar's stream rows come from the ports (`Node.stream_health`), not from adapter attributes
guessed by name: a testnet node against the loopback simulator shows its private stream ('priv')."""

from __future__ import annotations

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.runtime import build_node
from cashup_tui.settings import Secret, Settings, replace_section
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.test_runtime_faults import _until

pytestmark = pytest.mark.timeout(60)


async def test_testnet_status_shows_the_private_stream() -> None:
    from cashup_tui.service.workstation import EngineWorkstation

    sim = SimServer(["BTC_USDT"], seed=3, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
    await sim.start()
    s = replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url,
                        api_key=Secret(FAKE_API_KEY), api_secret=Secret(FAKE_API_SECRET))
    node = build_node(s, "testnet", symbols=["BTC_USDT"])
    await node.start()
    try:
        assert node.execution is not None
        assert await _until(lambda: node.execution is not None and node.execution.connected, timeout=15.0)
        streams = {h.name: h for h in node.stream_health()}
        assert set(streams) == {"mkt", "priv"}
        assert streams["priv"].connected and streams["mkt"].connected
        header = EngineWorkstation(node).status()
        assert [h.name for h in header.streams] == ["mkt", "priv"]
    finally:
        await node.stop()
        await sim.stop()
    assert node.stream_health()[-1].connected is False  # stopped: the private stream is down


async def test_paper_and_demo_declare_their_capabilities_without_probing() -> None:
    """Every Execution says whether it has a dead-man switch and a stream (paper: neither)."""
    from cashup_tui.adapters.sim.execution import VenueExecution

    ex = VenueExecution.with_venue({})
    await ex.start()
    assert ex.connected and not ex.has_dead_man and ex.health(0) is None
    assert await ex.dead_man(30) == 0
    await ex.stop()


async def test_the_strategies_view_shows_each_strategys_own_net_pnl(tmp_path) -> None:
    """The Strategies pane's PnL is the slot's realised + unrealised - fees + funding (it was minus fees only)."""
    from decimal import Decimal

    from cashup_tui.engine.strategy import load_strategy
    from cashup_tui.service.workstation import EngineWorkstation

    strat = tmp_path / "always_long.py"
    strat.write_text("from cashup_tui.engine.strategy import Strategy\n\n"
                     "class AlwaysLong(Strategy):\n    \"\"\"Long on every tick.\"\"\"\n    vectorised = False\n\n"
                     "    def on_ticker(self, ctx, t):\n        ctx.target(1.0)\n")
    node = build_node(Settings(), "demo", symbols=["BTC_USDT"])
    await node.start()
    try:
        assert node.runner is not None
        slot = node.runner.add(load_strategy(str(strat))(), "BTC_USDT", name="al", order_notional=Decimal(500), start=True)
        assert await _until(lambda: slot.position > 0 and not slot.pending, timeout=20.0)
        await node.runner.idle()
        row = next(v for v in EngineWorkstation(node).strategies() if v.id == "al")
        pnl = node.runner.pnl("al")
        assert pnl["fees"] > 0 and row.pnl == pnl["net_pnl"]
        assert pnl["net_pnl"] == pnl["realised_pnl"] + pnl["unrealised_pnl"] - pnl["fees"] + pnl["funding"]
    finally:
        await node.stop()
