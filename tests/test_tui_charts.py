"""The workstation's charts, drawn on a bare plotext figure (textual-plotext's `Plot`, as each chart widget
has) from fixed data and read back as text: deterministic, no app, no clock."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from textual_plotext.plot import Plot

from cashup_tui.app.panes.tables import CELL_PAD, fit_columns
from cashup_tui.app.widgets.chart_draw import (
    PriceLine,
    chart_title,
    cumulative,
    draw_candles,
    draw_depth,
    draw_equity,
)
from cashup_tui.domain.market import Bar, BookLevel, BookSnapshot
from tests.campaign import examples

T0 = 1_763_942_400_000  # 2025-11-24 00:00 UTC
D = Decimal


def _text(p: Any, width: int, height: int) -> str:
    """Sized and built as `PlotextPlot.render` does it, as plain text."""
    p.plotsize(width, height)
    p._set_size(width, height)
    return re.sub(r"\x1b\[[0-9;]*m", "", p.build())


def _bars(n: int = 30) -> list[Bar]:
    out = []
    for i in range(n):
        o = 26_600.0 + 4 * i
        out.append(Bar("BTC_USDT", "1m", T0 + i * 60_000, o, o + 9, o - 7, o + 3, 1_000.0 + 50 * i))
    return out


def test_candles_time_axis_volume_separators_and_price_lines() -> None:
    bars = _bars()
    lines = [PriceLine("entry 26,650.0", 26_650.0, "orange"), PriceLine("liq 24,100.0", 24_100.0, "red"),
             PriceLine("buy 3 @ 26,620.5", 26_620.5, "green")]
    p = Plot()
    draw_candles(p, bars, [None] * len(bars), lines, chart_title("BTC_USDT", "1m", "sma20", 80), 30, places=1)
    text = _text(p, 80, 30)
    assert "BTC_USDT 1m  [t] timeframe  [o] overlay: sma20" in text
    assert "├entry 26,650.0─" in text  # a line across the chart, labelled at its price
    assert "buy 3 @ 26,620.5" in text
    assert "liq 24,100.0 ↓" in text  # far below the candles: named at the bottom edge, not drawn
    assert re.search(r"26,59\d\.\d┤", text) and re.search(r"26,72\d\.\d┤", text)  # low and high, separated
    assert "00:00" in text and "00:29" in text  # UTC times of the first and last bar
    assert "vol┤" in text and "2.45k┤" in text  # the volume strip, compact
    # short: no volume strip, the time axis under the candles; the title keeps symbol and timeframe
    p = Plot()
    draw_candles(p, bars, [None] * len(bars), lines, chart_title("BTC_USDT", "1m", "sma20", 40), 12, places=1)
    text = _text(p, 40, 12)
    assert "vol┤" not in text and "00:00" in text and "BTC_USDT 1m" in text


def test_chart_title_fits_the_width_and_keeps_symbol_and_timeframe() -> None:
    for width in (10, 24, 30, 44, 60):
        title = chart_title("ETH_USDT", "15m", "ema50", width)
        assert title.startswith("ETH_USDT 15m") and (len(title) <= width - 2 or title == "ETH_USDT 15m")
    assert "overlay: ema50" in chart_title("ETH_USDT", "15m", "ema50", 60)
    assert chart_title("ETH_USDT", "1h", "sma20", 60, keys=False) == "ETH_USDT 1h context  sma20"


def test_depth_is_cumulative_from_the_touch_out() -> None:
    book = BookSnapshot("BTC_USDT", T0, 1, (BookLevel(D("100.0"), D(5)), BookLevel(D("99.5"), D(7))),
                        (BookLevel(D("100.5"), D(2)), BookLevel(D("101.0"), D(1_500))), True)
    assert cumulative(book, 20) == ([100.0, 99.5], [5.0, 12.0], [100.5, 101.0], [2.0, 1_502.0])
    p = Plot()
    draw_depth(p, book, "cont", 1)
    text = _text(p, 60, 16)
    assert "BTC_USDT depth, cumulative cont" in text and "1.50k┤" in text and "99.5" in text and "101.0" in text


def test_equity_history_axis() -> None:
    p = Plot()
    draw_equity(p, "equity USDT", [T0, T0 + 3_600_000, T0 + 7_200_000], [100_000.0, 100_250.5, 99_875.25])
    text = _text(p, 60, 14)
    assert "equity USDT" in text and "100,250.50┤" in text and "99,875.25┤" in text and "02:00" in text


@settings(max_examples=examples(50))
@given(st.lists(st.text("abc123,.%", min_size=1, max_size=12), min_size=1, max_size=8), st.integers(1, 120))
def test_fit_columns_never_cuts_a_cell(cells: list[str], width: int) -> None:
    """Every kept column fits whole (header and cells) or the width is too small for even the last one."""
    cols = [f"c{i}" for i in range(len(cells))]
    row = dict(zip(cols, cells, strict=True))
    kept, labels = fit_columns(cols, [row], width, cols[1:], {c: c[:1] for c in cols})
    assert kept and kept[0] == "c0" and set(labels) == set(kept)
    need = sum(max(len(labels[k]), len(row[k])) + CELL_PAD for k in kept)
    assert need <= width or kept == ("c0",)


_price = st.floats(0.0001, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def _candles(draw: Any) -> list[Bar]:
    """1 to 40 bars, often flat (one price for open, high, low and close) or all at one price."""
    n = draw(st.integers(1, 40))
    flat = draw(st.booleans())
    base = draw(_price)
    out = []
    for i in range(n):
        if flat:
            o = h = lo = c = base
        else:
            o, c = draw(_price), draw(_price)
            h, lo = max(o, c) + draw(st.floats(0, 10)), min(o, c)
        out.append(Bar("SOL_USDT", "1d", T0 + i * 86_400_000, o, h, lo, c, draw(st.sampled_from([0.0, 1.0, 1e9]))))
    return out


@settings(max_examples=examples(200), deadline=None)
@given(_candles(), st.lists(_price, max_size=3), st.integers(6, 60), st.integers(30, 240))
def test_candles_draw_whatever_the_bars(bars: list[Bar], prices: list[float], height: int, width: int) -> None:
    """A single flat bar (a new contract's first day bar) divided plotext by an empty price range and
    stopped the workstation (CI, 160x48 after a search for SOL). Any bars draw, flat or not."""
    lines = [PriceLine(f"l{i}", x, "red") for i, x in enumerate(prices)]
    p = Plot()
    draw_candles(p, bars, [bars[0].close] * len(bars), lines, "SOL_USDT 1d", height, places=4)
    text = _text(p, width, height)
    assert "SOL_USDT 1d" in text or width < 40 or height < 8


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.floats(-1e7, 1e7), min_size=1, max_size=30), st.integers(4, 40), st.integers(10, 200))
def test_equity_draws_a_flat_or_single_point_history(values: list[float], height: int, width: int) -> None:
    p = Plot()
    draw_equity(p, "equity USDT", [T0 + i * 60_000 for i in range(len(values))], values)
    _text(p, width, height)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(_price, st.sampled_from([0, 1, 7])), min_size=1, max_size=5),
       st.lists(st.tuples(_price, st.sampled_from([0, 1, 7])), min_size=1, max_size=5), st.integers(4, 40))
def test_depth_draws_any_book_even_one_level_zero_sizes_or_crossed(
        bids: list[tuple[float, int]], asks: list[tuple[float, int]], height: int) -> None:
    def levels(side: list[tuple[float, int]]) -> tuple[BookLevel, ...]:
        return tuple(BookLevel(D(str(px)), D(n)) for px, n in side)

    p = Plot()
    draw_depth(p, BookSnapshot("SOL_USDT", T0, 1, levels(bids), levels(asks), True), "cont", 4)
    assert "SOL_USDT depth" in _text(p, 60, height) or height < 6


async def test_a_chart_that_cannot_draw_says_so_and_the_app_goes_on() -> None:
    """Whatever a chart's data does to plotext, the workstation keeps running: the chart shows why."""
    from textual.app import App, ComposeResult

    from cashup_tui.app.widgets.charts import CachedPlot

    class Broken(CachedPlot):
        def _draw(self) -> None:
            raise ZeroDivisionError("float division by zero")

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Broken()

    app = One()
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        assert app.is_running
        assert "chart unavailable: ZeroDivisionError" in str(app.query_one(Broken).render())
