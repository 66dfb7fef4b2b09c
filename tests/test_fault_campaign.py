"""Fault campaign: `kill -9` at a random step of the order path, under each simulator fault setting,
then a restart that reconciles; after every round the venue and the store must agree.

Each round draws (seeded RNG, so a run is reproducible) a fault setting of the loopback simulator, a
kill step and an order. The headless CLI places the order with `CASHUP_CRASH_AT=<step>`, which SIGKILLs
the process at that step (before the write-ahead row is committed, after it, after the venue answered
but before the answer is journalled, after the ack while fills are still arriving); the fault may also
stop the order earlier. The same order (same client id) is then placed again on a healthy venue: the
restart reconciles and must settle the first attempt, never send a second order. Checked after each
round, over everything placed so far:

- duplicates: at most one venue order per client id;
- lost fills: the store's fills are exactly the venue's trades (ids and sizes) for our client ids;
- positions: the store's saved position, and the sum of its fills, equal the venue's position;
- open orders: the store's open orders are the venue's.

Sizes: 2 lanes x 5 rounds in CI, 2 x 500 with `pytest --campaign` (CASHUP_FAULT_ROUNDS / _SEED override).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.enums import Side
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from tests.campaign import rounds
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.test_order_manager_crash import _run, sim_env

LANES = 2  # independent simulator + store pairs run side by side
# rounds per lane: 5 in CI (every fault setting once over the two lanes), 500 with --campaign;
# CASHUP_FAULT_ROUNDS=N sets it by hand (a mid-size run)
ROUNDS = int(os.environ.get("CASHUP_FAULT_ROUNDS", "0")) or rounds(5, 500)
SEED = int(os.environ.get("CASHUP_FAULT_SEED", "14"))
SYMBOL = "BTC_USDT"
pytestmark = pytest.mark.timeout(180 + 60 * ROUNDS)  # generous: a loaded CI box

# every fault the simulator offers on the order path (see adapters/sim/faults.py)
FAULTS: list[dict[str, Any]] = [
    {},
    {"ack_delay_ms": 400},
    {"lose_next_acks": 1},
    {"ack_loss_rate": 0.5},
    {"lose_next_requests": 1},
    {"http_5xx_next": 1},
    {"http_429_next": 1},
    {"http_5xx_rate": 0.3},
    {"http_429_rate": 0.3},
    {"drop_after_s": 1.0, "drop_mode": "abort"},
]
STEPS = ("before_commit", "after_commit", "after_send", "after_ack", None)
KINDS = ("market", "limit_rest", "limit_cross")


@dataclass
class Round:
    n: int
    fault: dict[str, Any]
    step: str | None
    kind: str
    side: str
    size: int

    @property
    def client_id(self) -> str:
        return f"t-fc{self.n}"


def plan(seed: int, lane: int, count: int) -> list[Round]:
    """Lane `lane`'s rounds. Faults are dealt from one seeded shuffle shared by the lanes, so every
    setting comes up once before any repeats; the kill step, order kind, side and size are drawn."""
    deck = random.Random(seed).sample(range(len(FAULTS)), len(FAULTS))
    rng = random.Random(seed * 1_000 + lane)
    out = []
    for i in range(count):
        g = i * LANES + lane
        out.append(Round(g, FAULTS[deck[g % len(deck)]], rng.choice(STEPS), rng.choice(KINDS),
                         rng.choice(("buy", "sell")), rng.randint(1, 5)))
    return out


def _order_args(r: Round, mark: Decimal) -> list[str]:
    args = ["orders", "place", SYMBOL, r.side, str(r.size), "--client-id", r.client_id, "--mode", "testnet", "--json"]
    if r.kind == "market":
        return [*args, "--type", "market"]
    away = Decimal("0.97") if (r.side == "buy") == (r.kind == "limit_rest") else Decimal("1.03")
    price = (mark * away).quantize(Decimal("0.1"))  # inside the 5% band; resting or crossing the book
    return [*args, "--type", "limit", "--price", str(price), "--tif", "gtc" if r.kind == "limit_rest" else "ioc"]


def check(sim: SimServer, db: Path, rounds_done: list[Round]) -> dict[str, int]:
    """Venue vs store over every round so far; returns the counts of each kind of mismatch (all must be 0)."""
    venue = sim.state.venue
    ours = {r.client_id for r in rounds_done}
    at_venue = [o for o in venue.list_orders(status="open", limit=10_000) + venue.list_orders(status="finished",
                                                                                                limit=10_000)
                if o.text in ours]
    dupes = sum(n - 1 for n in Counter(o.text for o in at_venue).values() if n > 1)
    store = open_store(str(db))
    try:
        j = StoreJournal(store, "testnet")
        fills = [f for f in j.load_fills() if f.client_id in ours]
        local_open = sorted(o.client_id for o in j.load_orders(open_only=True) if o.client_id in ours)
        saved = {p.symbol: p.size for p in j.load_positions()}
    finally:
        store.close()
    trades = [t for t in venue.my_trades(limit=100_000) if t.text in ours]
    local = Counter((f.trade_id, f.size) for f in fills)
    remote = Counter((str(t.id), abs(t.size)) for t in trades)
    lost = sum((remote - local).values())
    invented = sum((local - remote).values()) + (len(fills) - len({f.trade_id for f in fills}))
    venue_pos = venue.position(SYMBOL).size
    from_fills = sum((f.size if f.side is Side.BUY else -f.size) for f in fills)
    pos_mismatch = int(saved.get(SYMBOL, Decimal(0)) != venue_pos) + int(from_fills != venue_pos)
    venue_open = sorted(o.text for o in venue.list_orders(status="open", limit=10_000) if o.text in ours)
    return {"duplicates": dupes, "lost_fills": lost, "invented_fills": invented, "position_mismatches": pos_mismatch,
            "open_order_mismatches": int(local_open != venue_open)}


def _temporary(rc: int, err: str) -> bool:
    """The command failed on a temporary error (nothing refused, nothing settled yet): try again."""
    return rc == 1 and "temporary: the call can be retried" in err


async def lane(tmp_path: Path, n: int, count: int, seed: int) -> tuple[Counter[str], dict[str, int]]:
    db = tmp_path / f"lane{n}.sqlite"
    outcomes: Counter[str] = Counter()
    worst: dict[str, int] = {}
    async with SimServer([SYMBOL], seed=seed + n, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        env = sim_env(tmp_path, sim, CASHUP_DB=str(db), CASHUP_LOG_DIR=str(tmp_path / f"log{n}"),
                      CASHUP_GATE_REQUEST_TIMEOUT_S="2",  # the X-Gate-Exptime window: unknown outcomes settle soon
                      CASHUP_DATA_DIR=str(tmp_path / f"data{n}"))
        done: list[Round] = []
        for r in plan(seed, n, count):
            mark = sim.state.venue.mark_price(SYMBOL) or Decimal(26000)
            args = _order_args(r, mark)
            sim.faults.reset()
            for k, v in r.fault.items():
                sim.faults.set(k, v)
            t0 = asyncio.get_running_loop().time()
            rc, out, err = await _run(args, dict(env, **({"CASHUP_CRASH_AT": r.step} if r.step else {})))
            t1 = asyncio.get_running_loop().time()
            assert "Traceback" not in err, (r, err[-3000:])
            outcomes["killed" if rc == -9 else f"rc{rc}"] += 1
            sim.faults.reset()  # the restart meets a healthy venue: it reconciles, then retries the same intent
            rc, out, err = await _run(args, env)
            settle_by = asyncio.get_running_loop().time() + 60
            while (rc == 3 or _temporary(rc, err)) and asyncio.get_running_loop().time() < settle_by:
                # 3: the outcome is still unknown (a placement that may yet land is never declared lost
                # before its X-Gate-Exptime deadline): the same intent again, once it can be settled;
                # likewise a temporary failure (a REST call of the start-up timed out on a loaded box)
                await asyncio.sleep(0.5)
                rc, out, err = await _run(args, env)
            assert rc in (0, 1), (r, rc, out, err[-3000:])  # 1: the venue refused it (clear error, no traceback)
            assert "Traceback" not in err, (r, err[-3000:])
            done.append(r)
            if os.environ.get("CASHUP_FAULT_TRACE"):
                print(f"round {r.client_id} {r.fault} {r.step} {r.kind}: faulted run {t1 - t0:.1f}s, "
                      f"restart {asyncio.get_running_loop().time() - t1:.1f}s", flush=True)
            result = check(sim, db, done)
            for k, v in result.items():
                worst[k] = max(worst.get(k, 0), v)
            assert not any(result.values()), (r, result, rc, out[-2000:], err[-3000:])  # the restart's own words
    return outcomes, worst


async def test_fault_campaign_kill9_over_the_order_path(tmp_path: Path) -> None:
    count = ROUNDS
    results = await asyncio.gather(*(lane(tmp_path, n, count, SEED) for n in range(LANES)))
    outcomes = sum((o for o, _ in results), Counter())
    rounds_run = [r for n in range(LANES) for r in plan(SEED, n, count)]
    print(f"\nfault campaign (seed {SEED}): {LANES} lanes x {count} rounds = {LANES * count} rounds; "
          f"kill steps {dict(Counter(str(r.step) for r in rounds_run))}; fault settings "
          f"{len({str(r.fault) for r in rounds_run})}/{len(FAULTS)}; faulted run ended {dict(outcomes)}; "
          f"worst mismatch counts {[w for _, w in results]}")
    assert sum(outcomes.values()) == LANES * count
