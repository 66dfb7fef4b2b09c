"""Several processes on one store (issue 14), as users run them: real `cashup` processes, one real SQLite
file, the simulator over loopback. N `orders place` started together: every intent sent exactly once,
every printed id its own, venue == store. A second `cashup trade` is refused naming the holder and may
start once the holder is killed -9. A `cashup trade` survives another process holding the write lock."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

pytestmark = pytest.mark.timeout(300)
CLI = [sys.executable, "-m", "cashup_tui.cli.main"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASHUP_")}
    env.update({"CASHUP_CONFIG_DIR": str(tmp_path / "cfg"), "CASHUP_LOG_DIR": str(tmp_path / "log"),
                "CASHUP_DATA_DIR": str(tmp_path / "data"), "CASHUP_DB": str(tmp_path / "shared.sqlite")}, **extra)
    return env


async def _run(args: list[str], env: dict[str, str], timeout: float = 240) -> tuple[int, str, str]:
    p = await asyncio.create_subprocess_exec(*CLI, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), timeout)
    return p.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize("n", [4, 16])
async def test_concurrent_places_on_one_store_each_send_their_own_order_once(tmp_path: Path, n: int) -> None:
    sim = SimServer(["BTC_USDT"], seed=5, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
    await sim.start()
    try:
        env = _env(tmp_path, CASHUP_GATE_REST_URL=sim.rest_url, CASHUP_GATE_WS_URL=sim.ws_url,
                   CASHUP_GATE_API_KEY=FAKE_API_KEY, CASHUP_GATE_API_SECRET=FAKE_API_SECRET)
        rc, _, err = await _run(["orders", "list", "--mode", "testnet"], env)  # create the store once
        assert rc == 0, err
        intents = [("buy" if i % 2 == 0 else "sell", str(i + 1)) for i in range(n)]
        runs = await asyncio.gather(*(
            _run(["orders", "place", "BTC_USDT", side, size, "--type", "market", "--mode", "testnet", "--json"], env)
            for side, size in intents))
        printed = []
        for (side, size), (rc, out, err) in zip(intents, runs, strict=True):
            assert rc == 0, (side, size, out, err)
            res = json.loads(out)
            o = res["order"]
            assert not res["existed"], res  # nobody else's order printed as ours
            assert (o["side"], o["size"], o["status"], o["filled"]) == (side, size, "filled", size), o
            printed.append(o["client_id"])
        assert len(set(printed)) == n  # no duplicate ids
        venue = sim.state.venue
        at_venue = venue.list_orders(status="open", limit=1000) + venue.list_orders(status="finished", limit=1000)
        assert sorted(o.text for o in at_venue) == sorted(printed)  # every intent sent exactly once
        by_text = {o.text: o for o in at_venue}
        for cid, (side, size) in zip(printed, intents, strict=True):
            assert abs(by_text[cid].size) == int(size) and (by_text[cid].size > 0) == (side == "buy")
        store = open_store(env["CASHUP_DB"])
        try:
            j = StoreJournal(store, "testnet")
            rows = {o.client_id: o for o in j.load_orders()}
            assert sorted(rows) == sorted(printed)
            for cid, (_side, size) in zip(printed, intents, strict=True):  # no row overwritten by a stale writer
                assert (rows[cid].status.value, rows[cid].filled) == ("filled", Decimal(size)), rows[cid]
            fills = j.load_fills()
            trades = venue.my_trades(limit=1000)
            assert sorted(f.trade_id for f in fills) == sorted(str(t.id) for t in trades)
        finally:
            store.close()
        rc, out, err = await _run(["positions", "--mode", "testnet", "--sync", "--json"], env)
        assert rc == 0, err
        pos = {p["symbol"]: p["size"] for p in json.loads(out)["positions"]}
        assert pos.get("BTC_USDT", "0") == str(venue.position("BTC_USDT").size)
    finally:
        await sim.stop()


STRATEGY = (
    "from cashup_tui.engine.strategy import Strategy\n\n"
    "class Flip(Strategy):\n"
    "    \"\"\"Long, then short, then long: an order on every other tick (many store writes).\"\"\"\n"
    "    vectorised = False\n\n"
    "    def on_start(self, ctx):\n"
    "        self.n = 0\n\n"
    "    def on_ticker(self, ctx, t):\n"
    "        self.n += 1\n"
    "        ctx.target(1.0 if (self.n // 2) % 2 == 0 else -1.0)\n"
)
BROKEN = (
    "from cashup_tui.engine.strategy import Strategy\n\n"
    "class Broken(Strategy):\n"
    "    \"\"\"Fails on its first tick.\"\"\"\n"
    "    vectorised = False\n\n"
    "    def on_ticker(self, ctx, t):\n"
    "        raise ZeroDivisionError('the strategy divided by zero')\n"
)


async def _wait_for_line(stream: asyncio.StreamReader, needle: str, timeout: float = 120) -> list[str]:
    seen: list[str] = []

    async def read() -> list[str]:
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"stream ended before {needle!r}: {seen}")
            seen.append(line)
            if needle in line:
                return seen

    return await asyncio.wait_for(read(), timeout)


async def test_second_trade_node_is_refused_naming_the_holder_and_kill9_frees_the_lock(tmp_path: Path) -> None:
    strat = tmp_path / "flip.py"
    strat.write_text(STRATEGY)
    env = _env(tmp_path)
    trade = ["trade", "--strategy", str(strat), "--symbol", "BTC_USDT", "--mode", "demo", "--warmup", "0",
             "--status-every", "0"]
    first = await asyncio.create_subprocess_exec(*CLI, *trade, env=env, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    try:
        assert first.stdout is not None
        await _wait_for_line(first.stdout, "running on BTC_USDT")
        rc, out, err = await _run([*trade, "--duration", "1"], env)
        assert rc == 1, (out, err)
        assert "another trading node already runs on the demo store" in err
        assert f"pid {first.pid}" in err and "cashup trade" in err and "Traceback" not in err
        # short order commands are safe next to a node (unique ids + compare-and-set): not refused
        rc, out, err = await _run(["orders", "list", "--mode", "demo"], env)
        assert rc == 0, err
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 60)
        rc, out, err = await _run([*trade, "--duration", "1", "--json"], env)
        assert rc == 0, (out, err)
        assert json.loads(out)["strategy"]["error"] == ""
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()


async def test_trade_survives_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    """Another process holds the store's write lock (BEGIN IMMEDIATE) for longer than SQLite's busy timeout
    while `cashup trade` places orders: the strategy keeps running, the status line says the store was
    slow, nothing is lost, no raw SQL reaches the user, exit 0."""
    strat = tmp_path / "flip.py"
    strat.write_text(STRATEGY)
    env = _env(tmp_path)
    log = tmp_path / "log" / "cashup.log"
    trade = await asyncio.create_subprocess_exec(
        *CLI, "trade", "--strategy", str(strat), "--symbol", "BTC_USDT", "--mode", "demo", "--warmup", "0",
        "--status-every", "0.2", "--notional", "300", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    holder = None
    try:
        assert trade.stdout is not None
        lines = await _wait_for_line(trade.stdout, "orders 1")  # trading: orders are being written
        holder = sqlite3.connect(env["CASHUP_DB"], isolation_level=None, timeout=60)
        holder.execute("BEGIN IMMEDIATE")

        async def journal_waited() -> None:  # the trade process met the lock past its busy timeout
            while "store busy" not in (log.read_text() if log.exists() else ""):
                await asyncio.sleep(0.05)

        await asyncio.wait_for(journal_waited(), 120)
        holder.execute("COMMIT")
        lines += await _wait_for_line(trade.stdout, "store slow: waited")
        lines += await _wait_for_line(trade.stdout, "running bars")  # a later status line: still running
        trade.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(trade.communicate(), 120)
        assert trade.returncode == 0, (lines, out, err)
        text = "".join(lines) + out.decode() + err.decode()
        assert "database is locked" not in text and "INSERT" not in text and "failed" not in text, text
        assert "strategy error" not in text
    finally:
        if holder is not None:
            holder.close()
        if trade.returncode is None:
            trade.kill()
            await trade.wait()
    store = open_store(env["CASHUP_DB"])
    try:  # nothing lost: every order the strategy made was journalled and settled
        orders = StoreJournal(store, "demo").load_orders()
        assert orders and all(o.status.value not in ("submitting", "unknown") for o in orders), orders
    finally:
        store.close()


async def test_a_failed_strategy_makes_trade_exit_non_zero(tmp_path: Path) -> None:
    strat = tmp_path / "broken.py"
    strat.write_text(BROKEN)
    rc, out, err = await _run(["trade", "--strategy", str(strat), "--symbol", "BTC_USDT", "--mode", "demo",
                               "--warmup", "0", "--status-every", "0", "--duration", "3"], _env(tmp_path))
    assert rc == 1, (out, err)
    assert "strategy" in err and "failed" in err and "divided by zero" in err and "Traceback" not in err
