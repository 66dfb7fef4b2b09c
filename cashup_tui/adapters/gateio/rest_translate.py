"""Gate.io USDT-futures REST through ccxt: error translation and payload parsing. With
`rest.py` (the `GateRest` client) the one place that calls ccxt.

Why raw endpoints: we call Gate's own paths through ccxt's implicit API methods
(`publicFuturesGetSettleOrderBook`, `privateFuturesPostSettleOrders`, ...) so every number arrives as
Gate's exact string and becomes a Decimal without passing through ccxt's float parsing; ccxt still
does the signing, throttling and HTTP. Every ccxt exception is translated here into a domain error.

Retry policy: reads retry on TemporaryError (5xx, 429, timeouts, dropped connections) with bounded,
jittered exponential backoff. Order placement, cancel and amend are NEVER retried: a TemporaryError on
submit propagates so the order manager marks the order UNKNOWN and looks it up by client id (`text`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ccxt.base import errors as cx

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import Liquidity, OrderType, Side, TimeInForce
from cashup_tui.domain.errors import (
    AuthenticationError,
    CashupError,
    ExchangeError,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    TemporaryError,
    ValidationError,
)
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId
from cashup_tui.domain.instruments import to_decimal_or
from cashup_tui.domain.margin import MarginAccount, MarginMode, PositionMargin
from cashup_tui.domain.market import BookLevel, BookSnapshot
from cashup_tui.domain.order_status import order_status
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.positions import Position

LIST_PAGE = 100  # Gate's largest page for order lists (also its default)
ZERO = Decimal(0)
MAX_CANDLE_POINTS = 1999  # Gate/ccxt cap per candlesticks request (from/to window)
GATE_INTERVALS = ("10s", "1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "7d")
# Gate labels that mean "your clock is off", not "your key is wrong"
_CLOCK_LABELS = {"REQUEST_EXPIRED"}
_AUTH_HINTS = {
    "INVALID_KEY": "the API key is not known to this endpoint: check CASHUP_GATE_API_KEY / the vault, and that "
    "live keys are not used against testnet (or the reverse)",
    "INVALID_SIGNATURE": "the signature did not verify: the API secret does not belong to this key",
    "MISSING_REQUIRED_HEADER": "a signed request went out without KEY/SIGN/Timestamp: set an API key and secret",
    "REQUEST_EXPIRED": "your system clock differs from the exchange's by more than 60 s: sync it (e.g. enable NTP)",
    "IP_FORBIDDEN": "this key is restricted to other IP addresses: update the key's IP whitelist",
    "FORBIDDEN": "the key lacks the permission for this call (futures read/trade)",
    "READ_ONLY": "the key is read-only: create a key with futures trading permission",
}


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV row as Gate sends it: exact decimals, volume in contracts, quote volume in USDT."""

    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal  # contracts (Gate `v`)
    quote_volume: Decimal  # USDT (Gate `sum`)


@dataclass(frozen=True, slots=True)
class CandlePage:
    """Progress report for paged downloads: the window just fetched and the running total."""

    from_ms: int
    to_ms: int
    rows: int
    total_rows: int
    done_ms: int  # how far (in time) the download has got
    start_ms: int
    end_ms: int


# --------------------------------------------------------------------------------------------------
# error translation
# --------------------------------------------------------------------------------------------------
def _label_of(exc: BaseException) -> tuple[str, str]:
    """(label, message) from ccxt's 'gate {json body}' error text, or ('', text)."""
    text = str(exc)
    start = text.find("{")
    if start >= 0:
        try:
            body = json.loads(text[start:])
        except ValueError:
            body = None
        if isinstance(body, dict):
            label = str(body.get("label") or "")
            message = str(body.get("message") or body.get("detail") or "")
            return label, message
    return "", text


_UNKNOWN_OUTCOME = "the outcome is unknown: look the order up by its client id before doing anything else"


def translate_error(exc: BaseException, *, action: str, order_op: bool = False) -> CashupError:
    """Map a ccxt (or transport) exception to the domain error tree; `action` says what we were doing."""
    if isinstance(exc, CashupError):
        return exc
    label, message = _label_of(exc)
    what = f"{action}: {label + ': ' if label else ''}{message}".rstrip(": ")
    if isinstance(exc, cx.AuthenticationError):  # includes PermissionDenied, AccountSuspended
        if label in _CLOCK_LABELS:
            return AuthenticationError(f"{action}: request timestamp rejected as expired (clock skew), not a key problem",
                                       hint=_AUTH_HINTS["REQUEST_EXPIRED"])
        return AuthenticationError(what, hint=_AUTH_HINTS.get(
            label, "check the API key and secret (CASHUP_GATE_API_KEY/SECRET or the vault)"))
    if isinstance(exc, cx.RateLimitExceeded):
        return RateLimited(what or f"{action}: rate limited", hint="slow down; reads are retried with backoff")
    if isinstance(exc, cx.OrderNotFound):  # subclass of InvalidOrder: test before it
        return OrderNotFound(what, hint="the order may be older than 60 s (text lookups expire) or never existed")
    if isinstance(exc, cx.DDoSProtection | cx.RequestTimeout | cx.ExchangeNotAvailable | cx.NetworkError):
        hint = _UNKNOWN_OUTCOME if order_op else "temporary: the call can be retried"
        return TemporaryError(what or f"{action}: {type(exc).__name__}", hint=hint)
    if isinstance(exc, cx.InvalidOrder | cx.InsufficientFunds):
        return OrderRejected(what, hint=_reject_hint(label))
    if isinstance(exc, cx.BadSymbol):
        return (OrderRejected if order_op else ValidationError)(
            what, hint="unknown contract: check the name (Gate USDT futures look like BTC_USDT)"
        )
    if isinstance(exc, cx.BadRequest | cx.ArgumentsRequired):
        return (OrderRejected if order_op else ValidationError)(what, hint="the venue refused a parameter")
    if isinstance(exc, cx.ExchangeError):
        return (OrderRejected if order_op else ExchangeError)(what)
    if isinstance(exc, cx.BaseError):
        return ExchangeError(what)
    if isinstance(exc, asyncio.TimeoutError | OSError):
        return TemporaryError(f"{action}: {type(exc).__name__}: {exc}", hint="network problem; check connectivity")
    raise exc  # a bug, not an exchange condition: let the guard report it


def _reject_hint(label: str) -> str:
    return {
        "INSUFFICIENT_AVAILABLE": "not enough available margin: reduce size or leverage, or add funds",
        "ORDER_POC_IMMEDIATE": "a post-only order would have taken liquidity: move the price away from the book",
        "ORDER_FOK": "the fill-or-kill order could not be filled completely",
        "REDUCE_ONLY_FAIL": "reduce-only order would increase the position",
        "PRICE_TOO_DEVIATED": "the price is too far from the mark price",
        "SIZE_TOO_SMALL": "size below the contract's minimum",
        "SIZE_TOO_LARGE": "size above the contract's maximum",
    }.get(label, "the venue refused the order; it was not placed")


# --------------------------------------------------------------------------------------------------
# parsing helpers (Gate JSON -> domain)
# --------------------------------------------------------------------------------------------------
def seconds_to_ms(value: Any) -> int:
    """Gate REST times are (float) seconds: convert exactly to int ms."""
    return int(to_decimal_or(value) * 1000)


def order_from_gate(o: Mapping[str, Any]) -> Order:
    """Gate futures order JSON -> domain Order (sizes absolute, status from `status`/`finish_as`)."""
    signed = to_decimal_or(o.get("size"))
    size = abs(signed)
    left = abs(to_decimal_or(o.get("left"), size))
    filled = size - left
    price = to_decimal_or(o.get("price"))
    tif = _tif(o.get("tif"))
    is_market = price == 0
    status = order_status(str(o.get("status") or "") == "open", str(o.get("finish_as") or ""), filled, size)
    text = str(o.get("text") or "")
    venue_id = str(o.get("id") or o.get("id_string") or "")
    created = seconds_to_ms(o.get("create_time"))
    finished = seconds_to_ms(o.get("finish_time"))
    return Order(
        client_id=ClientOrderId(text if text else f"venue-{venue_id}"),
        symbol=str(o.get("contract") or ""),
        side=Side.BUY if signed > 0 else Side.SELL,
        size=size,
        order_type=OrderType.MARKET if is_market else OrderType.LIMIT,
        price=None if is_market else price,
        tif=tif,
        reduce_only=bool(o.get("is_reduce_only") or o.get("reduce_only")),
        status=status,
        filled=filled,
        avg_fill_price=to_decimal_or(o.get("fill_price")),
        venue_order_id=VenueOrderId(venue_id) if venue_id else None,
        created_ms=created,
        updated_ms=max(created, finished),
        reason="" if str(o.get("status")) == "open" else str(o.get("finish_as") or ""),
    )


def _tif(value: Any) -> TimeInForce:
    try:
        return TimeInForce(str(value or "gtc"))
    except ValueError:
        return TimeInForce.GTC


def fill_from_gate(t: Mapping[str, Any]) -> Fill:
    """Gate `my_trades` row -> Fill (absolute size, side from the sign, fee > 0 paid)."""
    signed = to_decimal_or(t.get("size"))
    order_id = str(t.get("order_id") or "")
    text = str(t.get("text") or "")
    return Fill(
        trade_id=str(t.get("id") or t.get("trade_id") or ""),
        client_id=ClientOrderId(text if text else f"venue-{order_id}"),
        symbol=str(t.get("contract") or ""),
        side=Side.BUY if signed > 0 else Side.SELL,
        size=abs(signed),
        price=to_decimal_or(t.get("price")),
        fee=to_decimal_or(t.get("fee")),
        ts_ms=seconds_to_ms(t.get("create_time")),
        venue_order_id=VenueOrderId(order_id) if order_id else None,
        liquidity=Liquidity.MAKER if str(t.get("role")) == "maker" else Liquidity.TAKER,
    )


def position_from_gate(p: Mapping[str, Any], quanto_multiplier: Decimal = Decimal(1)) -> Position:
    return Position(
        symbol=str(p.get("contract") or ""),
        quanto_multiplier=quanto_multiplier,
        size=to_decimal_or(p.get("size")),
        entry_price=to_decimal_or(p.get("entry_price")),
        realized_pnl=to_decimal_or(p.get("realised_pnl")),
        leverage=to_decimal_or(p.get("leverage"), Decimal(1)),
        updated_ms=seconds_to_ms(p.get("update_time") or p.get("time")),
    )


def balance_from_gate(a: Mapping[str, Any], ts_ms: int = 0) -> Balance:
    return Balance(
        currency=str(a.get("currency") or "USDT"),
        total=to_decimal_or(a.get("total")),
        available=to_decimal_or(a.get("available")),
        ts_ms=ts_ms,
    )


def margin_account_from_gate(a: Mapping[str, Any], ts_ms: int = 0) -> MarginAccount:
    """Gate `GET /futures/usdt/accounts`: the wallet and the margins the venue holds."""
    return MarginAccount(
        currency=str(a.get("currency") or "USDT"),
        total=to_decimal_or(a.get("total")),
        available=to_decimal_or(a.get("available")),
        position_margin=to_decimal_or(a.get("position_margin")),
        order_margin=to_decimal_or(a.get("order_margin")),
        maintenance_margin=to_decimal_or(a.get("maintenance_margin")),
        unrealised_pnl=to_decimal_or(a.get("unrealised_pnl")),
        ts_ms=ts_ms,
    )


def position_margin_from_gate(p: Mapping[str, Any]) -> PositionMargin:
    """A Gate position object's margin: leverage "0" (or pos_margin_mode "cross") is cross margin at
    `cross_leverage_limit`."""
    lev = to_decimal_or(p.get("leverage"))
    cross = lev == 0 or p.get("pos_margin_mode") == "cross"
    if cross:
        lev = to_decimal_or(p.get("cross_leverage_limit")) or lev
    mm = to_decimal_or(p.get("maintenance_margin"), None)
    if mm is None:
        mm = to_decimal_or(p.get("value")) * to_decimal_or(p.get("maintenance_rate"))
    liq = to_decimal_or(p.get("liq_price"), None)
    return PositionMargin(
        symbol=str(p.get("contract") or ""),
        mode=MarginMode.CROSS if cross else MarginMode.ISOLATED,
        leverage=lev,
        margin=to_decimal_or(p.get("margin")),
        maintenance_margin=mm,
        liq_price=liq if liq else None,
    )


def book_from_gate(symbol: str, b: Mapping[str, Any]) -> BookSnapshot:
    def side(rows: Any) -> tuple[BookLevel, ...]:
        out = []
        for r in rows or ():
            if isinstance(r, Mapping):
                out.append(BookLevel(to_decimal_or(r.get("p")), to_decimal_or(r.get("s"))))
            else:  # [price, size] form
                out.append(BookLevel(to_decimal_or(r[0]), to_decimal_or(r[1])))
        return tuple(out)

    return BookSnapshot(
        symbol=symbol,
        ts_ms=seconds_to_ms(b.get("current") or b.get("update")),
        update_id=int(b.get("id") or 0),
        bids=side(b.get("bids")),
        asks=side(b.get("asks")),
    )


def candle_from_gate(r: Mapping[str, Any]) -> Candle:
    return Candle(
        open_ms=int(to_decimal_or(r.get("t"))) * 1000,
        open=to_decimal_or(r.get("o")),
        high=to_decimal_or(r.get("h")),
        low=to_decimal_or(r.get("l")),
        close=to_decimal_or(r.get("c")),
        volume=to_decimal_or(r.get("v")),
        quote_volume=to_decimal_or(r.get("sum")),
    )
