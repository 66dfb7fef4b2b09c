"""`read_ahead` (the next chunk of a `data import` read in a thread while the current one is written)
changes nothing the caller sees: same chunks in the same order, the same error at the same point,
and a caller that stops early stops the reader and closes the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cashup_tui.adapters.candle_stream import StreamSummary, iter_candle_file, read_ahead
from cashup_tui.domain.errors import DataError
from tests.test_data_cli import T0, H, _csv


def test_read_ahead_gives_the_same_chunks_and_summary(tmp_path: Path) -> None:
    path = _csv(tmp_path / "a.csv", n=95)
    plain, ahead = StreamSummary(), StreamSummary()
    want = list(iter_candle_file(path, timeframe="1h", rows=10, summary=plain))
    got = list(read_ahead(iter_candle_file(path, timeframe="1h", rows=10, summary=ahead)))
    assert len(got) == len(want) == 10
    for a, b in zip(got, want, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a.columns().values(), b.columns().values(), strict=True))
    assert plain == ahead


def test_an_error_comes_after_the_chunks_before_it(tmp_path: Path) -> None:
    path = _csv(tmp_path / "b.csv", n=50, bad={37: f"{T0 + 37 * H},100,90,99,101,5"})  # line 39
    seen = []
    with pytest.raises(DataError) as e:
        for chunk in read_ahead(iter_candle_file(path, rows=10)):
            seen.append(len(chunk))
    assert seen == [10, 10, 10] and "line 39" in str(e.value)


def test_a_caller_that_stops_early_stops_the_reader() -> None:
    closed: list[bool] = []

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.append(True)

    it = read_ahead(endless())  # type: ignore[arg-type]
    assert [next(it), next(it)] == [1, 2]
    it.close()  # what an exception in the caller's loop does
    assert closed == [True]
