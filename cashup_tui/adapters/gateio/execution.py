"""`domain.ports.Execution` over Gate.io: place/amend/cancel over Gate's websocket API while its socket
is logged in (`GateWsOrders`), else REST (ccxt, via `GateRest`), which also does every lookup;
the private websocket (`futures.orders`, `futures.usertrades`, and `futures.balances` for funding
settlements) for the event stream.

Why this split: orders are sent once, over either path (a TemporaryError means "unknown", the
order manager looks the order up by its `text`); the websocket brings fills and state
changes as they happen; a reconnect is surfaced as `FeedConnected` so the order manager
reconciles before strategies trade again. Stops and take-profits go to Gate as
price-triggered orders (`price_orders`): their venue id is kept as `trig-<id>`.
Works against Gate live/testnet and, unchanged, against the loopback simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from cashup_tui.adapters.gateio import constants as C
from cashup_tui.adapters.gateio.connection import GateWsClient
from cashup_tui.adapters.gateio.order_params import price_param, size_param
from cashup_tui.adapters.gateio.parse import BalanceChange, OrderUpdate
from cashup_tui.adapters.gateio.rest import GateRest
from cashup_tui.adapters.gateio.rest_translate import (
    margin_account_from_gate,
    order_from_gate,
    position_margin_from_gate,
)
from cashup_tui.adapters.gateio.ws_orders import GateWsOrders, WsOrdersUnavailable, gate_ws_limiter
from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from cashup_tui.domain.errors import OrderNotFound
from cashup_tui.domain.events import (
    Event,
    FeedConnected,
    FeedDisconnected,
    FundingSettled,
    OrderFilled,
    OrderUpdated,
)
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId
from cashup_tui.domain.instruments import Instrument, to_decimal_or
from cashup_tui.domain.margin import MarginAccount, PositionMargin
from cashup_tui.domain.order_status import order_status
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.ports import StreamHealth
from cashup_tui.domain.positions import Position

log = logging.getLogger("cashup.gate.execution")
TRIGGER_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT)
FUNDING_PAGES = 20  # account book pages of 1000 read at reconciliation (years of a few contracts)


def order_from_update(u: OrderUpdate) -> Order:
    """A `futures.orders` push -> the venue's view of the order."""
    filled = u.size - u.left
    status = order_status(not u.finished, u.finish_as, filled, u.size)
    try:
        tif = TimeInForce(u.tif)
    except ValueError:
        tif = TimeInForce.GTC
    return Order(
        client_id=ClientOrderId(u.client_id or f"venue-{u.venue_order_id}"),
        symbol=u.symbol, side=u.side, size=u.size,
        order_type=OrderType.MARKET if u.price == 0 else OrderType.LIMIT,
        price=None if u.price == 0 else u.price, tif=tif, reduce_only=u.reduce_only, status=status,
        filled=filled, avg_fill_price=u.fill_price, venue_order_id=u.venue_order_id,
        updated_ms=u.ts_ms, reason=u.finish_as if u.finished else "",
    )


def trigger_rule(order: Order) -> int:
    """Gate trigger rule: 1 = fire when price >= trigger, 2 = when <=."""
    stop = order.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
    if order.side is Side.SELL:
        return 2 if stop else 1
    return 1 if stop else 2


class _Sink:
    def __init__(self, owner: GateExecution) -> None:
        self.owner = owner

    def publish(self, event: Event) -> None:
        if isinstance(event, FeedConnected | FeedDisconnected):
            self.owner._queue.put_nowait(event)
        if self.owner.sink is not None:
            self.owner.sink.publish(event)


class GateExecution:
    """Implements `domain.ports.Execution` for testnet/live (and demo against the simulator)."""

    def __init__(self, rest: GateRest, instruments: Mapping[str, Instrument], *, ws_url: str = "",
                 api_key: str = "", api_secret: str = "", user_id: str = "", sink: Any = None,
                 trade_id_prefix: str = "", orders_over_ws: bool = False, ws_order_timeout_s: float = 10.0,
                 **ws_kwargs: Any) -> None:
        self.rest = rest
        # a venue whose trade ids restart (a fresh demo simulator) gets them namespaced per session,
        # so de-duplication by trade id never drops a new fill that reuses an old number
        self.trade_id_prefix = trade_id_prefix
        self.instruments = instruments
        self.sink = sink
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._ws: GateWsClient | None = None
        self._ws_task: asyncio.Task[None] | None = None
        if ws_url:
            self._ws = GateWsClient(ws_url, self._on_values, sink=_Sink(self), api_key=api_key,
                                    api_secret=api_secret, user_id=user_id, **ws_kwargs)
        # orders over Gate's WS API while its socket is logged in; REST otherwise (same semantics)
        self.ws_orders: GateWsOrders | None = None
        self._wso_task: asyncio.Task[None] | None = None
        if ws_url and orders_over_ws and api_key and api_secret:
            self.ws_orders = GateWsOrders(ws_url, api_key, api_secret, limiter=gate_ws_limiter(),
                                          request_timeout_s=ws_order_timeout_s,
                                          order_expiry_ms=getattr(rest, "order_expiry_ms", 0))

    # -- private stream ---------------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe to the private channels and run the websocket (reconnects by itself)."""
        if self._ws is None or self._ws_task is not None:
            return
        if not self._ws.user_id:
            self._ws.user_id = await self.user_id()
        await self._ws.subscribe_private(C.ORDERS)
        await self._ws.subscribe_private(C.USERTRADES)
        await self._ws.subscribe_private(C.BALANCES)  # funding settlements (type "fund")
        self._ws_task = asyncio.get_running_loop().create_task(self._ws.run(), name="gate-private-ws")
        if self.ws_orders is not None:
            self._wso_task = asyncio.get_running_loop().create_task(self.ws_orders.run(), name="gate-ws-orders")

    async def stop(self) -> None:
        if self.ws_orders is not None:
            await self.ws_orders.stop()
        if self._wso_task is not None:
            self._wso_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._wso_task
            self._wso_task = None
        if self._ws is not None:
            await self._ws.stop()
        if self._ws_task is not None:
            self._ws_task.cancel()
            try:
                await self._ws_task
            except (asyncio.CancelledError, Exception):
                pass
            self._ws_task = None

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ws.connected.is_set()

    def health(self, now_ms: int) -> StreamHealth | None:
        """The private stream ('priv'); None without one (no websocket URL)."""
        ws = self._ws
        if ws is None:
            return None
        return StreamHealth("priv", self.connected, None, ws.stats.msgs_per_s, ws.stats.reconnects)

    def _on_values(self, channel: str, values: list[Any]) -> None:
        for v in values:
            if channel == C.ORDERS and isinstance(v, OrderUpdate):
                self._queue.put_nowait(OrderUpdated(v.ts_ms, order_from_update(v), "ws"))
            elif channel == C.USERTRADES and isinstance(v, Fill):
                self._queue.put_nowait(OrderFilled(v.ts_ms, self._ns(v)))
            elif channel == C.BALANCES and isinstance(v, BalanceChange) and v.type == "fund":
                self._funding(v.text, v.change, v.ts_ms)

    def _funding(self, text: str, amount: Decimal, ts_ms: int) -> None:
        """A `fund` wallet change is one contract's settlement; its text starts with the contract."""
        symbol = text.split(":", 1)[0]
        if symbol not in self.instruments:
            log.warning("funding change %s with text %r names no known contract: not attributed", amount, text)
            return
        self._queue.put_nowait(FundingSettled(ts_ms, symbol, amount, FundingSettled.key_of(symbol, ts_ms)))

    def _ns(self, f: Fill) -> Fill:
        if not self.trade_id_prefix:
            return f
        from msgspec.structs import replace

        return replace(f, trade_id=f"{self.trade_id_prefix}{f.trade_id}")

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()

    # -- commands -------------------------------------------------------------------------------
    async def submit(self, order: Order) -> Order:
        if order.order_type in TRIGGER_TYPES:
            return await self._submit_trigger(order)
        wso = self.ws_orders
        if wso is not None and wso.ready:
            wso.order_expiry_ms = self.rest.order_expiry_ms  # the same x-gate-exptime as REST would send
            try:
                return await wso.place(order)
            except WsOrdersUnavailable:  # not sent: REST is safe
                pass
        return await self.rest.create_order(order)

    async def _submit_trigger(self, order: Order) -> Order:
        limit = order.order_type is OrderType.STOP_LIMIT or (order.order_type is OrderType.TAKE_PROFIT and order.price)
        initial: dict[str, Any] = {
            "contract": order.symbol,
            "size": size_param(order.signed_size),
            "price": price_param(order.price) if limit and order.price else "0",
            "tif": "gtc" if limit else "ioc",
            "text": order.client_id,
        }
        if order.reduce_only:
            initial["reduce_only"] = True
        body = {"initial": initial, "trigger": {"strategy_type": 0, "price_type": 1,
                                                 "price": price_param(order.trigger_price or Decimal(0)),
                                                 "rule": trigger_rule(order), "expiration": 0}}
        tid = await self.rest.create_trigger_order(body)
        return Order(order.client_id, order.symbol, order.side, order.size, order.order_type, order.price,
                     order.tif, order.reduce_only, order.trigger_price, status=OrderStatus.OPEN,
                     venue_order_id=VenueOrderId(f"trig-{tid}"), created_ms=order.created_ms)

    async def cancel(self, order: Order) -> Order:
        vid = order.venue_order_id or ""
        if vid.startswith("trig-"):
            raw = await self.rest.cancel_trigger_order(vid.removeprefix("trig-"))
            return self._trigger_view(order, raw)
        wso = self.ws_orders
        if wso is not None and wso.ready:
            try:
                return await wso.cancel(vid or order.client_id)
            except WsOrdersUnavailable:
                pass
        return await self.rest.cancel_order(vid or order.client_id)

    async def cancel_all(self, symbol: str) -> list[Order]:
        """Gate's per-contract cancel-all: every open (non-trigger) order of `symbol`, ours or not."""
        return await self.rest.cancel_all(symbol)

    async def amend(self, order: Order, *, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        key = order.venue_order_id or order.client_id
        wso = self.ws_orders
        if wso is not None and wso.ready:
            try:
                return await wso.amend(key, side=order.side, price=price, size=size)
            except WsOrdersUnavailable:
                pass
        return await self.rest.amend_order(key, side=order.side, price=price, size=size)

    async def fetch_order(self, symbol: str, client_id: str) -> Order | None:
        found = await self.rest.fetch_order_by_client_id(client_id)
        if found is not None:
            return found
        for status in ("open", "finished"):  # a trigger order is known by its initial order's text
            try:
                rows = await self.rest.trigger_orders(status, symbol)
            except OrderNotFound:
                continue
            for raw in rows:
                if (raw.get("initial") or {}).get("text") == client_id:
                    return self._trigger_view(None, raw)
        return None

    def _trigger_view(self, order: Order | None, raw: Mapping[str, Any]) -> Order:
        init = raw.get("initial") or {}
        signed = to_decimal_or(init.get("size"))
        status = str(raw.get("status") or "open")
        st = OrderStatus.OPEN if status == "open" else (
            OrderStatus.CANCELLED if status in ("cancelled", "failed", "expired", "inactive") else OrderStatus.OPEN)
        if order is not None:
            from msgspec.structs import replace

            return replace(order, status=st if status != "finished" else OrderStatus.CANCELLED,
                           reason=str(raw.get("finish_as") or status))
        price = to_decimal_or(init.get("price"))
        return Order(ClientOrderId(str(init.get("text") or f"venue-trig-{raw.get('id')}")), str(init.get("contract")),
                     Side.BUY if signed > 0 else Side.SELL, abs(signed), OrderType.STOP_MARKET,
                     price or None, TimeInForce.GTC, bool(init.get("is_reduce_only") or init.get("reduce_only")),
                     to_decimal_or((raw.get("trigger") or {}).get("price")) or None, status=st,
                     venue_order_id=VenueOrderId(f"trig-{raw.get('id')}"),
                     reason=str(raw.get("finish_as") or ""))

    # -- reads ------------------------------------------------------------------------------------
    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        orders = await self.rest.open_orders(symbol)  # every page
        try:
            trig = await self.rest.trigger_orders("open", symbol)
        except OrderNotFound:
            trig = []
        return orders + [self._trigger_view(None, t) for t in trig]

    async def fills_since(self, symbol: str | None, since_ms: int) -> list[Fill]:
        return [self._ns(f) for f in await self.rest.my_trades(symbol, since_ms=since_ms or None)]

    async def funding_since(self, since_ms: int) -> list[FundingSettled]:
        """The settlements Gate's account book holds from `since_ms`, oldest first (paged): what the
        private stream pushed, and what it could not while it was down."""
        out: list[FundingSettled] = []
        page = 1000
        for n in range(FUNDING_PAGES):
            rows = await self.rest.account_book(page, type="fund", since_ms=since_ms, offset=n * page)
            for r in rows:
                try:
                    ts_ms = round(float(r.get("time") or 0) * 1000)
                except (TypeError, ValueError, OverflowError):
                    ts_ms = 0
                symbol = str(r.get("contract") or str(r.get("text") or "").split(":", 1)[0])
                amount = to_decimal_or(r.get("change"))
                if ts_ms <= 0 or not amount.is_finite() or amount == 0 or symbol not in self.instruments:
                    log.warning("account book: funding row %r is not a settlement of a known contract: skipped", r)
                    continue
                if ts_ms >= since_ms:
                    out.append(FundingSettled(ts_ms, symbol, amount, FundingSettled.key_of(symbol, ts_ms)))
            if len(rows) < page:
                break
        else:
            log.warning("account book: more than %d funding settlements since %d; the oldest are not read",
                        FUNDING_PAGES * page, since_ms)
        return sorted(out, key=lambda e: (e.ts_ms, e.symbol))

    async def positions(self) -> list[Position]:
        return await self.rest.positions(include_flat=True)

    async def balances(self) -> list[Balance]:
        return await self.rest.balances()

    async def user_id(self) -> str:
        """Gate's numeric user id (the private channels' payload) from `GET /account/detail`."""
        uid = await self.rest.user_id()
        return str(uid) if uid else ""

    async def set_leverage(self, symbol: str, leverage: Decimal, *, cross: bool = False) -> None:
        await self.rest.set_leverage(symbol, leverage, cross=cross)

    async def margin_account(self) -> MarginAccount:
        return margin_account_from_gate(await self.rest.account_raw())

    async def position_margins(self) -> list[PositionMargin]:
        return [position_margin_from_gate(p) for p in await self.rest.positions_raw()]

    has_dead_man = True  # Gate's countdown_cancel_all
    has_bulk_cancel = True  # Gate's per-contract cancel-all

    async def dead_man(self, timeout_s: int) -> int:
        """Arm (or refresh) Gate's countdown_cancel_all while the app is healthy; 0 disarms."""
        return await self.rest.countdown_cancel_all(timeout_s)


__all__ = ["GateExecution", "order_from_gate", "order_from_update", "trigger_rule"]
