"""Simulator cost and throughput.

1. Generator: market steps/s per symbol in-process, and the CPU share of N symbols at 10 Hz
   (reference: the 100 ms tick budget of one core, measured in the same run).
2. Served demo: `cashup sim serve` as a subprocess with a client subscribed to every public channel
   of every symbol; the server process's CPU% over the window (from /proc), target "little CPU".
3. Blast: the simulator's throughput mode (admin action `blast`) into one aiohttp client in this
   process; msgs/s against a reference that pushes the same number of pre-encoded frames with plain
   aiohttp `send_str` from a server in this run (the ordinary per-frame path).

Run: .venv/bin/python bench/sim.py [--symbols 3] [--seconds 5] [--blast 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SYMS = ["BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT", "BNB_USDT", "ADA_USDT", "LTC_USDT", "LINK_USDT", "AVAX_USDT"]


def bench_generator(n_symbols: int, steps: int = 3000) -> dict[str, float]:
    from cashup_tui.adapters.sim.market import SyntheticMarket

    m = SyntheticMarket(SYMS[:n_symbols], seed=7, start_ms=1_700_000_000_000)
    t0 = time.process_time()
    for i in range(steps):
        m.step(1_700_000_000_000 + (i + 1) * 100)
    cpu = time.process_time() - t0
    per_step = cpu / steps  # all symbols
    return {"steps_per_s_per_symbol": steps * n_symbols / cpu, "cpu_pct_at_10hz": per_step * 10 * 100}


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_server(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "cashup_tui", "sim", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)  # fmt: skip
    env: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"export (CASHUP_GATE_\w+)=(\S+)", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
        if line.startswith("Ctrl-C"):
            return proc, env
    raise RuntimeError("simulator did not start")


async def _demo_client(ws_url: str, symbols: list[str], seconds: float) -> int:
    import aiohttp

    n = 0
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url, headers={"X-Gate-Size-Decimal": "1"}) as ws:
        t = int(time.time())
        for ch in ("futures.tickers", "futures.trades", "futures.book_ticker"):
            await ws.send_json({"time": t, "channel": ch, "event": "subscribe", "payload": symbols})
        for sym in symbols:
            await ws.send_json({"time": t, "channel": "futures.order_book_update", "event": "subscribe", "payload": [sym, "100ms", "20"]})
            await ws.send_json({"time": t, "channel": "futures.candlesticks", "event": "subscribe", "payload": ["1m", sym]})
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                await ws.receive(timeout=left)
                n += 1
            except TimeoutError:
                break
    return n


def bench_demo(n_symbols: int, seconds: float) -> dict[str, float]:
    syms = SYMS[:n_symbols]
    proc, env = _start_server("--symbols", ",".join(syms))
    try:
        time.sleep(0.5)
        c0, t0 = _proc_cpu_s(proc.pid), time.monotonic()
        frames = asyncio.run(_demo_client(env["CASHUP_GATE_WS_URL"], syms, seconds))
        c1, t1 = _proc_cpu_s(proc.pid), time.monotonic()
    finally:
        proc.send_signal(2)
        proc.communicate(timeout=10)
    return {"cpu_pct": (c1 - c0) / (t1 - t0) * 100, "frames_per_s": frames / (t1 - t0)}


async def _count_obu(ws_url: str, n: int, trigger) -> tuple[int, float]:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url, max_msg_size=0) as ws:
        await ws.send_json({"time": 0, "channel": "futures.order_book_update", "event": "subscribe", "payload": ["BTC_USDT", "20ms", "20"]})
        await ws.receive()  # ack
        task = asyncio.get_running_loop().run_in_executor(None, trigger)
        got = 0
        t0 = 0.0
        while got < n:
            msg = await ws.receive(timeout=30)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"stream ended after {got} frames: {msg.type}")
            if got == 0:
                t0 = time.perf_counter()
            got += 1
        secs = time.perf_counter() - t0
        await task
    return got, secs


def bench_blast(n: int) -> dict[str, float]:
    proc, env = _start_server("--symbols", "BTC_USDT")
    admin = env["CASHUP_GATE_REST_URL"].replace("/api/v4", "/_sim/faults")
    try:
        def trigger() -> None:
            time.sleep(0.2)
            req = urllib.request.Request(admin, data=json.dumps({"action": "blast", "symbol": "BTC_USDT", "count": n}).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
            urllib.request.urlopen(req, timeout=120).read()

        got, secs = asyncio.run(_count_obu(env["CASHUP_GATE_WS_URL"], n, trigger))
    finally:
        proc.send_signal(2)
        proc.communicate(timeout=10)
    return {"rate": got / secs, "secs": secs}


_REF_SERVER = r'''
import asyncio, sys, time
from aiohttp import web
N = int(sys.argv[1])
frame = ('{"time":1,"time_ms":1000,"channel":"futures.order_book_update","event":"update","result":{"t":1000,'
         '"s":"BTC_USDT","U":%d,"u":%d,"b":[{"p":"26696.1","s":523}],"a":[],"l":"20"}}')
async def handler(request):
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    await ws.receive()
    await ws.send_str('{"event":"subscribe"}')
    for i in range(N):
        await ws.send_str(frame % (i, i))
    await ws.receive()
    return ws
async def main():
    app = web.Application(); app.router.add_get("/ws", handler)
    r = web.AppRunner(app); await r.setup(); s = web.TCPSite(r, "127.0.0.1", 0); await s.start()
    print(s._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
'''


def bench_reference(n: int) -> dict[str, float]:
    proc = subprocess.Popen([sys.executable, "-c", _REF_SERVER, str(n)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        got, secs = asyncio.run(_count_obu(f"ws://127.0.0.1:{port}/ws", n, lambda: None))
    finally:
        proc.kill()
        proc.wait()
    return {"rate": got / secs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--blast", type=int, default=200_000)
    a = ap.parse_args()
    g = bench_generator(a.symbols)
    print(f"generator        {g['steps_per_s_per_symbol']:>10,.0f} steps/s/symbol; {a.symbols} symbols at 10 Hz use "
          f"{g['cpu_pct_at_10hz']:.2f}% of one core (budget 100% = the tick)")  # fmt: skip
    g10 = bench_generator(10, 1000)
    print(f"generator x10    {g10['cpu_pct_at_10hz']:.2f}% of one core for 10 symbols at 10 Hz")
    d = bench_demo(a.symbols, a.seconds)
    print(f"served demo      server process {d['cpu_pct']:.1f}% CPU for {a.symbols} symbols at 10 Hz, one client on every "
          f"public channel ({d['frames_per_s']:.0f} frames/s)   [target: little CPU]")  # fmt: skip
    b = bench_blast(a.blast)
    r = bench_reference(a.blast)
    print(f"blast            {b['rate']:>10,.0f} msg/s into one aiohttp client (reference: plain aiohttp send_str server "
          f"{r['rate']:,.0f} msg/s; ratio {b['rate'] / r['rate']:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
