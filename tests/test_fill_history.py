"""The Fills pane's incremental history (service/fill_history.py): the rows kept from the fills stored since
the last read are the one-shot `fill_rows` / `trip_rows` of every fill, whatever order the fills were stored
in (a late, older fill rebuilds); a steady refresh reads only what is new; a fill of an order older than the
journal's recent-order window still shows its strategy, in the pane and in `cashup fills`."""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from cashup_tui.domain.enums import OrderStatus, Side
from cashup_tui.domain.orders import Fill, Order, OrderEvent, OrderEventKind
from cashup_tui.engine.funding import SETTLEMENTS_KEY, settlements
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.service.equity import pnl_series
from cashup_tui.service.fill_history import CURVE_POINTS, HistoryMixin, PaneHistory, PnlCurve
from cashup_tui.service.fills import fill_rows, trip_rows
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from tests.engine_fakes import insert_fills
from tests.test_runtime_cli import cashup

D = Decimal
MULTS = {"BTC_USDT": D("0.0001"), "ETH_USDT": D("0.01")}
MODE = "demo"


def _fill(i: int, ts: int, symbol: str, side: Side, size: int, price: int, cid: str | None = None) -> Fill:
    return Fill(f"T{i:05d}", cid or f"c{i % 7}", symbol, side, D(size), D(price), D("0.05") * size, ts_ms=ts)


def _expected(j: Any, keep: tuple[int, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    fills = j.load_fills()
    strategies = j.order_strategies({f.client_id for f in fills})
    return (fill_rows(fills, strategies, MULTS)[::-1][:keep[0]],
            trip_rows(fills, MULTS, funding=settlements(j))[::-1][:keep[1]])


fill_specs = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(sorted(MULTS)), st.sampled_from(list(Side)),
                                st.integers(1, 4), st.integers(90, 110)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(specs=fill_specs, cuts=st.lists(st.integers(0, 40), max_size=6), limits=st.lists(st.integers(0, 8)),
       keep=st.tuples(st.integers(1, 6), st.integers(1, 4)), data=st.data())
def test_incremental_rows_are_the_one_shot_rows_whatever_the_store_order(
        specs: list[Any], cuts: list[int], limits: list[int], keep: tuple[int, int], data: Any) -> None:
    fills = [_fill(i, 1000 * ts, sym, side, size, price) for i, (ts, sym, side, size, price) in enumerate(specs)]
    stored = data.draw(st.permutations(fills))  # stored in any order: late reconciled fills older than the last
    j = MemoryJournal()
    for k in range(3):
        j.orders[f"c{k}"] = Order(f"c{k}", "BTC_USDT", Side.BUY, D(1), strategy=f"s{k}")  # type: ignore[arg-type]
    j.kv_set(SETTLEMENTS_KEY, [[f"k{t}", 1000 * t + 500, sym, "0.25", "", n]
                               for n, (t, sym) in enumerate(data.draw(st.lists(
                                   st.tuples(st.integers(0, 40), st.sampled_from(sorted(MULTS))), max_size=8)))])
    h = PaneHistory(j, MULTS, keep_fills=keep[0], keep_trips=keep[1])
    bounds = sorted({0, len(stored), *(c for c in cuts if c <= len(stored))})
    for n, (lo, hi) in enumerate(pairwise(bounds)):
        for f in stored[lo:hi]:
            j.save_fill(f)
        limit = limits[n] if n < len(limits) else None
        if not h.update(limit=limit):  # too many new, or an older fill: the build off the loop
            assert limit is not None
            h.update()
        assert (h.fill_rows, h.trip_rows) == _expected(j, keep)
        every = j.load_fills()
        rows = fill_rows(every, j.order_strategies({f.client_id for f in every}), MULTS)
        for strategy in (None, "s0", "s1", "s2"):  # the PnL curves: over every fill, not the rows kept
            curve = h.curves.get(strategy)
            assert (curve.points() if curve is not None else ([], [])) == pnl_series(rows, strategy)


def _order(cid: str, strategy: str, ts: int) -> tuple[Order, OrderEvent]:
    o = Order(cid, "BTC_USDT", Side.BUY, D(1), status=OrderStatus.FILLED, created_ms=ts, updated_ms=ts,  # type: ignore[arg-type]
              strategy=strategy)
    return o, OrderEvent(OrderEventKind.SUBMITTED, ts)


def _store(path: Path, n_orders: int, n_fills: int) -> StoreJournal:
    """A store whose oldest order (o0000, strategy "veteran") is older than the latest 1000, with `n_fills`
    fills spread over the orders (the first and the last of them o0000's)."""
    store = open_store(f"sqlite:///{path}")
    j = StoreJournal(store, MODE)
    j.save_orders([_order(f"o{i:04d}", "veteran" if i == 0 else f"s{i % 3}", 1000 + i) for i in range(n_orders)])
    insert_fills(path, [_fill(i, 10_000 + i, "BTC_USDT", Side.BUY if i % 2 else Side.SELL, 1 + i % 3, 100 + i % 9,
                              "o0000" if i in (0, n_fills - 1) else f"o{1 + i % (n_orders - 1):04d}")
                        for i in range(n_fills)], MODE)
    return j


class _Pane(HistoryMixin):
    def __init__(self, journal: Any) -> None:
        self.node = SimpleNamespace(journal=journal, cache=SimpleNamespace(orders=list),
                                    instruments={s: SimpleNamespace(quanto_multiplier=m) for s, m in MULTS.items()})


def test_a_fill_of_an_order_older_than_the_recent_window_shows_its_strategy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    j = _store(tmp_path / "t.sqlite", 1100, 50)
    assert "o0000" not in {o.client_id for o in j.load_orders()}  # beyond the recent orders
    pane = _Pane(j)
    rows = pane.fills()
    assert rows[0]["client_id"] == "o0000" and rows[0]["strategy"] == "veteran"
    assert {r["strategy"] for r in rows if r["client_id"] != "o0000"} == {"s0", "s1", "s2"}
    monkeypatch.setenv("CASHUP_DB", str(tmp_path / "t.sqlite"))
    rc, out, err = cashup(capsys, "fills", "--mode", MODE, "--json")
    assert rc == 0, err
    fills = json.loads(out)["fills"]
    assert [r["strategy"] for r in fills if r["client_id"] == "o0000"] == ["veteran", "veteran"]
    assert all(r["strategy"] for r in fills)


def test_a_steady_refresh_reads_only_the_new_fills(tmp_path: Path) -> None:
    j = _store(tmp_path / "t.sqlite", 20, 300)
    pane = _Pane(j)
    pane.history_batch = 100
    statements: list[tuple[str, Any]] = []
    event.listen(j.store.engine, "before_cursor_execute",
                 lambda conn, cur, sql, params, *a: statements.append((sql, params)) if " fills" in sql else None)
    read: list[int] = []
    fills_after = j.fills_after
    j.fills_after = lambda cursor, limit=None: (r := fills_after(cursor, limit), read.append(len(r[0])))[0]  # type: ignore[method-assign]
    assert pane.fills() == [] and pane.claim_history_build()  # 300 > 100: the build is left to a thread
    assert read == [101] and pane.history_loading()
    pane.build_history()
    assert read == [101, 300] and len(pane.fills(limit=1000)) == 300 and not pane.history_loading()
    for _ in range(3):  # steady: one statement on the fills table, no row
        read.clear()
        statements.clear()
        pane.reread_history()
        pane.fills()
        assert read == [0] and len(statements) == 1
    with j.store.engine.connect() as conn:  # by the key's range, not every fill of the account by an index
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statements[0][0]}", statements[0][1]).fetchall()
    assert [p[-1] for p in plan] == ["SEARCH fills USING INTEGER PRIMARY KEY (rowid>?)"]
    j.save_fill(_fill(900, 20_000, "BTC_USDT", Side.BUY, 1, 100, "o0000"))
    j.save_fill(_fill(901, 20_001, "BTC_USDT", Side.SELL, 1, 101, "o0003"))
    read.clear()
    pane.reread_history()
    rows = pane.fills()
    assert read == [2] and [r["trade_id"] for r in rows[:2]] == ["T00901", "T00900"] and not pane.claim_history_build()
    j.save_fill(_fill(902, 5, "BTC_USDT", Side.SELL, 1, 101, "o0003"))  # older than every fill: a rebuild
    read.clear()
    pane.reread_history()
    pane.fills()
    assert read == [1] and pane.claim_history_build()
    pane.build_history()
    assert read == [1, 1, 303]  # the new fill again, then every fill from the first
    assert (pane.fills(limit=1000), pane.round_trips(limit=1000)) == _expected(j, (500, 200))


@pytest.mark.timeout(150)
async def test_the_fills_tab_builds_a_long_history_in_a_thread(tmp_path: Path) -> None:
    """The workstation on the demo node over a store with more stored fills than the loop applies: the
    replay runs in a worker thread (the loop shows the last rows meanwhile), then the pane has the rows."""
    import threading

    from cashup_tui.app.modals.confirm import Confirm
    from tests.tui_support import demo_app, press, table_keys, wait_until

    _store(tmp_path / "t.sqlite", 1100, 3000).store.close()
    app, node = demo_app(tmp_path)
    threads: list[threading.Thread] = []
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.node_ready and node.started, timeout=30, what="the demo node")
        ws = app.node
        assert ws.history_batch < 3000
        build = ws.build_history
        ws.build_history = lambda: (threads.append(threading.current_thread()), build())[1]
        await press(pilot, "6")
        await wait_until(pilot, lambda: len(table_keys(app, "fills-table")) == 500, timeout=60,
                         what="the newest 500 fills in the Fills pane")
        assert threads and threading.main_thread() not in threads
        assert ws.fills()[0]["strategy"] == "veteran"  # the newest fill, of the oldest order
        await press(pilot, "q")
        if isinstance(app.screen, Confirm):
            await press(pilot, "y")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20, what="the app to exit")


def test_a_pnl_curve_over_a_long_history_keeps_few_points_and_its_exact_last_value() -> None:
    curve, acc = PnlCurve(), 0.0
    for i in range(10 * CURVE_POINTS + 3):
        delta = ((i * 37) % 11 - 5) / 7
        curve.add(1000 + i, delta)
        acc += delta
    times, values = curve.points()
    assert len(times) == len(values) <= CURVE_POINTS + 1
    assert times == sorted(times) and times[-1] == 1000 + 10 * CURVE_POINTS + 2
    assert values[-1] == acc  # the same additions in the same order: exact


def test_a_rebuild_in_a_thread_shows_the_previous_curves_until_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a rebuild replays (in the worker thread), the Strategies pane's curve read from the loop is the
    one before it, never a partial replay (a curve of the first fills only), as the Fills rows are."""
    from cashup_tui.domain.round_trips import TripBook

    j = MemoryJournal()
    for k in range(3):
        j.orders[f"c{k}"] = Order(f"c{k}", "BTC_USDT", Side.BUY, D(1), strategy=f"s{k}")  # type: ignore[arg-type]
    for i in range(60):
        j.save_fill(_fill(i, 10_000 + 1000 * i, "BTC_USDT", Side.BUY if i % 2 else Side.SELL, 1 + i % 3, 90 + i % 7,
                          f"c{i % 3}"))
    pane = _Pane(j)
    pane.history_batch = 10
    assert pane.fills() == [] and pane.claim_history_build()
    pane.build_history()
    before = {s: pane.pnl_series(s) for s in (None, "s0", "s1")}
    rows_before = pane.fills()
    assert before[None][0] and rows_before
    j.save_fill(_fill(99, 5, "BTC_USDT", Side.SELL, 2, 95, "c1"))  # older than every fill: a rebuild
    pane.reread_history()
    pane.fills()
    assert pane.claim_history_build()
    seen: list[tuple[Any, Any]] = []
    apply = TripBook.apply

    def spy(book: TripBook, f: Fill) -> Any:
        if len(seen) < 40:  # what the loop reads mid-replay
            seen.append(({s: pane.pnl_series(s) for s in before}, pane.fills()))
        return apply(book, f)

    monkeypatch.setattr(TripBook, "apply", spy)
    pane.build_history()
    assert len(seen) == 40 and all(got == (before, rows_before) for got in seen)
    every = j.load_fills()
    rows = fill_rows(every, j.order_strategies({f.client_id for f in every}), MULTS)
    assert {s: pane.pnl_series(s) for s in before} == {s: pnl_series(rows, s) for s in before}


def test_a_fill_committed_after_a_newer_id_is_read_on_postgres(pg: Any) -> None:
    """PostgreSQL hands out ids when rows are inserted, not when they commit: with the node and `orders sync`
    (a short command beside it) storing fills at once, the pane's cursor passed an id committed later, and
    that fill never showed. Fill inserts take turns (as SQLite's writers do), so ids are in commit order."""
    import threading

    from cashup_tui.store import orders as orders_repo

    url = pg.create_database()
    node, sync, pane = (StoreJournal(open_store(url), MODE) for _ in range(3))
    h = PaneHistory(pane, MULTS)
    with node.store.engine.connect() as conn, conn.begin():  # the node's fill, not committed yet
        orders_repo.record_fill(conn, _fill(1, 1000, "BTC_USDT", Side.BUY, 1, 100), MODE)
        other = threading.Thread(target=sync.save_fill, args=(_fill(2, 2000, "BTC_USDT", Side.SELL, 1, 101),))
        other.start()
        with pane.store.engine.connect() as probe:  # until sync has committed (before) or waits (now)
            while other.is_alive() and not probe.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").scalar():
                other.join(timeout=0.05)
        assert h.update()
    other.join()
    assert h.update()
    assert [r["trade_id"] for r in h.fill_rows] == ["T00002", "T00001"]
    for j in (node, sync, pane):
        j.store.close()
