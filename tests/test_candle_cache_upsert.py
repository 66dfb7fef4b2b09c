"""An upsert of a series' newest bars carries its column cache file over to the new version
(store.candle_cache_upsert, issue 13): the backtest after `data fetch` maps the file.

Sequences of upserts (appends, a revised last bar, bars deep inside, odd floats, another writer's edit)
after an import: whenever the series has a file of its current version, it is byte for byte the file a
fresh SQL read writes, and a fetch-like upsert after a read always leaves one. A write between COMMIT and
the rename leaves the file unused; a writer killed (-9) half way through writing the file after COMMIT
leaves the rows committed, a temp file no read uses and the next eviction removes once stale; a file
already stale at the start is not carried over; a tail longer than MAX_TAIL is not merged; the real
`data fetch` against the simulator carries the file over."""

from __future__ import annotations

import os
import sqlite3
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.store import candle_cache_upsert, candles, open_store
from cashup_tui.store.candle_arrays import COLUMNS, Columns
from cashup_tui.store.candle_cache import (
    MAX_BYTES,
    STALE_TEMP_S,
    Entry,
    evict,
    load,
    read_candle_columns_sqlite,
)
from cashup_tui.store.candle_cache_upsert import CacheUpsert
from cashup_tui.store.candle_versions import series_version
from tests.test_candle_cache import TF, bars, entries, fresh, hand, kill9_at, same
from tests.test_candle_cache_fill import ODD, rebuilt


def current(path: Path, cache: Path, symbol: str = "A") -> Columns | None:
    """The series' cache file when it is tagged with the series' current version (what a read would map)."""
    con = sqlite3.connect(path)
    try:
        tag = series_version(con, symbol, TF)
    finally:
        con.close()
    if tag is None:
        return None
    entry = Entry(tag[0], str(path.resolve()), symbol, TF, tag[1])
    return load(entry.path(cache), entry)


def upserted(path: Path, cache: Path, cols: Columns, symbol: str = "A") -> None:
    with open_store(str(path)) as db:
        candles.upsert_candles(db, symbol, TF, cols, cache=cache)


def warmed(path: Path, cache: Path, symbol: str = "A") -> None:
    got = read_candle_columns_sqlite(str(path), symbol, TF, cache=cache)
    assert got is not None and current(path, cache, symbol) is not None


step = st.tuples(st.sampled_from(["fetch", "append", "deep", "hand", "read"]), st.integers(0, 40),
                 st.integers(1, 12), st.lists(st.sampled_from(ODD), min_size=6, max_size=6))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 80), st.lists(step, min_size=1, max_size=6))
def test_upserts_carry_the_file_over_exactly(tmp_path_factory: pytest.TempPathFactory, n: int,
                                             steps: list[tuple[str, int, int, list[float]]]) -> None:
    tmp = tmp_path_factory.mktemp("up")
    path, cache = tmp / "s.sqlite", tmp / "cache"
    with open_store(str(path)) as db:
        candles.import_candles(db, "A", TF, bars(0, n, 100.0))
    warmed(path, cache)
    for kind, at, count, odd in steps:
        last = int(fresh(path, "A")["open_ms"][-1] - bars(0, 1, 0)["open_ms"][0]) // 60_000
        was_current = current(path, cache) is not None
        if kind == "read":
            warmed(path, cache)
            continue
        if kind == "hand":  # another writer: the file goes stale
            hand(path, "UPDATE candles SET close = close + 1 WHERE symbol = 'A' AND open_ms = "
                 "(SELECT max(open_ms) FROM candles WHERE symbol = 'A')")
            assert current(path, cache) is None
            continue
        start = {"fetch": last, "append": last + 1 + at % 3, "deep": max(0, last - at)}[kind]
        cols = bars(start, count, 7.0 + at)
        for c, v in zip(COLUMNS[1:], odd, strict=False):
            cols[c][at % count] = v
        upserted(path, cache, cols)
        got = current(path, cache)
        if got is not None:
            assert same(got, fresh(path, "A"))
            assert (entries(cache)[0]).read_bytes() == rebuilt(path, cache)  # the header too
            warmed(path, cache)  # rebuilt emptied the cache; the next step starts from a current file again
        else:
            assert not (was_current and kind in ("fetch", "append")), "a fetch-like upsert left no current file"
            if was_current:
                warmed(path, cache)


def test_a_write_between_commit_and_the_rename_leaves_the_file_unused(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    with open_store(str(path)) as db:
        candles.import_candles(db, "A", TF, bars(0, 50, 100.0))
    warmed(path, cache)
    publish = CacheUpsert.publish

    def late(self: CacheUpsert) -> bool:
        hand(path, "UPDATE candles SET open = 1.5 WHERE symbol = 'A' AND open_ms = ?", int(bars(20, 1, 0)["open_ms"][0]))
        return publish(self)

    monkeypatch.setattr(CacheUpsert, "publish", late)
    upserted(path, cache, bars(49, 3, 5.0))
    (only,) = entries(cache)
    assert b'"rows": 52' in only.read_bytes()[:200]  # the carried file was written ...
    assert current(path, cache) is None  # ... for a version that is gone
    got = read_candle_columns_sqlite(str(path), "A", TF, cache=cache)
    assert got is not None and same(got, fresh(path, "A")) and got["open"][20] == 1.5


_KILLED_PUBLISH = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cashup_tui import private_files
    from cashup_tui.store import candles, open_store
    from tests.test_candle_cache import bars
    path, cache, marker = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    copy = private_files.copy_file
    def half(src, dst, length=None):  # the carried file's first part is in its temp file, the rest never comes
        copy(src, dst, length)
        dst.flush()
        part = marker.with_name("part"); part.write_text("publishing"); part.rename(marker)
        time.sleep(600)
    private_files.copy_file = half
    with open_store(path) as db:
        candles.upsert_candles(db, "A", "1m", bars(49, 3, 5.0), cache=cache)
""")


def test_a_fetch_killed_while_writing_the_file_leaves_its_rows_and_no_file_in_use(tmp_path: Path) -> None:
    path, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    with open_store(str(path)) as db:
        candles.import_candles(db, "A", TF, bars(0, 50, 100.0))
    warmed(path, cache)
    kill9_at(tmp_path / "publishing", _KILLED_PUBLISH, str(path), str(cache))
    want = fresh(path, "A")
    assert len(want["open_ms"]) == 52 and want["close"][-1] == bars(49, 3, 5.0)["close"][-1]  # committed first
    (temp,) = [p for p in cache.iterdir() if p.name.endswith(".tmp")]
    assert current(path, cache) is None  # the old version's file stays, unused
    got = read_candle_columns_sqlite(str(path), "A", TF, cache=cache)  # reads SQL, writes the file, evicts
    assert got is not None and same(got, want) and temp.exists()  # a temp file may be a live writer's
    assert same(current(path, cache) or {}, want)
    os.utime(temp, (time.time() - STALE_TEMP_S - 1,) * 2)
    evict(cache, MAX_BYTES)
    assert not temp.exists() and len(entries(cache)) == 1


def test_a_file_stale_at_the_start_is_not_carried_over(tmp_path: Path) -> None:
    path, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    with open_store(str(path)) as db:
        candles.import_candles(db, "A", TF, bars(0, 50, 100.0))
    warmed(path, cache)
    hand(path, "UPDATE candles SET open = 1.5 WHERE symbol = 'A' AND open_ms = ?", int(bars(10, 1, 0)["open_ms"][0]))
    before = entries(cache)[0].read_bytes()
    upserted(path, cache, bars(49, 3, 5.0))
    assert current(path, cache) is None and entries(cache)[0].read_bytes() == before


def test_a_long_tail_is_left_to_the_next_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    with open_store(str(path)) as db:
        candles.import_candles(db, "A", TF, bars(0, 50, 100.0))
    warmed(path, cache)
    monkeypatch.setattr(candle_cache_upsert, "MAX_TAIL", 3)
    upserted(path, cache, bars(46, 5, 5.0))  # 4 stored bars from the first written one on
    assert current(path, cache) is None
    warmed(path, cache)
    upserted(path, cache, bars(48, 5, 6.0))  # 3
    got = current(path, cache)
    assert got is not None and same(got, fresh(path, "A"))


def test_other_series_and_stores_are_untouched(tmp_path: Path) -> None:
    """An upsert of B, or without a cache directory, leaves A's file as it was (and current)."""
    path, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    with open_store(str(path)) as db:
        candles.import_candles(db, "A", TF, bars(0, 50, 100.0))
        candles.import_candles(db, "B", TF, bars(0, 50, 100.0))
    warmed(path, cache)
    before = entries(cache)[0].read_bytes()
    upserted(path, cache, bars(49, 3, 5.0), "B")
    with open_store(str(path)) as db:
        candles.upsert_candles(db, "B", TF, bars(49, 3, 6.0))
    assert entries(cache)[0].read_bytes() == before and current(path, cache) is not None


async def test_data_fetch_carries_the_file_over(tmp_path: Path) -> None:
    """The real CLI: fetch, read (the backtest's read fills the cache), fetch again from the last bar on."""
    from tests.test_ccxt_data_fetch import _serve, cashup

    db = tmp_path / "candles.sqlite"
    cache = Path(os.environ["CASHUP_CACHE_DIR"]) / "candles"
    async for sim in _serve(["BTC_USDT"]):
        closed = sim.state.market.candles("BTC_USDT", "1m", None, None, 2000)[:-1]
        first, last = closed[0]["t"] * 1000, closed[-1]["t"] * 1000
        args = ["--db", str(db), "data", "fetch", "-s", "BTC_USDT", "-t", TF, "--rest-url", sim.rest_url]
        code, _, err = await cashup(*args, "--since", str(first), "--until", str(last))  # all but the last bar
        assert code == 0, err
        got = read_candle_columns_sqlite(str(db), "BTC_USDT", TF, cache=cache)
        assert got is not None and len(got["open_ms"]) == len(closed) - 1
        code, _, err = await cashup(*args, "--since", str(last - 60_000), "--until", str(last + 60_000))
        assert code == 0, err
    got = current(db, cache, "BTC_USDT")
    assert got is not None and len(got["open_ms"]) == len(closed)
    con = sqlite3.connect(db)
    try:
        from cashup_tui.store.candle_arrays import read_candle_columns

        want = read_candle_columns(con, "BTC_USDT", TF)
    finally:
        con.close()
    assert same(got, want) and np.array_equal(got["open_ms"], [c["t"] * 1000 for c in closed])
