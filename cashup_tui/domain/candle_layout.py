"""The one definition of a candle file's layout and of a time value, shared by every reader
(`data import`, `backtest run --data`, `optimize`) and every `--from/--to/--since/--until` option.

Layout: a header row whose names (case-insensitive) say which column is the time, open, high,
low, close and volume (or funding rate); or headerless numeric rows read as time, open, high,
low, close[, volume]. Times: epoch numbers (unit by magnitude: s, ms, us, ns) or ISO-8601 text;
text without a zone is UTC. Pure stdlib: readers vectorise around these rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cashup_tui.domain.errors import ValidationError

TIME_NAMES = ("open_time_ms", "open_time", "timestamp", "date", "datetime", "time", "t", "ts", "time_ms",
              "open_ms", "opentime", "unix", "candle_begin_time")
FUNDING_TIME_NAMES = ("funding_time_ms", "funding_time", "fundingtime", *TIME_NAMES)
RATE_NAMES = ("funding_rate", "fundingrate", "rate", "r")
PRICE_NAMES = {"open": ("open", "o"), "high": ("high", "h"), "low": ("low", "l"), "close": ("close", "c")}
VOLUME_NAMES = ("volume", "v", "volume_contracts", "vol", "base_volume", "volume_base", "volume_quote")
HEADERLESS_NAMES = ("t", "o", "h", "l", "c", "v")

MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: later (or negative) times are refused
MAX_VALUE = 1e15  # larger prices/volumes are data errors (and overflow sums and products downstream)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class Columns:
    """Indexes of the recognised columns in a header (None: absent)."""

    time: int | None
    open: int | None
    high: int | None
    low: int | None
    close: int | None
    volume: int | None
    rate: int | None
    funding_time: int | None
    headerless: bool = False

    @property
    def missing_prices(self) -> list[str]:
        return [k for k in PRICE_NAMES if getattr(self, k) is None]

    @property
    def is_funding(self) -> bool:
        return self.rate is not None and len(self.missing_prices) == 4


def is_number(text: str) -> bool:
    return bool(_NUMBER_RE.fullmatch(text.strip().strip('"')))


def find_columns(cells: Sequence[str]) -> Columns:
    """Recognise a header row; a row of numbers is headerless data (t, o, h, l, c[, v])."""
    cells = [str(c).strip().strip('"') for c in cells]
    if cells and all(is_number(c) for c in cells if c):
        n = len(cells)
        o, h, lo, cl, v = (i if i < n else None for i in range(1, 6))
        return Columns(0, o, h, lo, cl, v, rate=None, funding_time=None, headerless=True)
    where: dict[str, int] = {}
    for i, c in enumerate(cells):
        where.setdefault(c.lower(), i)

    def first(names: Sequence[str]) -> int | None:
        return next((where[n] for n in names if n in where), None)

    o, h, lo, cl = (first(PRICE_NAMES[k]) for k in ("open", "high", "low", "close"))
    return Columns(first(TIME_NAMES), o, h, lo, cl, volume=first(VOLUME_NAMES), rate=first(RATE_NAMES),
                   funding_time=first(FUNDING_TIME_NAMES))


def epoch_factor(magnitude: float) -> tuple[float, str]:
    """(factor to milliseconds, unit name) for epoch numbers of this typical size."""
    if magnitude < 1e11:
        return 1000.0, "epoch seconds"
    if magnitude < 1e14:
        return 1.0, "epoch milliseconds"
    if magnitude < 1e17:
        return 1e-3, "epoch microseconds"
    return 1e-6, "epoch nanoseconds"


def parse_time(text: str) -> int | None:
    """One time value -> epoch ms, or None if it is not a time in 1970..9999.

    Epoch numbers take their unit from their own size; text is ISO-8601 (`2024-01-31`,
    `2024-01-31T12:00`, `2024-01-31 12:00:00.000000`, `...Z`, `...+08:00`, `... UTC`)."""
    s = text.strip().strip('"')
    if not s:
        return None
    if is_number(s):
        v = float(s)
        if not math.isfinite(v):
            return None
        factor, _ = epoch_factor(abs(v))
        ms = round(v * factor)
    else:
        if s.endswith(" UTC"):
            s = s[:-4] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        try:
            ms = (dt - _EPOCH) // _MS
        except OverflowError:
            return None
    return ms if 0 <= ms <= MAX_TIME_MS else None


def parse_when(text: str, option: str) -> int:
    """A `--from/--to/--since/--until` value -> epoch ms; ValidationError naming the option."""
    ms = parse_time(text)
    if ms is None:
        raise ValidationError(
            f"{option}: cannot read {text!r} as a date",
            hint="use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC unless it has a zone like +08:00), or epoch ms",
        )
    return ms
