"""Orders as an explicit state machine.

`transition(order, event) -> Order` is the only way an order changes. Moves that the
table does not list raise `InvalidTransition`; a fill that races a cancel is allowed;
fills are de-duplicated by venue trade id and can never exceed the order size.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from cashup_tui.domain.enums import Liquidity, OrderStatus, OrderType, Side, TimeInForce, members_of
from cashup_tui.domain.errors import DuplicateFill, InvalidTransition, OverfillError, ValidationError
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId

ZERO = Decimal(0)
STATUS = members_of(OrderStatus)  # plain-attribute reads of the members: see members_of


class Fill(msgspec.Struct, frozen=True, gc=False):
    """One execution. `size` is absolute contracts; `fee` > 0 is paid, < 0 is a rebate.

    Fill, OrderEvent and Order are frozen msgspec Structs rather than frozen dataclasses: the same
    immutable values (equality, hashing, pickling, keyword or positional construction, `__post_init__`
    checks; `msgspec.structs.replace` instead of `dataclasses.replace`), built in C about ten times
    faster. Every order of a backtest builds seven of them. They hold no containers that could form a
    reference cycle, so the cyclic garbage collector does not track them (`gc=False`)."""

    trade_id: str
    client_id: ClientOrderId
    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    fee: Decimal = ZERO
    ts_ms: int = 0
    venue_order_id: VenueOrderId | None = None
    liquidity: Liquidity = Liquidity.TAKER

    def __post_init__(self) -> None:
        if not (self.size.is_finite() and self.size > 0):
            raise ValidationError(f"fill {self.trade_id}: size {self.size} must be > 0")
        if not (self.price.is_finite() and self.price > 0):
            raise ValidationError(f"fill {self.trade_id}: price {self.price} must be > 0")


class OrderEventKind(StrEnum):
    SUBMITTED = "submitted"  # written ahead, about to be sent
    ACCEPTED = "accepted"  # the venue acknowledged it (venue id known)
    REJECTED = "rejected"  # denied locally or proven not accepted by the venue
    FILLED = "filled"  # one fill (partial or final)
    CANCEL_REQUESTED = "cancel_requested"
    CANCEL_REJECTED = "cancel_rejected"  # the cancel failed; the order still works
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    AMENDED = "amended"
    IN_DOUBT = "in_doubt"  # timeout / dropped connection / 5xx: outcome unknown


EVENT_KIND = members_of(OrderEventKind)


class OrderEvent(msgspec.Struct, frozen=True, gc=False):
    kind: OrderEventKind
    ts_ms: int
    venue_order_id: VenueOrderId | None = None
    fill: Fill | None = None
    reason: str = ""
    new_price: Decimal | None = None
    new_size: Decimal | None = None


# status -> event kinds it accepts. FILLED is handled by `_after_fill` for the target.
TRANSITIONS: dict[OrderStatus, frozenset[OrderEventKind]] = {
    STATUS.NEW: frozenset({EVENT_KIND.SUBMITTED, EVENT_KIND.REJECTED}),
    STATUS.SUBMITTING: frozenset(
        {EVENT_KIND.ACCEPTED, EVENT_KIND.REJECTED, EVENT_KIND.IN_DOUBT, EVENT_KIND.FILLED, EVENT_KIND.CANCEL_REQUESTED, EVENT_KIND.CANCELLED, EVENT_KIND.EXPIRED}
    ),
    STATUS.OPEN: frozenset({EVENT_KIND.ACCEPTED, EVENT_KIND.FILLED, EVENT_KIND.CANCEL_REQUESTED, EVENT_KIND.CANCELLED, EVENT_KIND.EXPIRED, EVENT_KIND.AMENDED, EVENT_KIND.IN_DOUBT}),
    STATUS.PARTIALLY_FILLED: frozenset(
        {EVENT_KIND.ACCEPTED, EVENT_KIND.FILLED, EVENT_KIND.CANCEL_REQUESTED, EVENT_KIND.CANCELLED, EVENT_KIND.EXPIRED, EVENT_KIND.AMENDED, EVENT_KIND.IN_DOUBT}
    ),
    STATUS.CANCEL_REQUESTED: frozenset(
        {EVENT_KIND.ACCEPTED, EVENT_KIND.FILLED, EVENT_KIND.CANCELLED, EVENT_KIND.CANCEL_REJECTED, EVENT_KIND.EXPIRED, EVENT_KIND.IN_DOUBT, EVENT_KIND.CANCEL_REQUESTED}
    ),
    STATUS.UNKNOWN: frozenset(
        {EVENT_KIND.ACCEPTED, EVENT_KIND.FILLED, EVENT_KIND.CANCELLED, EVENT_KIND.REJECTED, EVENT_KIND.EXPIRED, EVENT_KIND.CANCEL_REQUESTED, EVENT_KIND.IN_DOUBT}
    ),
    STATUS.FILLED: frozenset(),
    STATUS.CANCELLED: frozenset({EVENT_KIND.FILLED}),  # a fill that raced the cancel
    STATUS.EXPIRED: frozenset({EVENT_KIND.FILLED}),  # a late fill of an IOC/FOK remainder report
    STATUS.REJECTED: frozenset(),
}


class Order(msgspec.Struct, frozen=True, gc=False):
    client_id: ClientOrderId
    symbol: str
    side: Side
    size: Decimal  # absolute contracts
    order_type: OrderType = OrderType.LIMIT
    price: Decimal | None = None  # None for market orders
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    trigger_price: Decimal | None = None
    status: OrderStatus = STATUS.NEW
    filled: Decimal = ZERO
    avg_fill_price: Decimal = ZERO
    fees: Decimal = ZERO
    venue_order_id: VenueOrderId | None = None
    created_ms: int = 0
    updated_ms: int = 0
    strategy: str = ""
    reason: str = ""
    trade_ids: frozenset[str] = frozenset()

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    @property
    def signed_size(self) -> Decimal:
        return self.size * self.side.sign

    @property
    def is_open(self) -> bool:
        return self.status.is_working

    @property
    def unconfirmed(self) -> bool:
        """Shown as UNCONFIRMED: sent (or maybe sent) but the venue has not answered."""
        return self.status in (STATUS.SUBMITTING, STATUS.UNKNOWN)


_ORDER_FIELDS = ("client_id", "symbol", "side", "size", "order_type", "price", "tif", "reduce_only", "trigger_price",
                 "status", "filled", "avg_fill_price", "fees", "venue_order_id", "created_ms", "updated_ms", "strategy",
                 "reason", "trade_ids")
if Order.__struct_fields__ != _ORDER_FIELDS:  # pragma: no cover - guards `_moved` below
    raise RuntimeError("Order's fields changed: update _ORDER_FIELDS and _moved")


def _moved(o: Order, status: OrderStatus, updated_ms: int, venue_order_id: VenueOrderId | None,
           reason: str | None = None) -> Order:
    """`replace(o, status=..., updated_ms=..., venue_order_id=..., [reason=...])` with the positional
    constructor (the same new Order without the keyword handling; a backtest makes two per order)."""
    return Order(o.client_id, o.symbol, o.side, o.size, o.order_type, o.price, o.tif, o.reduce_only,
                 o.trigger_price, status, o.filled, o.avg_fill_price, o.fees, venue_order_id, o.created_ms,
                 updated_ms, o.strategy, o.reason if reason is None else reason, o.trade_ids)


def can_transition(status: OrderStatus, kind: OrderEventKind) -> bool:
    return kind in TRANSITIONS[status]


def transition(order: Order, event: OrderEvent) -> Order:
    """Apply one event; return the new order or raise InvalidTransition / DuplicateFill / OverfillError."""
    if event.kind not in TRANSITIONS[order.status]:  # == not can_transition(...)
        raise InvalidTransition(
            f"order {order.client_id}: event {event.kind.value} is not allowed in state {order.status.value}"
        )
    venue_id = event.venue_order_id or order.venue_order_id
    updated = order.updated_ms if order.updated_ms >= event.ts_ms else event.ts_ms  # == max(), as max() picks
    kind = event.kind
    if kind is EVENT_KIND.FILLED:
        return _apply_fill(order, event, updated, venue_id)
    if kind is EVENT_KIND.SUBMITTED:
        return _moved(order, STATUS.SUBMITTING, updated, venue_id)
    if kind is EVENT_KIND.ACCEPTED:
        if order.status in (STATUS.SUBMITTING, STATUS.UNKNOWN):
            status = STATUS.PARTIALLY_FILLED if order.filled > 0 else STATUS.OPEN
        else:  # duplicate/late ack: keep the state we already know
            status = order.status
        return _moved(order, status, updated, venue_id)
    if kind is EVENT_KIND.REJECTED:
        return _moved(order, STATUS.REJECTED, updated, venue_id, event.reason or order.reason)
    if kind is EVENT_KIND.CANCEL_REQUESTED:
        return _moved(order, STATUS.CANCEL_REQUESTED, updated, venue_id)
    if kind is EVENT_KIND.CANCEL_REJECTED:
        status = STATUS.PARTIALLY_FILLED if order.filled > 0 else STATUS.OPEN
        return _moved(order, status, updated, venue_id, event.reason or order.reason)
    if kind is EVENT_KIND.CANCELLED:
        return _moved(order, STATUS.CANCELLED, updated, venue_id, event.reason or order.reason)
    if kind is EVENT_KIND.EXPIRED:
        return _moved(order, STATUS.EXPIRED, updated, venue_id, event.reason or order.reason)
    if kind is EVENT_KIND.IN_DOUBT:
        return _moved(order, STATUS.UNKNOWN, updated, venue_id, event.reason or order.reason)
    if kind is EVENT_KIND.AMENDED:
        new_size = event.new_size if event.new_size is not None else order.size
        if new_size < order.filled or new_size <= 0:
            raise InvalidTransition(f"order {order.client_id}: amend size {new_size} below filled {order.filled}")
        new_price = event.new_price if event.new_price is not None else order.price
        status = STATUS.FILLED if new_size == order.filled else order.status
        return msgspec.structs.replace(order, size=new_size, price=new_price, status=status, updated_ms=updated,
                                       venue_order_id=venue_id)
    raise InvalidTransition(f"unhandled event {kind}")  # pragma: no cover - table guards this


def _apply_fill(order: Order, event: OrderEvent, updated: int, venue_id: VenueOrderId | None) -> Order:
    fill = event.fill
    if fill is None:
        raise InvalidTransition(f"order {order.client_id}: fill event without a fill")
    if fill.trade_id in order.trade_ids:
        raise DuplicateFill(f"order {order.client_id}: trade {fill.trade_id} already applied")
    if fill.side is not order.side or fill.symbol != order.symbol:
        raise InvalidTransition(f"order {order.client_id}: fill {fill.trade_id} does not match side/symbol")
    filled = order.filled + fill.size
    if filled > order.size:
        raise OverfillError(
            f"order {order.client_id}: fill {fill.trade_id} of {fill.size} would fill {filled} > size {order.size}"
        )
    prev = order.filled  # the first fill's price is the average, exactly (no 28-digit division)
    avg = fill.price if not prev else (order.avg_fill_price * prev + fill.price * fill.size) / filled
    if filled == order.size:
        status = STATUS.FILLED
    elif order.status in (STATUS.CANCELLED, STATUS.EXPIRED, STATUS.CANCEL_REQUESTED):
        status = order.status  # late partial fill: the cancel/expiry still stands (or is pending)
    else:
        status = STATUS.PARTIALLY_FILLED
    o = order
    return Order(o.client_id, o.symbol, o.side, o.size, o.order_type, o.price, o.tif, o.reduce_only,
                 o.trigger_price, status, filled, avg, o.fees + fill.fee, venue_id, o.created_ms, updated,
                 o.strategy, o.reason, (o.trade_ids | {fill.trade_id}) if o.trade_ids else frozenset((fill.trade_id,)))
