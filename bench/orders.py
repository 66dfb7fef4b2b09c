"""Order path figures against the loopback Gate simulator (issues 5 and 13).

1. submit -> ack latency, p50/p99, through the FULL engine path: risk gate -> write-ahead commit
   (SQLite, synchronous=FULL) -> the venue -> ack merged (its journal line commits at the next turn of
   the loop, after the caller has the ack: the write-ahead claim covers a crash there), side by side for Gate's
   websocket API (our refusing limiter at Gate's 100/s) and for ccxt REST (ccxt's rate limiter as
   configured for Gate, and off). Orders are paced --gap-ms apart (not timed) so the websocket path
   stays inside Gate's 100 requests/s. Targets: REST p99 <= 5 ms; websocket p99 <= 1.5 ms and
   <= 0.1x the REST p99 with the limiter on. References measured in the same run: the bare adapter
   call (no engine, no store), one bare write-ahead commit, and the floor under both: one fdatasync of
   this disk (in the store's directory) and a trivial websocket echo between two Python processes
   (aiohttp, paced like the orders).
2. fills persisted per second: `OrderManager.on_fill` (dedup + order row + fill + position +
   wallet, each committed) into SQLite FULL. Reference: bare `store.orders.record_fill` calls.
The simulator runs as `cashup sim serve` in its own process by default (--in-process-sim to share the loop).
Also: reconnect-to-trading-again time after an abrupt websocket drop (reliability.md §7 figure).
3. event-loop stall while the notifier's endpoint hangs during an order burst (target <= 100 ms),
   measured with a lag probe; the notification service is attached to the engine bus.

Run: .venv/bin/python bench/orders.py [--orders 200] [--fills 2000] [--sync FULL|NORMAL]
Where the websocket tail goes (GC, WAL checkpoints, disk stalls, per phase): bench/order_tail.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cashup_tui.adapters.sim.server import SimServer  # noqa: E402
from cashup_tui.domain.enums import Side  # noqa: E402
from cashup_tui.domain.orders import Fill  # noqa: E402
from cashup_tui.domain.secret import Secret  # noqa: E402
from cashup_tui.runtime import build_node  # noqa: E402
from cashup_tui.settings import Settings, replace_section  # noqa: E402

D = Decimal
TARGET_P99_MS = 5.0
TARGET_WS_P99_MS = 1.5
TARGET_WS_RATIO = 0.1
TARGET_STALL_MS = 100.0


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class ExternalSim:
    """`cashup sim serve` in its own process: the simulator's CPU is not charged to our event loop."""

    python_args: tuple[str, ...] = ("-m", "cashup_tui")  # how the interpreter is told to run the CLI

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.rest_url = self.ws_url = self.api_key = self.api_secret = self.admin_url = ""

    async def admin_action(self, action: str, args: dict) -> dict:
        import aiohttp

        async with aiohttp.ClientSession() as s, s.post(self.admin_url, json={"action": action, **args}) as r:
            return await r.json()

    async def __aenter__(self) -> ExternalSim:
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith("CASHUP_GATE")}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *self.python_args, "sim", "serve", "--port", "0", "--symbols", "BTC_USDT", "--seed", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
        assert self.proc.stdout is not None
        while not (self.rest_url and self.ws_url and self.api_key and self.api_secret):
            line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode()
            if not line:
                raise RuntimeError("cashup sim serve exited early")
            if line.strip().startswith("admin:"):
                self.admin_url = line.split("admin:", 1)[1].strip()
            k, _, v = line.strip().removeprefix("export ").partition("=")
            if k == "CASHUP_GATE_REST_URL":
                self.rest_url = v
            elif k == "CASHUP_GATE_WS_URL":
                self.ws_url = v
            elif k == "CASHUP_GATE_API_KEY":
                self.api_key = v
            elif k == "CASHUP_GATE_API_SECRET":
                self.api_secret = v
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


async def node_for(sim: object, db: str, sync: str):
    s = Settings()
    s = replace_section(s, "gate", rest_url=sim.rest_url, ws_url=sim.ws_url,  # type: ignore[attr-defined]
                        api_key=Secret(sim.api_key), api_secret=Secret(sim.api_secret))  # type: ignore[attr-defined]
    s = replace_section(s, "store", synchronous=sync)
    s = replace_section(s, "risk", max_orders_per_sec=1e6, max_open_orders=100_000)
    node = build_node(s, "testnet", db_url=db, symbols=["BTC_USDT"])
    await node.start()
    from dataclasses import replace

    node.risk.limits = replace(node.risk.limits, duplicate_window_ms=0, max_errors_per_min=0)
    return node


async def bench_submit(node, n: int, gap_s: float = 0.0, ws: bool = False) -> dict[str, float]:
    """`ws`: the order socket is used (it must be logged in); else REST (the socket is set aside)."""
    ex = node.execution
    wso = ex.ws_orders
    if ws:
        await asyncio.wait_for(wso.logged_in.wait(), 30)
    else:
        ex.ws_orders = None
    try:
        return await _bench_submit(node, n, gap_s, wso if ws else None)
    finally:
        ex.ws_orders = wso


async def _bench_submit(node, n: int, gap_s: float, wso) -> dict[str, float]:
    om = node.om
    mark = node.cache.mark("BTC_USDT")
    inst = node.instruments["BTC_USDT"]
    px = inst.round_price(mark * D("0.97"), "down")  # rests: the ack is the measured event
    lat: list[float] = []
    for i in range(n):
        if i and i % 40 == 0:  # stay under the venue's 100 open orders per contract (not timed)
            await om.cancel_all(reason="bench batch")
        o = om.build("BTC_USDT", "buy", D(1), price=px - inst.price_tick * (i % 50))
        if gap_s:
            await asyncio.sleep(gap_s)
        t0 = time.perf_counter()
        r = await om.submit(o)
        lat.append((time.perf_counter() - t0) * 1000)
        assert r.order.venue_order_id, r.order
    await om.cancel_all(reason="bench batch")
    # reference 1: the bare adapter
    raw: list[float] = []
    for i in range(n):
        if i and i % 40 == 0:
            await node.rest.cancel_all("BTC_USDT")
        o = om.build("BTC_USDT", "buy", D(1), price=px)
        if gap_s:
            await asyncio.sleep(gap_s)
        t0 = time.perf_counter()
        await (wso.place(o) if wso is not None else node.rest.create_order(o))
        raw.append((time.perf_counter() - t0) * 1000)
    await node.rest.cancel_all("BTC_USDT")
    # reference 2: one bare write-ahead commit (order row + journal line)
    commit: list[float] = []
    from cashup_tui.domain.orders import OrderEvent, OrderEventKind

    for _i in range(n):
        o = om.build("BTC_USDT", "buy", D(1), price=px)
        t0 = time.perf_counter()
        node.journal.save_order(o, event=OrderEvent(OrderEventKind.SUBMITTED, 0))
        commit.append((time.perf_counter() - t0) * 1000)
    await om.cancel_all(reason="bench cleanup")
    return {"p50": statistics.median(lat), "p99": pct(lat, 99), "max": max(lat),
            "ref_adapter_p50": statistics.median(raw), "ref_adapter_p99": pct(raw, 99),
            "ref_commit_p50": statistics.median(commit), "ref_commit_p99": pct(commit, 99)}


def bench_fills(node, n: int) -> dict[str, float]:
    om = node.om
    from msgspec.structs import replace as _replace

    from cashup_tui.domain.enums import OrderStatus

    per_order = 4  # realistic: a few partial fills per order
    fills = []
    for k in range(n // per_order):
        o = _replace(om.build("BTC_USDT", "buy", D(per_order), price=D(1)), status=OrderStatus.OPEN)
        node.cache.put_order(o)
        node.journal.save_order(o)
        fills += [Fill(f"bench-{time.time_ns()}-{k}-{i}", o.client_id, "BTC_USDT", Side.BUY, D(1), D(30000),
                       D("0.01"), ts_ms=k) for i in range(per_order)]
    n = len(fills)
    t0 = time.perf_counter()
    for f in fills:
        om.on_fill(f)
    engine_rate = n / (time.perf_counter() - t0)
    dup0 = time.perf_counter()
    dups = sum(1 for f in fills[: n // 4] if om.on_fill(f))
    dup_rate = (n // 4) / (time.perf_counter() - dup0)
    from cashup_tui.store.orders import record_fill

    raw = [Fill(f"raw-{time.time_ns()}-{i}", o.client_id, "BTC_USDT", Side.BUY, D(1), D(30000)) for i in range(n)]
    t0 = time.perf_counter()
    for f in raw:
        record_fill(node.store, f, "bench")
    raw_rate = n / (time.perf_counter() - t0)
    return {"engine_fills_per_s": engine_rate, "ref_record_fill_per_s": raw_rate, "duplicates_applied": dups,
            "duplicate_rejects_per_s": dup_rate}


def fsync_floor(directory: str, n: int) -> dict[str, float]:
    """fdatasync after a 4 KB append, as a WAL commit at synchronous=FULL does (ms)."""
    import os

    path = Path(directory) / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    xs: list[float] = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            xs.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50": statistics.median(xs), "p99": pct(xs, 99)}


_ECHO_SERVER = """
import asyncio
from aiohttp import WSMsgType, web
async def echo(request):
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    async for m in ws:
        if m.type == WSMsgType.TEXT:
            await ws.send_str(m.data)
    return ws
async def main():
    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def echo_floor(n: int, gap_s: float) -> dict[str, float]:
    """A trivial websocket round trip between two Python processes on loopback, paced like the orders (ms)."""
    import aiohttp

    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _ECHO_SERVER, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        port = int(await asyncio.wait_for(proc.stdout.readline(), 30))
        xs: list[float] = []
        async with aiohttp.ClientSession() as s, s.ws_connect(f"ws://127.0.0.1:{port}/", compress=0) as ws:
            for i in range(n + 10):
                await asyncio.sleep(gap_s)
                t0 = time.perf_counter()
                await ws.send_str(f'{{"req_id":"{i}"}}')
                await ws.receive()
                if i >= 10:
                    xs.append((time.perf_counter() - t0) * 1000)
    finally:
        proc.terminate()
        await proc.wait()
    return {"p50": statistics.median(xs), "p99": pct(xs, 99)}


async def bench_stall_reference(node, n: int) -> float:
    """The same order burst with no notifier attached: the stall our own path causes."""
    from tests.notify_helpers import LagProbe

    probe = LagProbe().start()
    for i in range(n):
        await node.om.submit(node.om.build("BTC_USDT", "buy" if i % 2 == 0 else "sell", D(1), order_type="market"))
    await asyncio.sleep(1.5)
    return await probe.stop() * 1000


async def bench_stall(node, n: int) -> dict[str, float]:
    from cashup_tui.adapters.notify import NotificationService
    from cashup_tui.adapters.notify_channels import parse_channel
    from tests.notify_helpers import LagProbe, hanging_server

    async with hanging_server() as (port, _hits):
        svc = NotificationService([parse_channel(f"json://127.0.0.1:{port}/hook", 1, timeout_s=1, connect_timeout_s=1)],
                                  rate_limit_per_min=100_000, queue_size=10_000, retries=1, backoff_s=0.1, timeout_s=1)
        await svc.start()
        off = svc.attach(node.bus)
        probe = LagProbe().start()
        t0 = time.perf_counter()
        done = 0
        for _i in range(n):
            r = await node.om.submit(node.om.build("BTC_USDT", "buy" if _i % 2 == 0 else "sell", D(1),
                                                   order_type="market"))
            done += r.order.status.value == "filled"
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(1.5)  # the hanging sends time out meanwhile
        worst = await probe.stop()
        off()
        await svc.stop(drain_s=0)
    return {"max_stall_ms": worst * 1000, "orders": n, "filled": done, "orders_per_s": n / elapsed,
            "notifications_queued": svc.stats["queued"], "failed": svc.stats["failed"]}


async def bench_reconnect(node, sim, rounds: int = 5) -> list[float]:
    """Abrupt drop of every WS connection -> the order manager reconciled and ready again (ms)."""
    out: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        await sim.admin_action("drop", {"mode": "abort"})
        while node.om.ready:  # until the drop is seen
            await asyncio.sleep(0.001)
            if time.perf_counter() - t0 > 10:
                break
        while not node.om.ready:
            await asyncio.sleep(0.001)
            if time.perf_counter() - t0 > 30:
                raise RuntimeError("not ready again after 30 s")
        out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.5)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sim_cm = ExternalSim() if args.external_sim else SimServer(["BTC_USDT"], seed=1, tick_ms=100)
        async with sim_cm as sim:
            node = await node_for(sim, str(Path(tmp) / "bench.sqlite"), args.sync)
            try:
                gap = args.gap_ms / 1000
                await bench_submit(node, 20, gap)  # warm-up (ccxt session, SQLite pages)
                await bench_submit(node, 20, gap, ws=True)
                out["submit_ws"] = await bench_submit(node, args.orders, gap, ws=True)
                out["fsync"] = fsync_floor(tmp, args.orders)
                out["echo"] = await echo_floor(args.orders, gap)
                out["submit"] = await bench_submit(node, args.orders, gap)
                node.rest.ccxt.enableRateLimit = False  # loopback: no venue limits to respect
                out["submit_unthrottled"] = await bench_submit(node, args.orders, gap)
                node.rest.ccxt.enableRateLimit = True
                out["fills"] = bench_fills(node, args.fills)
                await asyncio.sleep(1.0)  # the fill bench blocked the loop: let market data refresh
                out["reconnect_ms"] = await bench_reconnect(node, sim)
                out["stall_ref_ms"] = await bench_stall_reference(node, args.burst)
                out["stall"] = await bench_stall(node, args.burst)
            finally:
                await node.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--fills", type=int, default=2000)
    ap.add_argument("--burst", type=int, default=100, help="market orders sent while the notifier hangs")
    ap.add_argument("--gap-ms", type=float, default=12.0,
                    help="pause between timed orders (keeps the websocket path inside Gate's 100 requests/s)")
    ap.add_argument("--sync", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    ap.add_argument("--in-process-sim", dest="external_sim", action="store_false",
                    help="run the simulator in this process/loop (its CPU then counts against our latency)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    res = asyncio.run(main_async(args))
    f, st = res["fills"], res["stall"]  # type: ignore[index]
    import os

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"orders paced {args.gap_ms:g} ms apart (not timed)")
    rest_p99 = res["submit"]["p99"]  # type: ignore[index]
    for key, label in (("submit_ws", "websocket API (futures.order_place), our limiter at Gate's 100/s"),
                       ("submit", "REST, ccxt rate limiter ON (as configured for Gate)"),
                       ("submit_unthrottled", "REST, ccxt rate limiter OFF (loopback has no limits)")):
        s = res[key]  # type: ignore[index]
        target = TARGET_WS_P99_MS if key == "submit_ws" else TARGET_P99_MS
        ok = "OK" if s["p99"] <= target else "OVER TARGET"
        print(f"submit -> ack, full engine path, SQLite synchronous={args.sync}, {args.orders} orders, {label}:")
        print(f"  p50 {s['p50']:.2f} ms  p99 {s['p99']:.2f} ms  max {s['max']:.2f} ms  (target p99 <= {target} ms: {ok})")
        if key == "submit_ws":
            fs, ec = res["fsync"], res["echo"]  # type: ignore[index]
            print(f"  floor, measured in this run: one fdatasync p50 {fs['p50']:.2f} ms p99 {fs['p99']:.2f} ms; "
                  f"websocket echo between two Python processes p50 {ec['p50']:.2f} ms p99 {ec['p99']:.2f} ms")
            ratio = s["p99"] / rest_p99
            print(f"  p99 ratio websocket/REST (limiter on) {ratio:.3f}x (target <= {TARGET_WS_RATIO}x: "
                  f"{'OK' if ratio <= TARGET_WS_RATIO else 'OVER TARGET'})")
        print(f"  reference, bare adapter call: p50 {s['ref_adapter_p50']:.2f} ms p99 {s['ref_adapter_p99']:.2f} ms"
              f"; engine/adapter p50 ratio {s['p50'] / s['ref_adapter_p50']:.2f}x")
        print(f"  reference, one write-ahead commit: p50 {s['ref_commit_p50']:.2f} ms p99 {s['ref_commit_p99']:.2f} ms")
    print(f"fills persisted: {f['engine_fills_per_s']:.0f}/s through the order manager (reference bare record_fill "
          f"{f['ref_record_fill_per_s']:.0f}/s, ratio {f['engine_fills_per_s'] / f['ref_record_fill_per_s']:.2f}); "
          f"duplicates re-applied: {f['duplicates_applied']} (rejected at {f['duplicate_rejects_per_s']:.0f}/s)")
    rec = res["reconnect_ms"]  # type: ignore[index]
    print(f"reconnect -> reconciled -> trading again after an abrupt WS drop: median {statistics.median(rec):.0f} ms, "
          f"max {max(rec):.0f} ms over {len(rec)} drops (includes the client's reconnect backoff)")
    ok = "OK" if st["max_stall_ms"] <= TARGET_STALL_MS else "OVER TARGET"
    print(f"event-loop stall with a hanging notifier during {st['orders']} market orders ({st['orders_per_s']:.0f}/s, "
          f"{st['filled']} filled, {st['notifications_queued']} notifications queued): max {st['max_stall_ms']:.1f} ms "
          f"(target <= {TARGET_STALL_MS:.0f} ms: {ok}); reference, same burst without a notifier: "
          f"max {res['stall_ref_ms']:.1f} ms")


if __name__ == "__main__":
    main()
