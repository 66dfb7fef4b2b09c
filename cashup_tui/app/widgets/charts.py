"""The workstation's chart widgets (textual-plotext, one figure per widget): the market's candles with
overlays, price lines and volume; the book's depth; an equity/PnL history. Each redraws only when its
data key changes (plotext builds the whole picture on every render)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from textual_plotext import PlotextPlot

from cashup_tui.app import fmt
from cashup_tui.app.widgets.chart_draw import PriceLine, chart_title, draw_candles, draw_depth, draw_equity
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, BookSnapshot

log = logging.getLogger(__name__)


def sma(values: Sequence[float], n: int) -> list[float | None]:
    out: list[float | None] = []
    acc = 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / n if i >= n - 1 else None)
    return out


def ema(values: Sequence[float], n: int) -> list[float | None]:
    out: list[float | None] = []
    k = 2 / (n + 1)
    e: float | None = None
    for i, v in enumerate(values):
        if i < n - 1:
            out.append(None)
            continue
        e = sum(values[: n]) / n if e is None else v * k + e * (1 - k)
        out.append(e)
    return out


def node_series(node: Any, name: str, *args: object) -> tuple[list[int], list[float]] | None:
    """A history series of the node (service/equity.py: `equity_series`, `pnl_series`), or None from a
    node that keeps none."""
    series = getattr(node, name, None)
    return series(*args) if series is not None else None


class CachedPlot(PlotextPlot):
    """Reuses the built picture until the data key or the size changes (the compositor re-renders a
    widget whenever a neighbour is repainted)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: tuple[object, ...] = ()
        self._rendered: object = None
        self._render_key: object = None

    MIN_SIZE = (30, 6)  # below it plotext's canvas has no room beside the axis labels

    def render(self):  # type: ignore[no-untyped-def]
        if self.size.width < self.MIN_SIZE[0] or self.size.height < self.MIN_SIZE[1]:
            return "chart: needs a larger pane"
        key = (self._key, self.size)
        if self._render_key != key or self._rendered is None:
            try:
                self._draw()
                self._rendered = super().render()
            except Exception as exc:  # a chart that cannot draw must not stop the workstation
                log.exception("chart %s could not draw its data", type(self).__name__)
                self._rendered = f"chart unavailable: {type(exc).__name__}: {exc} (see the log)"
            self._render_key = key
        return self._rendered

    def _draw(self) -> None:
        """Draw the current data for the current size (called from render)."""


class CandleChart(CachedPlot):
    """Candles with a UTC time axis, SMA/EMA overlay, the own position's entry and liquidation and the
    resting orders as lines, and a volume strip when the chart is tall enough."""

    OVERLAYS = ("sma20", "ema50", "none")

    def __init__(self, timeframe: str = "1m", *, keys: bool = True, **kw: Any) -> None:
        """`keys`: the title names [t] and [o] (the main chart; a context chart follows it)."""
        super().__init__(**kw)
        self.timeframe = timeframe
        self.keys = keys
        self.overlay = "sma20"
        self._drawn_at = 0.0
        self._data: tuple[str, list[Bar], list[float | None], tuple[PriceLine, ...], int | None] = ("", [], [], (), None)

    def show_bars(self, symbol: str, bars: Sequence[Bar], lines: Sequence[PriceLine] = (),
                  inst: Instrument | None = None) -> None:
        width = self.size.width or 60
        n = max(10, min(len(bars), (width - 12) // 2))
        view = list(bars)[-n:]
        lines = tuple(lines)
        key = (symbol, self.timeframe, self.overlay, len(bars), view[-1].close if view else None, width, lines)
        if key == self._key:
            return
        # a new price alone redraws at most every 2 s (plotext is the costliest paint on screen);
        # a new symbol, timeframe, overlay, bar, size or line redraws at once
        now = time.monotonic()
        if self._key and key[:4] == self._key[:4] and key[5:] == self._key[5:] and now - self._drawn_at < 2.0:
            return
        self._drawn_at = now
        self._key = key
        closes = [b.close for b in bars]
        line: list[float | None] = []
        if self.overlay != "none" and view:
            line = (sma(closes, 20) if self.overlay == "sma20" else ema(closes, 50))[-len(view):]
        places = fmt.tick_places(inst.price_tick) if inst is not None else None
        self._data = (symbol, view, line, lines, places)
        self.refresh()

    def _draw(self) -> None:
        symbol, view, line, lines, places = self._data
        width, height = self.size.width or 60, self.size.height or 20
        draw_candles(self.plt, view, line, lines, chart_title(symbol, self.timeframe, self.overlay, width, self.keys), height,
                     places)


class DepthChart(CachedPlot):
    """Cumulative bid and ask size by price, from the book the ladder shows."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._book: BookSnapshot | None = None
        self._places: int | None = None

    def show_book(self, book: BookSnapshot | None, inst: Instrument | None = None) -> None:
        key = (None if book is None else (book.symbol, book.update_id, book.in_sync),)
        if key == self._key:
            return
        self._key = key
        self._book = book
        self._places = fmt.tick_places(inst.price_tick) if inst is not None else None
        self.refresh()

    def _draw(self) -> None:
        draw_depth(self.plt, self._book, "cont", self._places)


class EquityChart(CachedPlot):
    """An equity or cumulative-PnL history (USDT) over UTC time."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._series: tuple[str, list[int], list[float]] = ("", [], [])

    def show_series(self, title: str, times: Sequence[int], values: Sequence[float]) -> None:
        key = (title, len(values), values[-1] if values else None)
        if key == self._key:
            return
        self._key = key
        self._series = (title, list(times), list(values))
        self.refresh()

    def _draw(self) -> None:
        draw_equity(self.plt, *self._series)
