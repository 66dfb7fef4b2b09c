"""The candle column cache (store.candle_cache, issue 13) is never stale and never the reason a read fails.

Every read through the cache is compared, floats as bytes, with a fresh SQL read of the same store on a
plain sqlite3 connection, after writes of every kind: the importer (stdlib and SQLAlchemy paths, --replace),
the fetchers' upsert, hand edits through plain sqlite3 (UPDATE, DELETE, INSERT, REPLACE INTO, INSERT OR
REPLACE, an upsert, a row moved to another series), another process's import, a restored backup; and
against damaged, foreign and unwritable cache files. The triggers' crash safety is checked by killing a
real import process while its triggers are dropped."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.errors import DataError
from cashup_tui.store import candles, open_store
from cashup_tui.store.candle_arrays import COLUMNS, Columns, read_candle_columns
from cashup_tui.store.candle_cache import SUFFIX, Entry, evict, read_candle_columns_sqlite, read_columns
from cashup_tui.store.candle_import import import_candle_chunks_sqlite
from cashup_tui.store.candle_versions import TRIGGERS, series_version
from cashup_tui.store.engine import transaction
from cashup_tui.store.migrations import LATEST

T0 = 1_700_000_040_000 - 1_700_000_040_000 % 60_000
TF = "1m"


def bars(start: int, n: int, seed: float) -> dict[str, np.ndarray]:
    t = T0 + (start + np.arange(n, dtype="int64")) * 60_000
    x = seed + np.arange(n) * 0.5
    return {"open_ms": t, "open": x, "high": x + 1, "low": x - 1, "close": x + 0.25, "volume": x * 3}


def fresh(path: Path, symbol: str) -> Columns:
    """The series as plain SQL reads it, on a plain sqlite3 connection (no cache involved)."""
    con = sqlite3.connect(path)
    try:
        return read_candle_columns(con, symbol, TF)
    finally:
        con.close()


def cached(path: Path, symbol: str, cache: Path, lo: int | None = None, hi: int | None = None) -> Columns:
    got = read_candle_columns_sqlite(str(path), symbol, TF, lo, hi, cache=cache)
    assert got is not None
    return got


def same(a: Columns, b: Columns) -> bool:
    return all(a[c].dtype == b[c].dtype and a[c].tobytes() == b[c].tobytes() for c in COLUMNS)


def part(cols: Columns, lo: int | None, hi: int | None) -> Columns:
    t = cols["open_ms"]
    keep = (t >= (lo if lo is not None else t.min(initial=0))) & (t <= (hi if hi is not None else t.max(initial=0)))
    return {c: a[keep] for c, a in cols.items()}


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob(f"*{SUFFIX}")) if cache.exists() else []


def check(path: Path, cache: Path, lo: int | None = None, hi: int | None = None) -> None:
    """Cached reads (the one that may fill the cache, the one that hits it, a range) equal fresh SQL."""
    for sym in ("A", "B"):
        want = fresh(path, sym)
        assert same(cached(path, sym, cache), want), sym
        assert same(cached(path, sym, cache), want), sym  # a hit when the series has rows
        assert same(cached(path, sym, cache, lo, hi), part(want, lo, hi)), (sym, lo, hi)
    nonempty = sum(len(fresh(path, s)["open_ms"]) > 0 for s in ("A", "B"))
    assert len(entries(cache)) >= nonempty  # the cache is really in play


def hand(path: Path, sql: str, *params: object) -> None:
    """One statement through plain sqlite3, committed at once (a person in the sqlite3 shell)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute(sql, params)
    except sqlite3.IntegrityError:
        pass  # a hand INSERT of a stored bar, a move onto a stored key: refused, nothing changed
    finally:
        con.close()


def store(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    assert import_candle_chunks_sqlite(str(path), "A", [(TF, bars(0, 40, 100.0))]) is not None
    assert import_candle_chunks_sqlite(str(path), "B", [(TF, bars(10, 20, 500.0))]) is not None
    return path


ROW = f"('A', '{TF}', ?, ?, ?, ?, ?, ?)"
WRITES = {  # name -> (path, k, v): one write of each kind, to series A
    "import": lambda p, k, v: import_candle_chunks_sqlite(str(p), "A", [(TF, bars(40 + k, 5, v))]),
    "import_replace": lambda p, k, v: import_candle_chunks_sqlite(str(p), "A", [(TF, bars(k, 7, v))], replace=True),
    "import_sqlalchemy": lambda p, k, v: _with_store(p, lambda db: candles.import_candles(db, "A", TF, bars(60 + k, 3, v))),
    "upsert": lambda p, k, v: _with_store(p, lambda db: candles.upsert_candles(db, "A", TF, bars(k, 3, v))),
    "delete_series": lambda p, k, v: _with_store(p, lambda db: candles.delete_series(db, "A", TF)),
    "hand_update": lambda p, k, v: hand(p, "UPDATE candles SET close = ? WHERE symbol = 'A' AND open_ms = ?",
                                        v, T0 + k * 60_000),
    "hand_delete": lambda p, k, v: hand(p, "DELETE FROM candles WHERE symbol = 'A' AND open_ms = ?", T0 + k * 60_000),
    "hand_insert": lambda p, k, v: hand(p, f"INSERT INTO candles VALUES {ROW}", T0 + (100 + k) * 60_000, v, v, v, v, v),
    "hand_replace_into": lambda p, k, v: hand(p, f"REPLACE INTO candles VALUES {ROW}", T0 + k * 60_000, v, v, v, v, v),
    "hand_insert_or_replace": lambda p, k, v: hand(p, f"INSERT OR REPLACE INTO candles VALUES {ROW}",
                                                   T0 + k * 60_000, v, v, v, v, v),
    "hand_upsert": lambda p, k, v: hand(p, f"INSERT INTO candles VALUES {ROW} ON CONFLICT DO UPDATE SET "
                                           "close = excluded.close", T0 + k * 60_000, v, v, v, v, v),
    "hand_move_from_b": lambda p, k, v: hand(p, "UPDATE candles SET symbol = 'A', open_ms = open_ms - ? WHERE "
                                                "symbol = 'B' AND open_ms = ?", 10**6 * 60, T0 + (10 + k % 20) * 60_000),
    "hand_move_to_b": lambda p, k, v: hand(p, "UPDATE candles SET symbol = 'B', open_ms = open_ms + ? WHERE "
                                              "symbol = 'A' AND open_ms = ?", 10**9 * 60, T0 + k * 60_000),
}


def _with_store(path: Path, fn: object) -> None:
    with open_store(str(path)) as db:
        fn(db)  # type: ignore[operator]


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_kind_of_write_is_seen_by_the_next_cached_read(tmp_path: Path, write: str) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    before = cached(path, "A", cache)  # fills the cache
    assert len(entries(cache)) == 1 and same(cached(path, "A", cache), before)
    WRITES[write](path, 3, 7777.5)
    after = fresh(path, "A")
    assert not same(after, before), "the write must change series A for this test to mean anything"
    assert same(cached(path, "A", cache), after)
    assert same(cached(path, "B", cache), fresh(path, "B"))


def _apply(path: Path, write: str, k: int, v: float) -> None:
    try:
        WRITES[write](path, k, v)
    except DataError:
        pass  # an import conflicting with stored bars: refused whole, nothing changed


@settings(max_examples=25)
@given(st.lists(st.tuples(st.sampled_from(sorted(WRITES)), st.integers(0, 45), st.floats(-1e6, 1e6, width=32)),
                max_size=8),
       st.integers(0, 60), st.integers(0, 60))
def test_after_any_sequence_of_writes_a_cached_read_equals_a_fresh_sql_read(
        tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, float]], a: int, b: int) -> None:
    tmp = tmp_path_factory.mktemp("seq")
    path, cache = store(tmp), tmp / "cache"
    lo, hi = T0 + min(a, b) * 60_000, T0 + max(a, b) * 60_000
    check(path, cache, lo, hi)
    for write, k, v in ops:
        _apply(path, write, k, v)
        check(path, cache, lo, hi)
        check(path, cache, hi, lo)  # an empty range


def test_another_process_importing_is_seen(tmp_path: Path) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    before = cached(path, "A", cache)
    csv = tmp_path / "more.csv"
    more = bars(40, 30, 9.0)
    csv.write_text("open_time_ms,open,high,low,close,volume\n" + "".join(
        f"{t},{o},{h},{lw},{c},{vol}\n" for t, o, h, lw, c, vol in zip(*(more[c].tolist() for c in COLUMNS), strict=True)))
    env = {**os.environ, "CASHUP_DB": str(path)}
    p = subprocess.run([sys.executable, "-m", "cashup_tui", "data", "import", str(csv), "--symbol", "A",
                        "--timeframe", TF], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = cached(path, "A", cache)
    assert len(got["open_ms"]) == len(before["open_ms"]) + 30 and same(got, fresh(path, "A"))


def test_a_restored_backup_written_again_is_not_mistaken_for_the_cached_version(tmp_path: Path) -> None:
    """Why versions are random tokens, not counters: a counter would return to the cached value here."""
    path, cache = store(tmp_path), tmp_path / "cache"
    backup = tmp_path / "backup.sqlite"
    con = sqlite3.connect(path)
    con.execute("VACUUM INTO ?", (str(backup),))
    con.close()
    hand(path, "UPDATE candles SET close = 1 WHERE symbol = 'A' AND open_ms = ?", T0)
    assert cached(path, "A", cache)["close"][0] == 1  # cached: the first write's version
    backup.replace(path)  # the backup back in place, at the same path, then written once more
    hand(path, "UPDATE candles SET close = 2 WHERE symbol = 'A' AND open_ms = ?", T0)
    assert same(cached(path, "A", cache), fresh(path, "A")) and fresh(path, "A")["close"][0] == 2


def test_two_stores_and_a_copied_store_never_share_entries(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = store(tmp_path / "one"), store(tmp_path / "two")
    hand(two, "UPDATE candles SET close = 5 WHERE symbol = 'A'")
    copy = tmp_path / "copy.sqlite"
    con = sqlite3.connect(one)
    con.execute("VACUUM INTO ?", (str(copy),))  # same store id and versions as `one`, another file
    con.close()
    for p in (one, two, copy):
        cached(p, "A", cache)
    hand(copy, "UPDATE candles SET close = 6 WHERE symbol = 'A'")  # the copy diverges
    for p in (one, two, copy, one):
        assert same(cached(p, "A", cache), fresh(p, "A")), p
    assert len(entries(cache)) == 3


def _entry_file(path: Path, cache: Path) -> Path:
    con = sqlite3.connect(path)
    try:
        con.execute("BEGIN")
        tag = series_version(con, "A", TF)
    finally:
        con.close()
    assert tag is not None
    return Entry(tag[0], str(path.resolve()), "A", TF, tag[1]).path(cache)


@pytest.mark.parametrize("damage", ["truncate", "extend", "garbage", "empty", "header_only", "foreign", "other_version",
                                    "directory"])
def test_a_damaged_or_foreign_cache_file_is_read_around_and_replaced(tmp_path: Path, damage: str) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    want = cached(path, "A", cache)
    f = _entry_file(path, cache)
    assert f.exists()
    data = f.read_bytes()
    if damage == "truncate":
        f.write_bytes(data[:-8])
    elif damage == "extend":
        f.write_bytes(data + b"\0" * 48)
    elif damage == "garbage":
        f.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        f.write_bytes(b"")
    elif damage == "header_only":
        f.write_bytes(data[:64])
    elif damage == "foreign":  # the file of series B of the same store put in A's place
        cached(path, "B", cache)
        (other,) = [p for p in entries(cache) if p != f]
        other.replace(f)
    elif damage == "other_version":  # A's file, but from before a write that bypassed nothing
        hand(path, "UPDATE candles SET close = 3 WHERE symbol = 'A' AND open_ms = ?", T0 + 60_000)
        want = fresh(path, "A")
        f = _entry_file(path, cache)
        f.write_bytes(data)
    else:
        f.unlink()
        f.mkdir()
    assert same(cached(path, "A", cache), want)
    if damage != "directory":  # rewritten whole: the next read is a hit again
        assert same(cached(path, "A", cache), want) and f.stat().st_size == len(data)


def test_an_unusable_cache_directory_never_fails_a_read(tmp_path: Path) -> None:
    path = store(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for cache in (blocker, blocker / "below"):
        assert same(cached(path, "A", cache), fresh(path, "A"))
    assert blocker.read_text() == "not a directory"


def test_a_missing_or_foreign_trigger_turns_the_cache_off(tmp_path: Path) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    cached(path, "A", cache)
    hand(path, "DROP TRIGGER candles_version_update")
    hand(path, "UPDATE candles SET close = 4 WHERE symbol = 'A'")  # no bump: the version is unchanged
    assert same(cached(path, "A", cache), fresh(path, "A"))
    hand(path, TRIGGERS["candles_version_update"].replace("random()", "0"))
    hand(path, "UPDATE candles SET close = 5 WHERE symbol = 'A'")
    assert same(cached(path, "A", cache), fresh(path, "A"))


def test_eviction_keeps_the_directory_under_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    cached(path, "A", cache)
    cached(path, "B", cache)
    a_file = _entry_file(path, cache)
    old = time.time() - 100
    for p in entries(cache):
        os.utime(p, (old, old))
    cached(path, "A", cache)  # a hit: A is now the most recently used
    size_a = a_file.stat().st_size
    evict(cache, size_a)
    assert entries(cache) == [a_file]
    con = sqlite3.connect(path)
    con.execute("BEGIN")
    got = read_columns(con, str(path.resolve()), "B", TF, cache=cache, max_bytes=size_a)
    con.close()
    assert same(got, fresh(path, "B")) and entries(cache) != [a_file] and len(entries(cache)) == 1


def test_migration_from_v6_installs_the_triggers_and_fresh_versions(tmp_path: Path) -> None:
    path, cache = tmp_path / "old.sqlite", tmp_path / "cache"
    with open_store(str(path), target_version=6):
        pass
    con = sqlite3.connect(path)
    with con:
        rows = bars(0, 10, 1.0)
        con.executemany(f"INSERT INTO candles VALUES {ROW}", zip(*(rows[c].tolist() for c in COLUMNS), strict=True))
    con.close()
    assert read_candle_columns_sqlite(str(path), "A", TF, cache=cache) is None  # v6: open_store migrates first
    with open_store(str(path)) as db:
        assert db.schema_version == LATEST
        with transaction(db) as conn:
            assert same(read_columns(conn, db.location, "A", TF, cache=cache), fresh(path, "A"))
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert set(TRIGGERS) <= names
    assert len(entries(cache)) == 1
    hand(path, f"INSERT INTO candles VALUES {ROW}", T0 + 50 * 60_000, 2.0, 2.0, 2.0, 2.0, 2.0)
    got = cached(path, "A", cache)  # the stdlib path, same key as open_store's location
    assert len(got["open_ms"]) == 11 and same(got, fresh(path, "A"))


_BLOCKED_IMPORT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from cashup_tui.store.candle_import import import_chunks
    from cashup_tui.store.lite import write_sqlite
    from tests.test_candle_cache import bars
    url, marker = sys.argv[1], Path(sys.argv[2])
    conn_box = []
    def stop(done, total):  # inside write_rows, triggers dropped, rows written, nothing committed
        con = conn_box[0]
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        part = marker.with_name("part"); part.write_text(json.dumps(names)); part.rename(marker)
        time.sleep(600)
    def write(conn):
        conn_box.append(conn)
        return import_chunks(conn, "A", [("1m", bars(100, 30_000, 3.0))], progress=stop)
    write_sqlite(url, write, "the candles", synchronous="FULL", busy_timeout_ms=5000)
""")


def kill9_at(marker: Path, script: str, *args: str) -> str:
    """Run `script` (python -c, from the repository) with `args` and `marker` until `marker` appears
    (the script renames it into place whole, then waits), kill it with SIGKILL, return what it wrote."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args, str(marker)],
                            cwd=Path(__file__).resolve().parent.parent, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), proc.stderr.read() if proc.stderr else ""
        return marker.read_text()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)


def test_an_import_killed_while_its_triggers_are_dropped_leaves_them_in_place(tmp_path: Path) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    before = cached(path, "A", cache)
    inside = json.loads(kill9_at(tmp_path / "inside", _BLOCKED_IMPORT, str(path)))
    assert "candles_version_insert" not in inside and "candles_version_update" not in inside
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert set(TRIGGERS) <= names
    assert same(fresh(path, "A"), before) and same(cached(path, "A", cache), before)  # nothing of it committed
    hand(path, f"INSERT INTO candles VALUES {ROW}", T0 + 90 * 60_000, 2.0, 2.0, 2.0, 2.0, 2.0)
    got = cached(path, "A", cache)
    assert len(got["open_ms"]) == len(before["open_ms"]) + 1 and same(got, fresh(path, "A"))


def test_a_cached_read_is_what_the_backtest_command_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`backtest run` from the store fills the cache under CASHUP_CACHE_DIR and gives the same result
    from it, and again after a hand edit."""
    path = store(tmp_path)
    more = bars(40, 400, 50.0)
    more["close"] = more["close"] + np.sin(np.arange(400)) * 20
    import_candle_chunks_sqlite(str(path), "A", [(TF, more)])
    env = {**os.environ, "CASHUP_DB": str(path), "CASHUP_CACHE_DIR": str(tmp_path / "c")}
    cmd = [sys.executable, "-m", "cashup_tui", "backtest", "run", "sma_cross", "--symbol", "A", "--timeframe", TF,
           "--no-store", "--json"]

    def run() -> dict[str, object]:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return dict(json.loads(p.stdout))

    first = run()
    assert len(entries(tmp_path / "c" / "candles")) == 1
    assert run() == first
    hand(path, "UPDATE candles SET close = close * 2 WHERE symbol = 'A'")
    assert run() != first


PG_WRITES = (  # one statement each, as a person in psql would write them
    "INSERT INTO candles SELECT 'A', '1m', open_ms + 6000000, open, high, low, close, volume FROM candles "
    "WHERE symbol = 'A'",
    "UPDATE candles SET close = close + 1 WHERE symbol = 'A' AND open_ms < {t}",
    "DELETE FROM candles WHERE symbol = 'A' AND open_ms = {t}",
    "INSERT INTO candles VALUES ('A', '1m', {t}, 1, 2, 0.5, 1.5, 9) ON CONFLICT (symbol, timeframe, open_ms) "
    "DO UPDATE SET close = excluded.close",
    "UPDATE candles SET symbol = 'A', open_ms = open_ms - 600000000 WHERE symbol = 'B'",
    "TRUNCATE candles",
)


def _pg_statement(db: object, sql: str) -> None:
    with transaction(db) as conn:
        conn.exec_driver_sql(sql)


def test_postgresql_statement_triggers_bump_every_touched_series(pg: object, tmp_path: Path) -> None:
    url = pg.create_database()  # type: ignore[attr-defined]
    cache = tmp_path / "cache"
    with open_store(url) as db:
        candles.import_candles(db, "A", TF, bars(0, 40, 100.0))
        candles.upsert_candles(db, "B", TF, bars(10, 20, 500.0))

        def state() -> tuple[dict[str, tuple[str, int] | None], dict[str, Columns], dict[str, Columns]]:
            with transaction(db) as conn:
                tags = {s: series_version(conn, s, TF) for s in ("A", "B")}
                want = {s: read_candle_columns(conn, s, TF) for s in ("A", "B")}
                got = {s: read_columns(conn, db.location, s, TF, cache=cache) for s in ("A", "B")}
            return tags, want, got

        tags, want, got = state()
        assert all(tags.values()) and all(same(got[s], want[s]) for s in want)
        assert len(entries(cache)) == 2 and db.location is not None
        importer = [lambda: candles.import_candles(db, "A", TF, bars(300, 5, 1.0)),
                    lambda: candles.upsert_candles(db, "B", TF, bars(12, 3, 2.0)),
                    lambda: candles.import_candles(db, "B", TF, bars(0, 4, 3.0), replace=True)]
        hand = [lambda sql=sql: _pg_statement(db, sql.format(t=T0 + 5 * 60_000)) for sql in PG_WRITES]
        for write in [*importer, *hand]:
            write()
            new_tags, new_want, new_got = state()
            for s in ("A", "B"):
                if not same(new_want[s], want[s]):
                    assert new_tags[s] != tags[s], s
                assert same(new_got[s], new_want[s]), s
            tags, want = new_tags, new_want
        assert not any(len(w["open_ms"]) for w in want.values())  # TRUNCATE emptied both


def test_a_bulk_write_that_fails_half_way_and_is_committed_anyway_still_bumps(tmp_path: Path) -> None:
    """The triggers are back and the series bumped even when the write raised and its caller commits
    what was written before the error (SQLite undoes only the failing statement)."""
    from cashup_tui.store.candle_import import INSERT, write_rows

    path, cache = store(tmp_path), tmp_path / "cache"
    before = cached(path, "A", cache)
    rows = bars(1000, 600, 1.0)
    rows["open_ms"][-1] = T0  # the last statement hits a stored bar
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.IntegrityError):
        write_rows(con, "A", TF, [rows[c] for c in COLUMNS], INSERT, None)
    con.execute("COMMIT")
    con.close()
    after = fresh(path, "A")
    assert len(after["open_ms"]) > len(before["open_ms"]) and same(cached(path, "A", cache), after)
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert set(TRIGGERS) <= names
