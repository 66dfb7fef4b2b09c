"""Read OHLCV (and funding-rate) files into validated numpy arrays.

Layouts recognised (header names are case-insensitive):
- CashUp/shared files: `open_time_ms,open,high,low,close,volume_contracts` (mark files: no volume)
- Gate REST/WS candles: `t,o,h,l,c,v` (t in epoch seconds)
- freqtrade: `date,open,high,low,close,volume` (ISO or epoch), also parquet/feather with a datetime column
- nautilus/ftx: `timestamp,open,...` with text times such as `2021-12-31 23:01:00.000000`
- headerless numeric rows: time, open, high, low, close[, volume, ...] (e.g. Binance dumps)
- funding files: `funding_time_ms,funding_rate` (kind "funding": rates kept as exact text)
Column names and time rules come from `domain.candle_layout` (shared with `backtest run --data`):
epoch units are detected by magnitude (s, ms, us, ns); ISO times without a zone are read as UTC.

Validation never fixes data: every problem is reported with its file line (CSV, header = line 1)
or row number (parquet/feather), and the caller imports nothing if there is any problem.
Gaps are not errors: they are counted and reported, never filled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cashup_tui.domain.candle_layout import (
    HEADERLESS_NAMES,
    MAX_TIME_MS,
    MAX_VALUE,
    PRICE_NAMES,
    RATE_NAMES,
    TIME_NAMES,
    epoch_factor,
    find_columns,
    parse_time,
)
from cashup_tui.domain.errors import DataError, ValidationError
from cashup_tui.domain.timeframes import bucket_anchor, timeframe_ms

FORMATS = ("auto", "csv", "parquet", "feather")
MAX_SHOWN = 20
Progress = Callable[[int, int], None]



@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str
    kind: str
    lead: bool = False  # a whole-file finding, shown first


@dataclass(slots=True)
class GapReport:
    count: int = 0  # holes
    missing: int = 0  # bars missing in total
    ranges: list[tuple[int, int]] = field(default_factory=list)  # first few (first missing, last missing)


@dataclass(slots=True)
class CandleData:
    """A validated file. For kind 'funding', `rates` holds the exact text and OHLCV arrays are empty."""

    path: Path
    kind: str  # "candles" | "funding"
    layout: str  # human description of what was detected
    timeframe: str
    open_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    has_volume: bool = True
    rates: list[str] = field(default_factory=list)
    gaps: GapReport = field(default_factory=GapReport)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.open_ms)

    def columns(self) -> dict[str, np.ndarray]:
        return {"open_ms": self.open_ms, "open": self.open, "high": self.high, "low": self.low,
                "close": self.close, "volume": self.volume}


def detect_format(path: Path, fmt: str = "auto") -> str:
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    name = path.name.lower()
    for ext, kind in ((".parquet", "parquet"), (".pq", "parquet"), (".feather", "feather"), (".arrow", "feather")):
        if name.endswith(ext):
            return kind
    if name.endswith((".csv", ".txt", ".csv.gz", ".csv.zip", ".csv.bz2", ".csv.xz", ".tsv")):
        return "csv"
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head == b"ARRO":
        return "feather"
    return "csv"


# ---- reading ------------------------------------------------------------------------------------


def csv_options(path: Path) -> tuple[dict[str, Any], bool]:
    """pandas.read_csv keywords for this file, and whether it has no header line. Blank lines kept so
    row i is file line i+2. Clean numeric columns parse natively (fast); a column with any non-numeric
    cell stays text so the report can quote it."""
    import csv

    opener: Any = open
    if path.suffix in (".gz", ".bz2", ".xz", ".zip"):
        opener = None  # let pandas decompress; sniff through pandas below
    first = ""
    if opener is not None:
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
            first = fh.readline()
    else:
        first = ",".join(pd.read_csv(path, nrows=0, dtype=str).columns)
    sep = "\t" if first.count("\t") > first.count(",") else ","
    cells = next(csv.reader([first], delimiter=sep), [])
    headerless = bool(cells) and find_columns(cells).headerless
    exact = {c: str for c in cells if c.strip().lower() in RATE_NAMES} if not headerless else {}
    kw: dict[str, Any] = dict(
        sep=sep, dtype=exact or None, keep_default_na=False, skip_blank_lines=False, header=None if headerless else 0,
        encoding="utf-8-sig",
    )
    return kw, headerless


def name_headerless(df: pd.DataFrame) -> pd.DataFrame:
    names = list(HEADERLESS_NAMES[: min(df.shape[1], 6)])
    df = df.iloc[:, : len(names)]
    df.columns = names
    return df


def drop_trailing_blank(df: pd.DataFrame) -> pd.DataFrame:
    """A trailing run of blank lines is not data."""
    if len(df):
        blank = _blank_rows(df)
        if blank[-1]:
            last = len(blank) - int(np.argmin(blank[::-1])) if not blank.all() else 0
            df = df.iloc[:last]
    return df


def _read_csv(path: Path, progress: Progress | None) -> tuple[pd.DataFrame, bool]:
    kw, headerless = csv_options(path)
    size = path.stat().st_size
    if size < 4_000_000 or progress is None:
        df = pd.read_csv(path, **kw)
    else:
        parts = []
        with path.open("rb") as fh:
            for chunk in pd.read_csv(fh, chunksize=50_000, **kw):
                parts.append(chunk)
                progress(min(fh.tell(), size), size)
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if headerless:
        df = name_headerless(df)
    return drop_trailing_blank(df), headerless


def _blank_rows(df: pd.DataFrame) -> np.ndarray:
    if df.shape[1] == 0:
        return np.zeros(len(df), dtype=bool)
    empty = np.ones(len(df), dtype=bool)
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col):
            empty &= col.isna().to_numpy()
        else:
            empty &= (col.isna() | (col.astype(str).str.strip() == "")).to_numpy()
    return empty


# ---- time parsing -------------------------------------------------------------------------------


def _times_to_ms(col: pd.Series) -> tuple[np.ndarray, np.ndarray, str]:
    """(ms int64, ok mask, description). Datetime columns, epoch numbers (unit by magnitude) or ISO text
    (each cell through `parse_time`, the rule every command uses). Times outside 1970..9999 are not ok."""
    n = len(col)
    if pd.api.types.is_datetime64_any_dtype(col):
        ok = col.notna().to_numpy()
        dt = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
        ms = np.zeros(n, dtype="int64")
        ms[ok] = dt[ok].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
        ok = ok & (ms >= 0) & (ms <= MAX_TIME_MS)
        return ms, ok, "datetime column"
    text = col.astype(str).str.strip() if col.dtype == object or pd.api.types.is_string_dtype(col) else col
    num = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    finite = np.isfinite(num)
    nonempty = (text.astype(str) != "").to_numpy() if text is not col else np.ones(n, dtype=bool)
    if finite.sum() >= max(1, nonempty.sum() // 2):
        factor, unit = epoch_factor(float(np.median(np.abs(num[finite]))))
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = np.rint(num * factor)
        ok = finite & (scaled >= 0) & (scaled <= MAX_TIME_MS)
        ms = np.zeros(n, dtype="int64")
        ms[ok] = scaled[ok].astype("int64")
        return ms, ok, unit
    cells = text.astype(str).tolist()
    parsed = [parse_time(s) for s in cells]
    ok = np.array([v is not None for v in parsed], dtype=bool)
    ms = np.array([v if v is not None else 0 for v in parsed], dtype="int64")
    desc = "ISO-8601 text"
    if ok.any():
        sample = cells[int(np.argmax(ok))]
        if not any(z in sample for z in ("Z", "+", "UTC")) and sample.count("-") <= 2:
            desc += " without a zone, read as UTC"
    return ms, ok, desc


# ---- validation helpers -------------------------------------------------------------------------


class _Report:
    def __init__(self, line_of: Callable[[int], int], where: str) -> None:
        self.problems: list[Problem] = []
        self.line_of = line_of
        self.where = where

    def add_mask(self, mask: np.ndarray, kind: str, msg: Callable[[int], str]) -> None:
        for i in np.flatnonzero(mask)[: MAX_SHOWN * 5]:
            self.problems.append(Problem(self.line_of(int(i)), msg(int(i)), kind))
        extra = int(mask.sum()) - min(int(mask.sum()), MAX_SHOWN * 5)
        if extra > 0:
            self.problems.extend([Problem(10**12, "", kind)] * extra)  # counted, not shown

    def raise_if_any(self, path: Path | str, rows: int) -> None:
        if not self.problems:
            return
        probs = sorted(self.problems, key=lambda p: (not p.lead, p.line))
        shown = [p for p in probs if p.message][:MAX_SHOWN]
        counts = Counter(p.kind for p in probs)
        lines = [f"{path}: {len(probs)} problem(s) in {rows} data rows; nothing was imported"]
        lines += [f"  {self.where} {p.line}: {p.message}" for p in shown]
        if len(probs) > len(shown):
            lines.append(f"  ... and {len(probs) - len(shown)} more")
        lines.append("  by kind: " + ", ".join(f"{k} x{v}" for k, v in counts.most_common()))
        raise DataError("\n".join(lines), hint="fix or remove the rows above (the file is left untouched), then import again")


def _numeric(df: pd.DataFrame, col: str, label: str, rep: _Report, skip: np.ndarray) -> np.ndarray:
    raw = df[col]
    if pd.api.types.is_numeric_dtype(raw):
        vals = raw.to_numpy(dtype="float64")
        rep.add_mask(np.isnan(vals) & ~skip, "missing/NaN", lambda i: f"{label} is NaN or missing")
        rep.add_mask(np.isinf(vals) & ~skip, "not finite", lambda i: f"{label} {vals[i]} is not finite")
        _too_large(vals, label, rep, skip)
        return vals
    text = raw.astype(str).str.strip()
    vals = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    txt = text.to_numpy()
    empty = (txt == "") & ~skip
    rep.add_mask(empty, "missing/NaN", lambda i: f"{label} is empty")
    nan_text = np.isin(np.char.lower(txt.astype(str)), ["nan", "null", "none", "na", "n/a"]) & ~skip
    rep.add_mask(nan_text, "missing/NaN", lambda i: f"{label} is NaN ({txt[i]!r})")
    bad = np.isnan(vals) & ~empty & ~nan_text & ~skip
    rep.add_mask(bad, "not a number", lambda i: f"{label} {txt[i]!r} is not a number")
    inf = np.isinf(vals) & ~skip
    rep.add_mask(inf, "not finite", lambda i: f"{label} {txt[i]!r} is not finite")
    _too_large(vals, label, rep, skip)
    return vals


def _too_large(vals: np.ndarray, label: str, rep: _Report, skip: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        big = np.isfinite(vals) & (np.abs(vals) > MAX_VALUE) & ~skip
    rep.add_mask(big, "too large", lambda i: f"{label} {vals[i]:g} is larger than {MAX_VALUE:g}")


def fmt_ms(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def tf_name(ms: int) -> str:
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def find_gaps(open_ms: np.ndarray, step: int, keep: int = 5) -> GapReport:
    """Holes in an ascending series of open times: count, missing bars, first `keep` ranges."""
    if len(open_ms) < 2:
        return GapReport()
    d = np.diff(open_ms)
    idx = np.flatnonzero(d > step)
    missing = int(((d[idx] // step) - 1).sum())
    ranges = [(int(open_ms[i] + step), int(open_ms[i + 1] - step)) for i in idx[:keep]]
    return GapReport(count=len(idx), missing=missing, ranges=ranges)


def _order_checks(ms: np.ndarray, ok: np.ndarray, rep: _Report, step: int | None) -> None:
    """Duplicates, unordered rows and wrong steps, comparing each valid time to the previous valid one."""
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return
    t = ms[idx]
    d = np.diff(t)
    prev, cur = idx[:-1], idx[1:]
    lo = rep.line_of
    dup = d == 0
    rep.add_mask(_scatter(len(ms), cur[dup]), "duplicate timestamp",
                 lambda i: f"duplicate timestamp {fmt_ms(int(ms[i]))} (same as {rep.where} {lo(_prev_of(idx, i))})")
    back = d < 0
    rep.add_mask(_scatter(len(ms), cur[back]), "unordered timestamps",
                 lambda i: f"timestamp {fmt_ms(int(ms[i]))} is earlier than {rep.where} {lo(_prev_of(idx, i))} "
                 f"({fmt_ms(int(ms[_prev_of(idx, i)]))}): rows must be in ascending time order")
    if step:
        wrong = (d > 0) & (d % step != 0)
        rep.add_mask(_scatter(len(ms), cur[wrong]), "wrong step",
                     lambda i: f"{fmt_ms(int(ms[i]))} is {_human(int(ms[i] - ms[_prev_of(idx, i)]))} after "
                     f"{rep.where} {lo(_prev_of(idx, i))}, not a multiple of the {tf_name(step)} timeframe")
        unaligned = ok & ((ms - bucket_anchor(step)) % step != 0)
        rep.add_mask(unaligned, "not aligned",
                     lambda i: f"open time {fmt_ms(int(ms[i]))} is not on a {tf_name(step)} boundary "
                     "(is --timeframe right? are these close times? weekly bars open on Monday 00:00 UTC)")
    del prev


def _dominant_step_check(ms: np.ndarray, ok: np.ndarray, rep: _Report, step: int) -> None:
    """The usual step must be the timeframe (1h bars as --timeframe 5m would otherwise look like gaps)."""
    idx = np.flatnonzero(ok)
    d = np.diff(ms[idx])
    pos = d[d > 0]
    if len(pos) == 0:
        return
    vals, counts = np.unique(pos, return_counts=True)
    mode = int(vals[np.argmax(counts)])
    if mode != step:
        first = int(idx[1:][d == mode][0])
        rep.problems.append(Problem(
            rep.line_of(first),
            f"bars are {tf_name(mode)} apart ({int(counts.max())} of {len(pos)} steps) but --timeframe is "
            f"{tf_name(step)}: pass --timeframe {tf_name(mode)}",
            "wrong step",
            lead=True,
        ))


def _prev_of(idx: np.ndarray, i: int) -> int:
    pos = int(np.searchsorted(idx, i))
    return int(idx[pos - 1]) if pos > 0 else i


def _scatter(n: int, where: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[where] = True
    return m


def _human(ms: int) -> str:
    return tf_name(ms) if ms % 1000 == 0 else f"{ms} ms"


# ---- entry point --------------------------------------------------------------------------------


READ_ERRORS = (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError)


def read_error(shown: str, kind: str, exc: BaseException) -> DataError:
    """What a reader's failure (one of READ_ERRORS) tells the user: the file, the format, pandas' first line."""
    return DataError(
        f"{shown}: cannot read it as {kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
        hint="pass --format csv|parquet if the extension is misleading; CSV must have one header line",
    )


def read_candle_file(
    path: str | Path, *, timeframe: str | None = None, fmt: str = "auto", progress: Progress | None = None,
    label: str = "",
) -> CandleData:
    """Read and validate one file; raise DataError with a per-row report if anything is wrong.
    `label` names the file in messages (e.g. `<stdin>` for a spooled pipe)."""
    p = Path(path).expanduser()
    shown = label or str(p)
    if not p.exists():
        raise DataError(f"{shown}: file not found", hint="check the path (relative paths are from the current directory)")
    if p.is_dir():
        raise DataError(f"{shown} is a directory", hint="pass one CSV or parquet file")
    kind = detect_format(p, fmt)
    if kind != "csv":
        from cashup_tui.extras import require

        require("pyarrow", extra="parquet", why=f"{kind} files need pyarrow")
    step = timeframe_ms(timeframe) if timeframe else None
    headerless = False
    try:
        if kind == "csv":
            df, headerless = _read_csv(p, progress)
            line_of, where = (lambda i: i + (1 if headerless else 2)), "line"
        else:
            df = pd.read_parquet(p) if kind == "parquet" else pd.read_feather(p)
            if not isinstance(df.index, pd.RangeIndex):
                df = df.reset_index()
            line_of, where = (lambda i: i + 1), "row"
    except DataError:
        raise
    except READ_ERRORS as exc:
        raise read_error(shown, kind, exc) from exc
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"{shown}: cannot read it as {kind}: {exc}", hint="is the file complete and really " + kind + "?") from exc
    if len(df) == 0:
        raise DataError(f"{shown}: no data rows", hint="the file has a header but no candles")
    return frame_to_candles(df, p, shown, step, headerless, line_of, where)


def frame_to_candles(df: pd.DataFrame, p: Path, shown: str, step: int | None, headerless: bool,
                     line_of: Callable[[int], int], where: str) -> CandleData:
    """Validate one frame of a file (the whole file, or one chunk of it: `line_of` maps its rows to
    the file's lines); raise DataError with a per-row report if anything is wrong."""
    lay = find_columns([str(c) for c in df.columns])

    def col(i: int | None) -> Any:
        return None if i is None else df.columns[i]

    if lay.is_funding:
        return _read_funding(p, shown, df, col(lay.funding_time), col(lay.rate), line_of, where)
    price_cols = {k: col(getattr(lay, k)) for k in PRICE_NAMES}
    time_col = col(lay.time)
    missing = lay.missing_prices
    if time_col is None or missing:
        need = ("a time column (" + ", ".join(TIME_NAMES[:6]) + ")") if time_col is None else ""
        need += (" and " if need and missing else "") + (f"columns {', '.join(missing)}" if missing else "")
        raise DataError(
            f"{shown}: unrecognised layout: found columns {', '.join(map(str, df.columns))}; missing {need}",
            hint="expected e.g. open_time_ms,open,high,low,close,volume or t,o,h,l,c,v or date,open,high,low,close,volume",
        )
    vol_col = col(lay.volume)
    rep = _Report(line_of, where)
    blank = _blank_rows(df)
    rep.add_mask(blank, "empty row", lambda i: "empty row")
    ms, ok, tdesc = _times_to_ms(df[time_col])
    tcol = df[time_col]  # quoted only for a bad row (a text copy of a million times is ~70 MB)
    rep.add_mask(~ok & ~blank, "unparsable time", lambda i: f"unparsable time {str(tcol.iloc[i])!r} in column "
                 f"{time_col!r} (not a date in 1970..9999)")
    vals = {k: _numeric(df, c, k, rep, blank) for k, c in price_cols.items()}  # type: ignore[arg-type]
    volume = _numeric(df, vol_col, "volume", rep, blank) if vol_col is not None else np.zeros(len(df))
    o, h, lo, c = vals["open"], vals["high"], vals["low"], vals["close"]
    with np.errstate(invalid="ignore"):
        good = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
        rep.add_mask(good & (h < lo), "high < low", lambda i: f"high {h[i]:g} < low {lo[i]:g}")
        inside = good & (h >= lo)
        for name, arr in (("open", o), ("close", c)):
            rep.add_mask(inside & ((arr < lo) | (arr > h)), f"{name} outside [low, high]",
                         lambda i, a=arr, n=name: f"{n} {a[i]:g} outside [low {lo[i]:g}, high {h[i]:g}]")  # type: ignore[misc]
        rep.add_mask(good & (lo <= 0), "non-positive price", lambda i: f"low {lo[i]:g} is not a positive price")
        rep.add_mask(np.isfinite(volume) & (volume < 0), "negative volume", lambda i: f"negative volume {volume[i]:g}")
    valid_t = ok & ~blank
    notes = [f"layout: time column {str(time_col)!r} as {tdesc}" + (" (no header line)" if headerless else "")]
    if step is None:
        d = np.diff(ms[valid_t])
        pos = d[d > 0]
        if len(pos) == 0:
            rep.raise_if_any(shown, len(df))
            raise DataError(f"{shown}: cannot infer the timeframe from a single bar", hint="pass --timeframe (e.g. 1h)")
        vals_, counts = np.unique(pos, return_counts=True)
        step = int(vals_[np.argmax(counts)])
        notes.append(f"timeframe inferred from the data: {tf_name(step)}")
    else:
        _dominant_step_check(ms, valid_t, rep, step)
    _order_checks(ms, valid_t, rep, step)
    rep.raise_if_any(shown, len(df))
    if vol_col is None:
        notes.append("no volume column (mark/index price file?): volume stored as 0")
    data = CandleData(
        path=p, kind="candles", layout=notes[0], timeframe=tf_name(step), open_ms=ms, open=o, high=h, low=lo,
        close=c, volume=np.nan_to_num(volume, nan=0.0), has_volume=vol_col is not None, notes=notes,
    )
    data.gaps = find_gaps(ms, step)
    return data


def _read_funding(p: Path, shown: str, df: pd.DataFrame, time_col: Any, rate_col: Any,
                  line_of: Callable[[int], int], where: str) -> CandleData:
    from cashup_tui.domain.instruments import to_decimal

    if time_col is None:
        raise DataError(f"{shown}: funding-rate file without a time column", hint="expected funding_time_ms,funding_rate")
    rep = _Report(line_of, where)
    blank = _blank_rows(df)
    rep.add_mask(blank, "empty row", lambda i: "empty row")
    ms, ok, tdesc = _times_to_ms(df[time_col])
    tval = df[time_col].astype(str).to_numpy()
    rep.add_mask(~ok & ~blank, "unparsable time", lambda i: f"unparsable time {tval[i]!r} in column {time_col!r} "
                 "(not a date in 1970..9999)")
    raw = df[rate_col].astype(str).str.strip().to_numpy()
    rates: list[str] = []
    bad = np.zeros(len(df), dtype=bool)
    for i, s in enumerate(raw):
        try:
            to_decimal(s)
            rates.append(s)
        except ValidationError:
            bad[i] = not blank[i]
            rates.append("")
    rep.add_mask(bad, "bad rate", lambda i: f"funding rate {raw[i]!r} is not a finite number")
    _order_checks(ms, ok & ~blank, rep, None)
    rep.raise_if_any(shown, len(df))
    empty = np.zeros(0)
    return CandleData(
        path=p, kind="funding", layout=f"funding rates: time column {str(time_col)!r} as {tdesc}", timeframe="funding",
        open_ms=ms, open=empty, high=empty, low=empty, close=empty, volume=empty, has_volume=False, rates=rates,
        notes=[f"funding-rate file: time column {str(time_col)!r} as {tdesc}, rates kept exactly as written"],
    )
