"""A candle CSV read in chunks, each validated as the whole file would be: `cashup data import` of a
file of any size in bounded memory.

Why: reading a whole file into arrays costs memory in proportion to the file (a 10M-row file would
not fit a small box). Here pandas reads CHUNK_ROWS rows at a time and each chunk goes through the
same validation as a whole file (`frame_to_candles`, with the chunk's rows mapped to the file's
lines); what spans two chunks (order, duplicates, the step, gaps) is checked at each seam. The
caller writes the chunks inside one transaction, so a problem in the last chunk still leaves
nothing imported. Parquet/feather and funding files come as one chunk (the whole file). `read_ahead`
reads the next chunk in a thread while the caller writes the one before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from cashup_tui.adapters.candle_files import (
    READ_ERRORS,
    CandleData,
    GapReport,
    Progress,
    csv_options,
    detect_format,
    drop_trailing_blank,
    fmt_ms,
    frame_to_candles,
    name_headerless,
    read_candle_file,
    read_error,
    tf_name,
)
from cashup_tui.domain.errors import DataError
from cashup_tui.domain.timeframes import timeframe_ms

CHUNK_ROWS = 200_000
KEEP_RANGES = 5
T = TypeVar("T")


@dataclass(slots=True)
class StreamSummary:
    """What the whole file held, gathered chunk by chunk (for the import's report)."""

    rows: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    timeframe: str = ""
    kind: str = "candles"
    has_volume: bool = True
    notes: list[str] = field(default_factory=list)
    gaps: GapReport = field(default_factory=GapReport)

    def add(self, data: CandleData, seam_gap: GapReport) -> None:
        if not self.rows:
            self.first_ms, self.timeframe, self.kind = int(data.open_ms[0]), data.timeframe, data.kind
            self.has_volume, self.notes = data.has_volume, list(data.notes)
        self.rows += len(data)
        self.last_ms = int(data.open_ms[-1])
        for g in (seam_gap, data.gaps):
            self.gaps.count += g.count
            self.gaps.missing += g.missing
            self.gaps.ranges.extend(g.ranges[: KEEP_RANGES - len(self.gaps.ranges)])


def iter_candle_file(path: str | Path, *, timeframe: str | None = None, fmt: str = "auto", label: str = "",
                     progress: Progress | None = None, rows: int | None = None,
                     summary: StreamSummary | None = None) -> Iterator[CandleData]:
    """Validated chunks of `path` in file order; raises DataError (with the file's line numbers) at the
    first chunk with a problem. `summary`, if given, is filled as the chunks go."""
    p = Path(path).expanduser()
    shown = label or str(p)
    if not p.exists() or p.is_dir() or detect_format(p, fmt) != "csv" or p.suffix in (".gz", ".bz2", ".xz", ".zip"):
        data = read_candle_file(p, timeframe=timeframe, fmt=fmt, progress=progress, label=label)
        if summary is not None:
            summary.add(data, GapReport())
        yield data
        return
    kw, headerless = csv_options(p)
    if kw.get("dtype"):  # a funding-rate file (its rate column is read as exact text): small, one chunk
        data = read_candle_file(p, timeframe=timeframe, fmt=fmt, progress=progress, label=label)
        if summary is not None:
            summary.add(data, GapReport())
        yield data
        return
    step = timeframe_ms(timeframe) if timeframe else None
    rows = rows or CHUNK_ROWS
    size = p.stat().st_size
    start = 1 if headerless else 2  # file line of the first data row
    prev: CandleData | None = None
    offset = 0
    with p.open("rb") as fh:
        try:
            reader = pd.read_csv(fh, chunksize=rows, **kw)
            frames = _with_last_flag(reader)
            carry: pd.DataFrame | None = None  # blank rows at a chunk's end: an error only if data follows
            for df, last in frames:
                if headerless:
                    df = name_headerless(df)
                if carry is not None:
                    df, carry = pd.concat([carry, df]), None
                df = df.reset_index(drop=True)
                kept = drop_trailing_blank(df)
                if not last and len(kept) < len(df):
                    carry = df.iloc[len(kept):]
                df = kept
                if len(df) == 0:
                    if last and prev is None:
                        raise DataError(f"{shown}: no data rows", hint="the file has a header but no candles")
                    continue
                data = frame_to_candles(df, p, shown, step, headerless, _lines(offset + start), "line")
                base = offset
                seam = _seam(prev, data, shown, base + start) if prev is not None else GapReport()
                step = timeframe_ms(data.timeframe)
                offset += len(df)
                if summary is not None:
                    summary.add(data, seam)
                if progress is not None:
                    progress(min(fh.tell(), size), size)
                prev = data
                yield data
        except DataError:
            raise
        except READ_ERRORS as exc:
            raise read_error(shown, "csv", exc) from exc


def _lines(first: int) -> Callable[[int], int]:
    """A chunk's row -> the file's line."""
    return lambda i: i + first


def _with_last_flag(reader: Any) -> Iterator[tuple[pd.DataFrame, bool]]:
    """Each chunk with whether it is the file's last (a trailing blank run is dropped only there)."""
    it = iter(reader)
    cur = next(it, None)
    while cur is not None:
        nxt = next(it, None)
        yield cur, nxt is None
        cur = nxt


def _seam(prev: CandleData, data: CandleData, shown: str, line: int) -> GapReport:
    """The rows on both sides of a chunk boundary: ascending, no duplicate, on the step; the gap between."""
    a, b = int(prev.open_ms[-1]), int(data.open_ms[0])
    step = timeframe_ms(prev.timeframe)
    if data.timeframe != prev.timeframe:
        raise DataError(f"{shown}: line {line}: bars are {data.timeframe} apart here but {prev.timeframe} before",
                        hint=f"pass --timeframe {prev.timeframe} to check every row against it")
    if b == a:
        raise DataError(f"{shown}: line {line}: duplicate timestamp {fmt_ms(b)} (same as line {line - 1})",
                        hint="remove the duplicate row; nothing was imported")
    if b < a:
        raise DataError(f"{shown}: line {line}: timestamp {fmt_ms(b)} is earlier than line {line - 1} ({fmt_ms(a)}): "
                        "rows must be in ascending time order", hint="sort the file by time; nothing was imported")
    if (b - a) % step:
        raise DataError(f"{shown}: line {line}: {fmt_ms(b)} is not a multiple of the {tf_name(step)} timeframe after "
                        f"line {line - 1}", hint="check the rows around it; nothing was imported")
    if b - a == step:
        return GapReport()
    return GapReport(count=1, missing=(b - a) // step - 1, ranges=[(a + step, b - step)])


def read_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """`items` in order, each next one produced by a worker thread while the caller handles the one before.

    Why: pandas' parser, numpy and SQLite's insert all release the GIL, so reading chunk k+1 overlaps
    writing chunk k (two cores: the import takes about the longer of the two, not their sum). One item
    waits at most (memory: one chunk more). An exception from `items` is raised here at the item it
    replaced, so validation errors keep their order. Close this generator (`contextlib.closing`) when
    the caller stops early: the worker stops after the item it is on, `items` is closed in the worker
    and the thread is joined, all before close() returns."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)  # (done, item | exception | None)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                box.put((False, item))
                if stop.is_set():
                    return
            box.put((True, None))
        except BaseException as exc:  # handed to the caller
            box.put((True, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="cashup-read-ahead", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            done, got = box.get()
            if done:
                finished = True
                if got is not None:
                    raise got
                return
            yield got
    finally:
        stop.set()
        while not finished and worker.is_alive():  # free a put the worker may be blocked in
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.01)
        worker.join()
