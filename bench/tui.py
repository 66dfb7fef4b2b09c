"""Workstation benchmark: CPU share under a ~2,000 msg/s feed, key-press-to-screen latency, first paint.

What it does (issue 6 targets in brackets):
1. Feed: `cashup sim serve` in a SEPARATE process (so generating the feed is not counted) with many
   symbols and a short tick, giving a few thousand Gate websocket frames per second.
2. Reference: the same node (paper mode on that feed) plus the workstation bridge, no app, for the same
   window: the CPU the engine and websocket client need anyway.
3. App: CashupApp on the same kind of node, driven by Textual's test harness but with a driver that
   RENDERS every frame (a headless driver skips rendering, which would flatter the figure) and records
   the bytes it would write to the terminal. CPU share = process_time / wall over a steady window
   [<= 25% of a core]; the app's own cost = app - reference.
4. Latency: keys 1..5 (tab switches) are posted like a terminal would; the time until a written frame
   contains the new pane's text is the key-press-to-screen latency [p99 <= 100 ms].
5. First paint: the real `cashup` command on a pseudo-terminal (100x30, xterm-256color, isolated dirs):
   time to the first frame showing "DEMO" [<= 1.0 s], to the first frame of anything, and to prices;
   reference: `python -c pass` spawned the same way.

Run: .venv/bin/python bench/tui.py [--seconds 8] [--symbols 10] [--tick-ms 10] [--presses 60]
Prints figures and one JSON line. Loopback only; made-up keys; nothing is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import random
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SYMBOLS = ["BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT", "BNB_USDT", "ADA_USDT", "LTC_USDT",
           "LINK_USDT", "AVAX_USDT", "DOT_USDT"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[PX^_].*?\x1b\\|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")
# text that is on screen only when that tab is showing
TAB_MARKERS = {"1": "taker buy/sell", "2": "[a] amend", "3": "[r] reduce 50%", "4": "[p] pause",
               "5": "Stress tests"}
PRICE = re.compile(r"BTC_USDT\s+[\d,]+\.\d")


def _isolated_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("CASHUP_CONFIG", "CASHUP_DB", "CASHUP_GATE_API_KEY", "CASHUP_GATE_API_SECRET"):
        env.pop(var, None)
    env.update(CASHUP_CONFIG_DIR=str(base / "config"), CASHUP_DATA_DIR=str(base / "data"),
               CASHUP_LOG_DIR=str(base / "log"), TERM="xterm-256color", COLORTERM="truecolor")
    return env


# -- the feed ------------------------------------------------------------------------------------------
def start_feed(symbols: list[str], tick_ms: int, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    cmd = [sys.executable, "-m", "cashup_tui", "sim", "serve", "--port", "0", "--tick-ms", str(tick_ms),
           "--symbols", ",".join(symbols)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    ws = rest = ""
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline and not (ws and rest):
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"the simulator exited: {proc.stderr.read() if proc.stderr else ''}")
        if line.startswith("export CASHUP_GATE_WS_URL="):
            ws = line.split("=", 1)[1].strip()
        elif line.startswith("export CASHUP_GATE_REST_URL="):
            rest = line.split("=", 1)[1].strip()
    return proc, rest, ws


def _settings(rest: str, ws: str) -> Any:
    from cashup_tui.settings import load_settings

    return load_settings(environ={"CASHUP_GATE_REST_URL": rest, "CASHUP_GATE_WS_URL": ws})


def _node(rest: str, ws: str, symbols: list[str], db: Path) -> Any:
    from cashup_tui.runtime import build_node

    return build_node(_settings(rest, ws), "paper", db_url=str(db), symbols=symbols)


class Window:
    """CPU seconds of this process and frames received over a wall-clock window."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self.t0, self.c0, self.m0 = time.perf_counter(), time.process_time(), stats.msgs

    def result(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        return {"wall_s": round(wall, 2), "cpu_share": round((time.process_time() - self.c0) / wall, 4),
                "msgs_per_s": round((self.stats.msgs - self.m0) / wall, 1)}


async def measure_reference(rest: str, ws: str, symbols: list[str], seconds: float, tmp: Path) -> dict[str, float]:
    from cashup_tui.service.workstation import EngineWorkstation

    bridge = EngineWorkstation(_node(rest, ws, symbols, tmp / "ref.sqlite"))
    await bridge.start()
    try:
        await asyncio.sleep(2.0)  # warm-up: books synced, history fetched
        w = Window(bridge.node.market.client.stats)
        await asyncio.sleep(seconds)
        return w.result()
    finally:
        await bridge.stop()


def _frame_driver(frames: list[tuple[float, str]]) -> type:
    from textual.drivers.headless_driver import HeadlessDriver

    class FrameDriver(HeadlessDriver):
        """Headless input, but the app renders every update as for a terminal; we keep the bytes."""

        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            frames.append((time.perf_counter(), data))

    return FrameDriver


async def _post_key(app: Any, key: str) -> None:
    from textual import events

    ev = events.Key(key, key if len(key) == 1 else None)
    ev.set_sender(app)
    app.post_message(ev)


async def measure_app(rest: str, ws: str, symbols: list[str], seconds: float, presses: int, size: tuple[int, int],
                      tmp: Path) -> dict[str, Any]:
    from cashup_tui.app.app import CashupApp
    from cashup_tui.service.workstation import EngineWorkstation

    frames: list[tuple[float, str]] = []
    node = _node(rest, ws, symbols, tmp / "app.sqlite")
    app = CashupApp(EngineWorkstation(node))
    app.driver_class = _frame_driver(frames)
    out: dict[str, Any] = {}
    async with app.run_test(headless=False, size=size) as pilot:
        deadline = time.perf_counter() + 30
        while not (node.started and node.market is not None) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)  # warm-up
        n0, b0 = len(frames), sum(len(d) for _, d in frames)
        w = Window(node.market.client.stats)
        await asyncio.sleep(seconds)
        out.update(w.result())
        out["frames_per_s"] = round((len(frames) - n0) / out["wall_s"], 1)
        out["terminal_kb_per_s"] = round((sum(len(d) for _, d in frames) - b0) / out["wall_s"] / 1024, 1)
        # key-press-to-screen latency: tab switches
        rng = random.Random(6)
        lat: list[float] = []
        by_tab: dict[str, list[float]] = {}
        missed: list[str] = []
        misses = 0
        current = "1"
        visited = {"1"}
        for _ in range(presses):
            key = rng.choice([k for k in TAB_MARKERS if k != current])
            marker = TAB_MARKERS[key]
            start_idx = len(frames)
            t0 = time.perf_counter()
            await _post_key(app, key)
            seen = None
            while time.perf_counter() - t0 < 3.0:
                for ts, data in frames[start_idx:]:
                    if marker in ANSI.sub("", data):
                        seen = ts
                        break
                if seen is not None:
                    break
                start_idx = max(start_idx, len(frames) - 1)
                await asyncio.sleep(0.001)
            first_visit = key not in visited  # builds the pane's widgets once: not steady state
            visited.add(key)
            if seen is None:
                misses += 1
                missed.append(key)
            elif not first_visit:
                lat.append((seen - t0) * 1000)
                by_tab.setdefault(key, []).append((seen - t0) * 1000)
            current = key
            await asyncio.sleep(0.05 + rng.random() * 0.1)
        lat.sort()
        out["key_presses"] = len(lat)
        out["key_misses"] = misses
        out["missed_keys"] = missed
        out["active_tab_at_end"] = app.query_one("#tabs").active
        if lat:
            out["key_latency_ms_p50"] = round(statistics.median(lat), 1)
            out["key_latency_ms_p99"] = round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1)
            out["key_latency_ms_max"] = round(lat[-1], 1)
            out["key_latency_ms_p50_by_tab"] = {k: round(statistics.median(v), 1) for k, v in sorted(by_tab.items())}
        await pilot.press("q")
        deadline = time.perf_counter() + 15
        while app.return_code is None and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
    return out


# -- first paint of the real command on a pseudo-terminal --------------------------------------------------
def _spawn_pty(cmd: list[str], env: dict[str, str], cols: int = 100, rows: int = 30) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, start_new_session=True,
                            close_fds=True)
    os.close(slave)
    return proc, master


def first_paint(env: dict[str, str], timeout: float = 20.0) -> dict[str, float | None]:
    exe = shutil.which("cashup", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "cashup_tui"]
    t0 = time.perf_counter()
    proc, fd = _spawn_pty(cmd, env)
    buf = ""
    marks: dict[str, float | None] = {"first_output_s": None, "first_frame_s": None, "demo_s": None, "prices_s": None}
    try:
        while time.perf_counter() - t0 < timeout and marks["prices_s"] is None:
            r, _, _ = select.select([fd], [], [], 0.01)
            if not r:
                continue
            try:
                chunk = os.read(fd, 65536).decode("utf-8", "replace")
            except OSError:
                break
            now = time.perf_counter() - t0
            if marks["first_output_s"] is None:
                marks["first_output_s"] = now
            buf += ANSI.sub("", chunk)
            if marks["first_frame_s"] is None and "Market" in buf:
                marks["first_frame_s"] = now
            if marks["demo_s"] is None and "DEMO" in buf:
                marks["demo_s"] = now
            if marks["prices_s"] is None and PRICE.search(buf):
                marks["prices_s"] = now
        os.write(fd, b"q")
        end = time.perf_counter() + 15
        while proc.poll() is None and time.perf_counter() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    os.read(fd, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        os.close(fd)
    return {k: (round(v, 3) if v is not None else None) for k, v in marks.items()}


def python_spawn_ref(env: dict[str, str], runs: int = 3) -> float:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc, fd = _spawn_pty([sys.executable, "-c", "pass"], env)
        proc.wait()
        out.append(time.perf_counter() - t0)
        os.close(fd)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="steady-state CPU window")
    ap.add_argument("--symbols", type=int, default=11, help="feed symbols (max 11)")
    ap.add_argument("--tick-ms", type=int, default=8, help="simulator step (8 ms = 125 steps/s per symbol)")
    ap.add_argument("--presses", type=int, default=60, help="tab-switch key presses for the latency figure")
    ap.add_argument("--size", default="160x48", help="terminal size for the CPU/latency run")
    ap.add_argument("--paint-runs", type=int, default=3)
    args = ap.parse_args()
    symbols = SYMBOLS[: max(1, min(args.symbols, len(SYMBOLS)))]
    cols, rows = (int(x) for x in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="cashup-bench-tui-") as d:
        tmp = Path(d)
        env = _isolated_env(tmp)
        os.environ.update({k: env[k] for k in ("CASHUP_CONFIG_DIR", "CASHUP_DATA_DIR", "CASHUP_LOG_DIR")})
        feed, rest, ws = start_feed(symbols, args.tick_ms, env)
        try:
            ref = asyncio.run(measure_reference(rest, ws, symbols, args.seconds, tmp))
            app = asyncio.run(measure_app(rest, ws, symbols, args.seconds, args.presses, (cols, rows), tmp))
        finally:
            feed.send_signal(signal.SIGTERM)
            try:
                feed.wait(10)
            except subprocess.TimeoutExpired:
                feed.kill()
        paints = [first_paint(_isolated_env(tmp / f"paint{i}")) for i in range(args.paint_runs)]
        py_ref = python_spawn_ref(env)

    def med(key: str) -> float | None:
        vals = [p[key] for p in paints if p[key] is not None]
        return round(statistics.median(vals), 3) if vals else None

    result: dict[str, Any] = {
        "feed_symbols": len(symbols), "feed_tick_ms": args.tick_ms, "size": args.size,
        "ref_node_only": ref, "app": app,
        "app_cpu_share": app["cpu_share"], "app_minus_ref_cpu_share": round(app["cpu_share"] - ref["cpu_share"], 4),
        "cpu_ratio_app_vs_ref": round(app["cpu_share"] / ref["cpu_share"], 2) if ref["cpu_share"] else None,
        "key_latency_ms_p99": app.get("key_latency_ms_p99"),
        "first_output_s": med("first_output_s"), "first_frame_s": med("first_frame_s"),
        "first_paint_demo_s": med("demo_s"), "prices_shown_s": med("prices_s"),
        "python_spawn_ref_s": round(py_ref, 3),
        "targets": {"cpu_share": 0.25, "key_latency_ms_p99": 100, "first_paint_demo_s": 1.0, "feed_msgs_per_s": 2000},
    }
    result["meets"] = {
        "feed_rate": app["msgs_per_s"] >= 2000,
        "cpu_share": app["cpu_share"] <= 0.25,
        "key_latency_p99": (app.get("key_latency_ms_p99") or 1e9) <= 100 and app["key_misses"] == 0,
        "first_paint": (result["first_paint_demo_s"] or 1e9) <= 1.0,
    }
    print(f"feed: {len(symbols)} symbols, tick {args.tick_ms} ms, sim in its own process")
    print(f"reference (node + bridge, no app): {ref['msgs_per_s']:.0f} msg/s, CPU {ref['cpu_share']:.1%} of a core")
    print(f"app {args.size}: {app['msgs_per_s']:.0f} msg/s, CPU {app['cpu_share']:.1%} of a core "
          f"(app adds {result['app_minus_ref_cpu_share']:.1%}; x{result['cpu_ratio_app_vs_ref']} the reference), "
          f"{app['frames_per_s']} frames/s, {app['terminal_kb_per_s']} KiB/s to the terminal   [target <= 25%]")
    print(f"key -> screen (tab switch): p50 {app.get('key_latency_ms_p50')} ms, p99 {app.get('key_latency_ms_p99')} ms, "
          f"max {app.get('key_latency_ms_max')} ms over {app['key_presses']} presses, {app['key_misses']} misses "
          f"[target p99 <= 100 ms]; p50 by tab {app.get('key_latency_ms_p50_by_tab')}")
    print(f"`cashup` first paint on a 100x30 pty: first output {result['first_output_s']} s, first frame "
          f"{result['first_frame_s']} s, 'DEMO' {result['first_paint_demo_s']} s [target <= 1.0 s], prices "
          f"{result['prices_shown_s']} s; python -c pass {result['python_spawn_ref_s']} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
