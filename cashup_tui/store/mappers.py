"""Domain <-> row mappings. Rows are plain dicts for Core inserts; reads take any row mapping.

Keeping this in one place means a new domain field is added in exactly two functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.orders import Fill, Order, OrderEvent, OrderEventKind
from cashup_tui.domain.positions import Position
from cashup_tui.store.tables import DEFAULT_ACCOUNT

INSTRUMENT_DECIMALS = (
    "quanto_multiplier", "price_tick", "size_step", "min_size", "max_size", "leverage_min", "leverage_max",
    "maintenance_rate", "maker_fee_rate", "taker_fee_rate", "price_deviate",
)


def instrument_to_row(i: Instrument, updated_ms: int = 0) -> dict[str, Any]:
    row: dict[str, Any] = {k: getattr(i, k) for k in INSTRUMENT_DECIMALS}
    row.update(
        symbol=i.symbol, orders_limit=i.orders_limit, funding_interval_s=i.funding_interval_s,
        settle=i.settle, in_delisting=i.in_delisting, updated_ms=updated_ms,
    )
    return row


def instrument_from_row(r: Mapping[Any, Any]) -> Instrument:
    return Instrument(
        symbol=r["symbol"], orders_limit=r["orders_limit"], funding_interval_s=r["funding_interval_s"],
        settle=r["settle"], in_delisting=bool(r["in_delisting"]), **{k: r[k] for k in INSTRUMENT_DECIMALS},
    )


def order_to_row(o: Order, mode: str = "", account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    return {
        "account": account, "client_id": str(o.client_id), "venue_order_id": o.venue_order_id, "symbol": o.symbol,
        "side": o.side.value, "order_type": o.order_type.value, "size": o.size, "price": o.price,
        "tif": o.tif.value, "reduce_only": o.reduce_only, "trigger_price": o.trigger_price,
        "status": o.status.value, "filled": o.filled, "avg_fill_price": o.avg_fill_price, "fees": o.fees,
        "created_ms": o.created_ms, "updated_ms": o.updated_ms, "strategy": o.strategy, "reason": o.reason,
        "mode": mode, "trade_ids": sorted(o.trade_ids),
    }


def order_from_row(r: Mapping[Any, Any]) -> Order:
    return Order(
        client_id=ClientOrderId(r["client_id"]), symbol=r["symbol"], side=Side(r["side"]), size=r["size"],
        order_type=OrderType(r["order_type"]), price=r["price"], tif=TimeInForce(r["tif"]),
        reduce_only=bool(r["reduce_only"]), trigger_price=r["trigger_price"], status=OrderStatus(r["status"]),
        filled=r["filled"], avg_fill_price=r["avg_fill_price"], fees=r["fees"],
        venue_order_id=VenueOrderId(r["venue_order_id"]) if r["venue_order_id"] is not None else None,
        created_ms=r["created_ms"], updated_ms=r["updated_ms"], strategy=r["strategy"], reason=r["reason"],
        trade_ids=frozenset(r["trade_ids"] or ()),
    )


def fill_to_json(f: Fill) -> dict[str, Any]:
    return {
        "trade_id": f.trade_id, "client_id": str(f.client_id), "symbol": f.symbol, "side": f.side.value,
        "size": str(f.size), "price": str(f.price), "fee": str(f.fee), "ts_ms": f.ts_ms,
        "venue_order_id": f.venue_order_id, "liquidity": f.liquidity.value,
    }


def fill_from_json(d: Mapping[str, Any]) -> Fill:
    return Fill(
        trade_id=str(d["trade_id"]), client_id=ClientOrderId(d["client_id"]), symbol=d["symbol"],
        side=Side(d["side"]), size=Decimal(d["size"]), price=Decimal(d["price"]), fee=Decimal(d["fee"]),
        ts_ms=int(d["ts_ms"]), venue_order_id=VenueOrderId(d["venue_order_id"]) if d.get("venue_order_id") else None,
        liquidity=Liquidity(d["liquidity"]),
    )


def fill_to_row(f: Fill, mode: str = "", account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    return {
        "account": account, "trade_id": f.trade_id, "client_id": str(f.client_id), "venue_order_id": f.venue_order_id,
        "symbol": f.symbol, "side": f.side.value, "size": f.size, "price": f.price, "fee": f.fee,
        "ts_ms": f.ts_ms, "liquidity": f.liquidity.value, "mode": mode,
    }


def fill_from_row(r: Mapping[Any, Any]) -> Fill:
    return Fill(
        trade_id=r["trade_id"], client_id=ClientOrderId(r["client_id"]), symbol=r["symbol"], side=Side(r["side"]),
        size=r["size"], price=r["price"], fee=r["fee"], ts_ms=r["ts_ms"],
        venue_order_id=VenueOrderId(r["venue_order_id"]) if r["venue_order_id"] is not None else None,
        liquidity=Liquidity(r["liquidity"]),
    )


def event_to_row(client_id: str, e: OrderEvent, mode: str = "", recorded_ms: int = 0,
                 account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    return {
        "account": account, "client_id": str(client_id), "kind": e.kind.value, "ts_ms": e.ts_ms, "venue_order_id": e.venue_order_id,
        "trade_id": e.fill.trade_id if e.fill else None, "fill": fill_to_json(e.fill) if e.fill else None,
        "reason": e.reason, "new_price": e.new_price, "new_size": e.new_size, "mode": mode,
        "recorded_ms": recorded_ms,
    }


def event_from_row(r: Mapping[Any, Any]) -> OrderEvent:
    return OrderEvent(
        kind=OrderEventKind(r["kind"]), ts_ms=r["ts_ms"],
        venue_order_id=VenueOrderId(r["venue_order_id"]) if r["venue_order_id"] is not None else None,
        fill=fill_from_json(r["fill"]) if r["fill"] else None, reason=r["reason"],
        new_price=r["new_price"], new_size=r["new_size"],
    )


POSITION_DECIMALS = ("quanto_multiplier", "size", "entry_price", "realized_pnl", "fees", "funding", "leverage")


def position_to_row(p: Position, mode: str = "", account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    row: dict[str, Any] = {k: getattr(p, k) for k in POSITION_DECIMALS}
    row.update(account=account, mode=mode, symbol=p.symbol, updated_ms=p.updated_ms)
    return row


def position_from_row(r: Mapping[Any, Any]) -> Position:
    return Position(symbol=r["symbol"], updated_ms=r["updated_ms"], **{k: r[k] for k in POSITION_DECIMALS})


def balance_to_row(b: Balance, mode: str = "", account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    return {"account": account, "mode": mode, "currency": b.currency, "total": b.total, "available": b.available, "ts_ms": b.ts_ms}


def balance_from_row(r: Mapping[Any, Any]) -> Balance:
    return Balance(currency=r["currency"], total=r["total"], available=r["available"], ts_ms=r["ts_ms"])
