"""Market pane: watchlist, order-book ladder with depth bars, trades tape, candle chart with
indicator overlays, and a fund-flow strip. Every widget is fed from the node on a timer and
redraws only what changed (the watchlist updates single cells; the others compare a key)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from cashup_tui.app import fmt
from cashup_tui.app.panes.tables import fit_columns
from cashup_tui.app.widgets.chart_draw import price_lines
from cashup_tui.app.widgets.charts import CandleChart
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import BookSnapshot, Ticker, Trade
from cashup_tui.service.funding import FundingView

# units on screen: prices, volume and notionals in USDT; sizes and open interest in contracts
# ("cont", as Gate writes it); the ladder's header says how many coins one contract is
WATCH_COLUMNS = ("Symbol", "Last", "24h", "Vol USDT", "Funding", "OI cont")
WATCH_DROP = ("OI cont", "Vol USDT", "Funding", "24h")  # first dropped first; the flow strip repeats OI and funding
CONT = "cont"


class Watchlist(DataTable):
    """One row per symbol; `update_tickers` touches only cells whose text changed. The columns are fitted
    to the width (`fit_columns`): a column shows whole or not at all, never cut at the ladder's edge."""

    class Selected(Message):
        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)  # type: ignore[arg-type]
        self._cells: dict[tuple[str, str], str] = {}
        self._columns: tuple[str, ...] = WATCH_COLUMNS

    def on_mount(self) -> None:
        for c in WATCH_COLUMNS:
            self.add_column(c, key=c)

    def _fit(self, rows: list[dict[str, object]]) -> None:
        width = self.scrollable_content_region.width or self.size.width
        cols = fit_columns(WATCH_COLUMNS, rows, width, WATCH_DROP)[0]
        if cols == self._columns:
            return
        selected = self.selected_symbol
        self._columns = cols
        self.clear(columns=True)
        self._cells.clear()
        for c in cols:
            self.add_column(c, key=c)
        for row in rows:
            sym = str(row["Symbol"])
            self.add_row(*(row[c] for c in cols), key=sym)
            self._cells.update({(sym, c): str(row[c]) for c in cols})
        if selected is not None:
            self.select_symbol(selected)

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
        rows: list[dict[str, object]] = []
        for sym in symbols:
            t = tickers.get(sym)
            rows.append(dict(zip(WATCH_COLUMNS, (
                sym,
                fmt.price(t.last) if t else "—",
                fmt.pct(t.change_pct) if t else Text("—"),
                fmt.compact(t.volume_24h_quote) if t else "—",
                f"{t.funding_rate * 100:+.4f}%" if t else "—",
                fmt.compact(t.open_interest) if t else "—",
            ), strict=True)))
        self._fit(rows)
        for row in rows:
            sym = str(row["Symbol"])
            if sym not in self.rows:
                self.add_row(*(row[c] for c in self._columns), key=sym)
                self._cells.update({(sym, c): str(row[c]) for c in self._columns})
                continue
            for col in self._columns[1:]:
                v = row[col]
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


def fund_flow_text(symbol: str, trades: Sequence[Trade], ticker: Ticker | None, oi_start: float | None,
                   funding: FundingView | None = None, width: int = 0) -> Text:
    """The flow strip: taker imbalance, the funding rate with the next settlement's countdown, open
    interest, each with its unit. Within `width` (0: no limit) the parts shorten before any is dropped,
    and the funding countdown is kept longest after the symbol: a trader times entries by it."""
    buy = sum(t.size for t in trades if t.size > 0)
    sell = -sum(t.size for t in trades if t.size < 0)
    total = buy + sell
    imb = fmt.pct((buy - sell) / total * 100 if total else 0.0, 1)
    flow_long = Text(f"flow taker buy/sell {fmt.compact(buy)}/{fmt.compact(sell)} {CONT} ").append_text(imb)
    flow_short = Text("flow ").append_text(imb)
    fund_long = fund_short = oi_long = oi_short = Text("")
    if ticker is not None:
        fund_long = Text("funding ").append_text(fmt.signed(ticker.funding_rate * 100, 4, "%"))
        fund_short = Text("fund ").append_text(fmt.signed(ticker.funding_rate * 100, 4, "%"))
        if funding is not None:
            fund_short.append(f" in {funding.countdown}")
            fund_long.append("  next ")
            if funding.predicted is not None:
                fund_long.append("pred ").append_text(fmt.signed(funding.predicted * 100, 4, "%")).append(" ")
            fund_long.append(f"in {funding.countdown}")
        oi_short = Text(f"OI {fmt.compact(ticker.open_interest)} {CONT}")
        oi_long = oi_short.copy()
        if oi_start:
            oi_long.append(" ").append_text(fmt.pct((ticker.open_interest - oi_start) / oi_start * 100, 2))
    head = Text(f"{symbol} ")
    choices = ((flow_long, fund_long, oi_long), (flow_long, fund_long, oi_short), (flow_long, fund_short, oi_short),
               (flow_short, fund_long, oi_short), (flow_short, fund_short, oi_short), (flow_short, fund_short), (fund_short,) if ticker else (flow_short,))
    for parts in choices:
        line = head.copy()
        line.append_text(Text("  ").join(p for p in parts if p.plain))
        if not width or line.cell_len <= width:
            break
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


class FundFlow(Static):
    DEFAULT_CSS = "FundFlow { height: 1; }"

    def __init__(self, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self._oi_start: dict[str, float] = {}
        self._last = ""

    def show_flow(self, symbol: str, trades: Sequence[Trade], ticker: Ticker | None,
                  funding: FundingView | None = None) -> None:
        if ticker is not None and ticker.open_interest:
            self._oi_start.setdefault(symbol, ticker.open_interest)
        text = fund_flow_text(symbol, trades, ticker, self._oi_start.get(symbol), funding, self.size.width)
        if text.plain != self._last:
            self._last = text.plain
            self.update(text, layout=False)


CONTEXT_TIMEFRAME = {"1m": "15m", "5m": "1h", "15m": "4h", "1h": "4h", "4h": "1h"}


class MarketPane(Vertical):
    """Composite: watchlist + chart on the left, book + tape on the right, flow strip below. At 240x60
    (the app's `-huge` class) a second chart beside the first shows a higher timeframe for context."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="market-top"):
            with Vertical(id="market-left"):
                yield Watchlist(id="watchlist")
                with Horizontal(id="charts"):
                    yield CandleChart(id="chart")
                    yield CandleChart(timeframe="15m", keys=False, id="chart2")
            with Vertical(id="market-right"):
                yield BookLadder(id="ladder")
                yield TradesTape(id="tape")
        yield FundFlow(id="flow")

    def show_charts(self, node: Any, symbol: str) -> None:
        """The candles of `symbol` with its price lines (own position, resting orders); the context chart
        too when it is shown."""
        inst = node.instrument(symbol)
        lines = price_lines(symbol, node.positions(), node.open_orders())
        main = self.query_one("#chart", CandleChart)
        main.show_bars(symbol, node.bars(symbol, main.timeframe), lines, inst)
        if self.app.has_class("-huge"):
            ctx = self.query_one("#chart2", CandleChart)
            ctx.timeframe = CONTEXT_TIMEFRAME.get(main.timeframe, "1h")
            ctx.overlay = main.overlay
            ctx.show_bars(symbol, node.bars(symbol, ctx.timeframe), lines, inst)


def as_decimal(v: object) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))
