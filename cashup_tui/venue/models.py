"""Value objects of the simulated venue and their Gate JSON shapes (`to_gate()`).

Kept apart from the matching logic in venue.py so that readers of the REST/WS layers see the wire shapes
in one place. Money and sizes are Decimal; sizes are signed like Gate's (+ buy/long, - sell/short); ids are
Python ints (they start above 2**53, so any float round-trip shows up in tests); times are int ms.

Live objects (orders, triggers) compare by identity; snapshots (trades, positions, balance changes, events)
are plain slots classes, not frozen, because frozen dataclass construction costs microseconds on the hot
path: treat them as read-only.

`to_gate()` emits decimals as strings (what Gate sends with `X-Gate-Size-Decimal: 1`); the WS layer may turn
the few fields that Gate pushes as JSON numbers (fees, balances) into numbers when it serialises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cashup_tui.domain.orders import Fill

ZERO = Decimal(0)


_WIRE_QUANTUM = Decimal("1e-12")


def dstr(value: Decimal) -> str:
    """Canonical decimal text: no exponent, no trailing zeros ("26696.1", "100", "0"), at most 12 decimals
    (averages such as entry prices can carry 28 digits internally; the wire does not need them)."""
    if not value:
        return "0"
    if value.as_tuple().exponent < -12:  # type: ignore[operator]
        value = value.quantize(_WIRE_QUANTUM)
        if not value:
            return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _secs(ms: int) -> float:
    return ms / 1000


@dataclass(slots=True, eq=False)
class VenueOrder:
    """One futures order as the venue holds it. `size` is signed; `filled` is absolute."""

    id: int
    user: int
    contract: str
    size: Decimal
    price: Decimal  # 0 = market
    tif: str
    text: str
    create_ms: int
    is_reduce_only: bool = False
    is_close: bool = False
    is_liq: bool = False
    iceberg: Decimal = ZERO
    filled: Decimal = ZERO
    fill_value: Decimal = ZERO  # sum(price * qty) of fills, for the average fill price
    status: str = "open"
    finish_as: str = "_new"
    finish_ms: int = 0
    update_ms: int = 0
    update_id: int = 1
    fee: Decimal = ZERO
    mkfr: Decimal = ZERO
    tkfr: Decimal = ZERO
    leverage: Decimal = Decimal(1)
    amend_text: str = "-"
    seq: int = 0  # time priority among resting orders (an amend that changes price or grows loses it)

    @property
    def is_buy(self) -> bool:
        return self.size > 0

    @property
    def left_abs(self) -> Decimal:
        return abs(self.size) - self.filled

    @property
    def left(self) -> Decimal:
        """Signed remaining size (same sign as `size`, Gate's convention: filled = |size - left|)."""
        rest = abs(self.size) - self.filled
        return rest if self.size > 0 else -rest

    @property
    def fill_price(self) -> Decimal:
        return self.fill_value / self.filled if self.filled else ZERO

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def snapshot(self) -> VenueOrder:
        """An independent copy for events (the live object keeps changing)."""
        return VenueOrder(
            self.id, self.user, self.contract, self.size, self.price, self.tif, self.text, self.create_ms,
            self.is_reduce_only, self.is_close, self.is_liq, self.iceberg, self.filled, self.fill_value,
            self.status, self.finish_as, self.finish_ms, self.update_ms, self.update_id, self.fee, self.mkfr,
            self.tkfr, self.leverage, self.amend_text, self.seq,
        )  # fmt: skip

    def to_gate(self) -> dict[str, Any]:
        """Gate's futures order object (REST `/futures/usdt/orders` and WS `futures.orders` fields)."""
        return {
            "id": self.id,
            "id_string": str(self.id),
            "user": self.user,
            "contract": self.contract,
            "create_time": _secs(self.create_ms),
            "create_time_ms": self.create_ms,
            "update_time": self.update_ms,
            "update_id": self.update_id,
            "finish_time": _secs(self.finish_ms) if self.finish_ms else 0,
            "finish_time_ms": self.finish_ms,
            "finish_as": self.finish_as,
            "status": self.status,
            "size": dstr(self.size),
            "left": dstr(self.left),
            "iceberg": dstr(self.iceberg),
            "price": dstr(self.price),
            "fill_price": dstr(self.fill_price),
            "tif": self.tif,
            "text": self.text,
            "close": self.is_close,
            "is_close": self.is_close,
            "reduce_only": self.is_reduce_only,
            "is_reduce_only": self.is_reduce_only,
            "is_liq": self.is_liq,
            "mkfr": dstr(self.mkfr),
            "tkfr": dstr(self.tkfr),
            "fee": dstr(self.fee),
            "point_fee": "0",
            "refu": 0,
            "refr": "0",
            "auto_size": "",
            "stp_id": 0,
            "stp_act": "-",
            "amend_text": self.amend_text,
            "biz_info": "-",
            "leverage": dstr(self.leverage),
        }


@dataclass(slots=True)
class VenueTrade:
    """One of the user's executions (Gate `my_trades` / `futures.usertrades`)."""

    id: int
    order_id: int
    contract: str
    size: Decimal  # signed, the order's direction
    price: Decimal
    role: str  # "maker" | "taker"
    fee: Decimal  # > 0 paid, < 0 rebate, USDT
    text: str
    create_ms: int
    close_size: Decimal = ZERO  # part of `size` that closed an existing position (signed like size)
    realised_pnl: Decimal = ZERO  # gross price PnL the close part produced (not a Gate field)
    # the domain Fill the venue booked this execution with (immutable; reused by the in-process port
    # instead of building an equal one again); not a Gate field, not compared
    fill: Fill | None = field(default=None, compare=False, repr=False)

    def to_gate(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": str(self.order_id),
            "contract": self.contract,
            "create_time": _secs(self.create_ms),
            "create_time_ms": self.create_ms,
            "size": dstr(self.size),
            "close_size": dstr(self.close_size),
            "price": dstr(self.price),
            "role": self.role,
            "text": self.text,
            "fee": dstr(self.fee),
            "point_fee": "0",
            "amend_text": "-",
            "biz_info": "-",
        }


@dataclass(slots=True)
class VenuePosition:
    """A snapshot of one one-way position, valued at `mark_price`. In cross margin (`cross`) `leverage` is the
    cross leverage limit, which Gate reports as `cross_leverage_limit` with leverage "0"."""

    user: int
    contract: str
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal
    leverage: Decimal
    leverage_max: Decimal
    margin: Decimal
    maintenance_rate: Decimal
    value: Decimal  # |size| * multiplier * mark
    unrealised_pnl: Decimal
    realised_pnl: Decimal  # pnl - fees + funding of the open position (Gate's meaning)
    pnl_pnl: Decimal
    pnl_fee: Decimal
    pnl_fund: Decimal
    history_pnl: Decimal
    last_close_pnl: Decimal
    liq_price: Decimal
    taker_fee_rate: Decimal
    pending_orders: int
    open_ms: int
    update_ms: int
    update_id: int
    cross: bool = False

    @property
    def maintenance_margin(self) -> Decimal:
        return self.value * self.maintenance_rate

    @property
    def initial_margin(self) -> Decimal:
        return self.value / self.leverage if self.leverage else ZERO

    def to_gate(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "contract": self.contract,
            "size": dstr(self.size),
            "leverage": "0" if self.cross else dstr(self.leverage),
            "risk_limit": "1000000",
            "leverage_max": dstr(self.leverage_max),
            "maintenance_rate": dstr(self.maintenance_rate),
            "value": dstr(self.value),
            "margin": dstr(self.margin),
            "entry_price": dstr(self.entry_price),
            "liq_price": dstr(self.liq_price),
            "mark_price": dstr(self.mark_price),
            "initial_margin": dstr(self.initial_margin),
            "maintenance_margin": dstr(self.maintenance_margin),
            "unrealised_pnl": dstr(self.unrealised_pnl),
            "realised_pnl": dstr(self.realised_pnl),
            "pnl_pnl": dstr(self.pnl_pnl),
            "pnl_fund": dstr(self.pnl_fund),
            "pnl_fee": dstr(self.pnl_fee),
            "history_pnl": dstr(self.history_pnl),
            "last_close_pnl": dstr(self.last_close_pnl),
            "realised_point": "0",
            "history_point": "0",
            "adl_ranking": 5,
            "pending_orders": self.pending_orders,
            "close_order": None,
            "mode": "single",
            "cross_leverage_limit": dstr(self.leverage) if self.cross else "0",
            "pos_margin_mode": "cross" if self.cross else "isolated",
            "lever": dstr(self.leverage),
            "open_time": self.open_ms // 1000,
            "update_time": self.update_ms // 1000,
            "time": self.update_ms // 1000,
            "time_ms": self.update_ms,
            "update_id": self.update_id,
        }


@dataclass(frozen=True, slots=True)
class VenueAccount:
    """Gate futures account (`GET /futures/usdt/accounts`). total = wallet cash; equity = total + uPnL."""

    user: int
    total: Decimal
    available: Decimal
    position_margin: Decimal
    order_margin: Decimal
    unrealised_pnl: Decimal
    maintenance_margin: Decimal
    history_dnw: Decimal
    history_pnl: Decimal
    history_fee: Decimal
    history_fund: Decimal
    currency: str = "USDT"

    @property
    def equity(self) -> Decimal:
        return self.total + self.unrealised_pnl

    def to_gate(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "currency": self.currency,
            "total": dstr(self.total),
            "unrealised_pnl": dstr(self.unrealised_pnl),
            "position_margin": dstr(self.position_margin),
            "order_margin": dstr(self.order_margin),
            "available": dstr(self.available),
            "point": "0",
            "bonus": "0",
            "in_dual_mode": False,
            "enable_credit": False,
            "position_initial_margin": dstr(self.position_margin),
            "maintenance_margin": dstr(self.maintenance_margin),
            "cross_available": dstr(self.available),
            "margin_mode": 0,
            "history": {
                "dnw": dstr(self.history_dnw),
                "pnl": dstr(self.history_pnl),
                "fee": dstr(-self.history_fee),  # Gate books fees as negative changes
                "refr": "0",
                "fund": dstr(self.history_fund),
                "point_dnw": "0",
                "point_fee": "0",
                "point_refr": "0",
                "bonus_dnw": "0",
                "bonus_offset": "0",
            },
        }


@dataclass(slots=True)
class BalanceChange:
    """One wallet movement (`futures.balances`): type dnw | pnl | fee | fund."""

    user: int
    balance: Decimal  # balance after the change
    change: Decimal
    type: str
    text: str
    time_ms: int
    currency: str = "USDT"

    def to_gate(self) -> dict[str, Any]:
        return {
            "balance": dstr(self.balance),
            "change": dstr(self.change),
            "type": self.type,
            "text": self.text,
            "time": self.time_ms // 1000,
            "time_ms": self.time_ms,
            "user": str(self.user),
            "currency": self.currency,
        }

    def to_book(self, row_id: int) -> dict[str, Any]:
        """One row of Gate `GET /futures/usdt/account_book` (time in float seconds, newest first there)."""
        contract = self.text if self.type == "fund" else ""
        return {"time": self.time_ms / 1000, "change": dstr(self.change), "balance": dstr(self.balance),
                "type": self.type, "text": f"{contract}:funding" if contract else self.text, "contract": contract,
                "trade_id": "", "id": str(row_id)}


@dataclass(slots=True, eq=False)
class VenueTrigger:
    """A price-triggered order (Gate `price_orders`): places `initial` once `trigger` is met."""

    id: int
    user: int
    contract: str
    size: Decimal  # signed; 0 with close=True
    price: Decimal  # order price, 0 = market (tif ioc)
    tif: str
    text: str
    reduce_only: bool
    close: bool
    trigger_price: Decimal
    rule: int  # 1: fire when price >= trigger_price, 2: when price <= trigger_price
    price_type: int  # 0 last, 1 mark, 2 index (the venue uses the mark as index)
    expiration_s: int  # 0 = never
    create_ms: int
    status: str = "open"  # open | finished
    finish_as: str = ""  # cancelled | succeeded | failed | expired
    finish_ms: int = 0
    reason: str = ""
    order_id: int = 0  # the order placed when it fired

    def snapshot(self) -> VenueTrigger:
        return VenueTrigger(
            self.id, self.user, self.contract, self.size, self.price, self.tif, self.text, self.reduce_only,
            self.close, self.trigger_price, self.rule, self.price_type, self.expiration_s, self.create_ms,
            self.status, self.finish_as, self.finish_ms, self.reason, self.order_id,
        )  # fmt: skip

    def to_gate(self) -> dict[str, Any]:
        return {
            "initial": {
                "contract": self.contract,
                "size": dstr(self.size),
                "price": dstr(self.price),
                "close": self.close,
                "tif": self.tif,
                "text": self.text,
                "reduce_only": self.reduce_only,
                "auto_size": "",
                "is_reduce_only": self.reduce_only,
                "is_close": self.close,
            },
            "trigger": {
                "strategy_type": 0,
                "price_type": self.price_type,
                "price": dstr(self.trigger_price),
                "rule": self.rule,
                "expiration": self.expiration_s,
            },
            "id": self.id,
            "id_string": str(self.id),
            "user": self.user,
            "create_time": _secs(self.create_ms),
            "finish_time": _secs(self.finish_ms) if self.finish_ms else 0,
            "trade_id": self.order_id,
            "status": self.status,
            "finish_as": self.finish_as,
            "reason": self.reason,
            "order_type": "",
            "me_order_id": self.order_id,
        }


@dataclass(slots=True)
class Liquidation:
    """A forced close (`futures.liquidates`)."""

    user: int
    contract: str
    size: Decimal  # position size that was closed (signed, the position's sign)
    entry_price: Decimal
    liq_price: Decimal
    mark_price: Decimal
    margin: Decimal
    leverage: Decimal
    order_id: int
    time_ms: int

    def to_gate(self) -> dict[str, Any]:
        return {
            "entry_price": dstr(self.entry_price),
            "fill_price": dstr(self.liq_price),
            "left": "0",
            "leverage": dstr(self.leverage),
            "liq_price": dstr(self.liq_price),
            "margin": dstr(self.margin),
            "mark_price": dstr(self.mark_price),
            "order_id": self.order_id,
            "order_price": dstr(self.liq_price),
            "size": dstr(self.size),
            "time": self.time_ms // 1000,
            "time_ms": self.time_ms,
            "contract": self.contract,
            "user": str(self.user),
        }


# event kinds -> Gate private channel they belong to
CHANNEL_OF: dict[str, str] = {
    "order": "futures.orders",
    "usertrade": "futures.usertrades",
    "position": "futures.positions",
    "balance": "futures.balances",
    "autoorder": "futures.autoorders",
    "liquidate": "futures.liquidates",
}


@dataclass(slots=True)
class VenueEvent:
    """One private-channel push: `kind` in CHANNEL_OF, `data` a snapshot object with `to_gate()`."""

    kind: str
    ts_ms: int
    data: VenueOrder | VenueTrade | VenuePosition | BalanceChange | VenueTrigger | Liquidation

    @property
    def channel(self) -> str:
        return CHANNEL_OF[self.kind]

    @property
    def contract(self) -> str | None:
        return getattr(self.data, "contract", None)

    def to_gate(self) -> dict[str, Any]:
        return self.data.to_gate()
