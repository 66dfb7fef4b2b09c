"""The shared simulated venue: matching per order type and tif, fees, margin, liquidation, funding,
triggers, dead-man switch, ids and Gate shapes. Numbers are chosen so that expected values are exact."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.positions import Position
from cashup_tui.venue import ORDER_ID_BASE, Venue, VenueError
from tests.stubs import unit_contract

SYM = "TST_USDT"
MAKER = D("-0.0002")
TAKER = D("0.0005")


def inst(**kw: object) -> Instrument:
    base: dict[str, object] = {
        "symbol": SYM,
        "quanto_multiplier": D("0.1"),
        "price_tick": D("0.1"),
        "maintenance_rate": D("0.005"),
        "maker_fee_rate": MAKER,
        "taker_fee_rate": TAKER,
        "leverage_max": D(100),
        "max_size": D(10_000),
    }
    base.update(kw)
    return Instrument(**base)  # type: ignore[arg-type]


def venue(balance: str = "100000", **kw: object) -> Venue:
    v = Venue({SYM: inst()}, balance=D(balance), **kw)  # type: ignore[arg-type]
    book(v, 1_000)
    return v


def book(v: Venue, ts: int, bid: str = "100", ask: str = "100.1", depth: int = 5, size: str = "10") -> None:
    """A ladder of `depth` levels 0.1 apart on each side, `size` contracts each; mark = mid."""
    b, a = D(bid), D(ask)
    step = D("0.1")
    bids = [(b - step * i, D(size)) for i in range(depth)]
    asks = [(a + step * i, D(size)) for i in range(depth)]
    v.update_book(SYM, bids, asks, ts, mark=(b + a) / 2)


def err(label: str):
    return pytest.raises(VenueError, match=label)


# ---------------------------------------------------------------- taker matching
def test_market_buy_walks_the_book_level_by_level() -> None:
    v = venue()
    o = v.place(SYM, 25, 0, tif="ioc", text="t-m1", ts_ms=1_001)
    assert o.status == "finished" and o.finish_as == "filled" and o.left == 0
    trades = list(reversed(v.my_trades(SYM)))
    assert [(t.price, t.size, t.role) for t in trades] == [
        (D("100.1"), D(10), "taker"),
        (D("100.2"), D(10), "taker"),
        (D("100.3"), D(5), "taker"),
    ]
    assert o.fill_price == (D("100.1") * 10 + D("100.2") * 10 + D("100.3") * 5) / 25
    notional = (D("100.1") * 10 + D("100.2") * 10 + D("100.3") * 5) * D("0.1")
    assert o.fee == notional * TAKER
    assert v.position(SYM).size == 25


def test_market_sell_without_enough_depth_finishes_ioc_with_left() -> None:
    v = venue()
    o = v.place(SYM, -60, "0", tif="ioc")
    assert o.finish_as == "ioc" and o.filled == 50 and o.left == -10
    g = o.to_gate()
    assert g["size"] == "-60" and g["left"] == "-10" and g["status"] == "finished"
    assert v.position(SYM).size == -50


def test_taken_liquidity_is_consumed_until_the_next_book() -> None:
    v = venue()
    v.place(SYM, 10, 0, tif="ioc")
    o2 = v.place(SYM, 10, 0, tif="ioc")
    assert o2.fill_price == D("100.2")  # the first level was used up by the first order
    book(v, 2_000)
    o3 = v.place(SYM, 10, 0, tif="ioc")
    assert o3.fill_price == D("100.1")


def test_market_order_needs_ioc_or_fok() -> None:
    v = venue()
    with err("INVALID_PARAM_VALUE"):
        v.place(SYM, 1, 0, tif="gtc")
    with err("INVALID_PARAM_VALUE"):
        v.place(SYM, 1, 0, tif="poc")


def test_marketable_gtc_limit_takes_to_its_price_then_rests() -> None:
    v = venue()
    o = v.place(SYM, 30, D("100.2"), text="t-lim")
    assert o.status == "open" and o.filled == 20 and o.left == 10
    assert o.fill_price == D("100.15")
    assert [x.id for x in v.list_orders(SYM)] == [o.id]


def test_ioc_limit_fills_what_it_can_and_cancels_the_rest() -> None:
    v = venue()
    o = v.place(SYM, -15, D("99.9"), tif="ioc")
    assert o.filled == 15 and o.finish_as == "filled"
    o = v.place(SYM, -30, D("99.6"), tif="ioc")  # 35 left down to 99.6, 15 consumed already
    assert o.filled == 30 and o.finish_as == "filled"
    o = v.place(SYM, -30, D("99.5"), tif="ioc")
    assert o.filled == 5 and o.finish_as == "ioc" and o.left == -25
    assert v.list_orders(SYM) == []


def test_fok_is_all_or_nothing() -> None:
    v = venue()
    before = v.account()
    with err("ORDER_FOK"):
        v.place(SYM, 51, 0, tif="fok")
    with err("ORDER_FOK"):
        v.place(SYM, 25, D("100.2"), tif="fok")
    assert v.account() == before and v.my_trades() == [] and v.list_orders(status="finished") == []
    o = v.place(SYM, 50, 0, tif="fok")
    assert o.filled == 50 and o.finish_as == "filled"


def test_post_only_rejected_when_it_would_take_and_rests_otherwise() -> None:
    v = venue()
    with err("ORDER_POC_IMMEDIATE"):
        v.place(SYM, 1, D("100.1"), tif="poc")
    with err("ORDER_POC_IMMEDIATE"):
        v.place(SYM, -1, D("100"), tif="poc")
    o = v.place(SYM, 5, D("100"), tif="poc")
    assert o.status == "open" and o.filled == 0
    # the ask comes down to our bid: we fill as maker at our price, earning the rebate
    v.update_book(SYM, [(D("99.9"), D(10))], [(D("100"), D(3)), (D("100.1"), D(10))], 2_000)
    assert o.filled == 3 and o.status == "open"
    t = v.my_trades()[0]
    assert t.role == "maker" and t.price == D("100") and t.fee == D(3) * D("0.1") * D(100) * MAKER
    v.update_book(SYM, [(D("99.8"), D(10))], [(D("99.9"), D(10))], 3_000)
    assert o.finish_as == "filled" and o.fill_price == D("100")  # maker fills at the order price


def test_resting_orders_fill_in_price_then_time_priority() -> None:
    v = venue()
    a = v.place(SYM, 5, D("99.5"))
    b = v.place(SYM, 5, D("99.8"))
    c = v.place(SYM, 5, D("99.8"))
    v.update_book(SYM, [(D("99.0"), D(10))], [(D("99.5"), D(8))], 2_000)
    assert (b.filled, c.filled, a.filled) == (5, 3, 0)


def test_public_trade_through_fills_resting_order() -> None:
    v = venue()
    o = v.place(SYM, 10, D("99.5"))
    v.update_trade(SYM, D("99.5"), D(4), 2_000)  # at our price: queue ahead, no fill
    assert o.filled == 0
    v.update_trade(SYM, D("99.4"), D(4), 2_001)  # through our price
    assert o.filled == 4 and v.my_trades()[0].price == D("99.5") and v.my_trades()[0].role == "maker"


# ---------------------------------------------------------------- reduce-only and close
def test_reduce_only_rules() -> None:
    v = venue()
    with err("REDUCE_ONLY_FAIL"):
        v.place(SYM, -5, 0, tif="ioc", reduce_only=True)
    v.place(SYM, 10, 0, tif="ioc")
    with err("REDUCE_ONLY_FAIL"):
        v.place(SYM, 5, 0, tif="ioc", reduce_only=True)
    o = v.place(SYM, -25, 0, tif="ioc", reduce_only=True)  # trimmed to the position
    assert o.filled == 10 and o.finish_as == "ioc" and v.position(SYM).size == 0


def test_resting_reduce_only_is_cancelled_when_position_goes_flat() -> None:
    v = venue()
    v.place(SYM, 10, 0, tif="ioc")
    ro = v.place(SYM, -10, D("101"), reduce_only=True)
    assert ro.status == "open"
    assert v.account().order_margin == 0  # reduce-only reserves nothing
    v.place(SYM, 0, 0, tif="ioc", close=True)
    assert v.position(SYM).size == 0
    assert ro.status == "finished" and ro.finish_as == "reduce_only"


def test_resting_reduce_only_fill_is_capped_by_the_position() -> None:
    v = venue()
    v.place(SYM, 10, 0, tif="ioc")
    ro = v.place(SYM, -20, D("100.5"), reduce_only=True)
    v.update_book(SYM, [(D("100.6"), D(50))], [(D("100.7"), D(50))], 2_000)
    assert ro.filled == 10 and ro.finish_as == "reduce_only" and v.position(SYM).size == 0


def test_close_position() -> None:
    v = venue()
    with err("POSITION_EMPTY"):
        v.place(SYM, 0, 0, tif="ioc", close=True)
    v.place(SYM, -7, 0, tif="ioc")
    o = v.place(SYM, 0, 0, tif="ioc", close=True)
    assert o.size == 7 and o.is_close and o.is_reduce_only and v.position(SYM).size == 0
    with err("INVALID_PARAM_VALUE"):
        v.place(SYM, 3, 0, tif="ioc", close=True)


# ---------------------------------------------------------------- fees
def test_fee_overrides_flat_bps() -> None:
    v = Venue({SYM: inst()}, balance=D(1000), fee_bps=5)
    book(v, 1)
    o = v.place(SYM, 10, 0, tif="ioc")
    assert o.fee == D(10) * D("0.1") * D("100.1") * D("0.0005")
    assert o.mkfr == o.tkfr == D("0.0005")


def test_fees_and_realised_pnl_reach_the_wallet() -> None:
    v = venue("1000")
    v.place(SYM, 10, 0, tif="ioc")  # buy 10 @ 100.1
    book(v, 2_000, bid="101", ask="101.1")
    v.place(SYM, -10, 0, tif="ioc")  # sell 10 @ 101
    fees = (D("100.1") + D("101")) * 10 * D("0.1") * TAKER
    pnl = (D("101") - D("100.1")) * 10 * D("0.1")
    acc = v.account()
    assert acc.total == D(1000) + pnl - fees
    assert acc.history_fee == fees and acc.history_pnl == pnl
    assert acc.position_margin == 0 and acc.available == acc.total
    assert v.position(SYM).last_close_pnl == pnl - fees


# ---------------------------------------------------------------- margin and leverage
def test_margin_reservation_and_insufficient_available() -> None:
    v = venue("100")
    v.set_leverage(SYM, 10)
    # 50 contracts * 0.1 * 100 = 500 notional -> 50 margin at 10x
    o = v.place(SYM, 50, D("99"))
    acc = v.account()
    assert acc.order_margin == D(50) * D("0.1") * D(99) / 10
    assert acc.available == D(100) - acc.order_margin
    with err("INSUFFICIENT_AVAILABLE"):
        v.place(SYM, 60, D("99"))
    v.cancel(o.id)
    assert v.account().order_margin == 0 and v.account().available == 100


def test_position_margin_is_notional_over_leverage() -> None:
    v = venue("1000")
    v.set_leverage(SYM, 5)
    v.place(SYM, 10, 0, tif="ioc")
    p = v.position(SYM)
    assert p.margin == D(10) * D("0.1") * D("100.1") / 5
    assert p.leverage == 5
    v.place(SYM, -4, 0, tif="ioc")
    assert v.position(SYM).margin == p.margin * 6 / 10  # released pro rata


def test_leverage_limits() -> None:
    v = venue()
    with err("LEVERAGE_TOO_HIGH"):
        v.set_leverage(SYM, 101)
    with err("LEVERAGE_TOO_LOW"):
        v.set_leverage(SYM, D("0.5"))
    assert v.set_leverage(SYM, 0).to_gate()["pos_margin_mode"] == "cross"  # 0 = cross margin (test_venue_leverage.py)
    assert v.set_leverage(SYM, 20).leverage == 20


# ---------------------------------------------------------------- liquidation
def test_liquidation_at_the_isolated_liquidation_price() -> None:
    v = venue("1000")
    v.set_leverage(SYM, 10)
    v.place(SYM, 100, 0, tif="ioc")  # 10 @ 100.1 ... 50 @ 100.5 walks 5 levels: 50 filled
    pos = v.position(SYM)
    entry, margin = pos.entry_price, pos.margin
    expected = Position(SYM, D("0.1"), size=pos.size, entry_price=entry, leverage=D(10)).liquidation_price(
        D("0.005"), margin
    )
    assert pos.liq_price == expected
    # Gate's rule holds exactly at that price: margin + uPnL = maintenance margin
    coins = pos.size * D("0.1")
    assert abs(margin + coins * (expected - entry) - D("0.005") * coins * expected) < D("1e-20")
    resting = v.place(SYM, 5, D("95"))
    total_before = v.account().total
    v.drain_events()
    v.update_mark(SYM, expected + D("0.01"), 5_000)
    assert v.position(SYM).size == pos.size
    v.update_mark(SYM, expected - D("0.01"), 6_000)
    assert v.position(SYM).size == 0
    assert resting.finish_as == "liquidated"
    liq_order = v.list_orders(SYM, "finished")[0]
    assert liq_order.text == "liquidation" and liq_order.is_liq and liq_order.finish_as == "liquidated"
    assert liq_order.fill_price == expected
    assert v.account().total == total_before + coins * (expected - entry)  # no fee on liquidation
    kinds = [e.kind for e in v.drain_events()]
    assert "liquidate" in kinds and "position" in kinds


def test_short_liquidation_when_mark_rises() -> None:
    v = venue("1000")
    v.set_leverage(SYM, 20)
    v.place(SYM, -30, 0, tif="ioc")
    liq = v.position(SYM).liq_price
    assert liq > D("100")
    v.update_mark(SYM, liq, 2_000)
    assert v.position(SYM).size == 0


# ---------------------------------------------------------------- funding
def test_funding_longs_pay_shorts_when_rate_positive() -> None:
    v = venue()
    v.place(SYM, 10, 0, tif="ioc")
    v.update_mark(SYM, D("100"), 2_000)
    paid = v.apply_funding(SYM, D("0.0001"), 2_000)
    assert paid == -D(10) * D("0.1") * D(100) * D("0.0001")
    v.place(SYM, -30, 0, tif="ioc")  # now short 20
    got = v.apply_funding(SYM, D("0.0001"), 3_000)
    assert got == D(20) * D("0.1") * D(100) * D("0.0001") > 0
    third = v.apply_funding(SYM, D("-0.0001"), 4_000)
    assert third < 0  # negative rate: shorts pay longs
    assert v.account().history_fund == paid + got + third
    assert v.account().total == v.account().history_dnw - v.account().history_fee + v.account().history_pnl + paid + got + third


# ---------------------------------------------------------------- dead-man switch
def test_countdown_cancel_all() -> None:
    v = venue()
    o = v.place(SYM, 1, D("99"), ts_ms=10_000)
    assert v.countdown_cancel_all(10, 10_000) == 20_000
    book(v, 19_999)
    assert o.status == "open"
    v.countdown_cancel_all(10, 19_999)  # the keep-alive moves the deadline
    book(v, 25_000)
    assert o.status == "open"
    book(v, 29_999)
    assert o.status == "finished" and o.finish_as == "cancelled"
    o2 = v.place(SYM, 1, D("99"), ts_ms=30_000)
    v.countdown_cancel_all(10, 30_000)
    assert v.countdown_cancel_all(0, 31_000) == 0  # disarmed
    v.advance(100_000)
    assert o2.status == "open"
    with err("INVALID_PARAM_VALUE"):
        v.countdown_cancel_all(3, 100_000)


# ---------------------------------------------------------------- trigger orders
def test_trigger_fires_once_on_mark() -> None:
    v = venue()
    t = v.place_trigger(SYM, 5, 0, D("101"), rule=1, price_type=1, tif="ioc", text="t-stop1")
    v.update_mark(SYM, D("100.9"), 2_000)
    assert t.status == "open"
    book(v, 3_000, bid="101", ask="101.1")  # mark 101.05 >= 101: fires
    assert t.status == "finished" and t.finish_as == "succeeded" and t.order_id
    order = v.get_order(t.order_id)
    assert order.filled == 5 and order.text == "t-stop1"
    book(v, 4_000, bid="102", ask="102.1")
    assert len(v.my_trades()) == 1
    g = t.to_gate()
    assert g["trigger"]["rule"] == 1 and g["initial"]["size"] == "5" and g["trade_id"] == t.order_id


def test_trigger_on_last_price_stop_loss_and_failure_and_expiry() -> None:
    v = venue()
    v.place(SYM, 10, 0, tif="ioc")
    sl = v.place_trigger(SYM, 0, 0, D("99"), rule=2, price_type=0, tif="ioc", close=True)
    bad = v.place_trigger(SYM, 5, 0, D("99.5"), rule=2, price_type=0, tif="ioc", reduce_only=True)
    exp = v.place_trigger(SYM, 1, D("90"), D("50"), rule=2, expiration_s=60, ts_ms=1_000)
    v.update_last(SYM, D("99.4"), 2_000)
    assert bad.finish_as == "failed" and "REDUCE_ONLY_FAIL" in bad.reason
    v.update_trade(SYM, D("98.9"), D(1), 3_000)
    assert sl.finish_as == "succeeded" and v.position(SYM).size == 0
    v.advance(61_000)
    assert exp.finish_as == "expired"
    assert v.list_triggers(status="open") == []
    with err("ORDER_NOT_FOUND"):
        v.cancel_trigger(sl.id)


def test_trigger_cancel() -> None:
    v = venue()
    t = v.place_trigger(SYM, 1, D("99"), D("98"), rule=2)
    assert v.list_triggers(SYM) == [t]
    v.cancel_trigger(str(t.id))
    assert t.finish_as == "cancelled"
    v.update_mark(SYM, D("97"), 5_000)
    assert v.my_trades() == []


# ---------------------------------------------------------------- ids, lookups, cancel, amend
def test_ids_are_big_ints_and_text_lookup_expires_60s_after_finish() -> None:
    v = venue()
    o = v.place(SYM, 1, D("99"), text="t-abc", ts_ms=1_000)
    assert o.id == ORDER_ID_BASE + 1 and o.id > 2**53
    assert v.get_order("t-abc") is o and v.get_order(str(o.id)) is o
    v.cancel("t-abc", ts_ms=2_000)
    v.advance(62_000)
    assert v.get_order("t-abc").finish_as == "cancelled"
    v.advance(62_001)
    with err("ORDER_NOT_FOUND"):
        v.get_order("t-abc")
    assert v.get_order(o.id) is o
    with err("ORDER_NOT_FOUND"):
        v.cancel(o.id)
    assert v.my_trades() == []


def test_cancel_all_by_contract_and_side() -> None:
    v = venue()
    b = v.place(SYM, 1, D("99"))
    s = v.place(SYM, -1, D("102"))
    assert [o.id for o in v.cancel_all(SYM, side="bid")] == [b.id]
    assert s.status == "open"
    assert [o.id for o in v.cancel_all()] == [s.id]
    with err("CONTRACT_NOT_FOUND"):
        v.cancel_all("NOPE_USDT")


def test_amend_price_size_and_cross() -> None:
    v = venue()
    o = v.place(SYM, 10, D("99"))
    v.amend(o.id, size=6)
    assert o.size == 6 and o.left == 6
    v.amend(o.id, price=D("100.2"))  # crosses: takes 100.1 and 100.2 (6 needed)
    assert o.status == "finished" and o.finish_as == "filled" and o.fill_price == D("100.1")
    p = v.place(SYM, -5, D("103"))
    v.amend(p.id, size=-5, price=D("102"))
    assert p.price == D("102")
    with err("INVALID_PARAM_VALUE"):
        v.amend(p.id, size=5)  # side change
    v.amend(p.id, size=-1)
    assert p.size == -1 and p.status == "open"
    v.amend(p.id, price=D("102.5"))
    assert v.list_orders(SYM)[0].price == D("102.5")


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "label"),
    [
        ({"contract": "NOPE_USDT", "size": 1, "price": "100"}, "CONTRACT_NOT_FOUND"),
        ({"contract": SYM, "size": 1, "price": "100.05"}, "INVALID_PARAM_VALUE"),
        ({"contract": SYM, "size": "1.5", "price": "100"}, "INVALID_PARAM_VALUE"),
        ({"contract": SYM, "size": 20_000, "price": "100"}, "SIZE_TOO_LARGE"),
        ({"contract": SYM, "size": 1, "price": "200"}, "PRICE_TOO_DEVIATED"),
        ({"contract": SYM, "size": 1, "price": "-1"}, "INVALID_PARAM_VALUE"),
        ({"contract": SYM, "size": 0, "price": "100"}, "INVALID_PARAM_VALUE"),
        ({"contract": SYM, "size": 1, "price": "abc"}, "INVALID_PARAM_VALUE"),
        ({"contract": SYM, "size": 1, "price": "100", "tif": "day"}, "INVALID_PARAM_VALUE"),
        ({"contract": SYM, "size": 1, "price": "100", "text": "client-1"}, "INVALID_PARAM_VALUE"),
        ({"contract": SYM, "size": 1, "price": "100", "text": "t-" + "x" * 29}, "INVALID_PARAM_VALUE"),
    ],
)
def test_invalid_orders_raise_gate_labels(kwargs: dict, label: str) -> None:
    v = venue()
    with pytest.raises(VenueError) as exc:
        v.place(**kwargs)
    assert exc.value.label == label and exc.value.status in (400, 404)
    assert exc.value.to_gate() == {"label": label, "message": exc.value.message}
    assert v.list_orders() == [] and v.drain_events() == []


def test_size_too_small_on_decimal_contract() -> None:
    v = Venue({SYM: inst(size_step=D("0.01"), min_size=D("0.1"))}, balance=D(1000))
    book(v, 1)
    with err("SIZE_TOO_SMALL"):
        v.place(SYM, D("0.05"), 0, tif="ioc")
    assert v.place(SYM, D("0.25"), 0, tif="ioc").filled == D("0.25")


def test_not_found_is_404() -> None:
    v = venue()
    with pytest.raises(VenueError) as exc:
        v.cancel(ORDER_ID_BASE + 999)
    assert exc.value.status == 404 and exc.value.label == "ORDER_NOT_FOUND"


# ---------------------------------------------------------------- events and shapes
def test_events_cover_private_channels() -> None:
    v = venue()
    v.drain_events()
    v.place(SYM, 10, 0, tif="ioc", text="t-ev")
    evs = v.drain_events()
    kinds = [e.kind for e in evs]
    assert kinds.count("usertrade") == 1 and kinds.count("order") == 1 and kinds.count("position") == 1
    assert "balance" in kinds
    channels = {e.channel for e in evs}
    assert {"futures.orders", "futures.usertrades", "futures.positions", "futures.balances"} <= channels
    order_ev = next(e for e in evs if e.kind == "order").to_gate()
    assert order_ev["status"] == "finished" and order_ev["text"] == "t-ev" and isinstance(order_ev["id"], int)
    assert v.drain_events() == []


def test_order_event_is_a_snapshot() -> None:
    v = venue()
    o = v.place(SYM, 5, D("99"))
    ev = v.drain_events()
    v.cancel(o.id)
    first = next(e for e in ev if e.kind == "order")
    assert first.data.status == "open" and o.status == "finished"


def test_account_and_position_shapes() -> None:
    v = venue("500")
    v.place(SYM, 10, 0, tif="ioc")
    acc = v.account().to_gate()
    for key in ("total", "available", "position_margin", "order_margin", "unrealised_pnl"):
        assert isinstance(acc[key], str)
    assert acc["currency"] == "USDT"
    pos = v.positions()[0].to_gate()
    for key in ("contract", "size", "entry_price", "mark_price", "leverage", "margin", "liq_price",
                "unrealised_pnl", "realised_pnl", "value"):  # fmt: skip
        assert key in pos
    assert v.positions(holding=True)[0].contract == SYM
    trade = v.my_trades()[0].to_gate()
    assert trade["role"] == "taker" and isinstance(trade["id"], int) and trade["order_id"].isdigit()


def test_determinism_same_inputs_same_outputs() -> None:
    def run() -> list[dict]:
        v = venue("2000")
        v.place(SYM, 12, 0, tif="ioc", text="t-a")
        r = v.place(SYM, -5, D("101"), text="t-b")
        book(v, 2_000, bid="100.5", ask="100.6")
        v.amend(r.id, price=D("100.5"))
        v.apply_funding(SYM, D("0.0003"), 3_000)
        v.place_trigger(SYM, -3, 0, D("99"), rule=2, tif="ioc")
        book(v, 4_000, bid="98.8", ask="98.9")
        return [e.to_gate() | {"_kind": e.kind, "_ts": e.ts_ms} for e in v.drain_events()]

    assert run() == run()


# ---------------------------------------------------------------- bar-driven use (event backtest)
def test_update_price_and_all_in_sizing_fits_exactly() -> None:
    """units = cash / (price * (1 + fee)) at leverage 1 must be accepted and leave ~0 available."""
    fine = unit_contract("BAR_USDT", D("0.01"))
    v = Venue({"BAR_USDT": fine}, balance=D(10_000), fee_bps=5, default_leverage=1)
    price = D("26696.37")
    v.update_price("BAR_USDT", price, 60_000)
    units = fine.round_size(D(10_000) / (price * (1 + D("0.0005"))))
    o = v.place("BAR_USDT", units, 0, tif="ioc")
    assert o.finish_as == "filled" and o.fill_price == price and o.fee == units * price * D("0.0005")
    acc = v.account()
    assert D(0) <= acc.available < D("0.0001")
    with err("INSUFFICIENT_AVAILABLE"):
        v.place("BAR_USDT", D("0.001"), 0, tif="ioc")
    # a resting sell above the price fills at its own price once the price trades there
    tp = v.place("BAR_USDT", -units, D("27000"), reduce_only=True)
    v.update_price("BAR_USDT", D("26999.99"), 120_000)
    assert tp.filled == 0
    v.update_price("BAR_USDT", D("27100"), 180_000)
    assert tp.finish_as == "filled" and tp.fill_price == D("27000") and v.position("BAR_USDT").size == 0


def test_liquidation_uses_the_mid_when_no_mark_is_ever_given() -> None:
    v = Venue({SYM: inst()}, balance=D(1000))
    v.update_book(SYM, [(D(100), D(100))], [(D("100.1"), D(100))], 1)
    v.set_leverage(SYM, 50)
    v.place(SYM, 50, 0, tif="ioc")
    liq = v.position(SYM).liq_price
    v.update_book(SYM, [(liq - D("0.1"), D(100))], [(liq, D(100))], 2)
    assert v.position(SYM).size == 0 and v.list_orders(SYM, "finished")[0].text == "liquidation"


# ---------------------------------------------------------------- more edges
def test_flip_long_to_short_books_the_closed_lifecycle() -> None:
    v = venue("5000")
    v.set_leverage(SYM, 10)
    v.place(SYM, 10, 0, tif="ioc")  # long 10 @ 100.1
    book(v, 2_000, bid="101", ask="101.1")
    v.place(SYM, -25, 0, tif="ioc")  # 10 @ 101, 10 @ 100.9, 5 @ 100.8 -> short 15
    p = v.position(SYM)
    assert p.size == -15 and p.entry_price == (D("100.9") * 10 + D("100.8") * 5) / 15
    assert p.margin == (D("100.9") * 10 + D("100.8") * 5) * D("0.1") / 10
    closed_pnl = (D(101) - D("100.1")) * 10 * D("0.1")
    open_fee = D(10) * D("0.1") * D("100.1") * TAKER
    close_fee = D(10) * D("0.1") * D(101) * TAKER
    assert p.last_close_pnl == closed_pnl - open_fee - close_fee
    new_fees = (D("100.9") * 10 + D("100.8") * 5) * D("0.1") * TAKER
    assert p.realised_pnl == -new_fees and p.pnl_pnl == 0  # the new lifecycle starts clean
    trades = v.my_trades(SYM)
    assert [t.close_size for t in reversed(trades)] == [D(0), D(-10), D(0), D(0)]


def test_update_margin_moves_the_liquidation_price() -> None:
    v = venue("1000")
    v.set_leverage(SYM, 20)
    v.place(SYM, 40, 0, tif="ioc")
    p0 = v.position(SYM)
    p1 = v.update_margin(SYM, 5)
    assert p1.margin == p0.margin + 5 and p1.liq_price < p0.liq_price
    assert v.account().available == v.account().total - p1.margin
    with err("REMOVE_TOO_MUCH"):
        v.update_margin(SYM, -6)
    with err("INSUFFICIENT_AVAILABLE"):
        v.update_margin(SYM, 10**6)
    v.place(SYM, 0, 0, tif="ioc", close=True)
    with err("POSITION_EMPTY"):
        v.update_margin(SYM, 1)


def test_deposit_and_withdraw() -> None:
    v = venue("100")
    assert v.deposit(50) == 150
    assert v.deposit(-20) == 130
    with err("INSUFFICIENT_AVAILABLE"):
        v.deposit(-131)
    acc = v.account()
    assert acc.history_dnw == 130 and acc.to_gate()["history"]["dnw"] == "130"


def test_too_many_orders_and_delisting() -> None:
    v = Venue({SYM: inst(orders_limit=2)}, balance=D(10_000))
    book(v, 1)
    v.place(SYM, 1, D(99))
    v.place(SYM, 1, D("99.1"))
    with err("TOO_MANY_ORDERS"):
        v.place(SYM, 1, D("99.2"))
    v.place(SYM, 1, 0, tif="ioc")  # immediate orders do not count against the resting limit
    d = Venue({SYM: inst(in_delisting=True)}, balance=D(10_000))
    book(d, 1)
    with err("CONTRACT_IN_DELISTING"):
        d.place(SYM, 1, 0, tif="ioc")


def test_amend_edge_cases() -> None:
    v = venue("1000")
    o = v.place(SYM, 10, D("99.5"), tif="poc")
    with err("ORDER_POC_IMMEDIATE"):
        v.amend(o.id, price=D("100.1"))
    with err("INSUFFICIENT_AVAILABLE"):
        v.amend(o.id, size=9_000)
    with err("INVALID_PARAM_VALUE"):
        v.amend(o.id)
    v.update_book(SYM, [(D("99.4"), D(10))], [(D("99.5"), D(4))], 2_000)
    assert o.filled == 4
    v.amend(o.id, size=4)  # at the filled size: Gate cancels the rest
    assert o.status == "finished" and o.finish_as == "cancelled"
    with err("ORDER_NOT_FOUND"):
        v.amend(o.id, price=D(99))


def test_amend_keeps_priority_only_when_shrinking() -> None:
    v = venue()
    a = v.place(SYM, 5, D("99.5"))
    b = v.place(SYM, 5, D("99.5"))
    v.amend(a.id, size=4)  # shrink: keeps its place
    v.update_book(SYM, [(D(99), D(10))], [(D("99.5"), D(4))], 2_000)
    assert (a.filled, b.filled) == (4, 0)
    v.cancel(b.id)
    c = v.place(SYM, 5, D("99.4"))
    d = v.place(SYM, 5, D("99.4"))
    v.amend(c.id, size=6)  # grow: goes behind d
    v.update_book(SYM, [(D(99), D(10))], [(D("99.4"), D(5))], 3_000)
    assert (d.filled, c.filled) == (5, 0)


def test_lists_paginate_newest_first() -> None:
    v = venue()
    ids = [v.place(SYM, 1, D(99) - D("0.1") * i).id for i in range(5)]
    assert [o.id for o in v.list_orders(SYM, limit=2)] == ids[::-1][:2]
    assert [o.id for o in v.list_orders(SYM, limit=2, offset=2)] == ids[::-1][2:4]
    v.cancel_all(SYM)
    assert [o.id for o in v.list_orders(SYM, "finished")] == ids[::-1]
    with err("INVALID_PARAM_VALUE"):
        v.list_orders(SYM, "closed")
    m = v.place(SYM, 12, 0, tif="ioc")
    assert {t.order_id for t in v.my_trades(order_id=m.id)} == {m.id}
    assert len(v.my_trades(SYM, limit=1)) == 1


def test_trigger_validation() -> None:
    v = venue()
    with err("INVALID_PARAM_VALUE"):
        v.place_trigger(SYM, 1, 0, D(101), rule=3)
    with err("INVALID_PARAM_VALUE"):
        v.place_trigger(SYM, 1, 0, D(101), rule=1, tif="gtc")  # market trigger needs ioc
    with err("INVALID_PARAM_VALUE"):
        v.place_trigger(SYM, 1, D(100), D("101.05"), rule=1)  # off tick
    with err("INVALID_PARAM_VALUE"):
        v.place_trigger(SYM, 1, D(100), D(101), rule=1, close=True)
    with err("CONTRACT_NOT_FOUND"):
        v.place_trigger("NOPE_USDT", 1, D(100), D(101), rule=1)
    with err("ORDER_NOT_FOUND"):
        v.get_trigger("nope")


def test_decimal_contract_sizes_on_the_wire() -> None:
    v = Venue({SYM: inst(size_step=D("0.001"), min_size=D("0.001"))}, balance=D(1000))
    book(v, 1)
    o = v.place(SYM, D("-1.250"), 0, tif="ioc", text="t-dec")
    g = o.to_gate()
    assert g["size"] == "-1.25" and g["left"] == "0" and g["fill_price"] == "100"
    assert v.position(SYM).to_gate()["size"] == "-1.25"


def test_flip_inside_one_fill() -> None:
    v = venue("5000")
    v.set_leverage(SYM, 10)
    v.update_book(SYM, [(D(100), D(100))], [(D("100.1"), D(100))], 2_000)
    v.place(SYM, 10, 0, tif="ioc")  # long 10 @ 100.1
    v.place(SYM, -25, 0, tif="ioc")  # one fill of 25 @ 100: closes 10, opens short 15
    p = v.position(SYM)
    assert p.size == -15 and p.entry_price == D(100) and p.margin == D(15) * D("0.1") * D(100) / 10
    fees = (D("100.1") * 10 + D(100) * 25) * D("0.1") * TAKER
    assert p.last_close_pnl == (D(100) - D("100.1")) * 10 * D("0.1") - fees
    assert v.my_trades(SYM)[0].close_size == -10
    assert v.account().total == D(5000) + (D(100) - D("100.1")) * 10 * D("0.1") - fees


def test_trigger_already_met_is_refused_like_gate() -> None:
    v = venue()  # mark = last = 100.05
    with err("AUTO_TRIGGER_PRICE_LESS_LAST"):
        v.place_trigger(SYM, 1, 0, D(100), rule=1, tif="ioc")
    with err("AUTO_TRIGGER_PRICE_GREATE_LAST"):
        v.place_trigger(SYM, 1, 0, D("100.1"), rule=2, price_type=1, tif="ioc")
    assert v.list_triggers() == []


def test_history_is_bounded_but_open_orders_are_kept() -> None:
    v = Venue({SYM: inst()}, balance=D(100_000), max_history=5)
    book(v, 1)
    keep = v.place(SYM, 1, D(90))
    first = v.place(SYM, 1, D(91))
    v.cancel(first.id)
    for i in range(40):
        v.cancel(v.place(SYM, 1, D(92), ts_ms=10 + i).id)
        v.place(SYM, 1, 0, tif="ioc", ts_ms=10 + i)
    assert len(v.list_orders(status="finished", limit=1000)) == 5
    assert len(v.my_trades(limit=1000)) == 5
    with err("ORDER_NOT_FOUND"):
        v.get_order(first.id)
    assert v.get_order(keep.id) is keep and keep.is_open


def test_recording_only_the_kinds_a_reader_drains() -> None:
    """record_events=("order", "usertrade"): no position/balance snapshots are built or returned."""
    from cashup_tui.adapters.sim.execution import VenueExecution

    full, lean = venue(), venue(record_events=("order", "usertrade"))
    for v in (full, lean):
        v.drain_events()
        v.place(SYM, 3, tif="ioc", text="t-a")
        v.place(SYM, -3, tif="ioc", text="t-b")
    kinds_full = [e.kind for e in full.drain_events()]
    kinds_lean = [e.kind for e in lean.drain_events()]
    assert {"position", "balance"} <= set(kinds_full)
    assert kinds_lean == [k for k in kinds_full if k in ("order", "usertrade")]
    assert lean.account() == full.account() and lean.position(SYM) == full.position(SYM)
    assert lean.available_balance() == lean.account().available
    with pytest.raises(VenueError, match="unknown kind"):
        Venue({SYM: inst()}, balance=D(1), record_events=("order", "fills"))
    ex = VenueExecution.with_venue({SYM: inst()}, balance=D(1000))
    assert ex.venue._kinds == frozenset(VenueExecution.DRAINED)
    assert VenueExecution.with_venue({SYM: inst()}, record_events=False).venue._record is False
