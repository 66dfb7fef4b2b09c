"""A cold read split over two processes (store.candle_half) returns exactly the rows of the caller's read
transaction, and the cache file it fills is tagged with that transaction's version: whatever the second
process sees (the same snapshot, a write committed in between, a failure, an open_ms float64 cannot hold)."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cashup_tui.store import candle_cache, candle_half
from cashup_tui.store.candle_cache import Entry, load, published, read_candle_columns_sqlite, read_columns
from cashup_tui.store.candle_import import import_candle_chunks_sqlite
from cashup_tui.store.candle_versions import series_version
from tests.test_candle_cache import TF, WRITES, bars, cached, check, entries, fresh, same, store


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every full cold read of two bars or more is split; the list records whether each child's rows were used."""
    used: list[bool] = []
    collect = candle_half._collect

    def spy(child: object, version: int) -> np.ndarray | None:
        got = collect(child, version)  # type: ignore[arg-type]
        used.append(got is not None)
        return got

    monkeypatch.setattr(candle_half, "MIN_ROWS", 1)
    monkeypatch.setattr(candle_half, "core_free", lambda: True)  # whatever else the machine runs
    monkeypatch.setattr(candle_half, "_collect", spy)
    return used


def begun(path: Path) -> tuple[sqlite3.Connection, tuple[str, int]]:
    """A reader's connection in a read transaction whose snapshot is taken (it read the version)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    tag = series_version(conn, "A", TF)
    assert tag is not None
    return conn, tag


@pytest.mark.parametrize("write", sorted(WRITES))
def test_split_reads_equal_a_fresh_sql_read_after_every_kind_of_write(tmp_path: Path, split: list[bool],
                                                                      write: str) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    check(path, cache)
    WRITES[write](path, 3, 7.25)
    check(path, cache)
    assert split and all(split)  # the second process really served its half


def test_values_come_back_bit_for_bit(tmp_path: Path, split: list[bool]) -> None:
    path = tmp_path / "store.sqlite"
    cols = bars(0, 64, 1.0)
    rng = np.random.default_rng(3)
    for c in ("open", "high", "low", "close", "volume"):  # random bit patterns (no NaN: SQLite refuses it)
        x = rng.integers(0, 2**63, 64).view("<f8")
        cols[c] = np.where(np.isfinite(x), x, 0.0) * rng.choice([-1.0, 1.0], 64)
    cols["close"][:4] = [5e-324, 2.0**-1022, 1.7976931348623157e308, 0.1]
    assert import_candle_chunks_sqlite(str(path), "A", [(TF, cols)]) is not None
    assert same(cached(path, "A", tmp_path / "cache"), fresh(path, "A"))
    assert split == [True]


def test_a_write_committed_before_the_child_reads_is_not_mixed_in(tmp_path: Path, split: list[bool]) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    before = fresh(path, "A")
    conn, tag = begun(path)
    WRITES["hand_update"](path, 30, 99.0)  # in the newer half, committed after the reader's snapshot
    assert not same(fresh(path, "A"), before)
    got = read_columns(conn, str(path.resolve()), "A", TF, cache=cache)
    conn.close()
    assert same(got, before)  # the reader's snapshot, not the child's
    assert split == [False]
    [file] = entries(cache)
    stale = load(file, Entry(tag[0], str(path.resolve()), "A", TF, tag[1]))
    assert stale is not None and same(stale, before)  # tagged with the version of the rows it holds
    assert same(cached(path, "A", cache), fresh(path, "A"))  # so the next read does not take it


def test_a_failing_child_leaves_the_read_correct(tmp_path: Path, split: list[bool],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    bad = tmp_path / "child.py"
    bad.write_text("import sys\nsys.stdout.buffer.write(b'\\0' * 40)\nsys.exit(1)\n")
    monkeypatch.setattr(candle_half, "CHILD", bad)
    with caplog.at_level(logging.INFO, "cashup.store"):
        assert same(cached(path, "A", cache), fresh(path, "A"))
    assert split == [False] and "second process failed" in caplog.text
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))  # cannot even start one
    conn, _ = begun(path)
    try:
        assert same(read_columns(conn, str(path.resolve()), "A", TF, cache=tmp_path / "c2"), fresh(path, "A"))
    finally:
        conn.close()


def test_open_times_float64_cannot_hold_are_read_by_the_caller(tmp_path: Path, split: list[bool]) -> None:
    path = store(tmp_path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("INSERT INTO candles VALUES ('A', ?, ?, 1, 2, 0, 1, 5)", (TF, 2**53 + 1))
    con.close()
    got = cached(path, "A", tmp_path / "cache")
    assert int(got["open_ms"][-1]) == 2**53 + 1 and same(got, fresh(path, "A"))
    assert split == [False]


def test_a_file_published_later_holds_the_rows_and_version_of_its_read(tmp_path: Path, split: list[bool],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"
    want = fresh(path, "A")
    go = threading.Event()
    publish = candle_cache._publish

    def held_back(*args: Any) -> bool:
        go.wait()  # until the caller has gone on (deterministic, whatever the scheduler does)
        return publish(*args)

    monkeypatch.setattr(candle_cache, "_publish", held_back)
    conn, tag = begun(path)
    got = read_columns(conn, str(path.resolve()), "A", TF, cache=cache, publish_later=True)
    conn.close()
    assert same(got, want) and len(candle_cache._pending) == 1  # its fsync and rename run in a thread
    assert not entries(cache)
    got["close"][:] = -1.0  # the caller's arrays are its own: the file has its bytes already
    WRITES["hand_update"](path, 30, 99.0)  # a write before it is published
    go.set()
    published()
    [file] = entries(cache)
    held = load(file, Entry(tag[0], str(path.resolve()), "A", TF, tag[1]))
    assert held is not None and same(held, want)
    assert same(cached(path, "A", cache), fresh(path, "A"))  # the write is seen: that file is stale


def test_a_publish_that_fails_leaves_reads_correct_and_no_file(tmp_path: Path, split: list[bool],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    path, cache = store(tmp_path), tmp_path / "cache"

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with caplog.at_level(logging.INFO, "cashup.store"):
        got = read_candle_columns_sqlite(str(path), "A", TF, cache=cache, publish_later=True)
        published()
    assert got is not None and same(got, fresh(path, "A"))
    assert "cannot write" in caplog.text and not list(cache.rglob("*"))  # no file, no temp file left
    monkeypatch.undo()
    assert same(cached(path, "A", cache), fresh(path, "A")) and len(entries(cache)) == 1


def test_a_child_given_no_store_file_creates_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    p = subprocess.run([sys.executable, "-I", "-S", str(candle_half.CHILD), "missing.sqlite", "A", TF, "0", "100"],
                       capture_output=True)
    assert p.returncode != 0 and not (tmp_path / "missing.sqlite").exists()


@pytest.mark.parametrize(("loadavg", "cores", "free"), [
    ("0.50 0.40 0.30 1/120 999", 2, True),  # only this process runs
    ("2.10 2.00 1.90 2/120 999", 2, False),  # another task holds the other core
    ("2.10 2.00 1.90 2/120 999", 4, True),
    ("0.00 0.00 0.00 1/120 999", 1, False),  # one core: nothing to split over
    ("garbage", 2, True),
])
def test_the_split_runs_only_while_a_core_is_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loadavg: str,
                                                  cores: int, free: bool) -> None:
    (tmp_path / "loadavg").write_text(loadavg + "\n")
    monkeypatch.setattr(candle_half, "LOADAVG", tmp_path / "loadavg")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert candle_half.core_free() is free
