"""The workstation's Fills pane over a long fill history (issue 13: each refresh replayed every stored fill
on the UI loop, about once a second while the tab was shown).

Builds a store with N fills (bench/startup_fills.py's `build`), then times, each on a fresh journal:
the reference, one refresh as the pane did it (every fill and the recent orders read, `fill_rows` and
`trip_rows` over all of them); the incremental history (`PaneHistory`): its first build (a thread's work
in the app), a steady refresh with no new fill and one with a new fill (the loop's work), and the
Python memory it keeps (tracemalloc: the peak of the build, what is held after it).
Run: .venv/bin/python bench/fills_pane.py [--fills 50000 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from startup_fills import MODE, build  # noqa: E402

from cashup_tui.domain.enums import Side  # noqa: E402
from cashup_tui.domain.orders import Fill  # noqa: E402
from cashup_tui.engine.funding import settlements  # noqa: E402
from cashup_tui.service.fill_history import PaneHistory  # noqa: E402
from cashup_tui.service.fills import fill_rows, trip_rows  # noqa: E402
from cashup_tui.store import open_store  # noqa: E402
from cashup_tui.store.journal import StoreJournal  # noqa: E402

MULTS = {"BTC_USDT": Decimal("0.0001")}


def reference(j: StoreJournal) -> None:
    fills = j.load_fills()
    strategies = {o.client_id: o.strategy for o in j.load_orders()}
    fill_rows(fills, strategies, MULTS)[::-1][:500]
    trip_rows(fills, MULTS, funding=settlements(j))[::-1][:200]


def measure(path: Path, rounds: int) -> dict[str, float]:
    out: dict[str, list[float]] = {k: [] for k in ("ref_s", "build_s", "steady_ms", "new_fill_ms")}
    peak: dict[str, float] = {}
    for r in range(rounds):
        store = open_store(f"sqlite:///{path}")
        j = StoreJournal(store, MODE)
        t = time.perf_counter()
        reference(j)
        out["ref_s"].append(time.perf_counter() - t)
        h = PaneHistory(j, MULTS)
        t = time.perf_counter()
        h.update()
        out["build_s"].append(time.perf_counter() - t)
        steady = []
        for _ in range(20):
            t = time.perf_counter()
            assert h.update(limit=500)
            steady.append(time.perf_counter() - t)
        out["steady_ms"].append(1000 * statistics.median(steady))
        j.save_fill(Fill(f"bench-{r}", "bench", "BTC_USDT", Side.BUY, Decimal(1), Decimal(50_000), Decimal("0.5"),
                         int(time.time() * 1000) + r))
        t = time.perf_counter()
        assert h.update(limit=500)
        out["new_fill_ms"].append(1000 * (time.perf_counter() - t))
        if r == 0:
            for name, fn in (("ref", lambda s=store: reference(StoreJournal(s, MODE))),
                             ("build", lambda s=store: PaneHistory(StoreJournal(s, MODE), MULTS).update())):
                tracemalloc.start()
                fn()
                peak[f"{name}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
            tracemalloc.start()
            kept = PaneHistory(StoreJournal(store, MODE), MULTS)
            kept.update()
            peak["held_mb"] = tracemalloc.get_traced_memory()[0] / 1e6
            tracemalloc.stop()
        store.close()
    return {**{k: statistics.median(v) for k, v in out.items()}, **peak}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fills", type=int, nargs="+", default=[50_000, 200_000])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for n in args.fills:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "fills.sqlite"
            build(path, n, int(time.time() * 1000) - 60_000)
            f = measure(path, args.rounds)
            print(f"{n} fills: reference refresh {f['ref_s']:.2f} s (peak {f['ref_peak_mb']:.0f} MB); "
                  f"first build {f['build_s']:.2f} s (peak {f['build_peak_mb']:.0f} MB, held {f['held_mb']:.1f} MB); "
                  f"steady refresh {f['steady_ms']:.2f} ms; a new fill {f['new_fill_ms']:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
