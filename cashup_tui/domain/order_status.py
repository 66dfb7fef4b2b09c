"""Gate's order outcome (`status` + `finish_as`) -> our `OrderStatus`: one rule for every reader.

Gate reports an order as `status` "open" | "finished" and, once finished, why in `finish_as`
(filled, cancelled, ioc, poc, liquidated, reduce_only, stp, auto_deleveraged, ...). REST rows, websocket
pushes and the simulated venue all carry these two fields, so they all map through `order_status`.
"""

from __future__ import annotations

from decimal import Decimal

from cashup_tui.domain.enums import OrderStatus

_OPEN, _PARTIAL, _FILLED = OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
_EXPIRED, _REJECTED, _CANCELLED = OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.CANCELLED
ZERO = Decimal(0)  # (a Decimal compared with the int 0 converts the 0 first: every order event comes here)


def order_status(is_open: bool, finish_as: str, filled: Decimal, size: Decimal) -> OrderStatus:
    """Our status of a Gate order: `size` and `filled` are absolute contracts.

    A finished order that filled its whole size is FILLED whatever `finish_as` says; an ioc/fok remainder
    EXPIRED; a post-only order refused before any fill REJECTED; anything else finished (cancelled,
    liquidated, reduce_only, stp, auto_deleveraged, ...) CANCELLED.
    """
    if is_open:
        return _PARTIAL if filled > ZERO else _OPEN
    if filled >= size > ZERO:
        return _FILLED
    if finish_as == "ioc" or finish_as == "fok":
        return _EXPIRED
    if finish_as == "poc" and filled == ZERO:
        return _REJECTED
    return _CANCELLED
