"""Per-call overhead of the shared simulated venue (cashup_tui/venue/).

The event-driven backtest feeds every bar through the venue (update_book + update_mark) and sends an
order now and then, so what matters is: the idle per-bar cost (nothing resting, a position open: the
liquidation check), and the cost of one filled order. Each is printed with a reference measured in the
same run: for bars, a plain function that stores the book and compares the mark to a precomputed
liquidation price (the least any venue must do); for orders, a minimal inline Decimal fill (notional,
fee, position size/entry, cash) with no validation, margin or records.

Budget: the whole event-backtest path targets >= 300k bars/s, so the venue's share per bar should stay
around 1-2 us, and one order a few tens of us at most (orders are rare next to bars).
Run: .venv/bin/python bench/venue.py [--bars 200000] [--orders 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

from cashup_tui.domain.instruments import Instrument
from cashup_tui.venue import Venue

D = Decimal
SYM = "BTC_USDT"
INST = Instrument(symbol=SYM, quanto_multiplier=D("0.0001"), price_tick=D("0.1"))
TARGET_BARS_PER_S = 300_000


def _bars(n: int) -> list[tuple[Decimal, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]]:
    out = []
    for i in range(n):
        mid = D(26_000) + D((i * 7919) % 2000 - 1000) / 10
        out.append((mid, [(mid - D("0.1"), D(1_000))], [(mid, D(1_000))]))
    return out


def bench_bars(n: int, order_every: int) -> dict[str, float]:
    bars = _bars(n)
    v = Venue({SYM: INST}, balance=D(10**9), fee_bps=5, record_events=False)
    v.update_book(SYM, bars[0][1], bars[0][2], 0, mark=bars[0][0])
    v.place(SYM, 10, 0, tif="ioc", ts_ms=0)  # a long position: every mark runs the liquidation check
    t0 = time.perf_counter()
    for i, (mid, bids, asks) in enumerate(bars):
        v.update_book(SYM, bids, asks, i)
        v.update_mark(SYM, mid, i)
    venue_s = time.perf_counter() - t0

    class Ref:  # the least a venue must do per bar
        __slots__ = ("asks", "bids", "liq", "mark", "size")

    ref = Ref()
    ref.liq, ref.size = D(20_000), D(10)

    def ref_bar(bids: list, asks: list, mid: Decimal) -> None:
        ref.bids = bids
        ref.asks = asks
        ref.mark = mid
        if ref.size > 0 and mid <= ref.liq:
            raise AssertionError

    t0 = time.perf_counter()
    for mid, bids, asks in bars:
        ref_bar(bids, asks, mid)
    ref_s = time.perf_counter() - t0

    # bars with an order every `order_every` bars (alternating buy/sell market orders)
    v2 = Venue({SYM: INST}, balance=D(10**9), fee_bps=5, record_events=True)
    t0 = time.perf_counter()
    for i, (mid, bids, asks) in enumerate(bars):
        v2.update_book(SYM, bids, asks, i)
        v2.update_mark(SYM, mid, i)
        if i % order_every == 0:
            v2.place(SYM, 10 if (i // order_every) % 2 == 0 else -10, 0, tif="ioc", ts_ms=i)
            v2.drain_events()
    mixed_s = time.perf_counter() - t0
    return {
        "bars": n,
        "venue_bar_us": venue_s / n * 1e6,
        "ref_bar_us": ref_s / n * 1e6,
        "venue_bars_per_s": n / venue_s,
        "ratio_vs_ref": ref_s / venue_s,
        "mixed_bars_per_s": n / mixed_s,
        "order_every": order_every,
    }


def bench_orders(n: int) -> dict[str, float]:
    bids, asks = [(D(26_000), D(10**6))], [(D("26000.1"), D(10**6))]
    out: dict[str, float] = {"orders": n}
    for record in (False, True):
        v = Venue({SYM: INST}, balance=D(10**9), fee_bps=5, record_events=record)
        t0 = time.perf_counter()
        for i in range(n):
            v.update_book(SYM, bids, asks, i)
            v.place(SYM, 10 if i % 2 else -10, 0, tif="ioc", ts_ms=i)
            v.drain_events()
        out[f"market_fill_us{'_events' if record else ''}"] = (time.perf_counter() - t0) / n * 1e6
        t0 = time.perf_counter()
        for i in range(n):
            o = v.place(SYM, 10, D(25_000), ts_ms=n + i)
            v.cancel(o.id)
            v.drain_events()
        out[f"limit_place_cancel_us{'_events' if record else ''}"] = (time.perf_counter() - t0) / n * 1e6

    # reference: an inline Decimal fill with no validation, margin, ids or records
    qm, rate = INST.quanto_multiplier, D("0.0005")
    size, entry, cash = D(0), D(0), D(10**9)
    t0 = time.perf_counter()
    for i in range(n):
        price = asks[0][0] if i % 2 else bids[0][0]
        signed = D(10) if i % 2 else D(-10)
        notional = abs(signed) * qm * price
        cash -= notional * rate
        if size == 0 or (size > 0) == (signed > 0):
            entry = (entry * abs(size) + price * abs(signed)) / abs(size + signed)
            size += signed
        else:
            cash += min(abs(signed), abs(size)) * qm * (price - entry) * (1 if size > 0 else -1)
            size += signed
            if size == 0:
                entry = D(0)
    out["ref_fill_us"] = (time.perf_counter() - t0) / n * 1e6
    out["market_fill_ratio_vs_ref"] = out["ref_fill_us"] / out["market_fill_us"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=200_000)
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--order-every", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    bars = bench_bars(args.bars, args.order_every)
    orders = bench_orders(args.orders)
    result = {"bars": bars, "orders": orders, "target_bars_per_s": TARGET_BARS_PER_S}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"per bar (update_book + update_mark, position open): {bars['venue_bar_us']:.2f} us "
          f"= {bars['venue_bars_per_s']:,.0f} bars/s; reference {bars['ref_bar_us']:.2f} us "
          f"(venue runs at {bars['ratio_vs_ref']:.2f}x the reference)")  # fmt: skip
    print(f"bars with a market order every {bars['order_every']} bars, events on: "
          f"{bars['mixed_bars_per_s']:,.0f} bars/s (venue share of the {TARGET_BARS_PER_S:,} bars/s path target)")
    print(f"market order, filled (no events / events): {orders['market_fill_us']:.1f} / "
          f"{orders['market_fill_us_events']:.1f} us; inline Decimal reference {orders['ref_fill_us']:.1f} us "
          f"({orders['market_fill_ratio_vs_ref']:.2f}x)")  # fmt: skip
    print(f"limit place + cancel (no events / events): {orders['limit_place_cancel_us']:.1f} / "
          f"{orders['limit_place_cancel_us_events']:.1f} us")  # fmt: skip


if __name__ == "__main__":
    main()
