"""Values the synthetic and replayed markets share with the simulator's server: Gate candlestick
intervals, the exact tick <-> price-string format, trade prints and what one market step changed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cashup_tui.domain.errors import ValidationError

# Gate candlestick intervals (seconds).
INTERVALS: dict[str, int] = {
    "10s": 10,
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14_400,
    "8h": 28_800,
    "1d": 86_400,
    "7d": 604_800,
}
BOOK_LEVELS = 100  # levels kept per side (the deepest WS depth Gate offers)
MAX_BARS = 2000  # Gate's REST candlestick limit (bars kept per interval)


def interval_s(interval: str) -> int:
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValidationError(
            f"unknown candlestick interval {interval!r}", hint=f"Gate intervals: {', '.join(INTERVALS)}"
        ) from None


class PriceFormat:
    """Exact tick-integer <-> Gate price string conversion (no float rounding, trailing zeros stripped)."""

    __slots__ = ("cache", "decimals", "mantissa", "scale", "tick")

    def __init__(self, tick: Decimal) -> None:
        self.tick = tick
        _sign, digits, exp = tick.normalize().as_tuple()
        self.decimals = max(0, -int(exp))
        self.mantissa = int("".join(map(str, digits))) * (10 ** max(0, int(exp)))
        self.scale = 10**self.decimals
        self.cache: dict[int, str] = {}

    def __call__(self, ticks: int) -> str:
        s = self.cache.get(ticks)
        if s is None:
            if len(self.cache) > 50_000:
                self.cache.clear()
            v = ticks * self.mantissa
            if self.decimals:
                whole, frac = divmod(v, self.scale)
                s = f"{whole}.{frac:0{self.decimals}d}".rstrip("0").rstrip(".")
            else:
                s = str(v)
            self.cache[ticks] = s
        return s

    def to_ticks(self, price: Decimal | float | str) -> int:
        return int((Decimal(str(price)) / self.tick).to_integral_value())

    def to_float(self, ticks: int) -> float:
        return ticks * self.mantissa / self.scale


@dataclass(slots=True)
class TradePrint:
    id: int
    ts_ms: int
    size: int  # signed contracts: > 0 taker bought
    price: int  # ticks


@dataclass(slots=True)
class StepResult:
    """What one step changed for one symbol (the server turns it into WS frames)."""

    symbol: str
    ts_ms: int
    first_id: int  # U
    last_id: int  # u
    trades: list[TradePrint]
    funding_rate: Decimal | None = None  # set when a funding settlement happened in this step
    book_changed: bool = True  # False: no book frame this step (replay with nothing due)


class PricePath:
    """An external mid-price path (candle replay); `None` from `next_mid` = path exhausted."""

    def next_mid(self) -> tuple[float, float] | None:  # (mid in price units, volume weight)
        raise NotImplementedError


def level_diff(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Levels to send so a client holding `old` ends up with `new` (size 0 = delete)."""
    o = dict(old)
    out = [(p, s) for p, s in new if o.get(p) != s]
    n = dict(new)
    out.extend((p, 0) for p in o if p not in n)
    return out
