"""An import into an empty series writes the series' column cache file itself (store.candle_cache_fill,
issue 13): the first backtest after `data import` maps it instead of reading SQLite.

The file the import writes is compared byte for byte with the file a fresh SQL read writes (the cold
read of store.candle_cache) over chunk boundaries, identical bars repeated across chunks, chunks out of
order, -0.0, extreme and integral floats, --replace, both SQLite paths and PostgreSQL; an import into
a non-empty series writes none; a write between COMMIT and the file's rename leaves it unused; another
import committed under a PostgreSQL import's feet stops the fill; an unwritable or failing cache
directory never fails an import; the spool keeps memory flat; and the real CLI's import then backtest
hits the file."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.store import candles, open_store
from cashup_tui.store.candle_arrays import COLUMNS, Columns
from cashup_tui.store.candle_cache import MAGIC, SUFFIX, Entry, load, read_candle_columns_sqlite, read_columns
from cashup_tui.store.candle_cache_fill import CacheFill
from cashup_tui.store.candle_import import import_candle_chunks_sqlite
from cashup_tui.store.candle_versions import series_version
from cashup_tui.store.engine import transaction
from tests.test_candle_cache import T0, TF, bars, entries, fresh, hand, same

ODD = [-0.0, 0.0, 1e308, -1e308, 5e-324, -5e-324, 2.0**53, 2.0**53 + 2, 2.0**63, -(2.0**63), 1e15, 3.0, -7.0,
       float("inf"), float("-inf"), 0.1, 1 / 3]


def chunked(cols: Columns, cuts: list[int]) -> list[tuple[str, Columns]]:
    edges = [0, *sorted(set(c for c in cuts if 0 < c < len(cols["open_ms"]))), len(cols["open_ms"])]
    return [(TF, {c: a[i:j] for c, a in cols.items()}) for i, j in pairwise(edges)]


def imported(path: Path, chunks: Iterable[tuple[str, Columns]], cache: Path, how: str, whole: bool = False) -> None:
    if how == "stdlib":
        assert import_candle_chunks_sqlite(str(path), "A", chunks, replace=whole, cache=cache) is not None
    else:
        with open_store(str(path)) as db:
            candles.import_candle_chunks(db, "A", chunks, replace=whole, cache=cache)


def rebuilt(path: Path, cache: Path) -> bytes:
    """What a fresh SQL read writes as the series' file (the cold read, with the cache emptied)."""
    for p in entries(cache):
        p.unlink()
    got = read_candle_columns_sqlite(str(path), "A", TF, cache=cache)
    assert got is not None and same(got, fresh(path, "A"))
    (only,) = entries(cache)
    return only.read_bytes()


values = st.one_of(st.sampled_from(ODD), st.floats(allow_nan=False), st.integers(-(2**62), 2**62).map(float))


@settings(max_examples=40)
@given(st.integers(1, 120), st.lists(st.integers(1, 119), max_size=6), st.lists(values, min_size=6, max_size=6),
       st.sampled_from(["fresh", "replace", "repeat", "swap", "inner", "nonempty"]), st.sampled_from(["stdlib", "sqlalchemy"]))
def test_the_file_an_import_writes_is_the_file_a_fresh_read_writes(
        tmp_path_factory: pytest.TempPathFactory, n: int, cuts: list[int], odd: list[float], case: str, how: str) -> None:
    tmp = tmp_path_factory.mktemp("fill")
    path, cache = tmp / "s.sqlite", tmp / "cache"
    cols = bars(0, n, 100.0)
    for i, (c, v) in enumerate(zip(COLUMNS[1:], odd[1:], strict=True)):
        cols[c][(i * 7) % n] = v  # odd values at various rows (open takes odd[0] at the last row)
    cols["open"][-1] = odd[0]
    chunks = chunked(cols, cuts)
    if case == "replace":  # a series stored before, replaced whole
        imported(path, [(TF, bars(3, 50, 7.0))], cache, how)
    elif case == "nonempty":  # rows after the stored ones: the import does not hold the whole series
        imported(path, [(TF, bars(-10, 5, 7.0))], cache, how)
    elif case == "repeat" and len(chunks) > 1:  # identical bars again at the next chunk's start: skipped
        prev = chunks[0][1]
        chunks[1] = (TF, {c: np.concatenate([prev[c][-3:], a]) for c, a in chunks[1][1].items()})
    elif case == "swap" and len(chunks) > 1:  # chunks out of order: stored right, but not spooled in order
        chunks[0], chunks[1] = chunks[1], chunks[0]
    elif case == "inner":  # two rows inside the series swapped (first, last and count as stored): not spooled
        cols["open_ms"][[1, 2]] = cols["open_ms"][[2, 1]]
    for p in entries(cache):
        p.unlink()
    imported(path, chunks, cache, how, whole=case == "replace")
    written = [p.read_bytes() for p in entries(cache)]
    assert not [p for p in cache.iterdir() if not p.name.endswith(SUFFIX)] if cache.exists() else True  # no temp
    if case == "nonempty" or (case == "swap" and len(chunks) > 1) or (case == "inner" and n > 3):
        assert written == []
    else:
        assert written == [rebuilt(path, cache)]


def test_the_imported_file_is_read_as_a_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    imported(path, chunked(bars(0, 500, 1.0), [100, 400]), cache, "stdlib")
    (entry,) = entries(cache)
    monkeypatch.setattr("cashup_tui.store.candle_cache.read_candle_columns", lambda *a, **k: pytest.fail("SQL read"))
    got = read_candle_columns_sqlite(str(path), "A", TF, cache=cache)
    assert got is not None and same(got, fresh(path, "A")) and entries(cache) == [entry]


def test_a_write_between_commit_and_the_file_leaves_it_unused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is tagged with the version the import's own transaction set: a hand edit committed
    before the file is renamed into place gives the series another version, so the file is never read."""
    path, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    publish = CacheFill.publish

    def late(self: CacheFill) -> bool:
        hand(path, "UPDATE candles SET close = -1 WHERE symbol = 'A' AND open_ms = ?", T0 + 5 * 60_000)
        return publish(self)

    monkeypatch.setattr(CacheFill, "publish", late)
    imported(path, chunked(bars(0, 50, 1.0), [20]), cache, "stdlib")
    (stale,) = entries(cache)
    tagged = _entry_of(stale)
    con = sqlite3.connect(path)
    try:
        now = series_version(con, "A", TF)
    finally:
        con.close()
    assert now is not None and tagged.version != now[1]
    assert load(stale, replace(tagged, version=now[1])) is None  # never read as the current series
    want = fresh(path, "A")
    assert want["close"][5] == -1.0
    got = read_candle_columns_sqlite(str(path), "A", TF, cache=cache)
    assert got is not None and same(got, want)


def _entry_of(p: Path) -> Entry:
    raw = p.read_bytes()
    hlen = int.from_bytes(raw[len(MAGIC):len(MAGIC) + 8], "little")
    meta = json.loads(raw[len(MAGIC) + 8:hlen])
    meta.pop("rows")
    return Entry(**meta)


@pytest.mark.parametrize("fault", ["dir_is_a_file", "disk_full"])
def test_a_cache_that_cannot_be_written_never_fails_an_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              fault: str) -> None:
    path = tmp_path / "s.sqlite"
    (tmp_path / "f").write_text("x")
    cache = tmp_path / "f" / "cache" if fault == "dir_is_a_file" else tmp_path / "cache"
    if fault == "disk_full":
        def full(*a: object, **k: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "copy_file_range", full)
    cols = bars(0, 300, 1.0)
    imported(path, chunked(cols, [100]), cache, "stdlib")
    assert same(fresh(path, "A"), cols)
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []  # no entry, no temp


def test_the_spool_keeps_memory_flat(tmp_path: Path) -> None:
    """Python-side memory of an import does not grow with its rows: one chunk at a time."""
    def peak(k: int) -> int:
        path, cache = tmp_path / f"s{k}.sqlite", tmp_path / f"c{k}"

        def chunks() -> Iterator[tuple[str, Columns]]:
            for i in range(k):
                yield TF, bars(i * 20_000, 20_000, 1.0)

        tracemalloc.start()
        try:
            imported(path, chunks(), cache, "stdlib")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert len(entries(cache)) == 1

    imported(tmp_path / "warm.sqlite", [(TF, bars(0, 10, 1.0))], tmp_path / "cw", "stdlib")  # imports, caches
    small, large = peak(3), peak(15)
    assert large - small < 20_000 * 48, (small, large)  # less than one more chunk for 12 more chunks


def _csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(3)
    t = T0 + np.arange(n, dtype="int64") * 60_000
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "".join(
        f"{t[i]},{close[i]:.2f},{close[i] + 1:.2f},{close[i] - 1:.2f},{close[i]:.2f},{i % 7 * 1.5}\n" for i in range(n)))
    return path


def _cli(tmp_path: Path, cache_root: Path, *args: str) -> str:
    env = {**os.environ, "CASHUP_DB": str(tmp_path / "s.sqlite"), "CASHUP_CACHE_DIR": str(cache_root),
           "CASHUP_CONFIG_DIR": str(tmp_path / "cfg"), "CASHUP_DATA_DIR": str(tmp_path / "d"),
           "CASHUP_LOG_DIR": str(tmp_path / "log")}
    env.pop("CASHUP_CONFIG", None)
    p = subprocess.run([sys.executable, "-m", "cashup_tui", *args], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_import_then_backtest_through_the_cli_reads_the_file_the_import_wrote(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "A.csv", 3000)
    cache_root = tmp_path / "cc"
    _cli(tmp_path, cache_root, "data", "import", str(csv), "--symbol", "A", "--timeframe", TF)
    (entry,) = entries(cache_root / "candles")
    inode = entry.stat().st_ino
    common = ["backtest", "run", "sma_cross", "--no-store", "--json"]
    from_store = json.loads(_cli(tmp_path, cache_root, *common, "--symbol", "A", "--timeframe", TF))
    from_file = json.loads(_cli(tmp_path, cache_root, *common, "--data", str(csv)))
    assert entries(cache_root / "candles") == [entry] and entry.stat().st_ino == inode  # a hit: not rewritten
    assert all(from_store[k] == from_file[k] for k in ("bars", "trade_count", "final_equity", "trades"))
    assert entry.read_bytes() == rebuilt(tmp_path / "s.sqlite", cache_root / "candles")


def test_the_cli_imports_fine_into_an_unusable_cache_dir(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "A.csv", 500)
    (tmp_path / "f").write_text("not a directory")
    out = json.loads(_cli(tmp_path, tmp_path / "f", "data", "import", str(csv), "--symbol", "A", "--json"))
    assert out["inserted"] == 500 and len(fresh(tmp_path / "s.sqlite", "A")["open_ms"]) == 500


def test_postgresql_import_writes_the_file_a_fresh_read_writes(pg: object, tmp_path: Path) -> None:
    url = pg.create_database()  # type: ignore[attr-defined]
    cache = tmp_path / "cache"
    cols = bars(0, 700, 1.0)
    for i, v in enumerate(ODD):
        cols["close"][i * 3] = v
    with open_store(url) as db:
        candles.import_candle_chunks(db, "A", chunked(cols, [250, 500]), cache=cache)
        (entry,) = entries(cache)
        written = entry.read_bytes()
        entry.unlink()
        with transaction(db) as conn:
            got = read_columns(conn, db.location, "A", TF, cache=cache)
        assert np.signbit(got["close"][0])  # PostgreSQL keeps -0.0's sign
        assert entries(cache) == [entry] and entry.read_bytes() == written
        candles.import_candle_chunks(db, "A", [(TF, bars(700, 5, 1.0))], cache=cache)  # not empty: no new file
        assert entries(cache) == [entry] and entry.read_bytes() == written


def test_postgresql_rows_committed_by_another_import_under_this_one_stop_the_fill(
        pg: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """READ COMMITTED: an import that found the series empty may see another one's rows committed before
    its own first write; the series then holds more than it spooled, and no file is written."""
    url = pg.create_database()  # type: ignore[attr-defined]
    cache = tmp_path / "cache"
    start = CacheFill.start
    with open_store(url) as db, open_store(url) as other:
        def racing(self: CacheFill, conn: object, empty: bool) -> None:
            start(self, conn, empty)
            candles.import_candles(other, "A", TF, bars(1000, 3, 5.0))

        monkeypatch.setattr(CacheFill, "start", racing)
        candles.import_candle_chunks(db, "A", [(TF, bars(0, 50, 1.0))], cache=cache)
        assert entries(cache) == []
        with transaction(db) as conn:
            assert len(read_columns(conn, db.location, "A", TF, cache=cache)["open_ms"]) == 53


@pytest.mark.parametrize("kernel", ["copy_file_range", "exdev", "short"])
def test_a_file_part_is_copied_whole_from_its_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       kernel: str) -> None:
    """`write_private_file` copies an open file part from where it stands to its end, after the parts
    before it, in the kernel or (another file system, a kernel without it, a copy that stops) by reading."""
    import tempfile

    from cashup_tui.private_files import write_private_file

    real = os.copy_file_range

    def flaky(src: int, dst: int, count: int, offset_src: int | None = None) -> int:
        if kernel == "exdev":
            raise OSError(errno.EXDEV, "cross-device")
        return real(src, dst, min(count, 1000), offset_src) if offset_src and offset_src < 5000 else 0

    if kernel != "copy_file_range":
        monkeypatch.setattr(os, "copy_file_range", flaky)
    body = bytes(range(256)) * 200
    with tempfile.TemporaryFile(dir=tmp_path) as a, tempfile.TemporaryFile(dir=tmp_path) as b:
        a.write(body)
        a.seek(7)
        b.write(body[::-1])
        b.flush()
        b.seek(0)
        write_private_file(tmp_path / "out", [b"head", a, b"mid", b, b"tail"])
    assert (tmp_path / "out").read_bytes() == b"head" + body[7:] + b"mid" + body[::-1] + b"tail"
