"""`cashup orders place` of an order that fills at once, against a venue whose private stream (fills,
orders, positions) runs late: when the command returns, the store already holds the venue's fills (the
ack's filled size is settled over REST, not left to the stream) and the position they make. The real CLI
in its own process, against the loopback simulator (`private_delay_ms`)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.server import SimServer
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.test_order_manager_crash import _run, sim_env


@pytest.mark.asyncio
async def test_fills_are_in_the_store_when_place_returns_though_the_stream_is_late(tmp_path: Path) -> None:
    async with SimServer(["BTC_USDT"], seed=5, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        env = sim_env(tmp_path, sim)
        sim.faults.set("private_delay_ms", 30_000)  # longer than the command runs: no frame comes in time
        for _ in range(200):  # the first ticks give the venue its mark price
            if (mark := sim.state.venue.mark_price("BTC_USDT")) is not None:
                break
            await asyncio.sleep(0.05)
        assert mark is not None, "the simulator never priced BTC_USDT"
        cross = str((mark * Decimal("1.02")).quantize(Decimal("0.1")))
        placed = [("t-late1", ["--type", "market"]), ("t-late2", ["--type", "limit", "--price", cross, "--tif", "ioc"])]
        for cid, how in placed:
            rc, out, err = await _run(["orders", "place", "BTC_USDT", "buy", "3", "--client-id", cid, "--mode", "testnet",
                                       "--json", *how], env)
            assert rc == 0, (rc, out, err[-2000:])
            assert json.loads(out)["order"]["status"] == "filled"
        rc, out, err = await _run(["fills", "--mode", "testnet", "--json"], env)  # the journal only, no network
        assert rc == 0, err[-2000:]
        ours = {cid for cid, _ in placed}
        local = sorted((f["trade_id"], f["size"]) for f in json.loads(out)["fills"] if f["client_id"] in ours)
        venue = sorted((str(t.id), str(abs(t.size))) for t in sim.state.venue.my_trades(limit=1000) if t.text in ours)
        assert local == venue and len(venue) >= 2
        rc, out, err = await _run(["positions", "--mode", "testnet", "--json"], env)
        assert rc == 0, err[-2000:]
        sizes = {p["symbol"]: Decimal(p["size"]) for p in json.loads(out)["positions"]}
        assert sizes.get("BTC_USDT") == sim.state.venue.position("BTC_USDT").size == 6
