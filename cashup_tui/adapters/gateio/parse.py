"""Gate.io v4 websocket frames -> domain values. One function per channel.

Why here and why so defensive: this is the first code that touches bytes from the network.
Garbage, truncated JSON, wrong types and absurd numbers must be counted and reported
(`FrameParser.parse_errors` + a `FrameRejected` event), never raised into the feed loop.

Public market data is normalised to floats on the hot path: TickerMsg, TradeMsg, BookTickerMsg
(typed msgspec values whose fields mirror domain Ticker/Trade/BookTicker; `to_domain()` makes the
frozen domain value when something reads it), BookDelta, and domain Bar for candles; private channels (orders, usertrades, positions, balances) decode money as
Decimal straight from the JSON text and keep order ids as text (they exceed 2**53).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from cashup_tui.adapters.gateio import constants as C
from cashup_tui.adapters.gateio.book import BookDelta
from cashup_tui.adapters.gateio.book import Level as BookLevelMsg
from cashup_tui.adapters.gateio.frames import (
    BalanceItem,
    BookTickerFrame,
    BookTickerItem,
    BookTickerMsg,
    BookUpdateFrame,
    BookUpdateItem,
    CandleItem,
    Envelope,
    Level,
    OrderItem,
    PositionItem,
    RestBook,
    SpotBookUpdateItem,
    SpotCandleItem,
    SpotTickerItem,
    SpotTradeItem,
    SystemItem,
    TickerItem,
    TickerMsg,
    TickersFrame,
    TradeItem,
    TradeMsg,
    TradesFrame,
    UserTradeItem,
)
from cashup_tui.adapters.gateio.sanity import check_values, levels_problem
from cashup_tui.domain.enums import Liquidity, Side
from cashup_tui.domain.events import FrameRejected, PositionChanged
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId
from cashup_tui.domain.instruments import to_decimal
from cashup_tui.domain.market import Bar
from cashup_tui.domain.orders import Fill

log = logging.getLogger("cashup.gateio.parse")

# parse() kinds
UPDATE = "update"  # payload: list of normalised values
ACK = "ack"  # payload: None (subscribe/unsubscribe succeeded)
ERROR = "error"  # payload: ErrorInfo
PONG = "pong"  # payload: None
BAD = "bad"  # payload: FrameRejected
IGNORED = "ignored"  # a channel we do not normalise; payload None



# -- adapter-level values for private channels --------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One `futures.orders` push. `client_id` is our `t-...` text, "" when not ours."""

    venue_order_id: VenueOrderId
    client_id: str
    text: str
    symbol: str
    side: Side
    size: Decimal  # absolute contracts
    left: Decimal
    price: Decimal  # 0 = market
    fill_price: Decimal  # average
    tif: str
    status: str  # "open" | "finished": terminal state is decided by this, not finish_as
    finish_as: str
    reduce_only: bool
    is_liq: bool
    fee: Decimal
    ts_ms: int
    update_id: int

    @property
    def filled(self) -> Decimal:
        return self.size - self.left

    @property
    def finished(self) -> bool:
        return self.status == "finished"


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One `futures.balances` push: the balance after a change of `type` (pnl, fee, fund...)."""

    currency: str
    balance: Decimal
    change: Decimal
    type: str
    text: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class SystemNotice:
    """`futures.system` (e.g. type "upgrade"): the server is going away; reconnect now."""

    type: str
    message: str


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    channel: str
    event: str
    code: int | str
    message: str

    @property
    def is_auth(self) -> bool:
        return str(self.code) == str(C.ERR_AUTH)


# -- decoders (module level: built once) -----------------------------------------------------------
_dec_env = msgspec.json.Decoder(Envelope)
_dec_tickers = msgspec.json.Decoder(list[TickerItem])
_dec_trades = msgspec.json.Decoder(list[TradeItem])
_dec_book_ticker = msgspec.json.Decoder(BookTickerItem)
_dec_book_update = msgspec.json.Decoder(BookUpdateItem)
_dec_candles = msgspec.json.Decoder(list[CandleItem])
_dec_system = msgspec.json.Decoder(SystemItem)
_dec_orders = msgspec.json.Decoder(list[OrderItem])
_dec_usertrades = msgspec.json.Decoder(list[UserTradeItem])
_dec_positions = msgspec.json.Decoder(list[PositionItem])
_dec_balances = msgspec.json.Decoder(list[BalanceItem])
_dec_spot_ticker = msgspec.json.Decoder(SpotTickerItem)
_dec_spot_trade = msgspec.json.Decoder(SpotTradeItem)
_dec_spot_candle = msgspec.json.Decoder(SpotCandleItem)
_dec_spot_book = msgspec.json.Decoder(SpotBookUpdateItem)
_dec_rest_book = msgspec.json.Decoder(RestBook)


def _ms(ms: int | float | str, s: int | float = 0) -> int:
    """A millisecond stamp from Gate's various forms (int ms, float s, fractional ms string)."""
    if ms:
        return int(float(ms))
    return int(float(s) * 1000)


def _price_f(x: Any) -> float:
    return float(x) if x != "" else 0.0


# -- public futures ----------------------------------------------------------------------------------
# Hot channels produce TickerMsg / TradeMsg / BookTickerMsg (typed, float, domain field names; call
# `.to_domain()` or `to_domain(v)` for the frozen domain value) and BookDelta. These functions are
# the lenient path (any JSON number or string form); FrameParser tries a one-pass typed decode first.
def parse_tickers(result: bytes | msgspec.Raw, ts_ms: int) -> list[TickerMsg]:
    """`futures.tickers` -> TickerMsg. `t` is the ticker's own ms time when present."""
    return [
        TickerMsg(
            symbol=i.contract,
            ts_ms=i.t or ts_ms,
            last=_price_f(i.last),
            mark_price=_price_f(i.mark_price),
            index_price=_price_f(i.index_price),
            change_pct=_price_f(i.change_percentage),
            volume_24h_quote=_price_f(i.volume_24h_quote),
            high_24h=_price_f(i.high_24h),
            low_24h=_price_f(i.low_24h),
            funding_rate=_price_f(i.funding_rate),
            open_interest=_price_f(i.total_size),
            funding_rate_indicative=_price_f(i.funding_rate_indicative),
            funding_next_apply=int(_price_f(i.funding_next_apply)),
        )
        for i in _dec_tickers.decode(result)
    ]


def parse_trades(result: bytes | msgspec.Raw, ts_ms: int) -> list[TradeMsg]:
    """`futures.trades` -> TradeMsg; size is signed contracts (> 0 taker bought)."""
    return [
        TradeMsg(
            symbol=i.contract,
            price=float(i.price),
            size=float(i.size),
            trade_id=int(i.id),
            ts_ms=_ms(i.create_time_ms, i.create_time) or ts_ms,
            create_time=float(i.create_time),
            is_internal=i.is_internal,
        )
        for i in _dec_trades.decode(result)
    ]


def parse_book_ticker(result: bytes | msgspec.Raw, ts_ms: int) -> list[BookTickerMsg]:
    """`futures.book_ticker` -> BookTickerMsg; empty sides come as "" / 0 and become 0.0."""
    i = _dec_book_ticker.decode(result)
    return [
        BookTickerMsg(
            symbol=i.s, update_id=i.u, ts_ms=i.t or ts_ms, bid=_price_f(i.b), bid_size=_price_f(i.B),
            ask=_price_f(i.a), ask_size=_price_f(i.A),
        )
    ]


def _levels(levels: list[Level]) -> list[BookLevelMsg]:
    return [BookLevelMsg(float(lv.p), float(lv.s)) for lv in levels]


def parse_book_update(result: bytes | msgspec.Raw, ts_ms: int) -> list[BookDelta]:
    """`futures.order_book_update` -> BookDelta (absolute sizes; 0 deletes the level)."""
    i = _dec_book_update.decode(result)
    return [BookDelta(i.s, i.t or ts_ms, i.U, i.u, _levels(i.b), _levels(i.a), i.full)]


def parse_candles(result: bytes | msgspec.Raw, ts_ms: int) -> list[Bar]:
    """`futures.candlesticks` -> Bar. `n` is "<interval>_<contract>"; `t` is the open in seconds."""
    out = []
    for i in _dec_candles.decode(result):
        tf, _, symbol = i.n.partition("_")
        out.append(
            Bar(symbol, tf, int(i.t) * 1000, float(i.o), float(i.h), float(i.l), float(i.c), float(i.v), i.w)
        )
    return out


def parse_system(result: bytes | msgspec.Raw, ts_ms: int) -> list[SystemNotice]:
    i = _dec_system.decode(result)
    return [SystemNotice(i.type, i.msg)]


# -- private futures (Decimal, ids as text) -----------------------------------------------------------
def _client_id(text: str) -> str:
    return text if text.startswith("t-") else ""


def parse_orders(result: bytes | msgspec.Raw, ts_ms: int) -> list[OrderUpdate]:
    """`futures.orders` -> OrderUpdate. Signed size gives the side; `status` decides terminal."""
    out = []
    for i in _dec_orders.decode(result):
        size = to_decimal(i.size, bounded=True)
        oid = i.id_string or str(i.id)
        out.append(
            OrderUpdate(
                VenueOrderId(oid),
                _client_id(i.text),
                i.text,
                i.contract,
                Side.BUY if size > 0 else Side.SELL,
                abs(size),
                abs(to_decimal(i.left, bounded=True)),
                to_decimal(i.price, bounded=True),
                to_decimal(i.fill_price, bounded=True),
                i.tif,
                i.status,
                i.finish_as,
                i.is_reduce_only,
                i.is_liq,
                to_decimal(i.fee, bounded=True),
                _ms(i.update_time or i.finish_time_ms or i.create_time_ms) or ts_ms,
                i.update_id,
            )
        )
    return out


def parse_usertrades(result: bytes | msgspec.Raw, ts_ms: int) -> list[Fill]:
    """`futures.usertrades` -> Fill (trade id and order id kept as text)."""
    out = []
    for i in _dec_usertrades.decode(result):
        size = to_decimal(i.size, bounded=True)
        out.append(
            Fill(
                trade_id=str(i.id),
                client_id=ClientOrderId(_client_id(i.text)),
                symbol=i.contract,
                side=Side.BUY if size > 0 else Side.SELL,
                size=abs(size),
                price=to_decimal(i.price, bounded=True),
                fee=to_decimal(i.fee, bounded=True),
                ts_ms=_ms(i.create_time_ms, i.create_time) or ts_ms,
                venue_order_id=VenueOrderId(str(i.order_id)),
                liquidity=Liquidity.MAKER if i.role == "maker" else Liquidity.TAKER,
            )
        )
    return out


def parse_positions(result: bytes | msgspec.Raw, ts_ms: int) -> list[PositionChanged]:
    """`futures.positions` -> PositionChanged (signed size, Gate's realised PnL incl. fees)."""
    return [
        PositionChanged(
            _ms(i.time_ms, i.time) or ts_ms, i.contract, to_decimal(i.size, bounded=True),
            to_decimal(i.entry_price, bounded=True), to_decimal(i.realised_pnl, bounded=True),
        )
        for i in _dec_positions.decode(result)
    ]


def parse_balances(result: bytes | msgspec.Raw, ts_ms: int) -> list[BalanceChange]:
    return [
        BalanceChange(i.currency, to_decimal(i.balance, bounded=True), to_decimal(i.change, bounded=True), i.type,
                      i.text, _ms(i.time_ms, i.time) or ts_ms)
        for i in _dec_balances.decode(result)
    ]


# -- spot (captures) --------------------------------------------------------------------------------
def parse_spot_tickers(result: bytes | msgspec.Raw, ts_ms: int) -> list[TickerMsg]:
    i = _dec_spot_ticker.decode(result)
    return [
        TickerMsg(
            symbol=i.currency_pair,
            ts_ms=ts_ms,
            last=float(i.last),
            change_pct=_price_f(i.change_percentage),
            volume_24h_quote=_price_f(i.quote_volume),
            high_24h=_price_f(i.high_24h),
            low_24h=_price_f(i.low_24h),
        )
    ]


def parse_spot_trades(result: bytes | msgspec.Raw, ts_ms: int) -> list[TradeMsg]:
    """Spot trades carry a side and an unsigned amount; we sign it like futures."""
    i = _dec_spot_trade.decode(result)
    amount = float(i.amount)
    return [
        TradeMsg(
            symbol=i.currency_pair,
            price=float(i.price),
            size=-amount if i.side == "sell" else amount,
            trade_id=int(i.id),
            ts_ms=_ms(i.create_time_ms, i.create_time) or ts_ms,
        )
    ]


def parse_spot_candles(result: bytes | msgspec.Raw, ts_ms: int) -> list[Bar]:
    i = _dec_spot_candle.decode(result)
    tf, _, symbol = i.n.partition("_")
    return [Bar(symbol, tf, int(i.t) * 1000, float(i.o), float(i.h), float(i.l), float(i.c), float(i.v), i.w)]


def parse_spot_book_update(result: bytes | msgspec.Raw, ts_ms: int) -> list[BookDelta]:
    i = _dec_spot_book.decode(result)
    bids = [BookLevelMsg(float(p), float(s)) for p, s in i.b]
    asks = [BookLevelMsg(float(p), float(s)) for p, s in i.a]
    return [BookDelta(i.s, i.t or ts_ms, i.U, i.u, bids, asks, i.full)]


def parse_rest_book(body: bytes | str) -> tuple[int, list[BookLevelMsg], list[BookLevelMsg], int]:
    """A REST `order_book?with_id=true` body -> (id, bids, asks, ts_ms); futures or spot layout."""
    b = _dec_rest_book.decode(body)

    def lv(levels: list[Any]) -> list[BookLevelMsg]:
        out: list[BookLevelMsg] = []
        for x in levels:
            p, s = (x.p, x.s) if isinstance(x, Level) else x
            out.append(BookLevelMsg(float(p), float(s)))
        return out

    # futures `current` is float seconds, spot `current` is ms
    cur = float(b.current or 0)
    ts_ms = int(cur * 1000) if 0 < cur < 1e11 else int(cur) if math.isfinite(cur) else 0
    bids, asks = lv(b.bids), lv(b.asks)
    why = levels_problem("bid", bids) or levels_problem("ask", asks)
    if why:
        raise ValueError(f"order book snapshot: {why}")
    return b.id, bids, asks, ts_ms


CHANNEL_PARSERS: dict[str, Callable[[Any, int], list[Any]]] = {
    C.TICKERS: parse_tickers,
    C.TRADES: parse_trades,
    C.BOOK_TICKER: parse_book_ticker,
    C.BOOK_UPDATE: parse_book_update,
    C.CANDLES: parse_candles,
    C.SYSTEM: parse_system,
    C.ORDERS: parse_orders,
    C.USERTRADES: parse_usertrades,
    C.POSITIONS: parse_positions,
    C.BALANCES: parse_balances,
    C.SPOT_TICKERS: parse_spot_tickers,
    C.SPOT_TRADES: parse_spot_trades,
    C.SPOT_CANDLES: parse_spot_candles,
    C.SPOT_BOOK_UPDATE: parse_spot_book_update,
    "spot.system": parse_system,
}


# -- the one-pass fast path for the hot public channels --------------------------------------------------
def _fast_tickers(f: TickersFrame) -> list[TickerMsg]:
    r = f.result
    for v in r:
        if not v.ts_ms:
            v.ts_ms = f.time_ms or f.time * 1000
    return r


def _fast_trades(f: TradesFrame) -> list[TradeMsg]:
    r = f.result
    for v in r:
        if not v.ts_ms:
            v.ts_ms = int(v.create_time * 1000) or f.time_ms or f.time * 1000
    return r


def _fast_book_ticker(f: BookTickerFrame) -> list[BookTickerMsg]:
    v = f.result
    if v is None:
        raise ValueError("book_ticker update without a result")
    if not v.ts_ms:
        v.ts_ms = f.time_ms or f.time * 1000
    return [v]


def _fast_book_update(f: BookUpdateFrame) -> list[BookDelta]:
    x = f.result
    if x is None:
        raise ValueError("order_book_update without a result")
    return [x]


_FAST_DEC = msgspec.json.Decoder(TickersFrame | TradesFrame | BookTickerFrame | BookUpdateFrame, strict=False)
_FAST: dict[type, tuple[str, Callable[[Any], list[Any]]]] = {
    TickersFrame: (C.TICKERS, _fast_tickers),
    TradesFrame: (C.TRADES, _fast_trades),
    BookTickerFrame: (C.BOOK_TICKER, _fast_book_ticker),
    BookUpdateFrame: (C.BOOK_UPDATE, _fast_book_update),
}


def to_domain(value: Any) -> Any:
    """The frozen domain value for anything FrameParser returns (Msg structs convert; others as is)."""
    conv = getattr(value, "to_domain", None)
    return conv() if conv is not None else value


def _now_ms() -> int:
    return int(time.time() * 1000)


class FrameParser:
    """Decodes whole frames and dispatches on channel. Never raises on bad input:
    counts it (`parse_errors`), remembers the last reason and reports a FrameRejected."""

    __slots__ = ("_clock", "_on_reject", "_parsers", "frames", "last_error", "parse_errors")

    def __init__(
        self,
        on_reject: Callable[[FrameRejected], None] | None = None,
        *,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self._on_reject = on_reject
        self._clock = clock
        self._parsers = CHANNEL_PARSERS
        self.frames = 0
        self.parse_errors = 0
        self.last_error = ""

    def parse(self, data: bytes | str) -> tuple[str, str, Any]:
        """-> (channel, kind, payload); kind is UPDATE, ACK, ERROR, PONG, BAD or IGNORED."""
        self.frames += 1
        # Fast path: one typed decode of the whole frame (a union tagged by channel). Anything
        # else (acks, other channels, errors, wrong types) falls through to the lenient path.
        try:
            f = _FAST_DEC.decode(data)
        except Exception:
            pass
        else:
            if f.event == "update" and f.error is None:
                ch, norm = _FAST[type(f)]
                try:
                    values = norm(f)
                except Exception:
                    pass
                else:
                    try:
                        return ch, UPDATE, check_values(values)
                    except ValueError as exc:
                        return self._reject(ch, exc, data)
        try:
            env = _dec_env.decode(data)
        except Exception as exc:  # msgspec.DecodeError/ValidationError, or a non-bytes argument
            return self._reject("", exc, data)
        ch = env.channel
        ev = env.event
        err = env.error
        if err is not None and (err.code or err.message):
            return ch, ERROR, ErrorInfo(ch, ev, err.code, err.message)
        if ev == "update" or ev == "all":
            fn = self._parsers.get(ch)
            if fn is None:
                return ch, IGNORED, None
            try:
                return ch, UPDATE, check_values(fn(env.result, int(env.time_ms) or int(env.time) * 1000))
            except Exception as exc:  # wrong types, bad numbers: counted, never raised
                return self._reject(ch, exc, data)
        if ch.endswith(".pong"):
            return ch, PONG, None
        if ev in ("subscribe", "unsubscribe"):
            return ch, ACK, None
        return ch, IGNORED, None

    def _reject(self, channel: str, exc: Exception, data: Any) -> tuple[str, str, FrameRejected]:
        self.parse_errors += 1
        reason = f"{type(exc).__name__}: {exc}"[:300]
        self.last_error = reason
        n = self.parse_errors
        if n <= 10 or n % 100 == 0:  # every bad frame is counted; the log gets the first ones and then 1 in 100
            log.warning("dropped a %s frame (%d so far): %s", channel or "venue", n, reason)
        try:
            sample = data[:160].decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else str(data)[:160]
        except Exception:
            sample = "<unprintable>"
        event = FrameRejected(self._clock(), channel, reason, sample)
        if self._on_reject is not None:
            try:
                self._on_reject(event)
            except Exception:  # a faulty sink must not break parsing
                pass
        return channel, BAD, event
