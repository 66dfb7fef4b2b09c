"""Start-up with a long fill history (issue 13: the workstation loaded every stored fill at start-up).

Builds a store with N fills for one mode (default 1,000,000: every fill a row as a live account's
journal has them, with the per-fill position and wallet rows), then times what a node does with its
journal when it starts: `OrderManager.load` (positions, wallet, the recent window's trade ids) and the
reconciler's fill read (`_reconcile_fills`' journal side), each as a fresh journal on the file. The
reference, measured in the same run, is reading every stored fill as the old start-up did
(`journal.load_fills()`). Prints seconds and the peak of Python allocations (tracemalloc) for both.
Target: ready in <= 2.5 s with 1M stored fills (the node's own part of it here).
Run: .venv/bin/python bench/startup_fills.py [--fills 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cashup_tui.domain.account import Balance  # noqa: E402
from cashup_tui.domain.enums import Side  # noqa: E402
from cashup_tui.domain.orders import Fill  # noqa: E402
from cashup_tui.engine.portfolio import Portfolio  # noqa: E402
from cashup_tui.store import open_store  # noqa: E402
from cashup_tui.store.journal import StoreJournal  # noqa: E402
from tests.engine_fakes import insert_fills, make_engine  # noqa: E402

MODE = "paper"
DAY = 86_400_000


def build(path: Path, n: int, end_ms: int) -> None:
    store = open_store(f"sqlite:///{path}")
    e = make_engine(journal=StoreJournal(store, MODE))
    pf = Portfolio.with_cash(e.portfolio.instruments, Decimal(1_000_000))
    step = max(1, 365 * DAY // n)
    start = end_ms - n * step
    fills = []
    for i in range(n):
        f = Fill(f"t{i}", f"c{i}", "BTC_USDT", Side.BUY if i % 2 else Side.SELL, Decimal(1 + i % 3),
                 Decimal(50_000 + (i * 37) % 900), Decimal("0.5"), start + i * step, venue_order_id=f"v{i}")
        pf.apply_fill(f)
        fills.append(f)
    j = StoreJournal(store, MODE)
    j.save_positions(list(pf.positions.values()))
    j.save_balances([Balance("USDT", pf.cash, pf.cash, end_ms)])
    store.close()
    insert_fills(path, fills, MODE)


def measure(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    t = time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return dt, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fills", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fills.db"
        end_ms = int(time.time() * 1000)
        t = time.perf_counter()
        build(path, args.fills, end_ms)
        print(f"store with {args.fills:,} fills built in {time.perf_counter() - t:.1f} s")
        url = f"sqlite:///{path}"

        def old() -> None:  # what start-up read before: every fill
            store = open_store(url)
            StoreJournal(store, MODE).load_fills()
            store.close()

        def new() -> None:  # what a node reads now: load() + the reconciler's fill window
            store = open_store(url)
            j = StoreJournal(store, MODE)
            e = make_engine(journal=j, reconciled=False)  # runs OrderManager.load
            since = max(0, (j.last_fill_ms() or 0) - 3_600_000)
            j.load_fills(since_ms=since)
            assert e.portfolio.positions["BTC_USDT"].size is not None
            store.close()

        ref_s, ref_mb = measure(old)
        new_s, new_mb = measure(new)
        print(f"old start-up read (every fill): {ref_s:.2f} s, peak {ref_mb:.0f} MB")
        print(f"new start-up (load + reconcile window): {new_s:.2f} s, peak {new_mb:.1f} MB")
        print(f"ratio new/old: {new_s / ref_s:.3f} time, {new_mb / max(ref_mb, 1e-9):.3f} memory")


if __name__ == "__main__":
    main()
