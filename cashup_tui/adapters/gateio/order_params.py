"""Gate futures order request bodies, shared by the REST path (ccxt) and the websocket API path,
so both send exactly the same parameters for the same order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cashup_tui.domain.enums import OrderType, Side, TimeInForce
from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.ids import validate_client_id
from cashup_tui.domain.orders import Order


def size_param(size: Decimal) -> int | str:
    """Gate accepts an integer size, or a decimal string on enable_decimal contracts."""
    return int(size) if size == size.to_integral_value() else format(size.normalize(), "f")


def price_param(price: Decimal) -> str:
    return format(price.normalize(), "f") if price != 0 else "0"


def place_body(order: Order) -> dict[str, Any]:
    """`POST /futures/usdt/orders` / `futures.order_place` body; the client id travels in `text`."""
    text = validate_client_id(order.client_id)
    if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
        raise ValidationError(
            f"order {order.client_id}: {order.order_type.value} orders go through price-triggered orders",
            hint="use create_trigger_order for stops / take-profits",
        )
    body: dict[str, Any] = {
        "contract": order.symbol,
        "size": size_param(order.signed_size),
        "price": "0" if order.order_type is OrderType.MARKET or order.price is None else price_param(order.price),
        "tif": order.tif.value,
        "text": text,
    }
    if order.order_type is OrderType.MARKET and order.tif not in (TimeInForce.IOC, TimeInForce.FOK):
        body["tif"] = TimeInForce.IOC.value  # Gate: a market order (price 0) must be ioc or fok
    if order.reduce_only:
        body["reduce_only"] = True
    return body


def amend_body(key: str, *, side: Side | None, price: Decimal | None, size: Decimal | None) -> dict[str, Any]:
    """Amend price and/or total size (absolute contracts incl. filled; `side` signs it)."""
    if price is None and size is None:
        raise ValidationError("amend: nothing to change", hint="give a new price and/or size")
    body: dict[str, Any] = {"order_id": key}
    if price is not None:
        body["price"] = price_param(price)
    if size is not None:
        if side is None:
            raise ValidationError("amend: a new size needs the order side", hint="pass side=Side.BUY/SELL")
        body["size"] = size_param(abs(size) * side.sign)
    return body


def order_key(id_or_text: str) -> str:
    """A venue id (digits) or our client id (t-...), validated."""
    key = str(id_or_text)
    if key.startswith("t-"):
        return validate_client_id(key)
    if not key.isdigit():
        raise ValidationError(
            f"order reference {key!r} is neither a Gate order id (digits) nor a client id (t-...)",
            hint="pass the numeric venue id or our client id",
        )
    return key
