"""The one Gate `status`/`finish_as` -> OrderStatus rule (REST rows, websocket pushes, the simulated venue)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.order_status import order_status

D = Decimal


@pytest.mark.parametrize(
    ("is_open", "finish_as", "filled", "size", "want"),
    [
        (True, "_new", D(0), D(5), OrderStatus.OPEN),
        (True, "_update", D(2), D(5), OrderStatus.PARTIALLY_FILLED),
        (False, "filled", D(5), D(5), OrderStatus.FILLED),
        (False, "ioc", D(5), D(5), OrderStatus.FILLED),  # a whole fill wins over the reason
        (False, "ioc", D(2), D(5), OrderStatus.EXPIRED),
        (False, "fok", D(0), D(5), OrderStatus.EXPIRED),
        (False, "poc", D(0), D(5), OrderStatus.REJECTED),
        (False, "poc", D(1), D(5), OrderStatus.CANCELLED),
        (False, "cancelled", D(2), D(5), OrderStatus.CANCELLED),
        (False, "liquidated", D(0), D(5), OrderStatus.CANCELLED),
        (False, "reduce_only", D(0), D(5), OrderStatus.CANCELLED),
        (False, "filled", D(0), D(0), OrderStatus.CANCELLED),  # size 0 never counts as filled
    ],
)
def test_order_status(is_open: bool, finish_as: str, filled: Decimal, size: Decimal, want: OrderStatus) -> None:
    assert order_status(is_open, finish_as, filled, size) is want
