"""The candle_stats row an insert or import writes without a scan (store.candle_tally) is exactly what a
full scan of the series gives, whatever the sequence of imports, appends, prepends, overlaps, replaces,
upserts, deletes and edits behind the store's back, on SQLite and PostgreSQL; on SQLite also through the
stdlib import `data import` uses (`store.candle_import`), which PostgreSQL declines (None, nothing read)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashup_tui.domain.errors import DataError
from cashup_tui.store import candle_stats, candles, open_store
from cashup_tui.store.candle_import import import_candle_chunks_sqlite
from cashup_tui.store.candle_tally import StatsTally
from cashup_tui.store.engine import transaction
from tests.campaign import examples

STEP = 60_000
SYM, TF = "BTC_USDT", "1m"

# runs of bars on the step (with holes: appends, prepends, overlaps), and scattered times on a half-step grid
run_st = st.tuples(st.integers(0, 150), st.integers(0, 20), st.sets(st.integers(0, 19), max_size=3)).map(
    lambda a: [(a[0] + i) * STEP for i in range(a[1]) if i not in a[2]])
scattered_st = st.lists(st.integers(0, 120), max_size=40, unique=True).map(lambda ks: [k * STEP // 2 for k in ks])
times_st = st.one_of(run_st, run_st, scattered_st)
op_st = st.tuples(
    st.sampled_from(["import", "import_sorted", "replace", "chunks", "stdlib", "stdlib_replace", "insert", "upsert",
                     "delete", "conflict", "drop_first"]),
    times_st,
    st.integers(1, 4),  # chunks
)


def _cols(times: list[int], bump: float = 0.0) -> dict[str, np.ndarray]:
    t = np.asarray(times, dtype="int64")
    v = (t // STEP % 7 + 1).astype("float64") + bump  # a bar's values follow from its time: re-imports agree
    return {"open_ms": t, "open": v, "high": v + 1, "low": v - 1, "close": v, "volume": v}


def _stored(db: Any) -> set[int]:
    with db.begin() as conn:
        return {int(r[0]) for r in conn.exec_driver_sql("SELECT open_ms FROM candles")}


def _clash(db: Any, times: list[int]) -> bool:
    """A stored bar at one of `times` holds other values than a file would (an upsert bumped them)."""
    want = dict(zip(times, _cols(times)["open"].tolist(), strict=True))
    with db.begin() as conn:
        rows = conn.exec_driver_sql("SELECT open_ms, open FROM candles").all()
    return any(int(t) in want and float(o) != want[int(t)] for t, o in rows)


def _check(db: Any) -> None:
    with transaction(db) as conn:
        want = candle_stats.scan(conn, SYM, TF)
        got = conn.exec_driver_sql("SELECT symbol, timeframe, first_ms, last_ms, rows, gaps FROM candle_stats").all()
    assert [tuple(r) for r in got] == ([want] if want else [])


def _apply(db: Any, kind: str, times: list[int], parts: int) -> None:
    if kind in ("import", "import_sorted", "chunks", "stdlib") and _clash(db, times):  # refused; the stats still hold
        with pytest.raises(DataError):
            _import(db, kind, times, parts)
        return
    _import(db, kind, times, parts)


def _import(db: Any, kind: str, times: list[int], parts: int) -> None:
    if kind == "import":  # any order, any overlap with what is stored
        candles.import_candles(db, SYM, TF, _cols(times))
    elif kind == "import_sorted":
        candles.import_candles(db, SYM, TF, _cols(sorted(times)))
    elif kind == "replace":
        candles.import_candles(db, SYM, TF, _cols(sorted(times)), replace=True)
    elif kind == "chunks":  # the file's order, cut in chunks, as `data import` writes it
        ts = sorted(times)
        cuts = [ts[i::parts] for i in range(parts)] if parts % 2 else np.array_split(np.asarray(ts, "int64"), parts)
        candles.import_candle_chunks(db, SYM, ((TF, _cols(sorted(int(x) for x in c))) for c in cuts))
    elif kind in ("stdlib", "stdlib_replace"):  # `data import` into SQLite: the same import on the stdlib driver
        ts = sorted(times)
        chunks = [(TF, _cols(ts[i : i + 7])) for i in range(0, len(ts), 7)]
        got = import_candle_chunks_sqlite(db.url, SYM, iter(chunks), replace=kind == "stdlib_replace")
        if db.is_sqlite:
            assert got is not None and got.inserted + got.unchanged == len(ts)
        else:  # not a SQLite file: nothing read, the caller goes through open_store
            assert got is None
            candles.import_candle_chunks(db, SYM, iter(chunks), replace=kind == "stdlib_replace")
        # committed; an empty file replaces nothing (no chunk is read, so there is no series to swap in)
        assert set(ts) <= _stored(db) if kind == "stdlib" or not ts else set(ts) == _stored(db)
    elif kind == "insert":  # the plain insert path: keys not stored yet
        stored = _stored(db)
        candles.insert_candles(db, SYM, TF, _cols([t for t in times if t not in stored]))
    elif kind == "upsert":
        candles.upsert_candles(db, SYM, TF, _cols(times, bump=0.5))
    elif kind == "delete":
        candles.delete_series(db, SYM, TF)
    elif kind == "conflict":  # different values for stored bars: refused, nothing written
        stored = sorted(_stored(db))
        if stored:
            with pytest.raises(DataError):
                candles.import_candles(db, SYM, TF, _cols([*times, stored[-1]], bump=0.25)
                                       if stored[-1] not in times else _cols(times, bump=0.25))
    elif kind == "drop_first":  # behind the store's back: the stats row no longer spans its series
        with db.begin() as conn:
            conn.exec_driver_sql("DELETE FROM candles WHERE open_ms = (SELECT MIN(open_ms) FROM candles)")


@settings(max_examples=examples(25), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=8))
def test_tallied_stats_equal_a_full_scan(store_url: str, ops: list[tuple[str, list[int], int]]) -> None:
    with open_store(store_url) as db:
        with db.begin() as conn:
            conn.exec_driver_sql("DELETE FROM candles")
            conn.exec_driver_sql("DELETE FROM candle_stats")
        stale = False  # a stats row left stale behind the store's back: right again after the next write
        for kind, times, parts in ops:
            _apply(db, kind, times, parts)
            if kind == "drop_first":
                stale = parts % 2 == 0
                if not stale:
                    candles.list_series(db)  # what repairs it otherwise
            elif kind in ("chunks", "insert", "upsert", "delete") or (times and kind != "conflict"):
                stale = False
            if not stale:
                _check(db)


@pytest.mark.parametrize(("stored", "new", "exact", "gaps"), [
    ([], [0, STEP, 3 * STEP], True, 1),  # empty series: the inserted run alone
    ([0, STEP], [3 * STEP, 4 * STEP], True, 1),  # after, a hole at the seam
    ([5 * STEP], [3 * STEP, 4 * STEP], True, 0),  # before, no hole
    ([9 * STEP], [3 * STEP, 4 * STEP, 7 * STEP], True, 2),  # before, a hole inside and one at the seam
    ([0, 4 * STEP], [2 * STEP], False, None),  # between stored bars: a scan
    ([], [2 * STEP, STEP], False, None),  # out of order: a scan
])
def test_tally_is_exact_only_when_the_rows_do_not_interleave(tmp_path, stored, new, exact, gaps) -> None:  # type: ignore[no-untyped-def]
    with open_store(str(tmp_path / "s.sqlite")) as db:
        if stored:
            candles.insert_candles(db, SYM, TF, _cols(stored))
        with transaction(db) as conn:
            tally = StatsTally.load(conn, SYM, TF)
            assert not tally.may_overlap(10 * STEP, 11 * STEP)
            tally.add(np.asarray(new, dtype="int64"))
        assert tally.exact is exact
        if exact:
            assert (tally.rows, tally.gaps) == (len(stored) + len(new), gaps)


def test_a_stats_row_stale_behind_the_stores_back_is_rescanned_not_extended(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with open_store(str(tmp_path / "s.sqlite")) as db:
        candles.insert_candles(db, SYM, TF, _cols([0, STEP, 2 * STEP]))
        with db.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM candles WHERE open_ms = {2 * STEP}")
        with transaction(db) as conn:
            assert not StatsTally.load(conn, SYM, TF).exact
        candles.import_candles(db, SYM, TF, _cols([5 * STEP]))
        _check(db)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=times_st, upserts=st.lists(times_st, min_size=1, max_size=4))
def test_an_upsert_tallies_exactly_wherever_its_rows_fall(tmp_path_factory, stored, upserts) -> None:  # type: ignore[no-untyped-def]
    """`data fetch`'s write (rewrite the newest bar, add the next ones) and any other upsert: before,
    after, across holes or over stored bars, the row is the full scan's, and no scan was needed."""
    with open_store(str(tmp_path_factory.mktemp("u") / "s.sqlite")) as db:
        if stored:
            candles.insert_candles(db, SYM, TF, _cols(sorted(stored)))
        for times in upserts:
            with transaction(db) as conn:
                tally = StatsTally.load(conn, SYM, TF)
                tally.upsert(conn, np.asarray(times, dtype="int64"))
            assert tally.exact
            candles.upsert_candles(db, SYM, TF, _cols(times, bump=0.5))
            _check(db)
            with transaction(db) as conn:
                want = candle_stats.scan(conn, SYM, TF)
            assert (want is None and tally.first is None) or (want is not None and want[2:] == (
                tally.first, tally.last, tally.rows, tally.gaps))


def test_a_fetch_like_upsert_reads_no_more_than_its_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The newest bar rewritten and three added on a long series: the stats row without a full scan."""
    with open_store(str(tmp_path / "s.sqlite")) as db:
        candles.insert_candles(db, SYM, TF, _cols([i * STEP for i in range(5000) if i != 17]))
        seen: list[str] = []
        with transaction(db) as conn:
            conn.connection.dbapi_connection.set_trace_callback(seen.append)
        candles.upsert_candles(db, SYM, TF, _cols([i * STEP for i in range(4999, 5003)], bump=0.5))
        with transaction(db) as conn:
            conn.connection.dbapi_connection.set_trace_callback(None)
        assert not any("LAG" in s for s in seen), "a full scan ran"
        _check(db)


@pytest.mark.parametrize("edit", ["DELETE FROM candles WHERE open_ms = 2 * 60000",
                                  "INSERT INTO candles VALUES ('BTC_USDT', '1m', 90000, 1, 2, 0.5, 1, 1)"])
def test_a_hand_edit_inside_a_series_shows_in_the_listed_stats(tmp_path, edit) -> None:  # type: ignore[no-untyped-def]
    """The sqlite3 shell deletes or adds a bar strictly inside a series (first and last bar unchanged):
    `data list` on either path shows the series as it now is, the recomputed row is stored (the stdlib
    path then lists it without a rebuild), and the next fetch's tally builds on the right row."""
    import sqlite3

    from cashup_tui.store.candle_stats_check import list_series_sqlite

    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as db:
        candles.insert_candles(db, SYM, TF, _cols([k * STEP for k in range(5)]))
    assert list_series_sqlite(str(path)) is not None  # current after our own write
    shell = sqlite3.connect(path)  # as the sqlite3 shell writes: its own connection, the store's triggers only
    with shell:
        shell.execute(edit)
    shell.close()
    assert list_series_sqlite(str(path)) is None  # stale: the stdlib path hands over to the rebuilding one
    with open_store(str(path)) as db:
        with transaction(db) as conn:
            want = candle_stats.scan(conn, SYM, TF)
        assert want is not None and want[2:4] == (0, 4 * STEP)
        assert [(i.first_ms, i.last_ms, i.rows, i.gaps) for i in candles.list_series(db)] == [want[2:]]
        assert list_series_sqlite(str(path)) == ([want], [])  # stored with its version: current again
        candles.upsert_candles(db, SYM, TF, _cols([4 * STEP, 5 * STEP], bump=0.5))  # `data fetch`: tallied
        _check(db)
        assert list_series_sqlite(str(path)) is not None


@pytest.mark.parametrize("edit", ["DELETE FROM candles WHERE open_ms = 2 * 60000",
                                  "INSERT INTO candles VALUES ('BTC_USDT', '1m', 90000, 1, 2, 0.5, 1, 1)",
                                  "UPDATE candles SET open_ms = 150000 WHERE open_ms = 120000"])
def test_a_hand_edit_inside_a_series_is_seen_on_both_backends(store_url: str, edit: str) -> None:
    """The same edits in another session (psql, or any connection of the store's own), on SQLite and
    PostgreSQL: the listing recomputes the series, and so does the next write's tally (no listing between)."""
    with open_store(store_url) as db:
        for then_list in (True, False):
            with db.begin() as conn:
                conn.exec_driver_sql("DELETE FROM candles")
            candles.insert_candles(db, SYM, TF, _cols([k * STEP for k in range(5)]))
            with db.begin() as conn:
                conn.exec_driver_sql(edit)
                want = candle_stats.scan(conn, SYM, TF)
            assert want is not None and want[2:4] == (0, 4 * STEP)
            if then_list:
                assert [(i.first_ms, i.last_ms, i.rows, i.gaps) for i in candles.list_series(db)] == [want[2:]]
            candles.insert_candles(db, SYM, TF, _cols([7 * STEP]))  # after the stored ones: a tally when exact
            _check(db)
            assert [(i.rows, i.gaps) for i in candles.list_series(db)] == [(want[4] + 1, want[5] + 1)]


def test_with_a_version_trigger_dropped_no_stats_row_is_trusted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without its trigger a hand delete bumps no version, so versions prove nothing: every row is recomputed."""
    import sqlite3

    from cashup_tui.store.candle_stats_check import list_series_sqlite

    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as db:
        candles.insert_candles(db, SYM, TF, _cols([k * STEP for k in range(5)]))
    shell = sqlite3.connect(path)
    with shell:
        shell.execute("DROP TRIGGER candles_version_delete")
        shell.execute(f"DELETE FROM candles WHERE open_ms = {2 * STEP}")
    shell.close()
    assert list_series_sqlite(str(path)) is None
    with open_store(str(path)) as db:
        assert [(i.rows, i.gaps) for i in candles.list_series(db)] == [(4, 1)]
        with transaction(db) as conn:
            assert not StatsTally.load(conn, SYM, TF).exact
