"""Gate.io USDT-futures REST client (`GateRest`) on an unmodified ccxt `gate` instance.

With `rest_translate.py` (error translation and payload parsing) the one place that calls ccxt. Reads
retry on TemporaryError with bounded, jittered backoff; order placement, cancel and amend are sent
exactly once (see `rest_translate.py` for why).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async

from cashup_tui.adapters.gateio.order_params import amend_body, order_key, place_body, price_param
from cashup_tui.adapters.gateio.rest_hooks import add_header_hook, expiring, point_ccxt_at
from cashup_tui.adapters.gateio.rest_translate import (
    _UNKNOWN_OUTCOME,
    GATE_INTERVALS,
    LIST_PAGE,
    MAX_CANDLE_POINTS,
    Candle,
    CandlePage,
    balance_from_gate,
    book_from_gate,
    candle_from_gate,
    fill_from_gate,
    order_from_gate,
    position_from_gate,
    translate_error,
)
from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import Side
from cashup_tui.domain.errors import (
    AuthenticationError,
    CashupError,
    OrderNotFound,
    TemporaryError,
    ValidationError,
)
from cashup_tui.domain.ids import validate_client_id
from cashup_tui.domain.instruments import Instrument, instrument_from_gate, to_decimal_or
from cashup_tui.domain.market import Bar, BookSnapshot, FundingRate
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.positions import Position
from cashup_tui.domain.timeframes import timeframe_ms

T = TypeVar("T")


# --------------------------------------------------------------------------------------------------
# the client
# --------------------------------------------------------------------------------------------------
class GateRest:
    """Async Gate USDT-futures REST client built on an (unmodified) ccxt `gate` instance.

    Use `async with GateRest(url, api_key=..., ...) as rest:` (the composition root passes the values in,
    e.g. `cli.data.gate_rest`); `close()` releases the HTTP session.
    """

    def __init__(
        self,
        rest_url: str = "https://api.gateio.ws/api/v4",
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        settle: str = "usdt",
        timeout_s: float = 10.0,
        read_retries: int = 3,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 2.0,
        rate_limit_ms: int | None = None,
        order_expiry_s: float | None = None,
        candle_page_points: int = MAX_CANDLE_POINTS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("CASHUP_GATE_API_KEY", "")
        secret = api_secret if api_secret is not None else os.environ.get("CASHUP_GATE_API_SECRET", "")
        self.rest_url = rest_url.rstrip("/")
        self.settle = settle
        self.read_retries = max(0, read_retries)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        # placements carry X-Gate-Exptime = send + this: one the client gave up on cannot land later
        self.order_expiry_ms = int((timeout_s if order_expiry_s is None else order_expiry_s) * 1000)
        self.candle_page_points = max(2, min(candle_page_points, MAX_CANDLE_POINTS))
        self._rng = rng or random.Random()
        self._has_keys = bool(key and secret)
        config: dict[str, Any] = {
            "apiKey": str(key or ""),
            "secret": str(secret or ""),
            "timeout": int(timeout_s * 1000),
            "enableRateLimit": True,
            "verbose": False,
            "options": {"defaultType": "swap", "defaultSettle": settle},
        }
        if rate_limit_ms is not None:
            config["rateLimit"] = rate_limit_ms
        self._ex = ccxt_async.gate(config)
        self._ex.verbose = False
        add_header_hook(self._ex)
        point_ccxt_at(self._ex, self.rest_url)
        self._instruments: dict[str, Instrument] = {}

    async def __aenter__(self) -> GateRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._ex.close()

    @property
    def ccxt(self) -> Any:
        """The underlying ccxt instance (tests and diagnostics only; call it through this class)."""
        return self._ex

    # -- plumbing -----------------------------------------------------------------------------
    async def _call(self, action: str, fn: Callable[..., Awaitable[T]], params: dict[str, Any], *, order_op: bool) -> T:
        try:
            result = await fn(params)
        except CashupError:
            raise
        except Exception as exc:  # translated, or re-raised if not an exchange condition
            raise translate_error(exc, action=action, order_op=order_op) from None
        if isinstance(result, str):  # ccxt hands back a 200 body that is not JSON (a proxy or maintenance page)
            raise TemporaryError(f"{action}: the venue answered HTTP 200 with a body that is not JSON: {result[:60]!r}",
                                 hint=_UNKNOWN_OUTCOME if order_op else "temporary (maintenance or a proxy?): retried")
        return result

    async def _read(self, action: str, fn: Callable[..., Awaitable[T]], params: dict[str, Any]) -> T:
        """A read: retried on TemporaryError with bounded, jittered exponential backoff."""
        attempt = 0
        while True:
            try:
                return await self._call(action, fn, params, order_op=False)
            except TemporaryError:
                if attempt >= self.read_retries:
                    raise
                delay = min(self.backoff_max_s, self.backoff_base_s * (2**attempt))
                await self._sleep(delay * (0.5 + self._rng.random()))
                attempt += 1

    async def _write(self, action: str, fn: Callable[..., Awaitable[T]], params: dict[str, Any]) -> T:
        """An order operation: sent exactly once, never retried here."""
        self._need_keys(action)
        return await self._call(action, fn, params, order_op=True)

    def _need_keys(self, action: str) -> None:
        if not self._has_keys:
            raise AuthenticationError(
                f"{action}: no API key configured",
                hint="set CASHUP_GATE_API_KEY and CASHUP_GATE_API_SECRET, or store keys with `cashup keys set gateio`",
            )

    async def _private_read(self, action: str, fn: Callable[..., Awaitable[T]], params: dict[str, Any]) -> T:
        self._need_keys(action)
        return await self._read(action, fn, params)

    def _p(self, **kw: Any) -> dict[str, Any]:
        out = {"settle": self.settle}
        out.update({k: v for k, v in kw.items() if v is not None})
        return out

    # -- public market data -----------------------------------------------------------------------
    async def server_time_ms(self) -> int:
        r = await self._read("server time", self._ex.publicSpotGetTime, {})
        return int(r.get("server_time") or 0)

    async def contracts(self) -> list[dict[str, Any]]:
        """Raw Gate contract objects (all USDT perpetuals)."""
        return await self._read("load contracts", self._ex.publicFuturesGetSettleContracts, self._p())

    async def load_instruments(self) -> dict[str, Instrument]:
        """Contracts -> domain Instruments keyed by Gate name (cached for position mapping)."""
        out: dict[str, Instrument] = {}
        for c in await self.contracts():
            try:
                out[str(c["name"])] = instrument_from_gate(c)
            except (KeyError, InvalidOperation, ValueError, TypeError):
                continue  # one malformed contract must not hide the others
        self._instruments = out
        return out

    async def order_book_raw(self, symbol: str, limit: int = 20) -> dict[str, Any]:
        """Gate's `order_book?with_id=true` body, as sent (for the WS book sync recipe)."""
        params = self._p(contract=symbol, limit=limit, with_id="true")
        return await self._read(f"order book {symbol}", self._ex.publicFuturesGetSettleOrderBook, params)

    async def order_book(self, symbol: str, limit: int = 20) -> BookSnapshot:
        return book_from_gate(symbol, await self.order_book_raw(symbol, limit))

    async def tickers(self, symbol: str | None = None) -> list[dict[str, Any]]:
        return await self._read("tickers", self._ex.publicFuturesGetSettleTickers, self._p(contract=symbol))

    async def funding_history(self, symbol: str, limit: int = 100) -> list[FundingRate]:
        """Applied funding rates, oldest first."""
        rows = await self._read(
            f"funding history {symbol}", self._ex.publicFuturesGetSettleFundingRate, self._p(contract=symbol, limit=limit)
        )
        out = [FundingRate(symbol=symbol, ts_ms=int(to_decimal_or(r.get("t"))) * 1000, rate=to_decimal_or(r.get("r")))
               for r in rows]
        return sorted(out, key=lambda f: f.ts_ms)

    async def candles_page(self, symbol: str, interval: str, from_s: int, to_s: int) -> list[Candle]:
        params = self._p(contract=symbol, interval=interval, **{"from": from_s, "to": to_s})
        rows = await self._read(f"candles {symbol} {interval}", self._ex.publicFuturesGetSettleCandlesticks, params)
        return [candle_from_gate(r) for r in rows]

    async def fetch_candles(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int,
        until_ms: int,
        *,
        progress: Callable[[CandlePage], None] | None = None,
    ) -> list[Candle]:
        """OHLCV history in [since, until), paged by up to 1999 points (Gate's cap), oldest first, de-duplicated.

        Pages are contiguous from/to windows, so a short page means the venue has no bars there (a gap),
        not that the download stopped early."""
        if timeframe not in GATE_INTERVALS:
            raise ValidationError(
                f"timeframe {timeframe!r} is not served by Gate futures candles",
                hint=f"use one of {', '.join(GATE_INTERVALS)}",
            )
        step = timeframe_ms(timeframe)
        start = since_ms - since_ms % step
        if until_ms <= start:
            raise ValidationError(
                f"empty time range: until ({until_ms}) is not after since ({since_ms})",
                hint="pass --until later than --since (or omit it for 'now')",
            )
        seen: dict[int, Candle] = {}
        cursor = start
        while cursor < until_ms:
            page_end = min(cursor + (self.candle_page_points - 1) * step, until_ms - 1)
            page = await self.candles_page(symbol, timeframe, cursor // 1000, page_end // 1000)
            for c in page:
                if start <= c.open_ms < until_ms:
                    seen[c.open_ms] = c
            if progress is not None:
                progress(CandlePage(cursor, page_end, len(page), len(seen), page_end + 1, start, until_ms))
            cursor = page_end - page_end % step + step
        return [seen[k] for k in sorted(seen)]

    async def recent_bars(self, symbol: str, timeframe: str, count: int, now_ms: int, *,
                          closed_only: bool = True) -> list[Bar]:
        """The last `count` closed bars before `now_ms`, oldest first, as the engine's float `Bar`s (strategy
        warm-up, backtests); with `closed_only=False` the bar still forming follows them (charts)."""
        tf = timeframe_ms(timeframe)
        until = now_ms - now_ms % tf if closed_only else now_ms + tf
        candles = await self.fetch_candles(symbol, timeframe, now_ms - tf * count, until)
        return [Bar(symbol, timeframe, c.open_ms, float(c.open), float(c.high), float(c.low), float(c.close),
                    float(c.volume)) for c in candles if not closed_only or c.open_ms + tf <= now_ms]

    # -- private: orders --------------------------------------------------------------------------
    async def create_order(self, order: Order) -> Order:
        """Place `order` with its client id in Gate's `text`. Sent once; TemporaryError = outcome unknown."""
        body = place_body(order)
        text = body["text"]
        params = expiring(self._p(**body), self.order_expiry_ms)  # X-Gate-Exptime: it cannot act late
        raw = await self._write(f"place order {text}", self._ex.privateFuturesPostSettleOrders, params)
        return order_from_gate(raw)

    async def cancel_order(self, id_or_text: str) -> Order:
        """Cancel by venue id or client id (text). Sent once."""
        key = self._order_key(id_or_text)
        raw = await self._write(
            f"cancel order {key}", self._ex.privateFuturesDeleteSettleOrdersOrderId, self._p(order_id=key)
        )
        return order_from_gate(raw)

    async def cancel_all(self, symbol: str, side: Side | None = None) -> list[Order]:
        """Gate's `DELETE /orders?contract=`: every open order of the contract, whoever placed it. Sent once."""
        params = self._p(contract=symbol, side={Side.BUY: "bid", Side.SELL: "ask"}.get(side) if side else None)
        rows = await self._write(f"cancel all orders {symbol}", self._ex.privateFuturesDeleteSettleOrders, params)
        return [order_from_gate(r) for r in rows]

    async def amend_order(
        self, id_or_text: str, *, side: Side | None = None, price: Decimal | None = None, size: Decimal | None = None
    ) -> Order:
        """Amend price and/or total size (absolute contracts incl. filled; `side` signs it). Sent once."""
        key = self._order_key(id_or_text)
        body = amend_body(key, side=side, price=price, size=size)
        raw = await self._write(f"amend order {key}", self._ex.privateFuturesPutSettleOrdersOrderId, self._p(**body))
        return order_from_gate(raw)

    async def fetch_order(self, id_or_text: str) -> Order:
        """By venue id, or by client id (text) while open and for 60 s after it finished (Gate's rule)."""
        key = self._order_key(id_or_text)
        raw = await self._private_read(
            f"fetch order {key}", self._ex.privateFuturesGetSettleOrdersOrderId, self._p(order_id=key)
        )
        return order_from_gate(raw)

    async def fetch_order_by_client_id(self, client_id: str) -> Order | None:
        """The lookup after an unknown outcome: the order, or None if the venue never saw it."""
        validate_client_id(client_id)
        try:
            return await self.fetch_order(client_id)
        except OrderNotFound:
            return None

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self._list_orders(symbol, "open")

    async def finished_orders(self, symbol: str, limit: int = 100) -> list[Order]:
        return await self._list_orders(symbol, "finished", limit)

    async def _list_orders(self, symbol: str | None, status: str, limit: int | None = None) -> list[Order]:
        """Gate sends at most LIST_PAGE rows (its default page without `limit`): page with `limit` +
        `offset` until a short page (or `limit` rows)."""
        found: dict[str, Order] = {}  # by venue id: a page boundary can shift while orders come and go
        offset = 0  # rows fetched so far
        while limit is None or len(found) < limit:
            page = LIST_PAGE if limit is None else min(LIST_PAGE, limit - len(found))
            rows = await self._private_read(f"list {status} orders", self._ex.privateFuturesGetSettleOrders,
                                            self._p(contract=symbol, status=status, limit=page, offset=offset or None))
            offset += len(rows)
            for o in map(order_from_gate, rows):
                found.setdefault(o.venue_order_id or o.client_id, o)
            if len(rows) < page:
                break
        return list(found.values())

    async def my_trades(self, symbol: str | None = None, since_ms: int | None = None, limit: int = 1000) -> list[Fill]:
        """Our fills, oldest first; `since_ms` filters client-side too (Gate's `from` is whole seconds)."""
        if since_ms:  # the plain endpoint has no time filter; the timerange one does
            params = self._p(contract=symbol, limit=limit, **{"from": since_ms // 1000})
            fn = self._ex.privateFuturesGetSettleMyTradesTimerange
        else:
            params = self._p(contract=symbol, limit=limit)
            fn = self._ex.privateFuturesGetSettleMyTrades
        rows = await self._private_read("my trades", fn, params)
        fills = [fill_from_gate(r) for r in rows]
        if since_ms:
            fills = [f for f in fills if f.ts_ms >= since_ms]
        return sorted(fills, key=lambda f: (f.ts_ms, f.trade_id))

    # -- private: account ---------------------------------------------------------------------------
    async def positions(self, *, include_flat: bool = False) -> list[Position]:
        rows = await self._private_read("positions", self._ex.privateFuturesGetSettlePositions, self._p())
        out = []
        for r in rows:
            inst = self._instruments.get(str(r.get("contract")))
            pos = position_from_gate(r, inst.quanto_multiplier if inst else Decimal(1))
            if include_flat or pos.size != 0:
                out.append(pos)
        return out

    async def positions_raw(self) -> list[dict[str, Any]]:
        """Gate position objects (mark, liq price, margin...) for views that need more than Position."""
        return await self._private_read("positions", self._ex.privateFuturesGetSettlePositions, self._p())

    async def account_detail(self) -> dict[str, Any]:
        """Gate `GET /account/detail`: holds `user_id`, which private WS payloads need."""
        return await self._private_read("account detail", self._ex.privateAccountGetDetail, {})

    async def user_id(self) -> int:
        return int((await self.account_detail()).get("user_id") or 0)

    async def account_raw(self) -> dict[str, Any]:
        return await self._private_read("futures account", self._ex.privateFuturesGetSettleAccounts, self._p())

    async def balances(self) -> list[Balance]:
        return [balance_from_gate(await self.account_raw())]

    async def set_leverage(self, symbol: str, leverage: Decimal, *, cross: bool = False) -> dict[str, Any]:
        """Gate takes leverage as a query parameter with an empty body (ccxt handles the signing). Cross
        margin is leverage 0 with `cross_leverage_limit` = `leverage` (as ccxt's set_leverage sends it).
        Returns Gate's position object."""
        if not leverage.is_finite() or leverage < 0 or (cross and leverage == 0):
            raise ValidationError(f"leverage {leverage} must be >= 0 (0 = cross margin; a cross limit > 0)")
        if cross:
            params = self._p(contract=symbol, leverage="0", cross_leverage_limit=price_param(leverage))
        else:
            params = self._p(contract=symbol, leverage=price_param(leverage))
        return await self._write(
            f"set leverage {symbol}", self._ex.privateFuturesPostSettlePositionsContractLeverage, params
        )

    async def countdown_cancel_all(self, timeout_s: int, symbol: str | None = None) -> int:
        """Dead-man switch: cancel all orders if not refreshed within `timeout_s` (0 disarms).
        Returns Gate's trigger time in ms (0 when disarmed)."""
        if timeout_s < 0 or (0 < timeout_s < 5):
            raise ValidationError(f"countdown {timeout_s}s: must be 0 (off) or >= 5 s (Gate's minimum)")
        r = await self._write(
            "countdown cancel all",
            self._ex.privateFuturesPostSettleCountdownCancelAll,
            self._p(timeout=timeout_s, contract=symbol),
        )
        return int(to_decimal_or(r.get("triggerTime")))

    async def account_book(self, limit: int = 100, *, type: str | None = None, since_ms: int | None = None,
                           offset: int | None = None) -> list[dict[str, Any]]:
        """Gate's wallet changes, newest first (`type` e.g. "fund"; `since_ms` -> `from` in whole seconds)."""
        since = None if since_ms is None else since_ms // 1000
        return await self._private_read(
            "account book", self._ex.privateFuturesGetSettleAccountBook,
            self._p(limit=limit, type=type, offset=offset, **{"from": since}),
        )

    # -- private: price-triggered orders ----------------------------------------------------------
    async def create_trigger_order(self, body: dict[str, Any]) -> int:
        """Gate `price_orders` body ({initial: {...}, trigger: {...}}); the initial order's text is validated."""
        text = (body.get("initial") or {}).get("text")
        if text:
            validate_client_id(text)
        r = await self._write("place trigger order", self._ex.privateFuturesPostSettlePriceOrders, self._p(**body))
        return int(r.get("id") or 0)

    async def trigger_orders(self, status: str = "open", symbol: str | None = None) -> list[dict[str, Any]]:
        return await self._private_read(
            "list trigger orders",
            self._ex.privateFuturesGetSettlePriceOrders,
            self._p(status=status, contract=symbol),
        )

    async def cancel_trigger_order(self, order_id: str) -> dict[str, Any]:
        return await self._write(
            f"cancel trigger order {order_id}",
            self._ex.privateFuturesDeleteSettlePriceOrdersOrderId,
            self._p(order_id=str(order_id)),
        )

    @staticmethod
    def _order_key(id_or_text: str) -> str:
        return order_key(id_or_text)
