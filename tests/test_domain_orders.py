"""Order state machine: every legal and illegal transition, plus property tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.enums import OrderStatus, Side
from cashup_tui.domain.errors import DuplicateFill, InvalidTransition, OverfillError, ValidationError
from cashup_tui.domain.ids import ClientOrderId, make_client_id, validate_client_id
from cashup_tui.domain.orders import (
    TRANSITIONS,
    Fill,
    Order,
    OrderEvent,
    OrderEventKind,
    transition,
)

K = OrderEventKind
S = OrderStatus
CID = ClientOrderId("t-test-1")


def order(status: S = S.NEW, size: str = "10", filled: str = "0") -> Order:
    return Order(client_id=CID, symbol="BTC_USDT", side=Side.BUY, size=Decimal(size), price=Decimal("100"),
                 status=status, filled=Decimal(filled))


def fill(n: int, size: str = "1", price: str = "100") -> Fill:
    return Fill(trade_id=f"tr{n}", client_id=CID, symbol="BTC_USDT", side=Side.BUY,
                size=Decimal(size), price=Decimal(price), fee=Decimal("0.01"), ts_ms=n)


def event(kind: K, n: int = 1) -> OrderEvent:
    if kind is K.FILLED:
        return OrderEvent(kind, ts_ms=n, fill=fill(n))
    if kind is K.AMENDED:
        return OrderEvent(kind, ts_ms=n, new_price=Decimal("101"))
    return OrderEvent(kind, ts_ms=n, venue_order_id=None)


EXPECTED_TARGET = {
    K.SUBMITTED: S.SUBMITTING,
    K.REJECTED: S.REJECTED,
    K.CANCEL_REQUESTED: S.CANCEL_REQUESTED,
    K.CANCELLED: S.CANCELLED,
    K.EXPIRED: S.EXPIRED,
    K.IN_DOUBT: S.UNKNOWN,
}


@pytest.mark.parametrize("status,kind", list(itertools.product(list(S), list(K))))
def test_every_transition_pair(status: S, kind: K) -> None:
    filled = "1" if status in (S.PARTIALLY_FILLED,) else "0"
    o = order(status, filled=filled)
    if kind in TRANSITIONS[status]:
        new = transition(o, event(kind, 5))
        if kind in EXPECTED_TARGET:
            assert new.status is EXPECTED_TARGET[kind]
        elif kind is K.FILLED:
            assert new.filled == o.filled + 1
            assert new.status in (S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.CANCEL_REQUESTED)
        elif kind is K.ACCEPTED:
            assert new.status in (S.OPEN, S.PARTIALLY_FILLED, S.CANCEL_REQUESTED)
        elif kind is K.CANCEL_REJECTED:
            assert new.status in (S.OPEN, S.PARTIALLY_FILLED)
        elif kind is K.AMENDED:
            assert new.price == Decimal("101")
    else:
        with pytest.raises(InvalidTransition):
            transition(o, event(kind, 5))


def test_terminal_states_accept_nothing_but_late_fills() -> None:
    assert TRANSITIONS[S.FILLED] == frozenset()
    assert TRANSITIONS[S.REJECTED] == frozenset()
    assert TRANSITIONS[S.CANCELLED] == {K.FILLED}


def test_fill_after_cancel_request_and_after_cancel() -> None:
    o = transition(order(S.OPEN), event(K.CANCEL_REQUESTED))
    o = transition(o, OrderEvent(K.FILLED, 2, fill=fill(2, "4")))
    assert o.status is S.CANCEL_REQUESTED and o.filled == 4
    o = transition(o, event(K.CANCELLED, 3))
    o = transition(o, OrderEvent(K.FILLED, 4, fill=fill(4, "6")))
    assert o.status is S.FILLED and o.filled == 10


def test_duplicate_fill_and_overfill_rejected() -> None:
    o = transition(order(S.OPEN), OrderEvent(K.FILLED, 1, fill=fill(1, "3")))
    with pytest.raises(DuplicateFill):
        transition(o, OrderEvent(K.FILLED, 1, fill=fill(1, "3")))
    with pytest.raises(OverfillError):
        transition(o, OrderEvent(K.FILLED, 2, fill=fill(2, "8")))


def test_average_price_and_fees() -> None:
    o = transition(order(S.OPEN), OrderEvent(K.FILLED, 1, fill=fill(1, "2", "100")))
    o = transition(o, OrderEvent(K.FILLED, 2, fill=fill(2, "8", "105")))
    assert o.status is S.FILLED
    assert o.avg_fill_price == Decimal("104")
    assert o.fees == Decimal("0.02")


def test_unknown_resolves_by_lookup() -> None:
    o = transition(order(S.NEW), event(K.SUBMITTED))
    o = transition(o, event(K.IN_DOUBT))
    assert o.unconfirmed and o.status is S.UNKNOWN
    o = transition(o, OrderEvent(K.ACCEPTED, 3, venue_order_id="299207900263708423"))  # type: ignore[arg-type]
    assert o.status is S.OPEN and o.venue_order_id == "299207900263708423"


@pytest.mark.parametrize("value,ok", [
    ("t-" + "a" * 27, True), ("t-" + "a" * 28, True), ("t-" + "a" * 29, False),
    ("tabc", False), ("t-has space", False), ("t-a/b", False), ("t-", False), ("x-abc", False),
])
def test_client_id_rules(value: str, ok: bool) -> None:
    if ok:
        assert validate_client_id(value) == value
    else:
        with pytest.raises(ValidationError):
            validate_client_id(value)


@given(st.text(max_size=40), st.integers(min_value=0, max_value=10**12))
def test_generated_client_ids_always_valid(prefix: str, counter: int) -> None:
    cid = make_client_id(prefix, counter, session="s1")
    validate_client_id(cid)
    assert cid.rsplit("-", 1)[-1] == np.base_repr(counter, 36).lower()  # the counter is always readable back
    assert make_client_id(prefix, counter + 1, session="s1") != cid


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(K)), st.integers(1, 6), st.integers(0, 3)), max_size=30))
def test_random_event_sequences_never_reach_impossible_states(steps) -> None:
    o = order(S.NEW, size="10")
    n = 0
    for kind, qty, dup in steps:
        n += 1
        if kind is K.FILLED:
            trade = n - dup if dup and n - dup > 0 else n  # sometimes replay an old trade id
            ev = OrderEvent(kind, n, fill=fill(trade, str(qty)))
        elif kind is K.AMENDED:
            ev = OrderEvent(kind, n, new_size=Decimal(10 + qty))
        else:
            ev = event(kind, n)
        try:
            o = transition(o, ev)
        except (InvalidTransition, DuplicateFill, OverfillError):
            continue
        assert Decimal(0) <= o.filled <= o.size
        assert o.status in S
        if o.status is S.FILLED:
            assert o.filled == o.size
        if o.status is S.PARTIALLY_FILLED:
            assert 0 < o.filled < o.size
        if o.status in (S.NEW,):
            assert o.filled == 0
        assert len(o.trade_ids) <= int(o.filled)
