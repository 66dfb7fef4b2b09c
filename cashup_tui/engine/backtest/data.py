"""Loading bars for backtests: CSV files (numpy's C reader, no pandas) and checks with clear errors.

Accepted CSV: a header row with a time column (`open_time_ms`, `time_ms`, `timestamp`, `time`,
`date`, `datetime`, `ts`: epoch ms, epoch seconds, or ISO text in UTC) and `open`, `high`, `low`,
`close`, optionally a volume column (`volume`, `volume_contracts`, `vol`). Other columns are ignored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cashup_tui.domain.errors import DataError, ValidationError
from cashup_tui.engine.backtest.model import Funding
from cashup_tui.engine.strategy import Bars

TIME_COLS = ("open_time_ms", "time_ms", "timestamp", "time", "date", "datetime", "ts", "open_time")
VOLUME_COLS = ("volume", "volume_contracts", "vol", "volume_base", "volume_quote")
_SYMBOL_RE = re.compile(r"([A-Z0-9]{2,15}_USDT)")
_TF_NAMES = {60_000: "1m", 180_000: "3m", 300_000: "5m", 900_000: "15m", 1_800_000: "30m", 3_600_000: "1h",
             7_200_000: "2h", 14_400_000: "4h", 28_800_000: "8h", 86_400_000: "1d", 604_800_000: "1w"}


def timeframe_name(step_ms: int) -> str:
    if step_ms in _TF_NAMES:
        return _TF_NAMES[step_ms]
    for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if step_ms % ms == 0:
            return f"{step_ms // ms}{unit}"
    return f"{step_ms}ms"


def _header(path: Path) -> list[str]:
    try:
        with path.open("r", encoding="utf-8") as fh:
            first = fh.readline()
            second = fh.readline()
    except FileNotFoundError:
        raise DataError(f"data file {path} not found", hint="check the path given to --data") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text CSV file") from None
    if not first.strip():
        raise DataError(f"data file {path} is empty")
    if not second.strip():
        raise DataError(f"data file {path} has a header but no rows")
    return [c.strip().strip('"').lower() for c in first.strip().split(",")]


def load_csv(path: str | Path, *, symbol: str = "", allow_gaps: bool = False) -> Bars:
    """Read an OHLCV CSV into `Bars`; refuse NaNs, duplicates, unsorted rows and gaps unless allowed."""
    path = Path(path).expanduser()
    cols = _header(path)
    where = {c: i for i, c in enumerate(cols)}
    tcol = next((c for c in TIME_COLS if c in where), None)
    missing = [c for c in ("open", "high", "low", "close") if c not in where]
    if tcol is None or missing:
        need = (["a time column (" + "/".join(TIME_COLS[:4]) + ")"] if tcol is None else []) + missing
        raise DataError(
            f"{path}: missing column(s) {', '.join(need)}; found {', '.join(cols)}",
            hint="the first row must be a header like open_time_ms,open,high,low,close,volume",
        )
    vcol = next((c for c in VOLUME_COLS if c in where), None)
    num_cols = [where[c] for c in ("open", "high", "low", "close")] + ([where[vcol]] if vcol else [])
    text_time = False
    try:
        numeric = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[where[tcol], *num_cols], ndmin=2)
        t_raw = numeric[:, 0]
        vals = numeric[:, 1:]
    except ValueError as exc:
        # Text timestamps, or empty/garbage fields: the slower tolerant reader tells which.
        t_raw, vals, text_time = _tolerant(path, where[tcol], num_cols, exc)
    if text_time:
        t = t_raw
    else:
        if np.isnan(t_raw).any():
            bad = int(np.flatnonzero(np.isnan(t_raw))[0])
            raise DataError(f"{path}: row {bad + 2}: the time column {tcol!r} is empty or not a number")
        t = t_raw.astype(np.int64)
        if t.size and t.max() < 100_000_000_000:  # epoch seconds
            t = t * 1000
    volume = vals[:, 4] if vcol else np.zeros(len(t))
    sym = symbol or _symbol_from_name(path.name)
    bars = Bars.from_arrays(t, vals[:, 0], vals[:, 1], vals[:, 2], vals[:, 3], volume, symbol=sym)
    return check_bars(bars, source=str(path), allow_gaps=allow_gaps)


def _tolerant(path: Path, tcol: int, num_cols: list[int], first_exc: Exception):
    try:
        raw = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=[tcol], dtype=str, ndmin=1,
                            autostrip=True, invalid_raise=True)
        vals = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=num_cols, dtype=np.float64, ndmin=2,
                             invalid_raise=True)
    except ValueError as exc:
        raise DataError(f"{path}: cannot parse: {exc}", hint="every row needs the same number of fields") from None
    raw = np.char.strip(np.char.strip(raw), '"')
    try:
        t = raw.astype(np.float64)
        if np.isnan(t).any():
            bad = int(np.flatnonzero(np.isnan(t))[0])
            raise DataError(f"{path}: row {bad + 2}: empty time value")
        t = t.astype(np.int64)
        if t.size and t.max() < 100_000_000_000:
            t = t * 1000
        return t, vals, True
    except ValueError:
        pass
    try:
        cleaned = np.char.replace(np.char.rstrip(raw, "Z"), "+00:00", "")
        t = np.array(cleaned, dtype="datetime64[ms]").astype(np.int64)
    except ValueError:
        bad = next((i for i, s in enumerate(raw) if not _is_time(s)), 0)
        raise DataError(
            f"{path}: row {bad + 2}: cannot read time {raw[bad]!r}",
            hint="use epoch milliseconds or ISO text like 2024-01-31 12:00:00 (UTC)",
        ) from None
    del first_exc
    return t, vals, True


def _is_time(s: str) -> bool:
    try:
        np.datetime64(s.rstrip("Z"), "ms")
        return True
    except ValueError:
        return False


def _symbol_from_name(name: str) -> str:
    found = _SYMBOL_RE.findall(name.upper())  # the last match: "gateio_usdt_perp_BTC_USDT_1h" -> BTC_USDT
    return found[-1] if found else ""


def check_bars(bars: Bars, *, source: str = "data", allow_gaps: bool = False) -> Bars:
    """NaNs, duplicate or unsorted times, high < low, and gaps: clear errors, or (allow_gaps) drop/accept."""
    n = len(bars)
    if n == 0:
        raise DataError(f"{source}: no bars")
    ok = np.isfinite(bars.open)  # column by column: no n x 4 copy (a cold 1M-bar run pays for it)
    for col in (bars.high, bars.low, bars.close, bars.volume):
        ok &= np.isfinite(col)
    nan_rows = np.flatnonzero(~ok)
    if nan_rows.size:
        first = int(nan_rows[0])
        if not allow_gaps:
            raise DataError(
                f"{source}: {nan_rows.size} row(s) with missing, NaN or non-numeric values, first at row {first + 2} "
                f"({_fmt(int(bars.time_ms[first]))})",
                hint="repair the file, or pass --allow-gaps to drop those rows and continue",
            )
        keep = np.ones(n, dtype=bool)
        keep[nan_rows] = False
        bars = Bars(*(getattr(bars, c)[keep] for c in Bars.COLUMNS), symbol=bars.symbol, timeframe=bars.timeframe)
        n = len(bars)
        if n == 0:
            raise DataError(f"{source}: every row has NaN values")
    d = np.diff(bars.time_ms)
    if (d <= 0).any():
        i = int(np.flatnonzero(d <= 0)[0])
        what = "duplicate" if d[i] == 0 else "out-of-order"
        raise DataError(
            f"{source}: {what} time at row {i + 3} ({_fmt(int(bars.time_ms[i + 1]))})",
            hint="rows must be sorted by time with one row per bar",
        )
    bad_hl = np.flatnonzero(bars.high < bars.low)
    if bad_hl.size:
        i = int(bad_hl[0])
        raise DataError(f"{source}: row {i + 2}: high {bars.high[i]} is below low {bars.low[i]}")
    tf_name = bars.timeframe
    if n > 1:
        step = int(np.min(d))
        gaps = np.flatnonzero(d != step)
        if gaps.size and not allow_gaps:
            i = int(gaps[0])
            raise DataError(
                f"{source}: {gaps.size} gap(s) in the {timeframe_name(step)} bars, first after "
                f"{_fmt(int(bars.time_ms[i]))} (next bar {_fmt(int(bars.time_ms[i + 1]))})",
                hint="fill the gaps, or pass --allow-gaps to run on the bars as they are",
            )
        tf_name = tf_name or timeframe_name(step)
    return Bars(bars.time_ms, bars.open, bars.high, bars.low, bars.close, bars.volume, bars.symbol, tf_name)


def _fmt(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def parse_when(text: str, name: str = "--from") -> int:
    """A date/time in UTC (`2025-03-01`, `2025-03-01T12:00`, `2025-03-01 12:00:00`) or epoch ms -> ms."""
    s = text.strip()
    if re.fullmatch(r"\d{11,14}", s):
        return int(s)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{name}: cannot read {text!r} as a date", hint="use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC), or epoch ms"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def slice_bars(bars: Bars, start: str | None, end: str | None) -> Bars:
    """Bars with start <= open time < end (`--from` inclusive, `--to` exclusive); empty -> DataError."""
    if not start and not end:
        return bars
    lo = parse_when(start, "--from") if start else None
    hi = parse_when(end, "--to") if end else None
    if lo is not None and hi is not None and hi <= lo:
        raise ValidationError(f"--to ({end}) must be after --from ({start})")
    i = int(np.searchsorted(bars.time_ms, lo, "left")) if lo is not None else 0
    j = int(np.searchsorted(bars.time_ms, hi, "left")) if hi is not None else len(bars)
    if j <= i:
        span = f"{_fmt(int(bars.time_ms[0]))} .. {_fmt(int(bars.time_ms[-1]))}" if len(bars) else "no bars"
        raise DataError(
            f"no bars between {start or 'the start'} and {end or 'the end'}", hint=f"the data covers {span} (UTC)"
        )
    return bars[i:j]


def load_funding(path: str | Path) -> Funding:
    """The shared funding CSV format: `funding_time_ms,funding_rate` (rate as a fraction)."""
    path = Path(path).expanduser()
    cols = _header(path)
    if "funding_time_ms" not in cols or "funding_rate" not in cols:
        raise DataError(
            f"{path}: a funding file needs columns funding_time_ms,funding_rate; found {', '.join(cols)}"
        )
    try:
        arr = np.loadtxt(path, delimiter=",", skiprows=1,
                         usecols=[cols.index("funding_time_ms"), cols.index("funding_rate")], ndmin=2)
    except ValueError as exc:
        raise DataError(f"{path}: cannot parse funding rows: {exc}") from None
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: funding file has empty/NaN values")
    t = arr[:, 0].astype(np.int64)
    order = np.argsort(t, kind="stable")
    return Funding(t[order], arr[order, 1], source=str(path))


def need_warmup(bars: Bars, warmup: int, strategy: str) -> None:
    """Refuse data shorter than the strategy's indicators need (plus one bar to trade on)."""
    if len(bars) < warmup + 1:
        raise DataError(
            f"{strategy} needs at least {warmup + 1} bars for its indicators, the data has {len(bars)}",
            hint="use a longer range (--from/--to) or shorter indicator periods (--param ...)",
        )
