"""`data import` reads a CSV in chunks (bounded memory for a file of any size): the chunks together
are exactly the whole-file read, problems are reported with the file's own line numbers whichever
chunk they are in, what spans a chunk boundary (duplicate, order, step, gap) is found at the seam,
and a problem in the last chunk leaves nothing imported (one transaction). The next chunk is read by a
worker thread while the one before is written (`read_ahead`): same items, same errors in the same place,
and a caller that stops early leaves no thread and no open file behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashup_tui.adapters import candle_stream
from cashup_tui.adapters.candle_files import read_candle_file
from cashup_tui.adapters.candle_stream import StreamSummary, iter_candle_file, read_ahead
from cashup_tui.domain.errors import DataError
from tests.campaign import examples
from tests.test_data_cli import T0, H, _csv, run


def _concat(chunks) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    parts = [c.columns() for c in chunks]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 60), rows=st.integers(1, 25), holes=st.lists(st.integers(1, 59), max_size=4, unique=True))
def test_chunks_together_are_the_whole_file(tmp_path_factory, n: int, rows: int, holes: list[int]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("c") / "bars.csv"
    times = [T0 + i * H for i in range(n + len(holes)) if i not in holes][:n]
    lines = [f"{t},{100 + i},{102 + i},{99 + i},{101 + i},{i}" for i, t in enumerate(times)]
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "\n".join(lines) + "\n\n\n")
    if n < 2:
        with pytest.raises(DataError):  # one bar: the timeframe cannot be inferred, either way
            list(iter_candle_file(path, rows=rows))
        return
    whole = read_candle_file(path, timeframe="1h")
    summary = StreamSummary()
    chunks = list(iter_candle_file(path, timeframe="1h", rows=rows, summary=summary))
    got = _concat(chunks)
    for k, v in whole.columns().items():
        assert np.array_equal(got[k], v), k
    assert (summary.rows, summary.first_ms, summary.last_ms) == (n, times[0], times[-1])
    assert (summary.gaps.count, summary.gaps.missing) == (whole.gaps.count, whole.gaps.missing)
    assert summary.gaps.ranges == whole.gaps.ranges[: len(summary.gaps.ranges)]


def test_a_problem_far_into_the_file_names_its_own_line(tmp_path: Path) -> None:
    path = _csv(tmp_path / "b.csv", n=50, bad={37: f"{T0 + 37 * H},100,90,99,101,5"})  # high < low on line 39
    with pytest.raises(DataError) as e:
        list(iter_candle_file(path, rows=10))
    assert "line 39" in str(e.value) and "high 90 < low 99" in str(e.value)


@pytest.mark.parametrize(("row", "what"), [
    (f"{T0 + 9 * H},109,111,108,110,1", "duplicate timestamp"),
    (f"{T0 + 5 * H},109,111,108,110,1", "earlier than line 11"),
    (f"{T0 + 10 * H + 60_000},109,111,108,110,1", "not a multiple"),
])
def test_the_seam_between_two_chunks_is_checked(tmp_path: Path, row: str, what: str) -> None:
    path = _csv(tmp_path / "s.csv", n=20, bad={10: row})  # row 10 is line 12: the first of the second chunk
    with pytest.raises(DataError) as e:
        list(iter_candle_file(path, timeframe="1h", rows=10))
    assert what in str(e.value) and "line 12" in str(e.value)


def test_a_gap_at_the_seam_is_counted(tmp_path: Path) -> None:
    rows = [f"{T0 + (i + (3 if i >= 10 else 0)) * H},100,102,99,101,1" for i in range(20)]
    path = tmp_path / "g.csv"
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    summary = StreamSummary()
    list(iter_candle_file(path, rows=10, summary=summary))
    assert (summary.gaps.count, summary.gaps.missing) == (1, 3)
    assert summary.gaps.ranges == [(T0 + 10 * H, T0 + 12 * H)]


def test_a_bad_last_chunk_leaves_nothing_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candle_stream, "CHUNK_ROWS", 10)
    db = tmp_path / "c.sqlite"
    bad = _csv(tmp_path / "bad.csv", n=45, bad={42: f"{T0 + 42 * H},100,90,99,101,5"})
    code, out = run(db, "import", str(bad), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code != 0 and "line 44" in out and "nothing was imported" in out
    code, out = run(db, "list", "--json")
    assert code == 0 and "BTC_USDT" not in out  # the first four chunks were not committed
    good = _csv(tmp_path / "good.csv", n=45)
    code, out = run(db, "import", str(good), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code == 0 and "imported 45 bars of BTC_USDT 1h" in out and "gaps: none" in out


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cashup-read-ahead"]


def test_read_ahead_keeps_order_and_errors_and_stops_its_worker() -> None:
    closed: list[str] = []

    def source(n: int, fail_at: int = -1) -> Iterator[int]:
        try:
            for i in range(n):
                if i == fail_at:
                    raise DataError(f"bad row {i}")
                yield i
        finally:
            closed.append(threading.current_thread().name)

    assert list(read_ahead(source(5))) == [0, 1, 2, 3, 4]
    seen = []
    with pytest.raises(DataError, match="bad row 3"):
        for x in read_ahead(source(5, fail_at=3)):
            seen.append(x)
    assert seen == [0, 1, 2]
    it = read_ahead(source(1000))  # the caller stops after one item: the worker is blocked handing the next
    assert next(it) == 0
    it.close()
    assert closed[-1] == "cashup-read-ahead" and not _workers()  # source closed in the worker, worker joined
    assert closed.count("cashup-read-ahead") == 3


def test_an_import_refused_mid_file_leaves_no_reader_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conflict found in the first chunk stops the import while the worker reads on: the command closes
    the read-ahead (worker joined, file closed) and nothing is imported."""
    monkeypatch.setattr(candle_stream, "CHUNK_ROWS", 10)
    db = tmp_path / "c.sqlite"
    code, out = run(db, "import", str(_csv(tmp_path / "a.csv", n=5)), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code == 0, out
    other = _csv(tmp_path / "b.csv", n=45, bad={2: f"{T0 + 2 * H},100,103,99,101,7"})  # bar 2 stored otherwise
    code, out = run(db, "import", str(other), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code == 1 and "already stored with different values" in out, out
    assert not _workers()
    code, out = run(db, "list", "--json")
    assert code == 0 and '"rows": 5' in out
