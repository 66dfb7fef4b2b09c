"""Typed msgspec Structs for Gate.io v4 websocket and REST wire frames.

Why: msgspec decodes straight into these (no dict detour), which is what makes the feed fast,
and a wrong type fails loudly with a path (`$.result[0].size`) instead of surfacing later.
Types are deliberately lenient where Gate has drifted (sizes: int or string; prices: string
or number); private money fields decode as Decimal straight from the JSON text (lossless).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

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
