"""`fast_frozen_init`: the faster `__init__` of the hot frozen dataclasses behaves like the generated one."""

from __future__ import annotations

import copy
import dataclasses
import gc
import inspect
import pickle
from decimal import Decimal

import pytest
from msgspec import structs

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import OrderStatus, Side
from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.events import OrderFilled, OrderUpdated, PositionChanged
from cashup_tui.domain.orders import Fill, Order, OrderEvent, OrderEventKind, fast_frozen_init
from cashup_tui.engine.order_manager import SubmitResult


def _pair():
    def make():
        @dataclasses.dataclass(frozen=True, slots=True)
        class Thing:
            a: int
            b: str = "x"
            c: frozenset[str] = dataclasses.field(default_factory=frozenset)
            d: list[int] = dataclasses.field(default_factory=list)

            def __post_init__(self) -> None:
                if self.a < 0:
                    raise ValueError("a < 0")

        return Thing

    return make(), fast_frozen_init(make())


def test_same_signature_values_and_errors_as_the_generated_init():
    plain, fast = _pair()
    assert fast.__init__ is not plain.__init__
    assert str(inspect.signature(fast)) == str(inspect.signature(plain))
    for args, kw in [((1,), {}), ((2, "y"), {}), ((3,), {"c": frozenset({"k"})}), ((), {"a": 4, "d": [1]})]:
        p, f = plain(*args, **kw), fast(*args, **kw)
        assert dataclasses.astuple(p) == dataclasses.astuple(f)
        assert repr(p).split("(", 1)[1] == repr(f).split("(", 1)[1]
    assert fast(1).d is not fast(1).d  # a fresh default per instance, as the factory gives
    for bad_args, bad_kw in [((), {}), ((1, "y", frozenset(), [], 5), {}), ((1,), {"zz": 1}), ((1,), {"a": 2})]:
        with pytest.raises(TypeError) as e_plain:
            plain(*bad_args, **bad_kw)
        with pytest.raises(TypeError) as e_fast:
            fast(*bad_args, **bad_kw)
        assert str(e_plain.value) == str(e_fast.value)
    with pytest.raises(ValueError, match="a < 0"):
        fast(-1)
    t = fast(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.a = 2  # type: ignore[misc]
    assert dataclasses.replace(t, b="z") == fast(1, "z")


def test_the_hot_classes_use_it_and_keep_their_rules():
    for cls in (OrderUpdated, OrderFilled, PositionChanged, Balance, SubmitResult):
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
        assert "_set0" in cls.__init__.__code__.co_names, cls  # the descriptor-setting init is installed
    o = Order("t-1", "BTC_USDT", Side.BUY, Decimal(1))
    u = OrderUpdated(1, o, "submitted")
    assert (u.ts_ms, u.order, u.event) == (1, o, "submitted")
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.ts_ms = 2  # type: ignore[misc]


def test_order_fill_and_event_are_immutable_values():
    """Order, Fill and OrderEvent are frozen msgspec Structs: the rules the dataclasses had still hold."""
    o = Order("t-1", "BTC_USDT", Side.BUY, Decimal(1))
    assert o.trade_ids == frozenset() and o.price is None and o.filled == 0 and o.status is OrderStatus.NEW
    assert o == Order(client_id="t-1", symbol="BTC_USDT", side=Side.BUY, size=Decimal(1))  # keywords too
    assert pickle.loads(pickle.dumps(o)) == o and hash(o) == hash(Order("t-1", "BTC_USDT", Side.BUY, Decimal(1)))
    assert copy.deepcopy(o) == o and o != structs.replace(o, size=Decimal(2))
    assert repr(o).startswith("Order(client_id='t-1', symbol='BTC_USDT', side=<Side.BUY: 'buy'>")
    with pytest.raises(AttributeError):
        o.size = Decimal(2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Order("t-1", "BTC_USDT", Side.BUY)  # type: ignore[call-arg]  # size is required
    with pytest.raises(ValidationError, match="size 0 must be > 0"):  # Fill's __post_init__ runs
        Fill("1", "t-1", "BTC_USDT", Side.BUY, Decimal(0), Decimal(1))
    f = Fill("1", "t-1", "BTC_USDT", Side.BUY, Decimal(1), Decimal(1))
    with pytest.raises(ValidationError, match="price -1 must be > 0"):  # ... and on replace
        structs.replace(f, price=Decimal(-1))
    ev = OrderEvent(OrderEventKind.FILLED, 5, fill=f)
    assert ev.reason == "" and ev.fill is f and ev.venue_order_id is None
    assert not any(gc.is_tracked(x) for x in (o, f, ev))  # no cycles possible: the collector skips them
def test_classes_it_cannot_cover_keep_the_generated_init():
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class NoInit:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    for cls in (NoSlots, NotFrozen, NoInit):
        before = cls.__init__
        assert fast_frozen_init(cls).__init__ is before
