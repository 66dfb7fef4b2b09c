"""The write-ahead statements run straight on SQLite (`store/order_fast.py`) write the same rows, byte for
byte, as the portable SQLAlchemy path (`order_cas.SqlOps`), and keep its claim and compare-and-set rules."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.enums import OrderType, Side, TimeInForce
from cashup_tui.domain.ids import ClientIdTaken
from cashup_tui.domain.orders import Fill, Order, OrderEvent, OrderEventKind, transition
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from cashup_tui.store.order_cas import SQL_OPS
from cashup_tui.store.order_fast import SqliteOrderOps
from tests.campaign import examples

D = Decimal
prices = st.decimals(min_value=D("0.0000001"), max_value=D("1e9"), allow_nan=False, allow_infinity=False, places=7)
sizes = st.integers(min_value=1, max_value=10**6).map(D)


def _journal(path: Path, *, portable: bool) -> StoreJournal:
    j = StoreJournal(open_store(f"sqlite:///{path}"), "testnet", "acct")
    if portable:
        j._ops = SQL_OPS
    assert isinstance(j._order_ops(), type(SQL_OPS) if portable else SqliteOrderOps)
    return j


def _life(j: StoreJournal, o: Order, fill_px: Decimal) -> None:
    """Claim, ack (relaxed commit), a fill, a cancel: every statement of the hot path."""
    ev = OrderEvent(OrderEventKind.SUBMITTED, 10)
    o = j.save_order(transition(o, ev), event=ev)
    ev = OrderEvent(OrderEventKind.ACCEPTED, 11, venue_order_id="900000000000000001")
    o = j.save_order(transition(o, ev), event=ev, relaxed=True)
    f = Fill("tr-1", o.client_id, o.symbol, o.side, D(1), fill_px, D("0.0001"), ts_ms=12, venue_order_id="900000000000000001")
    ev = OrderEvent(OrderEventKind.FILLED, 12, "900000000000000001", f)
    o = j.save_order(transition(o, ev), event=ev)
    ev = OrderEvent(OrderEventKind.CANCELLED, 13, reason="cancelled by user: ünïcode")
    j.save_order(transition(o, ev), event=ev)


def _rows(path: Path) -> tuple[list[tuple], list[tuple]]:
    con = sqlite3.connect(path)
    try:
        orders = con.execute("select * from orders order by id").fetchall()
        cols = [r[1] for r in con.execute("pragma table_info(order_events)")]
        keep = [c for c in cols if c != "recorded_ms"]  # the wall clock at the write
        events = con.execute(f"select {', '.join(keep)} from order_events order by seq").fetchall()
        return orders, events
    finally:
        con.close()


@settings(max_examples=examples(20), deadline=None)
@given(price=prices, size=sizes, reduce_only=st.booleans(), side=st.sampled_from([Side.BUY, Side.SELL]),
       strategy=st.text(max_size=12))
def test_fast_rows_are_the_portable_rows(tmp_path_factory: pytest.TempPathFactory, price: Decimal, size: Decimal,
                                         reduce_only: bool, side: Side, strategy: str) -> None:
    out = []
    for portable in (True, False):
        path = tmp_path_factory.mktemp("fast") / "s.sqlite"
        j = _journal(path, portable=portable)
        o = Order("t-abc-1", "BTC_USDT", side, size + 1, OrderType.LIMIT, price, TimeInForce.GTC, reduce_only,
                  created_ms=5, updated_ms=5, strategy=strategy)
        _life(j, o, price)
        j.store.engine.dispose()
        out.append(_rows(path))
    assert out[0] == out[1]
    assert len(out[1][1]) == 4


def test_fast_claim_refuses_a_taken_id_and_a_stale_writer_loses(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    a, b = _journal(path, portable=False), _journal(path, portable=False)  # two processes on one store
    o = Order("t-abc-2", "BTC_USDT", Side.BUY, D(2), OrderType.LIMIT, D(100), TimeInForce.GTC, created_ms=1)
    ev = OrderEvent(OrderEventKind.SUBMITTED, 1)
    sub = a.save_order(transition(o, ev), event=ev)
    with pytest.raises(ClientIdTaken):
        b.save_order(transition(o, ev), event=ev)
    acc = OrderEvent(OrderEventKind.ACCEPTED, 2, venue_order_id="7")
    opened = transition(sub, acc)
    a.save_order(opened, event=acc)
    done = OrderEvent(OrderEventKind.CANCELLED, 3, reason="x")
    a.save_order(transition(opened, done), event=done)
    # b last saw the claim (version 1): its ack must not move the cancelled row back
    assert b.save_order(opened, event=acc).status.value == "cancelled"
    assert a.get_order(o.client_id).status.value == "cancelled"  # type: ignore[union-attr]
