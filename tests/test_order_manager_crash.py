"""kill -9 of the headless CLI at every step of a submit, then a restart, against the loopback simulator:
never a second order for one intent, no lost fill, local position == venue position, no secret anywhere."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

pytestmark = pytest.mark.timeout(150)  # four CLI crashes + reruns + the never-reached wait, on a shared CI box
STEPS = ("before_commit", "after_commit", "after_send", "after_ack")
CLI = [sys.executable, "-m", "cashup_tui.cli.main"]


async def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    p = await asyncio.create_subprocess_exec(*CLI, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 60)
    return p.returncode or 0, out.decode(), err.decode()


def sim_env(tmp_path: Path, sim: SimServer, **extra: str) -> dict[str, str]:
    """Environment for a CLI process against `sim` in testnet mode (made-up keys, dirs under tmp_path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASHUP_")}
    env.update({
        "CASHUP_CONFIG_DIR": str(tmp_path / "cfg"), "CASHUP_LOG_DIR": str(tmp_path / "log"),
        "CASHUP_DATA_DIR": str(tmp_path / "data"), "CASHUP_GATE_REST_URL": sim.rest_url,
        "CASHUP_GATE_WS_URL": sim.ws_url, "CASHUP_GATE_API_KEY": FAKE_API_KEY,
        "CASHUP_GATE_API_SECRET": FAKE_API_SECRET,
    })
    env.update(extra)
    return env


def _venue_orders(venue, text: str) -> list:
    rows = venue.list_orders(status="open", limit=1000) + venue.list_orders(status="finished", limit=1000)
    return [o for o in rows if o.text == text]


async def test_kill9_at_every_submit_step_then_restart(tmp_path: Path) -> None:
    sim = SimServer(["BTC_USDT"], seed=3, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
    await sim.start()
    try:
        base = sim_env(tmp_path, sim, CASHUP_GATE_REQUEST_TIMEOUT_S="2")  # also each placement's X-Gate-Exptime window
        envs = {}
        for step in STEPS:
            env = dict(base, CASHUP_DB=str(tmp_path / f"{step}.sqlite"))
            envs[step] = env

        def place(step: str, crash: bool):
            env = dict(envs[step], **({"CASHUP_CRASH_AT": step} if crash else {}))
            return _run(["orders", "place", "BTC_USDT", "buy", "7", "--type", "market", "--client-id",
                         f"t-{step.replace('_', '')}", "--mode", "testnet", "--json"], env)

        crashed = await asyncio.gather(*(place(s, True) for s in STEPS))
        for step, (rc, out, err) in zip(STEPS, crashed, strict=True):
            assert rc == -9, (step, rc, out, err)
        reruns = await asyncio.gather(*(place(s, False) for s in STEPS))
        outputs = [out + err for _, out, err in crashed + reruns]
        venue = sim.state.venue
        for step, (rc, out, err) in zip(STEPS, reruns, strict=True):
            res = json.loads(out)
            # exit 3: the outcome is still unknown (after_commit before its X-Gate-Exptime deadline)
            unknown = res["order"]["status"] == "unconfirmed"
            assert rc == (3 if unknown else 0) or (step == "after_commit" and rc == 1 and not unknown), (step, rc, out, err)
            text = f"t-{step.replace('_', '')}"
            at_venue = _venue_orders(venue, text)
            assert len(at_venue) <= 1, (step, at_venue)  # never a second order for one intent
            if step == "after_commit":
                # the row was written but nothing left the process: never re-sent; UNCONFIRMED until a
                # request sent then could no longer land (X-Gate-Exptime + margin), then never reached
                assert res["existed"] and res["order"]["status"] in ("unconfirmed", "rejected")
                assert not at_venue
            else:
                assert len(at_venue) == 1 and res["order"]["status"] == "filled", (step, res)
                assert res["existed"] is (step != "before_commit")
            store = open_store(envs[step]["CASHUP_DB"])
            try:
                j = StoreJournal(store, "testnet")
                fills = [f for f in j.load_fills() if f.client_id == text]
                venue_trades = [t for t in venue.my_trades(limit=1000) if t.text == text]
                assert sorted(f.trade_id for f in fills) == sorted(str(t.id) for t in venue_trades)
                assert sum(f.size for f in fills) == sum(abs(t.size) for t in venue_trades)
            finally:
                store.close()
        async def never_reached() -> bool:
            rc, out, err = await _run(["orders", "sync", "--mode", "testnet", "--json"], envs["after_commit"])
            assert rc == 0, err
            rc, out, err = await _run(["orders", "list", "--all", "--mode", "testnet", "--json"], envs["after_commit"])
            row = next(o for o in json.loads(out) if o["client_id"] == "t-aftercommit")
            return row["status"] == "rejected" and row["reason"] == "never reached the venue"

        for _ in range(30):  # (each round is two CLI runs; the deadline is seconds away)
            if await never_reached():
                break
        else:
            raise AssertionError("t-aftercommit was never settled as never reached")
        assert not _venue_orders(venue, "t-aftercommit")
        # local positions equal the venue's: one more sync on a DB that saw every filled intent
        rc, out, err = await _run(["positions", "--mode", "testnet", "--sync", "--json"], envs["after_ack"])
        outputs.append(out + err)
        assert rc == 0, err
        pos = {p["symbol"]: p["size"] for p in json.loads(out)["positions"]}
        assert pos.get("BTC_USDT") == str(venue.position("BTC_USDT").size)
        # no secret in captured output, logs or databases
        blobs = outputs + [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
        for secret in (FAKE_API_SECRET, FAKE_API_KEY):
            assert not [b[:200] for b in blobs if secret in b]
    finally:
        await sim.stop()


@pytest.mark.parametrize(("step", "kept"), [("after_ack", ("submitting", ["submitted"])),
                                            ("after_ack_commit", ("open", ["submitted", "accepted"]))])
async def test_kill9_between_a_resting_orders_answer_and_its_ack_commit(tmp_path: Path, step: str,
                                                                        kept: tuple[str, list[str]]) -> None:
    """The ack of a resting order is answered before it is committed: a kill -9 in between leaves the
    write-ahead claim (SUBMITTING), one after the commit the accepted order; either way the restart
    settles the same single venue order, never a second one."""
    from decimal import Decimal

    async with SimServer(["BTC_USDT"], seed=5, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        env = sim_env(tmp_path, sim, CASHUP_DB=str(tmp_path / "t.sqlite"), CASHUP_GATE_REQUEST_TIMEOUT_S="2")
        price = (sim.market.mark_price("BTC_USDT") * Decimal("0.98")).quantize(Decimal("0.1"))  # rests, inside the band
        args = ["orders", "place", "BTC_USDT", "buy", "2", "--type", "limit", "--price", str(price), "--tif", "gtc",
                "--client-id", "t-rest1", "--mode", "testnet", "--json"]
        rc, out, err = await _run(args, dict(env, CASHUP_CRASH_AT=step))
        assert rc == -9, (rc, out, err)
        store = open_store(env["CASHUP_DB"])
        try:
            j = StoreJournal(store, "testnet")
            row = j.get_order("t-rest1")
            assert row is not None and (row.status.value, [e.kind.value for _, e in j.events("t-rest1")]) == kept
        finally:
            store.close()
        rc, out, err = await _run(args, env)
        assert rc == 0, (rc, out, err)
        res = json.loads(out)
        assert res["existed"] and res["order"]["status"] == "open", res
        assert len(_venue_orders(sim.state.venue, "t-rest1")) == 1
