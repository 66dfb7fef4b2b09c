"""Which of two versions of one order is further along: the rule a stale writer loses by.

Several processes may write the same order row (a `cashup orders cancel` next to a running node,
two reconciliations). A writer whose compare-and-set lost re-reads the row and keeps whichever
version is further along, so a row only ever moves forward: FILLED never goes back to OPEN with
filled 0 (issue 14).

One kind of terminal row is weaker than any state the venue reports: a local write-off (REJECTED
"never reached the venue", CANCELLED "no longer at the venue"), which is our conclusion from a lookup,
not the venue's word. When the venue later shows the order (a placement that landed late), the
reconciler revives it, and that revival must win over the write-off another writer kept.
"""

from __future__ import annotations

from msgspec import structs

from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.orders import Order

_RANK: dict[OrderStatus, float] = {
    OrderStatus.NEW: 0,
    OrderStatus.SUBMITTING: 1,
    OrderStatus.UNKNOWN: 2,  # in doubt: any venue-confirmed state knows more
    OrderStatus.OPEN: 3,
    OrderStatus.PARTIALLY_FILLED: 4,
    OrderStatus.CANCEL_REQUESTED: 5,
}
_WRITTEN_OFF_RANK = 2.5  # above "in doubt", below every state the venue confirmed
_TERMINAL_RANK = 6

NEVER_REACHED = "never reached the venue"
NOT_AT_VENUE = "not at venue"
GONE = "no longer at the venue"
INFERRED = frozenset({NEVER_REACHED, NOT_AT_VENUE, GONE})  # local conclusions, not the venue's word


def written_off(order: Order) -> bool:
    """A terminal state we inferred (a lookup did not find the order), not one the venue reported."""
    return order.status.is_terminal and order.reason in INFERRED


def progress(order: Order) -> tuple[object, ...]:
    """Sort key of how far an order has got: filled amount first (fills never un-happen), then a
    terminal state, then the lifecycle rank."""
    if order.status.is_terminal:
        rank: float = _WRITTEN_OFF_RANK if order.reason in INFERRED else _TERMINAL_RANK
    else:
        rank = _RANK.get(order.status, 0)
    return (order.filled, rank)


def further(stored: Order, ours: Order) -> Order:
    """The version to keep when `ours` is written over `stored`: ours unless stored is further along
    (a tie goes to ours, the later write: an amend or a note). The venue id is never dropped."""
    keep = stored if progress(stored) > progress(ours) else ours
    other = ours if keep is stored else stored
    if keep.venue_order_id is None and other.venue_order_id is not None:
        keep = structs.replace(keep, venue_order_id=other.venue_order_id)
    return keep
