"""Where the slowest websocket submit -> ack orders spend their time (issue 13's p99), by evidence.

The same order path as bench/orders.py (external `cashup sim serve`, SQLite synchronous=FULL, orders
paced --gap-ms apart), each order split into admit (risk gate + the write-ahead commit), venue (the
websocket round trip, the simulator's work included) and merge. For the slowest 2% it counts what
overlapped them: a cyclic-GC collection in this process or in the simulator's (gc.callbacks there,
same monotonic clock), SQLite's automatic WAL checkpoint (the database file written; in WAL mode
only a checkpoint writes it) and a stall of the disk itself (a probe thread's fdatasync beside the store
at the same moment; the probe adds a little disk load of its own).
Use --orders 2000 or more: a checkpoint lands once every ~200 orders, so 200 orders show one or two.

Run: .venv/bin/python bench/order_tail.py [--orders 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orders import ExternalSim, bench_submit, fsync_floor, node_for, pct

_SIM_WITH_GC_LOG = """
import gc, os, runpy, signal, sys, time
out = open(os.environ["BENCH_SIM_GC_LOG"], "w", buffering=1)
t = [0.0]
def cb(phase, info):
    if phase == "start":
        t[0] = time.perf_counter()
    else:
        out.write(f"{t[0]} {time.perf_counter()} {info['generation']}\\n")
gc.callbacks.append(cb)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
sys.argv = ["cashup_tui", *sys.argv[1:]]
runpy.run_module("cashup_tui", run_name="__main__", alter_sys=True)
"""


class GcLoggedSim(ExternalSim):
    """The simulator process with its collections logged (start, end, generation) to a file."""

    python_args = ("-c", _SIM_WITH_GC_LOG)


class GcLog:
    """This process's collections: (start, end, generation) on perf_counter's clock."""

    def __init__(self) -> None:
        self.events: list[tuple[float, float, int]] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.events.append((self._t0, time.perf_counter(), info["generation"]))


class DiskProbe:
    """A thread that appends 4 KB and fdatasyncs every `every_s` beside the store while the orders run:
    a stall of the disk itself (another process's writes) shows here at the same moment."""

    def __init__(self, directory: str, every_s: float) -> None:
        self.path = Path(directory) / "disk.probe"
        self.every_s = every_s
        self.events: list[tuple[float, float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while not self._stop.wait(self.every_s):
                os.write(fd, b"x" * 4096)
                t0 = time.perf_counter()
                os.fdatasync(fd)
                self.events.append((t0, time.perf_counter(), 0))
        finally:
            os.close(fd)

    def __enter__(self) -> DiskProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def db_written(db: Path) -> tuple[int, int]:
    st = db.stat()
    return st.st_size, st.st_mtime_ns


async def timed_orders(node: Any, n: int, gap_s: float, db: Path) -> list[dict[str, Any]]:
    om, ex = node.om, node.execution
    await asyncio.wait_for(ex.ws_orders.logged_in.wait(), 30)
    marks: dict[str, float] = {}
    admit, submit = om._admit, ex.submit

    def timed_admit(o: Any) -> Any:
        r = admit(o)
        marks["admitted"] = time.perf_counter()
        return r

    async def timed_submit(o: Any) -> Any:
        r = await submit(o)
        marks["acked"] = time.perf_counter()
        return r

    om._admit, ex.submit = timed_admit, timed_submit
    inst = node.instruments["BTC_USDT"]
    px = inst.round_price(node.cache.mark("BTC_USDT") * Decimal("0.97"), "down")
    rows: list[dict[str, Any]] = []
    try:
        for i in range(n):
            if i and i % 40 == 0:  # under the venue's 100 open orders per contract (not timed)
                await om.cancel_all(reason="bench batch")
            o = om.build("BTC_USDT", "buy", Decimal(1), price=px - inst.price_tick * (i % 50))
            await asyncio.sleep(gap_s)
            before = db_written(db)
            t0 = time.perf_counter()
            await om.submit(o)
            t1 = time.perf_counter()
            rows.append({"t0": t0, "admitted": marks["admitted"], "acked": marks["acked"], "t1": t1,
                         "checkpoint": db_written(db) != before})
    finally:
        del om._admit, ex.submit  # the class's methods again
        await om.cancel_all(reason="bench cleanup")
    return rows


def overlaps(events: list[tuple[float, float, int]], a: float, b: float) -> list[tuple[float, float, int]]:
    return [e for e in events if e[0] < b and e[1] > a]


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        os.environ["BENCH_SIM_GC_LOG"] = sim_log = str(Path(tmp) / "sim-gc.log")
        async with GcLoggedSim() as sim:
            node = await node_for(sim, str(db), "FULL")
            try:
                await bench_submit(node, 40, args.gap_ms / 1000, ws=True)  # warm-up
                ours = GcLog()
                gc.callbacks.append(ours)
                try:
                    with DiskProbe(tmp, args.probe_ms / 1000) as disk:
                        rows = await timed_orders(node, args.orders, args.gap_ms / 1000, db)
                finally:
                    gc.callbacks.remove(ours)
                floor = fsync_floor(tmp, args.orders)
            finally:
                await node.stop()
        sim_events = [(float(a), float(b), int(g)) for a, b, g in (ln.split() for ln in Path(sim_log).read_text().splitlines())]
    lat = [(r["t1"] - r["t0"]) * 1000 for r in rows]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.orders} websocket orders paced {args.gap_ms:g} ms apart, SQLite synchronous=FULL")
    print(f"submit -> ack: p50 {statistics.median(lat):.2f} ms  p99 {pct(lat, 99):.2f}  p99.9 {pct(lat, 99.9):.2f}  "
          f"max {max(lat):.2f}; reference, one fdatasync: p50 {floor['p50']:.2f} p99 {floor['p99']:.2f}")
    for name, a, b in (("admit (risk gate + write-ahead commit)", "t0", "admitted"),
                       ("venue (websocket round trip)", "admitted", "acked"), ("merge", "acked", "t1")):
        xs = [(r[b] - r[a]) * 1000 for r in rows]
        print(f"  {name}: p50 {statistics.median(xs):.2f} ms  p99 {pct(xs, 99):.2f}  max {max(xs):.2f}")
    t_first, t_last = rows[0]["t0"], rows[-1]["t1"]
    for who, evs in (("this process", ours.events), ("the simulator", sim_events)):
        evs = [e for e in evs if t_first <= e[0] <= t_last]
        dur = [(e[1] - e[0]) * 1000 for e in evs]
        gens = {g: sum(1 for e in evs if e[2] == g) for g in (0, 1, 2)}
        print(f"GC in {who} during the orders: {len(evs)} collections {gens}, longest {max(dur, default=0):.2f} ms")
    slow_at = pct(lat, 98)
    slow = [r for r in rows if (r["t1"] - r["t0"]) * 1000 >= slow_at]
    ckpt = [(r["t1"] - r["t0"]) * 1000 for r in rows if r["checkpoint"]]
    print(f"the {len(slow)} slowest orders (>= {slow_at:.2f} ms): with a collection here "
          f"{sum(1 for r in slow if overlaps(ours.events, r['t0'], r['t1']))}, in the simulator "
          f"{sum(1 for r in slow if overlaps(sim_events, r['admitted'], r['acked']))}, with a WAL checkpoint "
          f"{sum(1 for r in slow if r['checkpoint'])}; their admit share "
          f"{sum(r['admitted'] - r['t0'] for r in slow) / sum(r['t1'] - r['t0'] for r in slow):.0%}")
    stalls = [e for e in disk.events if (e[1] - e[0]) * 1000 >= args.stall_ms]
    dd = [(e[1] - e[0]) * 1000 for e in disk.events]
    print(f"disk probe beside the store ({len(dd)} fdatasyncs, one every {args.probe_ms:g} ms): p50 "
          f"{statistics.median(dd):.2f} ms  p99 {pct(dd, 99):.2f}  max {max(dd):.2f}; slow orders whose admit "
          f"overlapped a probe fdatasync of >= {args.stall_ms:g} ms: "
          f"{sum(1 for r in slow if overlaps(stalls, r['t0'], r['admitted']))} of {len(slow)}")
    if ckpt:
        print(f"orders with a WAL checkpoint: {len(ckpt)}, median {statistics.median(ckpt):.2f} ms, "
              f"max {max(ckpt):.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--gap-ms", type=float, default=12.0)
    ap.add_argument("--probe-ms", type=float, default=20.0, help="pause between the disk probe's fdatasyncs")
    ap.add_argument("--stall-ms", type=float, default=2.0, help="a probe fdatasync this long counts as a disk stall")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
