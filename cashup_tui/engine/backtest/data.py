"""Loading bars for backtests: CSV files (numpy's C reader, no pandas) and checks with clear errors.

The layout and time rules are `domain.candle_layout`'s, the same as `cashup data import`: a header
naming the time, open, high, low, close[, volume] columns (`open_time_ms,...`, Gate's `t,o,h,l,c,v`,
`date,open,...`), or headerless numeric rows; epoch times in s/ms/us/ns or ISO text (UTC unless it
has a zone). Other columns are ignored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cashup_tui.domain.candle_layout import (
    MAX_TIME_MS,
    MAX_VALUE,
    TIME_NAMES,
    epoch_factor,
    find_columns,
    parse_time,
)
from cashup_tui.domain.candle_layout import parse_when as _parse_when
from cashup_tui.domain.errors import DataError, ValidationError
from cashup_tui.engine.backtest.model import Funding
from cashup_tui.engine.strategy import Bars

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


def _header(path: Path, label: str = "") -> list[str]:
    label = label or str(path)
    try:
        with path.open("r", encoding="utf-8-sig") as fh:
            first = fh.readline()
            second = fh.readline()
    except FileNotFoundError:
        raise DataError(f"data file {label} not found", hint="check the path given to --data") from None
    except IsADirectoryError:
        raise DataError(f"{label} is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise DataError(f"{label} is not a text CSV file") from None
    if not first.strip():
        raise DataError(f"data file {label} is empty")
    cells = [c.strip().strip('"') for c in first.strip().split(",")]
    if not second.strip() and not find_columns(cells).headerless:
        raise DataError(f"data file {label} has a header but no rows")
    return cells


def load_csv(path: str | Path, *, symbol: str = "", allow_gaps: bool = False, label: str = "") -> Bars:
    """Read an OHLCV CSV into `Bars`; refuse NaNs, duplicates, unsorted rows and gaps unless allowed.
    `label` names the data in messages (e.g. `<stdin>` for a spooled pipe)."""
    path = Path(path).expanduser()
    label = label or str(path)
    cells = _header(path, label)
    cols = find_columns(cells)
    missing = cols.missing_prices
    if cols.time is None or missing:
        need = (["a time column (" + "/".join(TIME_NAMES[:4]) + ")"] if cols.time is None else []) + missing
        raise DataError(
            f"{label}: missing column(s) {', '.join(need)}; found {', '.join(cells)}",
            hint="the first row must be a header like open_time_ms,open,high,low,close,volume (or Gate's t,o,h,l,c,v)",
        )
    num_cols: list[int] = [cols.open, cols.high, cols.low, cols.close]  # type: ignore[list-item]
    if cols.volume is not None:
        num_cols.append(cols.volume)
    skip = 0 if cols.headerless else 1
    try:
        numeric = np.loadtxt(path, delimiter=",", skiprows=skip, usecols=[cols.time, *num_cols], ndmin=2)
        t = _epoch_ms(numeric[:, 0], label, skip)
        vals = numeric[:, 1:]
    except ValueError as exc:
        # Text timestamps, or empty/garbage fields: the slower tolerant reader tells which.
        t, vals = _tolerant(path, label, cols.time, num_cols, skip, exc)
    volume = vals[:, 4] if cols.volume is not None else np.zeros(len(t))
    sym = symbol or _symbol_from_name(path.name if not label.startswith("<") else "")
    bars = Bars.from_arrays(t, vals[:, 0], vals[:, 1], vals[:, 2], vals[:, 3], volume, symbol=sym)
    return check_bars(bars, source=label, allow_gaps=allow_gaps, first_line=skip + 1)


def _epoch_ms(t_raw: np.ndarray, label: str, skip: int) -> np.ndarray:
    """Epoch numbers -> ms (unit by the typical magnitude, the shared rule); refuse NaN and 1970..9999 outliers."""
    ok = np.isfinite(t_raw)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise DataError(f"{label}: row {bad + skip + 1}: the time is empty or not a number")
    sample = t_raw[:: max(1, len(t_raw) // 1001)]
    factor, _ = epoch_factor(float(np.median(np.abs(sample))) if len(sample) else 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        ms = np.rint(t_raw * factor) if factor != 1.0 else t_raw
        out = (ms < 0) | (ms > MAX_TIME_MS)
    if out.any():
        bad = int(np.flatnonzero(out)[0])
        raise DataError(f"{label}: row {bad + skip + 1}: time {t_raw[bad]:.17g} is not a date in 1970..9999",
                        hint="times are epoch seconds/milliseconds or ISO text like 2024-01-31T12:00:00Z")
    return ms.astype(np.int64)


def _tolerant(path: Path, label: str, tcol: int, num_cols: list[int], skip: int,
              first_exc: Exception) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = np.genfromtxt(path, delimiter=",", skip_header=skip, usecols=[tcol], dtype=str, ndmin=1,
                            autostrip=True, invalid_raise=True, comments=None)  # type: ignore[call-overload]
        vals = np.genfromtxt(path, delimiter=",", skip_header=skip, usecols=num_cols, dtype=np.float64, ndmin=2,
                             invalid_raise=True, comments=None)  # type: ignore[call-overload]
    except ValueError as exc:
        raise DataError(f"{label}: cannot parse: {exc}", hint="every row needs the same number of fields") from None
    raw = np.char.strip(np.char.strip(raw), '"')
    try:
        return _epoch_ms(raw.astype(np.float64), label, skip), vals
    except ValueError:
        pass
    parsed = [parse_time(s) for s in raw.tolist()]
    bad = next((i for i, v in enumerate(parsed) if v is None), None)
    if bad is not None:
        raise DataError(
            f"{label}: row {bad + skip + 1}: cannot read time {raw[bad]!r}",
            hint="use epoch milliseconds or ISO text like 2024-01-31 12:00:00 (UTC unless it has a zone like +08:00)",
        ) from None
    del first_exc
    return np.array(parsed, dtype=np.int64), vals


def _symbol_from_name(name: str) -> str:
    found = _SYMBOL_RE.findall(name.upper())  # the last match: "gateio_usdt_perp_BTC_USDT_1h" -> BTC_USDT
    return found[-1] if found else ""


def check_bars(bars: Bars, *, source: str = "data", allow_gaps: bool = False, first_line: int = 2) -> Bars:
    """NaNs, huge values, duplicate or unsorted times, high < low, and gaps: clear errors, or (allow_gaps)
    drop/accept. Row i is reported as line `first_line + i` of the file."""
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
                f"{source}: {nan_rows.size} row(s) with missing, NaN or non-numeric values, first at row {first + first_line} "
                f"({_fmt(int(bars.time_ms[first]))})",
                hint="repair the file, or pass --allow-gaps to drop those rows and continue",
            )
        keep = np.ones(n, dtype=bool)
        keep[nan_rows] = False
        bars = Bars(**{c: getattr(bars, c)[keep] for c in Bars.COLUMNS}, symbol=bars.symbol, timeframe=bars.timeframe)
        n = len(bars)
        if n == 0:
            raise DataError(f"{source}: every row has NaN values")
    for name in ("open", "high", "low", "close", "volume"):
        big = np.flatnonzero(np.abs(getattr(bars, name)) > MAX_VALUE)
        if big.size:
            i = int(big[0])
            raise DataError(f"{source}: row {i + first_line}: {name} {getattr(bars, name)[i]:g} is larger than "
                            f"{MAX_VALUE:g}", hint="repair the value; prices and volumes must be real amounts")
    d = np.diff(bars.time_ms)
    if (d <= 0).any():
        i = int(np.flatnonzero(d <= 0)[0])
        what = "duplicate" if d[i] == 0 else "out-of-order"
        raise DataError(
            f"{source}: {what} time at row {i + 1 + first_line} ({_fmt(int(bars.time_ms[i + 1]))})",
            hint="rows must be sorted by time with one row per bar",
        )
    bad_hl = np.flatnonzero(bars.high < bars.low)
    if bad_hl.size:
        i = int(bad_hl[0])
        raise DataError(f"{source}: row {i + first_line}: high {bars.high[i]} is below low {bars.low[i]}")
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
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"


def parse_when(text: str, name: str = "--from") -> int:
    """A date/time (UTC unless it has a zone) or epoch number -> ms: the shared `candle_layout` rule."""
    return _parse_when(text, name)


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
    sliced: Bars = bars[i:j]
    return sliced


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
