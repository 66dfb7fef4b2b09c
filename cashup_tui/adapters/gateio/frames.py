"""Typed msgspec Structs for Gate.io v4 websocket and REST wire frames.

Why: msgspec decodes straight into these (no dict detour), which is what makes the feed fast,
and a wrong type fails loudly with a path (`$.result[0].size`) instead of surfacing later.
Types are deliberately lenient where Gate has drifted (sizes: int or string; prices: string
or number); private money fields decode as Decimal straight from the JSON text (lossless).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from cashup_tui.adapters.gateio.book import BookDelta

# A number Gate may send as a JSON string or a JSON number (types drift with the size header).
Num = str | int | float
NULL = msgspec.Raw(b"null")
ZERO = Decimal(0)


class ErrorBody(msgspec.Struct):
    code: int | str = 0
    message: str = ""


class Envelope(msgspec.Struct):
    """Every server frame. `result` stays raw so it is decoded once, by the channel's own type."""

    time: int | float = 0
    time_ms: int | float = 0
    id: int | str | None = None
    channel: str = ""
    event: str = ""
    error: ErrorBody | None = None
    result: msgspec.Raw = NULL


# -- public futures ---------------------------------------------------------------------------
class TickerItem(msgspec.Struct):
    contract: str
    last: Num = ""
    change_percentage: Num = ""
    funding_rate: Num = ""
    funding_rate_indicative: Num = ""
    funding_next_apply: int | float | str = 0
    mark_price: Num = ""
    index_price: Num = ""
    total_size: Num = ""
    volume_24h_quote: Num = ""
    low_24h: Num = ""
    high_24h: Num = ""
    t: int = 0


class TradeItem(msgspec.Struct):
    contract: str
    size: Num
    price: Num
    id: int | str = 0
    create_time: int | float = 0
    create_time_ms: int | float | str = 0
    is_internal: bool = False


class BookTickerItem(msgspec.Struct):
    s: str
    u: int
    t: int = 0
    b: Num = ""
    B: Num = 0
    a: Num = ""
    A: Num = 0


class Level(msgspec.Struct):
    p: Num
    s: Num


class BookUpdateItem(msgspec.Struct):
    s: str
    U: int
    u: int
    t: int = 0
    b: list[Level] = []
    a: list[Level] = []
    l: str | int | None = None  # noqa: E741  (Gate's field name)
    full: bool = False


class CandleItem(msgspec.Struct):
    n: str
    t: int | str
    o: Num
    h: Num
    l: Num  # noqa: E741
    c: Num
    v: Num = 0
    a: Num | None = None
    w: bool = False


class SystemItem(msgspec.Struct):
    type: str = ""
    msg: str = ""


# -- spot (captures; result is an object, book levels are [price, amount] pairs) ----------------
class SpotTickerItem(msgspec.Struct):
    currency_pair: str
    last: Num = ""
    lowest_ask: Num = ""
    highest_bid: Num = ""
    change_percentage: Num = ""
    base_volume: Num = ""
    quote_volume: Num = ""
    high_24h: Num = ""
    low_24h: Num = ""


class SpotTradeItem(msgspec.Struct):
    currency_pair: str
    amount: Num
    price: Num
    side: str
    id: int | str = 0
    create_time: int | float = 0
    create_time_ms: Num = 0


class SpotBookUpdateItem(msgspec.Struct):
    s: str
    U: int
    u: int
    t: int = 0
    b: list[tuple[Num, Num]] = []
    a: list[tuple[Num, Num]] = []
    full: bool = False


# -- private futures (Decimal straight from the JSON text; ids never through float) ----------
class OrderItem(msgspec.Struct):
    id: int | str
    contract: str
    size: Decimal
    id_string: str | None = None
    user: int | str = ""
    create_time_ms: int | float = 0
    update_time: int | float = 0
    finish_time_ms: int | float = 0
    update_id: int = 0
    status: str = ""
    finish_as: str = ""
    left: Decimal = ZERO
    price: Decimal = ZERO
    fill_price: Decimal = ZERO
    tif: str = "gtc"
    text: str = ""
    is_reduce_only: bool = False
    is_close: bool = False
    is_liq: bool = False
    fee: Decimal = ZERO
    mkfr: Decimal = ZERO
    tkfr: Decimal = ZERO


class UserTradeItem(msgspec.Struct):
    id: int | str
    order_id: int | str
    contract: str
    size: Decimal
    price: Decimal
    create_time_ms: int | float = 0
    create_time: int | float = 0
    role: str = "taker"
    text: str = ""
    fee: Decimal = ZERO


class PositionItem(msgspec.Struct):
    contract: str
    size: Decimal
    entry_price: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    margin: Decimal = ZERO
    leverage: Decimal = ZERO
    liq_price: Decimal = ZERO
    mode: str = "single"
    time_ms: int | float = 0
    time: int | float = 0
    user: int | str = ""


class BalanceItem(msgspec.Struct):
    balance: Decimal
    change: Decimal = ZERO
    type: str = ""
    text: str = ""
    currency: str = "USDT"
    time_ms: int | float = 0
    time: int | float = 0
    user: int | str = ""


# -- REST order book snapshot (`with_id=true`): futures levels {p, s}, spot [p, amount] -------
class RestBook(msgspec.Struct):
    id: int
    asks: list[Level | tuple[Num, Num]] = []
    bids: list[Level | tuple[Num, Num]] = []
    current: int | float = 0
    update: int | float = 0


class SpotCandleItem(msgspec.Struct):
    n: str
    t: int | str
    o: Num
    h: Num
    l: Num  # noqa: E741
    c: Num
    v: Num = 0
    a: Num | None = None
    w: bool = False


# -- hot-path normalised values ----------------------------------------------------------------------
# Decoded in one pass, straight from the whole frame, with `strict=False` so Gate's decimal strings
# become floats in C. Field names mirror the domain classes (renamed from Gate's) so `to_domain()`
# is a plain copy. Why not the domain dataclasses directly: building a frozen dataclass costs more
# than decoding the whole frame; domain objects are made when something reads them.
class TickerMsg(msgspec.Struct, gc=False):
    symbol: str = msgspec.field(name="contract")
    ts_ms: int = msgspec.field(name="t", default=0)
    last: float = 0.0
    mark_price: float = 0.0
    index_price: float = 0.0
    change_pct: float = msgspec.field(name="change_percentage", default=0.0)
    volume_24h_quote: float = 0.0
    high_24h: float = 0.0
    low_24h: float = 0.0
    funding_rate: float = 0.0
    open_interest: float = msgspec.field(name="total_size", default=0.0)
    funding_rate_indicative: float = 0.0
    funding_next_apply: int = 0  # epoch seconds (live frames and the simulator carry it)

    def to_domain(self) -> Any:
        from cashup_tui.domain.market import Ticker

        return Ticker(
            self.symbol, self.ts_ms, self.last, self.mark_price, self.index_price, self.change_pct,
            self.volume_24h_quote, self.high_24h, self.low_24h, self.funding_rate, self.open_interest,
            self.funding_rate_indicative, self.funding_next_apply,
        )


class TradeMsg(msgspec.Struct, gc=False):
    symbol: str = msgspec.field(name="contract")
    price: float = 0.0
    size: float = 0.0  # signed contracts: > 0 taker bought
    trade_id: int = msgspec.field(name="id", default=0)
    ts_ms: int = msgspec.field(name="create_time_ms", default=0)
    create_time: float = 0.0
    is_internal: bool = False

    def to_domain(self) -> Any:
        from cashup_tui.domain.market import Trade

        return Trade(self.symbol, self.ts_ms, self.trade_id, self.price, self.size, self.is_internal)


class BookTickerMsg(msgspec.Struct, gc=False):
    symbol: str = msgspec.field(name="s")
    update_id: int = msgspec.field(name="u")
    ts_ms: int = msgspec.field(name="t", default=0)
    bid: float = msgspec.field(name="b", default=0.0)
    bid_size: float = msgspec.field(name="B", default=0.0)
    ask: float = msgspec.field(name="a", default=0.0)
    ask_size: float = msgspec.field(name="A", default=0.0)

    def to_domain(self) -> Any:
        from cashup_tui.domain.market import BookTicker

        return BookTicker(self.symbol, self.ts_ms, self.update_id, self.bid, self.bid_size, self.ask, self.ask_size)


# Whole data frames of the hot channels, a union tagged by `channel` (msgspec finds the tag
# wherever it sits in the object). An ack of the same channel fails validation (its result is
# {"status": ...}) and goes to the lenient path, as does anything else unusual.
class TickersFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.tickers"):
    event: str = ""
    time_ms: int = 0
    time: int = 0
    error: ErrorBody | None = None
    result: list[TickerMsg] = []


class TradesFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.trades"):
    event: str = ""
    time_ms: int = 0
    time: int = 0
    error: ErrorBody | None = None
    result: list[TradeMsg] = []


class BookTickerFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.book_ticker"):
    event: str = ""
    time_ms: int = 0
    time: int = 0
    error: ErrorBody | None = None
    result: BookTickerMsg | None = None


class BookUpdateFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.order_book_update"):
    event: str = ""
    time_ms: int = 0
    time: int = 0
    error: ErrorBody | None = None
    result: BookDelta | None = None
