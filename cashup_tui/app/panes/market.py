"""Market pane: watchlist, order-book ladder with depth bars, trades tape, candle chart with
indicator overlays, and a fund-flow strip. Every widget is fed from the node on a timer and
redraws only what changed (the watchlist updates single cells; the others compare a key)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from cashup_tui.app import fmt
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, BookSnapshot, Ticker, Trade

# units on screen: prices, volume and notionals in USDT; sizes and open interest in contracts
# ("cont", as Gate writes it); the ladder's header says how many coins one contract is
WATCH_COLUMNS = ("Symbol", "Last", "24h", "Vol USDT", "Funding", "OI cont")
CONT = "cont"


class Watchlist(DataTable):
    """One row per symbol; `update_tickers` touches only cells whose text changed."""

    class Selected(Message):
        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)  # type: ignore[arg-type]
        self._cells: dict[tuple[str, str], str] = {}

    def on_mount(self) -> None:
        for c in WATCH_COLUMNS:
            self.add_column(c, key=c)

    @property
    def selected_symbol(self) -> str | None:
        if not self.row_count:
            return None
        row = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(row.value) if row.value is not None else None

    def select_symbol(self, symbol: str) -> bool:
        for i, key in enumerate(self.rows):
            if key.value == symbol:
                self.move_cursor(row=i)
                return True
        return False

    def update_tickers(self, symbols: Sequence[str], tickers: dict[str, Ticker | None]) -> None:
        for key in [k for k in self.rows if k.value not in symbols]:  # taken off the watchlist
            self.remove_row(key)
            self._cells = {k: v for k, v in self._cells.items() if k[0] != key.value}
        for sym in symbols:
            t = tickers.get(sym)
            values = (
                sym,
                fmt.price(t.last) if t else "—",
                fmt.pct(t.change_pct) if t else Text("—"),
                fmt.compact(t.volume_24h_quote) if t else "—",
                f"{t.funding_rate * 100:+.4f}%" if t else "—",
                fmt.compact(t.open_interest) if t else "—",
            )
            if sym not in self.rows:
                self.add_row(*values, key=sym)
                for col, v in zip(WATCH_COLUMNS, values, strict=True):
                    self._cells[(sym, col)] = str(v)
                continue
            for col, v in zip(WATCH_COLUMNS[1:], values[1:], strict=True):
                s = str(v)
                if self._cells.get((sym, col)) != s:
                    self._cells[(sym, col)] = s
                    self.update_cell(sym, col, v)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.post_message(self.Selected(str(event.row_key.value)))


def ladder_header(inst: Instrument | None, width: int) -> str:
    """The ladder's units: prices in the quote coin, sizes in contracts, and what one contract holds."""
    quote = inst.quote if inst else "USDT"
    head = f"{'price ' + quote:>12} {CONT:>8}"
    if inst is not None:
        per = f"  1 {CONT}={fmt.num(inst.quanto_multiplier, 8).rstrip('0').rstrip('.')} {inst.base}"
        if len(head) + len(per) <= width:
            head += per
    return head


def render_ladder(book: BookSnapshot | None, depth: int, width: int, inst: Instrument | None = None) -> Text | Table:
    """Prices and the spread with the contract's tick decimals (`inst`), sizes in contracts."""
    if book is None:
        return Text("waiting for the book…", style="dim")
    asks = list(book.asks[:depth])
    bids = list(book.bids[:depth])
    sizes = [float(lv.size) for lv in asks + bids] or [1.0]
    cum_max = max(sizes)
    bar_w = max(4, width - 26)
    places = fmt.tick_places(inst.price_tick) if inst is not None else None
    t = Text(no_wrap=True)
    if not book.in_sync:
        t.append(" OUT OF SYNC: resyncing, not tradable \n", style="bold white on red")
    t.append(ladder_header(inst, width) + "\n", style="dim")
    for lv in reversed(asks):
        t.append(f"{fmt.price(lv.price, places):>12} {fmt.compact(lv.size):>8} ", style="red")
        t.append(fmt.bar(float(lv.size) / cum_max, bar_w), style="red")
        t.append("\n")
    mid = book.mid
    spread = (book.asks[0].price - book.bids[0].price) if book.asks and book.bids else None
    if places is None and book.asks:  # no contract spec: as many decimals as the venue's price text
        places = max(0, -book.asks[0].price.as_tuple().exponent)  # type: ignore[operator]
    spread_text = "—" if spread is None else f"{spread:.{places if places is not None else 2}f}"
    mid_text = ""
    if mid:  # a mid between two ticks needs one more decimal; a mid on a tick does not
        mid_text = fmt.price(mid, None if places is None else places + 1)
        mid_text = "mid " + (mid_text[:-1] if places is not None and mid_text.endswith("0") else mid_text)
    t.append(f"{mid_text:>12} spread {spread_text}\n", style="bold")
    for lv in bids:
        t.append(f"{fmt.price(lv.price, places):>12} {fmt.compact(lv.size):>8} ", style="green")
        t.append(fmt.bar(float(lv.size) / cum_max, bar_w), style="green")
        t.append("\n")
    return t


class BookLadder(Static):
    """Asks above, bids below, depth bars sized to the largest visible level."""

    def __init__(self, depth: int = 10, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self.depth = depth
        self._key: tuple[object, ...] = ()

    def show_book(self, book: BookSnapshot | None, inst: Instrument | None = None) -> None:
        rows = max(2, (self.size.height - 2) // 2) if self.size.height else self.depth
        depth = min(self.depth, rows)
        key = (None if book is None else (book.symbol, book.update_id, book.in_sync), depth, self.size.width)
        if key != self._key:
            self._key = key
            self.update(render_ladder(book, depth, self.size.width or 40, inst), layout=False)  # fixed size


def render_tape(trades: Sequence[Trade], large: float, qm: float, rows: int) -> Text:
    """Newest first under a header with the units (price in USDT, size in contracts)."""
    t = Text(no_wrap=True)
    if not trades:
        return Text("no trades yet", style="dim")
    t.append(f"{'time':<8} {'side':<4} {'price USDT':>11} {CONT:>7}\n", style="dim")
    for tr in list(trades)[-max(1, rows - 1):][::-1]:
        notional = abs(tr.size) * qm * tr.price
        side = "BUY " if tr.size > 0 else "SELL"
        style = "green" if tr.size > 0 else "red"
        if notional >= large:
            style = "bold reverse " + style
        t.append(f"{fmt.clock(tr.ts_ms)} {side} {fmt.price(tr.price):>11} {fmt.compact(abs(tr.size)):>7}\n", style=style)
    return t


class TradesTape(Static):
    def __init__(self, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self._key: tuple[object, ...] = ()
        self.large_notional = 50_000.0

    def show_trades(self, symbol: str, trades: Sequence[Trade], qm: float) -> None:
        last = trades[-1].trade_id if trades else None
        rows = max(1, self.size.height or 10)
        key = (symbol, last, rows)
        if key != self._key:
            self._key = key
            self.update(render_tape(trades, self.large_notional, qm, rows), layout=False)


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


class CandleChart(PlotextPlot):
    """plotext candles (own Plot object per widget: no shared global state) with SMA/EMA overlays."""

    OVERLAYS = ("sma20", "ema50", "none")

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.timeframe = "1m"
        self.overlay = "sma20"
        self._key: tuple[object, ...] = ()
        self._drawn_at = 0.0
        self._rendered: object = None

    def render(self):  # type: ignore[override]
        """plotext builds the whole picture on every render; reuse it until the data or size changes
        (the compositor re-renders this widget whenever a neighbour is repainted)."""
        key = (self._key, self.size)
        if getattr(self, "_render_key", None) != key or self._rendered is None:
            self._rendered = super().render()
            self._render_key = key
        return self._rendered

    def show_bars(self, symbol: str, bars: Sequence[Bar]) -> None:
        width = self.size.width or 60
        n = max(10, min(len(bars), (width - 12) // 2))
        view = list(bars)[-n:]
        key = (symbol, self.timeframe, self.overlay, len(bars), view[-1].close if view else None, width)
        if key == self._key:
            return
        # a new price alone redraws at most every 2 s (plotext is the costliest paint on screen);
        # a new symbol, timeframe, overlay, bar or size redraws at once
        now = time.monotonic()
        if self._key and key[:4] == self._key[:4] and key[5] == self._key[5] and now - self._drawn_at < 2.0:
            return
        self._drawn_at = now
        self._key = key
        p = self.plt
        p.clear_data()
        p.clear_figure()
        p.title(f"{symbol} {self.timeframe}  [t] timeframe  [o] overlay: {self.overlay}")
        if not view:
            self.refresh()
            return
        xs = list(range(len(view)))
        data = {
            "Open": [b.open for b in view],
            "Close": [b.close for b in view],
            "High": [b.high for b in view],
            "Low": [b.low for b in view],
        }
        p.candlestick(xs, data)
        closes = [b.close for b in bars]
        if self.overlay != "none":
            line = sma(closes, 20) if self.overlay == "sma20" else ema(closes, 50)
            tail = line[-len(view):]
            pts = [(x, y) for x, y in zip(xs, tail, strict=True) if y is not None]
            if pts:
                p.plot([x for x, _ in pts], [y for _, y in pts], marker="braille")
        p.xticks([])
        self.refresh()


def fund_flow_text(symbol: str, trades: Sequence[Trade], ticker: Ticker | None, oi_start: float | None) -> Text:
    buy = sum(t.size for t in trades if t.size > 0)
    sell = -sum(t.size for t in trades if t.size < 0)
    total = buy + sell
    imb = (buy - sell) / total * 100 if total else 0.0
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{symbol} flow ")
    t.append("taker buy/sell ")
    t.append(f"{fmt.compact(buy)}/{fmt.compact(sell)} {CONT} ")
    t.append_text(fmt.pct(imb, 1))
    if ticker is not None:
        t.append("  funding ")
        t.append_text(fmt.signed(ticker.funding_rate * 100, 4, "%"))
        t.append(f"  OI {fmt.compact(ticker.open_interest)} {CONT}")
        if oi_start:
            t.append(" ")
            t.append_text(fmt.pct((ticker.open_interest - oi_start) / oi_start * 100, 2))
    return t


class FundFlow(Static):
    DEFAULT_CSS = "FundFlow { height: 1; }"

    def __init__(self, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self._oi_start: dict[str, float] = {}
        self._last = ""

    def show_flow(self, symbol: str, trades: Sequence[Trade], ticker: Ticker | None) -> None:
        if ticker is not None and ticker.open_interest:
            self._oi_start.setdefault(symbol, ticker.open_interest)
        text = fund_flow_text(symbol, trades, ticker, self._oi_start.get(symbol))
        if text.plain != self._last:
            self._last = text.plain
            self.update(text, layout=False)


class MarketPane(Vertical):
    """Composite: watchlist + chart on the left, book + tape on the right, flow strip below."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="market-top"):
            with Vertical(id="market-left"):
                yield Watchlist(id="watchlist")
                yield CandleChart(id="chart")
            with Vertical(id="market-right"):
                yield BookLadder(id="ladder")
                yield TradesTape(id="tape")
        yield FundFlow(id="flow")


def as_decimal(v: object) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))
