"""Open-order scale (issue 13): how long `orders sync` / start-up, `orders cancel --all` and kill level 3
take with N open orders, against the loopback Gate simulator through the real client (ccxt REST).

The N orders rest at the simulator (100 per contract, Gate's per-contract cap) and the local journal (a
SQLite file) holds a matching OPEN row for each, as after a day of quoting. Each figure is one run of
the real command path: `Node.start(trade=False)` (connect, load, reconcile: what `orders sync` and
every trading command wait for), `OrderManager.cancel_all()` and `OrderManager.kill(3)`.
Targets with 1000 orders: sync/start-up <= 2 s, cancel-all and kill 3 <= 1 s.

Run: .venv/bin/python bench/open_orders.py [--orders 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cashup_tui.adapters.gateio.rest_translate import order_from_gate  # noqa: E402
from cashup_tui.adapters.sim.server import SimServer  # noqa: E402
from cashup_tui.domain.enums import OrderStatus  # noqa: E402
from cashup_tui.domain.orders import OrderEvent, OrderEventKind  # noqa: E402
from cashup_tui.domain.secret import Secret  # noqa: E402
from cashup_tui.runtime import build_node  # noqa: E402
from cashup_tui.settings import Settings, replace_section  # noqa: E402
from cashup_tui.store import open_store  # noqa: E402
from cashup_tui.store.journal import StoreJournal  # noqa: E402

SYMBOLS = ["BTC_USDT", "ETH_USDT", "XRP_USDT", "DOGE_USDT", "ADA_USDT", "LTC_USDT", "BNB_USDT", "LINK_USDT",
           "DOT_USDT", "AVAX_USDT"]
PER_CONTRACT = 100
TARGETS = {"sync (start-up ready)": 2.0, "cancel-all": 1.0, "kill 3": 1.0}


def seed(sim: SimServer, db: Path, n: int, tag: str) -> None:
    """n resting orders at the venue (ours: testnet prefix) and an OPEN journal row for each."""
    from msgspec import structs

    venue = sim.state.venue
    store = open_store(str(db))
    journal = StoreJournal(store, "testnet")
    try:
        for i in range(n):
            sym = SYMBOLS[i // PER_CONTRACT]
            px = sim.state.instruments[sym].round_price(sim.market.symbols[sym].mark_decimal() * 8 / 10, "down")
            v = venue.place(sym, 1, px, text=f"t-t{tag}-{i}")
            o = structs.replace(order_from_gate(v.to_gate()), status=OrderStatus.OPEN, strategy="bench")
            journal.save_order(o, event=OrderEvent(OrderEventKind.ACCEPTED, o.created_ms,
                                                   venue_order_id=o.venue_order_id))
    finally:
        store.close()


async def timed(label: str, sim: SimServer, db: Path, n: int, action: str) -> float:
    s = replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url,
                        api_key=Secret(sim.api_key), api_secret=Secret(sim.api_secret))
    seed(sim, db, n, label[:2])
    node = build_node(s, "testnet", db_url=str(db), symbols=SYMBOLS[:1])
    t0 = time.perf_counter()
    await node.start(trade=False)
    took = time.perf_counter() - t0
    try:
        seen = len(node.cache.open_orders())
        if action == "sync":
            note = f"{seen} open orders known locally"
        else:
            t0 = time.perf_counter()
            if action == "cancel":
                await node.om.cancel_all(None, reason="bench cancel all")
            else:
                await node.om.kill(3, "bench", source="bench")
            took = time.perf_counter() - t0
            left = len(sim.state.venue.list_orders(status="open", limit=100_000))
            note = f"{left} left open at the venue, {len(node.cache.open_orders())} open locally"
    finally:
        await node.stop()
    for o in sim.state.venue.list_orders(status="open", limit=100_000):  # a clean venue for the next figure
        sim.state.venue.cancel(o.id)
    target = TARGETS[label]
    print(f"{label:<22} {took:7.2f} s  (target <= {target:.0f} s: {'ok' if took <= target else 'MISSED'}; {note})")
    return took


async def main(n: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    if n > PER_CONTRACT * len(SYMBOLS):
        raise SystemExit(f"at most {PER_CONTRACT * len(SYMBOLS)} orders ({PER_CONTRACT} per contract)")
    async with SimServer(SYMBOLS, seed=7) as sim:
        print(f"{n} open orders, {PER_CONTRACT} per contract, simulator in-process on loopback")
        with tempfile.TemporaryDirectory() as tmp:
            for label, action in (("sync (start-up ready)", "sync"), ("cancel-all", "cancel"), ("kill 3", "kill")):
                await timed(label, sim, Path(tmp) / f"{action}.sqlite", n, action)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1000)
    asyncio.run(main(ap.parse_args().orders))
