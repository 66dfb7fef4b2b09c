"""What the workstation's charts draw, on a plotext `Plot` (textual-plotext's per-widget figure), through
plotext's public API only: candles with a time axis and volume, price lines for the own position and
resting orders, the book's cumulative depth, and an equity/PnL history.

Axis labels are ours (`yticks`/`xticks` with labels): prices with thousands separators at the contract's
tick decimals, volumes compact (12.3k), times in UTC. Kept apart from the widgets so a test can draw on a
bare `Plot` and read the text."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cashup_tui.app import fmt
from cashup_tui.domain.market import Bar, BookSnapshot

VOLUME_MIN_HEIGHT = 18  # below this the candles keep every row (no volume strip)


def volume_rows(height: int) -> int:
    return max(5, height // 4)


def top_rows(height: int, volume: bool) -> int:
    """Rows of the candles' canvas: the figure less the title, the frame and (without volume) the time axis."""
    return (height - volume_rows(height) - 3) if volume else height - 4


@dataclass(frozen=True, slots=True)
class PriceLine:
    """A horizontal line on the market chart: the own position's entry or liquidation, a resting order."""

    label: str
    price: float
    color: str


def time_ticks(times: Sequence[int], count: int = 5) -> tuple[list[int], list[str]]:
    """Positions (indexes into `times`) and UTC labels for a chart's x axis: HH:MM within a day,
    MM-DD HH:MM across days."""
    if not times:
        return [], []
    n = len(times)
    idx = sorted({round(i * (n - 1) / max(1, count - 1)) for i in range(count)})
    form = "%H:%M" if times[-1] - times[0] < 86_400_000 else "%m-%d %H:%M"
    return idx, [time.strftime(form, time.gmtime(times[i] / 1000)) for i in idx]


def span(lo: float, hi: float) -> tuple[float, float]:
    """`lo`..`hi` widened when empty (one flat bar, a constant equity): plotext divides by an axis's
    range, and an empty one stopped the workstation. Half a permille of the value each side (1 at 0)."""
    if hi > lo:
        return lo, hi
    half = abs(hi) * 0.0005 or 0.5
    return lo - half, hi + half


def value_ticks(lo: float, hi: float, count: int) -> list[float]:
    """`count` evenly spaced values from `lo` to `hi` (one value when the range is empty)."""
    if hi <= lo or count < 2:
        return [lo]
    return [lo + (hi - lo) * i / (count - 1) for i in range(count)]


def price_labels(values: Sequence[float], places: int | None) -> list[str]:
    """Prices with thousands separators, right-aligned to one width (the axis stays straight)."""
    labels = [fmt.price(v, places) for v in values]
    w = max((len(s) for s in labels), default=0)
    return [s.rjust(w) for s in labels]


def chart_title(symbol: str, timeframe: str, overlay: str, width: int, keys: bool = True) -> str:
    """The chart header, as long as it fits `width`: the symbol and timeframe always stay (`keys`: name the
    keys that change them; a context chart has none)."""
    if not keys:
        return f"{symbol} {timeframe} context  {overlay}"[: max(0, width - 2)]
    for title in (f"{symbol} {timeframe}  [t] timeframe  [o] overlay: {overlay}",
                  f"{symbol} {timeframe}  {overlay}  [t] [o]", f"{symbol} {timeframe} {overlay}"):
        if len(title) <= width - 2:
            return title
    return f"{symbol} {timeframe}"


def price_lines(symbol: str, positions: Sequence[Any], orders: Sequence[Any]) -> list[PriceLine]:
    """The own position's entry and liquidation and each resting order's price on `symbol`
    (`positions`: PositionView, `orders`: Order)."""
    out: list[PriceLine] = []
    for v in positions:
        p = v.position
        if p.symbol != symbol or not p.size:
            continue
        out.append(PriceLine(f"entry {fmt.price(p.entry_price)}", float(p.entry_price), "orange"))
        if v.liq_price is not None:
            out.append(PriceLine(f"liq {fmt.price(v.liq_price)}", float(v.liq_price), "red"))
    for o in orders:
        if o.symbol == symbol and o.price is not None and o.is_open:
            size = fmt.num(o.size - o.filled, 4).rstrip("0").rstrip(".")
            out.append(PriceLine(f"{o.side.value} {size} @ {fmt.price(o.price)}", float(o.price),
                                 "green" if o.side.value == "buy" else "magenta"))
    return out


def draw_candles(p: Any, bars: Sequence[Bar], overlay_line: Sequence[float | None], lines: Sequence[PriceLine],
                 title: str, height: int, places: int | None = None) -> None:
    """Candles (time axis in UTC, price axis with separators), the overlay, price lines, and below them a
    volume strip when `height` allows. A line far outside the candles' range would squash them: it is
    not drawn but named at the chart's top or bottom edge ("liq 24,153.9 ↓")."""
    p.clear_data()
    p.clear_figure()
    if not bars:
        p.title(title)
        return
    volume = height >= VOLUME_MIN_HEIGHT
    top = p
    if volume:
        p.subplots(2, 1)
        top = p.subplot(1, 1)
        top.plotsize(None, height - volume_rows(height))
    top.title(title)
    xs = list(range(len(bars)))
    top.candlestick(xs, {"Open": [b.open for b in bars], "Close": [b.close for b in bars],
                         "High": [b.high for b in bars], "Low": [b.low for b in bars]})
    pts = [(x, y) for x, y in zip(xs, overlay_line, strict=False) if y is not None]
    if pts:
        top.plot([x for x, _ in pts], [y for _, y in pts], marker="braille")
    lo, hi = span(min(b.low for b in bars), max(b.high for b in bars))
    pad = (hi - lo) * 0.5
    near = [ln for ln in lines if lo - pad <= ln.price <= hi + pad]
    for ln in near:
        lo, hi = min(lo, ln.price), max(hi, ln.price)
    for ln in near:
        top.hline(ln.price, ln.color)
        top.text(ln.label, x=xs[0], y=ln.price, color=ln.color, alignment="left")
    far_above = [ln for ln in lines if ln not in near and ln.price > hi]
    far_below = [ln for ln in lines if ln not in near and ln.price < lo]
    row = (hi - lo) / max(1, top_rows(height, volume) - 1)  # one text row, in price units
    for k, ln in enumerate(far_above):
        top.text(f"{ln.label} ↑", x=xs[-1], y=hi - k * row, color=ln.color, alignment="right")
    for k, ln in enumerate(far_below):
        top.text(f"{ln.label} ↓", x=xs[-1], y=lo + k * row, color=ln.color, alignment="right")
    ticks = value_ticks(lo, hi, max(2, min(5, (height - 4) // 3)))
    labels = price_labels(ticks, places)
    top.ylim(lo, hi)
    top.yticks(ticks, labels)
    idx, when = time_ticks([b.open_ms for b in bars], 4)
    if not volume:
        top.xticks(idx, when)
        return
    top.xticks([])
    bottom = p.subplot(2, 1)
    vols = [b.volume for b in bars]
    bottom.bar(xs, vols, width=0.6)
    vmax = max(vols) or 1.0
    bottom.ylim(0.0, vmax)
    w = len(labels[0])
    bottom.yticks([0.0, vmax], [s.rjust(w) for s in ("vol", fmt.compact(vmax))])
    bottom.xticks(idx, when)


def cumulative(book: BookSnapshot, depth: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """(bid prices, cumulative bid sizes, ask prices, cumulative ask sizes), each side from the touch out."""
    def side(levels: Sequence[Any]) -> tuple[list[float], list[float]]:
        px, cum, acc = [], [], 0.0
        for lv in levels[:depth]:
            acc += float(lv.size)
            px.append(float(lv.price))
            cum.append(acc)
        return px, cum

    bp, bc = side(book.bids)
    ap, ac = side(book.asks)
    return bp, bc, ap, ac


def draw_depth(p: Any, book: BookSnapshot | None, unit: str, places: int | None, depth: int = 20) -> None:
    """The book's cumulative size by price: bids (green) left of the mid, asks (red) right."""
    p.clear_data()
    p.clear_figure()
    symbol = book.symbol if book is not None else ""
    p.title(f"{symbol} depth, cumulative {unit}")
    if book is None or not (book.bids and book.asks):
        return
    bp, bc, ap, ac = cumulative(book, depth)
    p.plot(bp, bc, color="green", fillx=True, marker="braille")
    p.plot(ap, ac, color="red", fillx=True, marker="braille")
    lo, hi = span(min(bp + ap), max(bp + ap))  # every point inside: plotext rasterises lines off-canvas too
    p.xlim(lo, hi)
    ticks = value_ticks(lo, hi, 3)
    p.xticks(ticks, [fmt.price(t, places) for t in ticks])
    top = max(bc[-1], ac[-1])
    if not top:  # every level empty: an axis of one value has no range
        top = 1.0
        p.ylim(0.0, top)
    p.yticks([0.0, top / 2, top], [fmt.compact(v) for v in (0.0, top / 2, top)])


def draw_equity(p: Any, title: str, times: Sequence[int], values: Sequence[float]) -> None:
    """A history line (equity or cumulative PnL, USDT) over UTC time."""
    p.clear_data()
    p.clear_figure()
    p.title(title)
    if not values:
        return
    xs = list(range(len(values)))
    p.plot(xs, list(values), marker="braille")
    lo, hi = span(min(values), max(values))
    p.ylim(lo, hi)
    if len(xs) == 1:
        p.xlim(-0.5, 0.5)
    ticks = value_ticks(lo, hi, 3)
    p.yticks(ticks, price_labels(ticks, 2))
    p.xticks(*time_ticks(list(times), 4))
