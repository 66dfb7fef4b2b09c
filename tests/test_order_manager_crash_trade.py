"""kill -9 of a headless `cashup trade` in the middle of a strategy's order, then a restart of the same
strategy: the order is settled by lookup, the slot's position is rebuilt from its fills, and the strategy's
intent (be long 1x) produces exactly one order at the venue."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.server import SimServer
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.test_order_manager_crash import _run

pytestmark = pytest.mark.timeout(90)

STRATEGY = '''
from cashup_tui.engine.strategy import Strategy

class AlwaysLong(Strategy):
    """Wants to be long 1x on every tick."""
    vectorised = False

    def on_ticker(self, ctx, t):
        ctx.target(1.0)
'''


@pytest.mark.parametrize("step", ["after_commit", "after_send"])
async def test_kill9_during_a_strategy_order_then_restart(tmp_path: Path, step: str) -> None:
    strat = tmp_path / "always_long.py"
    strat.write_text(STRATEGY)
    async with SimServer(["BTC_USDT"], seed=4, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASHUP_")}
        env.update({
            "CASHUP_CONFIG_DIR": str(tmp_path / "cfg"), "CASHUP_LOG_DIR": str(tmp_path / "log"),
            "CASHUP_DATA_DIR": str(tmp_path / "data"), "CASHUP_DB": str(tmp_path / "t.sqlite"),
            "CASHUP_GATE_REST_URL": sim.rest_url, "CASHUP_GATE_WS_URL": sim.ws_url,
            "CASHUP_GATE_API_KEY": FAKE_API_KEY, "CASHUP_GATE_API_SECRET": FAKE_API_SECRET,
        })
        args = ["trade", "--mode", "testnet", "--strategy", str(strat), "--symbol", "BTC_USDT", "--warmup", "0",
                "--notional", "500", "--status-every", "0", "--name", "al"]
        rc, out, err = await _run([*args, "--duration", "20"], dict(env, CASHUP_CRASH_AT=step))
        assert rc == -9, (rc, out, err)
        rc, out, err = await _run([*args, "--duration", "3", "--json"], env)
        assert rc == 0, err
        venue = sim.state.venue
        mine = [o for o in venue.list_orders(status="finished", limit=1000) + venue.list_orders(limit=1000)
                if o.text.startswith("t-t")]
        pos = venue.position("BTC_USDT").size
        assert pos > 0
        # one intent -> one order: the first (filled before the crash, or never sent) plus at most one more
        assert len(mine) == 1, [(o.text, o.size, o.finish_as) for o in mine]
        import json

        summary = json.loads(out)
        assert summary["position"] == str(pos)
        # the strategy's own numbers (both processes' fills) are the venue's for this account
        st, trades = summary["strategy"], sim.state.venue.my_trades(limit=1000)
        assert st["fills"] == len(trades) and Decimal(st["fees"]) == sum(t.fee for t in trades)
        assert Decimal(st["realised_pnl"]) == sum(t.realised_pnl for t in trades)
        net = Decimal(st["realised_pnl"]) + Decimal(st["unrealised_pnl"]) - Decimal(st["fees"]) + Decimal(st["funding"])
        assert Decimal(st["net_pnl"]) == net
