"""Number formatting for narrow terminals. Signs are always explicit (+/-, ▲/▼): colour is
never the only carrier of meaning (256-colour and monochrome terminals over SSH)."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

UP, DOWN = "▲", "▼"


def num(v: float | Decimal | None, places: int = 2) -> str:
    if v is None:
        return "—"
    return f"{float(v):,.{places}f}"


def tick_places(tick: Decimal) -> int:
    """Decimals of a contract's price tick: 0.1 -> 1, 0.05 -> 2, 0.0001 -> 4, 1 -> 0."""
    exp = tick.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 2


def price(v: float | Decimal | None, places: int | None = None) -> str:
    """A price with `places` decimals (the contract's tick, `tick_places`), else by magnitude."""
    if v is None:
        return "—"
    f = float(v)
    if places is None:
        a = abs(f)
        places = 1 if a >= 10_000 else 2 if a >= 100 else 4 if a >= 1 else 6
    return f"{f:,.{places}f}"


def compact(v: float | Decimal | None) -> str:
    """12.3k / 4.56M / 7.89B."""
    if v is None:
        return "—"
    f = float(v)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(f) >= size:
            return f"{f / size:.2f}{unit}"
    return f"{f:.0f}" if f == int(f) else f"{f:.2f}"


def signed(v: float | Decimal | None, places: int = 2, suffix: str = "") -> Text:
    """`+12.34` green / `-5.00` red, with the sign in the text itself."""
    if v is None:
        return Text("—")
    f = float(v)
    style = "green" if f > 0 else "red" if f < 0 else ""
    return Text(f"{f:+,.{places}f}{suffix}", style=style)


def pct(v: float | Decimal | None, places: int = 2) -> Text:
    if v is None:
        return Text("—")
    f = float(v)
    arrow = UP if f > 0 else DOWN if f < 0 else " "
    style = "green" if f > 0 else "red" if f < 0 else ""
    return Text(f"{arrow}{f:+.{places}f}%", style=style)


def bar(ratio: float, width: int, char: str = "█") -> str:
    """A left-aligned bar of `width` cells for ratio 0..1 (eighth-block resolution)."""
    ratio = max(0.0, min(1.0, ratio))
    eighths = round(ratio * width * 8)
    full, rem = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rem] if rem else ""
    return (char * full + partial)[:width]


def clock(ts_ms: int) -> str:
    import time

    return time.strftime("%H:%M:%S", time.gmtime(ts_ms / 1000)) if ts_ms else "--:--:--"
