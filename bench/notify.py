"""Event-loop stall while notification endpoints hang, refuse or fail during a burst of events.

Target (issue 5, reliability.md §7): the longest event-loop stall measured by a lag probe
stays <= 100 ms while a notifier endpoint hangs. Reference measured in the same run: one
synchronous `Apprise.notify()` called inside the loop against the same hanging endpoint
(what the doc measured at ~2 s with rto=2).

Run: .venv/bin/python bench/notify.py [--events 100] [--seconds 3] [--rto 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cashup_tui.adapters.notify import NotificationService  # noqa: E402
from cashup_tui.adapters.notify_channels import parse_channel  # noqa: E402
from tests.notify_helpers import LagProbe, hanging_server, http_sink, refused_port  # noqa: E402

TARGET_MS = 100.0


async def reference_sync_stall(port: int, rto: float) -> float:
    """Max stall when the sync API is (wrongly) called from the loop: the thing we avoid."""
    import apprise

    a = apprise.Apprise()
    a.add(f"json://127.0.0.1:{port}/sync?rto={rto:g}&cto={rto:g}")
    probe = LagProbe().start()
    await asyncio.sleep(0.05)
    a.notify(title="sync", body="blocking call")
    await asyncio.sleep(0.05)
    return await probe.stop()


async def scenario(urls: list[str], events: int, seconds: float, rto: float) -> dict[str, float | int]:
    chans = [parse_channel(u, i, timeout_s=rto, connect_timeout_s=rto) for i, u in enumerate(urls, 1)]
    svc = NotificationService(chans, retries=2, backoff_s=0.2, timeout_s=rto, rate_limit_per_min=10_000,
                              queue_size=10_000)
    await svc.start()
    probe = LagProbe().start()
    ticks = 0

    async def trading() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    t = asyncio.create_task(trading())
    t0 = time.perf_counter()
    for i in range(events):
        svc.submit("fill", "info", symbol="BTC_USDT", side="buy", size=i + 1, price=65000, fee="0.01",
                   liquidity="taker", client_id=f"t-bench-{i}", trade_id=str(i))
    submit_ms = (time.perf_counter() - t0) * 1000
    await asyncio.sleep(seconds)
    worst = await probe.stop()
    t.cancel()
    await svc.stop(drain_s=0)
    return {"max_stall_ms": round(worst * 1000, 2), "submit_burst_ms": round(submit_ms, 3),
            "probe_ticks": probe.ticks, "trading_ticks": ticks, "sent": svc.stats["sent"],
            "failed": svc.stats["failed"], "retries": svc.stats["retries"], "dropped": svc.stats["dropped"]}


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {"events": args.events, "seconds": args.seconds, "rto_s": args.rto}
    async with hanging_server() as (port, _hits):
        out["reference_sync_notify_stall_ms"] = round(await reference_sync_stall(port, args.rto) * 1000, 1)
        out["hang"] = await scenario([f"json://127.0.0.1:{port}/hook"], args.events, args.seconds, args.rto)
    async with http_sink() as sink:
        out["http_500_and_refused"] = await scenario(
            [sink.url("json", "/fail"), f"json://127.0.0.1:{refused_port()}/x"], args.events, args.seconds, args.rto
        )
        out["healthy_json"] = await scenario([sink.url("json", "/ok")], args.events, args.seconds, args.rto)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0, help="observation window per scenario")
    ap.add_argument("--rto", type=float, default=1.0, help="socket read/connect timeout given to apprise")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)  # failures are expected here; keep the output to the figures
    res = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(res))
        return
    ref = float(res["reference_sync_notify_stall_ms"])  # type: ignore[arg-type]
    print(f"burst of {args.events} fill notifications, {args.seconds:g} s observed per scenario, rto={args.rto:g}s")
    print(f"reference: sync Apprise.notify() in the loop, hanging endpoint: max stall {ref:.1f} ms")
    for name in ("hang", "http_500_and_refused", "healthy_json"):
        r = res[name]  # type: ignore[index]
        stall = r["max_stall_ms"]
        verdict = "OK" if stall <= TARGET_MS else "OVER TARGET"
        print(f"{name:22s} max stall {stall:7.2f} ms (target <= {TARGET_MS:.0f} ms: {verdict}); "
              f"{ref / max(stall, 0.01):7.1f}x better than the reference; submit of the burst {r['submit_burst_ms']} ms; "
              f"sent {r['sent']} failed {r['failed']} retries {r['retries']}; trading ticks {r['trading_ticks']}")


if __name__ == "__main__":
    main()
