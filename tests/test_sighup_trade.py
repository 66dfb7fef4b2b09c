"""Headless `cashup trade` and Gate's countdown_cancel_all dead-man switch, against the simulator:
SIGHUP (dropped SSH) and SIGTERM stop it cleanly but leave the switch armed, so the venue cancels the
open orders if nobody comes back; a clean end (--duration, Ctrl-C) disarms it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.server import SimServer
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.test_order_manager_crash import sim_env

pytestmark = pytest.mark.timeout(120)
IDLE = '''
from cashup_tui.engine.strategy import Strategy

class Idle(Strategy):
    """Never trades: the run only has to be up."""
    vectorised = False
'''


@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM", "SIGINT", "duration"])
async def test_trade_leaves_the_dead_man_armed_only_on_sighup_or_sigterm(tmp_path: Path, how: str) -> None:
    strat = tmp_path / "idle.py"
    strat.write_text(IDLE)
    async with SimServer(["BTC_USDT"], seed=8, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        env = sim_env(tmp_path, sim, CASHUP_DB=str(tmp_path / "t.sqlite"))
        duration = "1" if how == "duration" else "300"
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cashup_tui.cli.main", "trade", "--mode", "testnet", "--strategy", str(strat),
            "--symbol", "BTC_USDT", "--warmup", "0", "--status-every", "0", "--duration", duration, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert p.stdout is not None
        line = b""
        while b"running" not in line:  # "TESTNET: ... running on BTC_USDT": started, reconciled, armed
            line = await asyncio.wait_for(p.stdout.readline(), 60)
            assert line, "trade ended before it ran"
        assert sim.state.venue._countdowns, "armed while healthy"
        if how != "duration":
            p.send_signal(getattr(signal, how))
        _, err = await asyncio.wait_for(p.communicate(), 60)
        assert p.returncode == 0, err.decode()[-2000:]
        armed = bool(sim.state.venue._countdowns)
        assert armed is (how in ("SIGHUP", "SIGTERM")), (how, sim.state.venue._countdowns)
