"""Property tests of the shared venue: for random sequences of orders, book moves, marks, funding and
leverage changes, the books always balance and the same inputs always give the same outputs."""

from __future__ import annotations

import random
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashup_tui.domain.instruments import Instrument
from cashup_tui.venue import Venue, VenueError

SYM = "PRP_USDT"
TICK = D("0.5")
START = D(800)
INST = Instrument(
    symbol=SYM,
    quanto_multiplier=D("0.01"),
    price_tick=TICK,
    maintenance_rate=D("0.01"),
    maker_fee_rate=D("-0.00015"),
    taker_fee_rate=D("0.0006"),
    leverage_max=D(50),
    max_size=D(5_000),
)

op_book = st.tuples(st.just("book"), st.integers(-40, 40), st.integers(0, 5), st.integers(1, 300))
op_mark = st.tuples(st.just("mark"), st.integers(-30, 30))
op_place = st.tuples(
    st.just("place"),
    st.booleans(),  # buy?
    st.integers(1, 400),  # size
    st.sampled_from(["market_ioc", "market_fok", "gtc", "ioc", "fok", "poc"]),
    st.integers(-8, 8),  # price offset in ticks from mid
    st.booleans(),  # reduce_only
    st.booleans(),  # close
)
op_cancel = st.tuples(st.just("cancel"), st.integers(0, 5))
op_amend = st.tuples(st.just("amend"), st.integers(0, 5), st.integers(-6, 6), st.integers(1, 400))
op_funding = st.tuples(st.just("funding"), st.integers(-30, 30))
op_leverage = st.tuples(st.just("leverage"), st.integers(1, 50))
op_trade = st.tuples(st.just("trade"), st.integers(-10, 10), st.integers(1, 100))
op_trigger = st.tuples(st.just("trigger"), st.booleans(), st.integers(1, 50), st.integers(-10, 10), st.booleans())
op_deposit = st.tuples(st.just("deposit"), st.integers(-100, 300))
ops = st.lists(
    st.one_of(op_book, op_mark, op_place, op_cancel, op_amend, op_funding, op_leverage, op_trade, op_trigger, op_deposit),
    min_size=5,
    max_size=60,
)


def random_ops(seed: int, n: int) -> list[tuple[Any, ...]]:
    """Long seeded sequences (hypothesis keeps its examples short): same shapes as `ops`."""
    rng = random.Random(seed)
    out: list[tuple[Any, ...]] = []
    for _ in range(n):
        k = rng.choices(
            ["book", "mark", "place", "cancel", "amend", "funding", "leverage", "trade", "trigger", "deposit"],
            weights=[25, 8, 35, 5, 5, 3, 3, 8, 5, 3],
        )[0]
        if k == "book":
            out.append((k, rng.randint(-40, 40), rng.randint(0, 5), rng.randint(1, 300)))
        elif k == "mark":
            out.append((k, rng.randint(-30, 30)))
        elif k == "place":
            how = rng.choice(["market_ioc", "market_fok", "gtc", "gtc", "ioc", "fok", "poc"])
            out.append((k, rng.random() < 0.5, rng.randint(1, 400), how, rng.randint(-8, 8),
                        rng.random() < 0.2, rng.random() < 0.05))  # fmt: skip
        elif k in ("cancel",):
            out.append((k, rng.randint(0, 5)))
        elif k == "amend":
            out.append((k, rng.randint(0, 5), rng.randint(-6, 6), rng.randint(1, 400)))
        elif k == "funding":
            out.append((k, rng.randint(-30, 30)))
        elif k == "leverage":
            out.append((k, rng.randint(1, 50)))
        elif k == "trade":
            out.append((k, rng.randint(-10, 10), rng.randint(1, 100)))
        elif k == "trigger":
            out.append((k, rng.random() < 0.5, rng.randint(1, 50), rng.randint(-10, 10), rng.random() < 0.5))
        else:
            out.append((k, rng.randint(-100, 300)))
    return out


def run(seq: list[tuple[Any, ...]], check: bool) -> list[dict[str, Any]]:
    v = Venue({SYM: INST}, balance=START)
    v.set_leverage(SYM, 10)
    mid = D(1000)
    ts = 1_000
    funding_total = D(0)
    deposits = D(0)
    out: list[dict[str, Any]] = []
    book = [(mid - TICK * (i + 1), D(100)) for i in range(5)], [(mid + TICK * (i + 1), D(100)) for i in range(5)]
    v.update_book(SYM, *book, ts, mark=mid)  # start with liquidity so that early orders trade
    for op in seq:
        ts += 1_000
        before = (v.account(), len(v.my_trades(limit=10**6)), v.open_orders_count())
        try:
            kind = op[0]
            if kind == "book":
                _, move, depth, size = op
                mid = max(mid + TICK * move, D(100))
                bids = [(mid - TICK * (i + 1), D(size)) for i in range(depth)]
                asks = [(mid + TICK * (i + 1), D(size)) for i in range(depth)]
                v.update_book(SYM, bids, asks, ts, mark=mid)
            elif kind == "mark":
                v.update_mark(SYM, max(mid + TICK * op[1], D(50)), ts)
            elif kind == "place":
                _, buy, size, how, off, reduce_only, close = op
                signed = size if buy else -size
                price = D(0) if how.startswith("market") else mid + TICK * off
                tif = {"market_ioc": "ioc", "market_fok": "fok"}.get(how, how)
                if close:
                    v.place(SYM, 0, D(0), tif="ioc", close=True, ts_ms=ts)
                else:
                    v.place(SYM, signed, price, tif=tif, reduce_only=reduce_only, ts_ms=ts)
            elif kind == "cancel":
                opened = list(v.iter_open_orders())
                if opened:
                    v.cancel(opened[op[1] % len(opened)].id, ts_ms=ts)
            elif kind == "amend":
                opened = list(v.iter_open_orders())
                if opened:
                    o = opened[op[1] % len(opened)]
                    new_size = op[3] if o.size > 0 else -op[3]
                    v.amend(o.id, price=o.price + TICK * op[2], size=new_size, ts_ms=ts)
            elif kind == "funding":
                funding_total += v.apply_funding(SYM, D(op[1]) / D(10_000), ts)
            elif kind == "leverage":
                v.set_leverage(SYM, op[1], ts_ms=ts)
            elif kind == "trade":
                v.update_trade(SYM, mid + TICK * op[1], D(op[2]), ts)
            elif kind == "trigger":
                _, buy, size, off, on_mark = op
                trig = mid + TICK * off
                v.place_trigger(SYM, size if buy else -size, 0, trig, rule=1 if off >= 0 else 2,
                                price_type=1 if on_mark else 0, tif="ioc", ts_ms=ts)  # fmt: skip
            elif kind == "deposit":
                amount = D(op[1])
                v.deposit(amount, ts_ms=ts)
                deposits += amount
        except VenueError:
            if check:  # a rejected request changes nothing
                assert (v.account(), len(v.my_trades(limit=10**6)), v.open_orders_count()) == before
        out.extend(e.to_gate() | {"_k": e.kind, "_t": e.ts_ms} for e in v.drain_events())
        if check:
            check_invariants(v, funding_total, deposits)
    return out


def check_invariants(v: Venue, funding_total: D, deposits: D) -> None:
    acc = v.account()
    trades = v.my_trades(limit=10**6)
    realised = sum((t.realised_pnl for t in trades), D(0))
    fees = sum((t.fee for t in trades), D(0))
    eps = D("1e-12")
    # the wallet is exactly what the trades, funding and transfers put there
    assert abs(acc.total - (START + deposits + realised - fees + funding_total)) < eps
    # (averaged entry prices carry 28 significant digits: sums taken in another order may differ at 1e-26)
    assert abs(acc.history_pnl - realised) < eps and abs(acc.history_fund - funding_total) < eps
    # equity = total + unrealised, and available = total - margins
    upnl = sum((p.unrealised_pnl for p in v.positions()), D(0))
    assert acc.unrealised_pnl == upnl
    assert acc.equity == acc.total + upnl
    assert acc.available == acc.total - acc.position_margin - acc.order_margin
    assert acc.position_margin >= 0 and acc.order_margin >= 0
    # position = sum of signed fills
    pos = v.position(SYM)
    assert pos.size == sum((t.size for t in trades), D(0))
    # orders: fills never exceed the size, `left` never changes sign, fills add up
    per_order: dict[int, D] = {}
    for t in trades:
        per_order[t.order_id] = per_order.get(t.order_id, D(0)) + abs(t.size)
    for o in [*v.list_orders(status="open", limit=10**6), *v.list_orders(status="finished", limit=10**6)]:
        assert 0 <= o.filled <= abs(o.size)
        assert o.left == 0 or (o.left > 0) == (o.size > 0)
        assert per_order.get(o.id, D(0)) == o.filled
        if o.is_open:
            assert o.left_abs > 0 and o.tif in ("gtc", "poc")
    if pos.size:
        assert pos.margin > 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_accounting_and_order_invariants_hold_at_every_step(seq: list[tuple[Any, ...]]) -> None:
    run(seq, check=True)


@pytest.mark.parametrize("seed", range(12))
def test_long_random_sessions_keep_the_invariants(seed: int) -> None:
    events = run(random_ops(seed, 400), check=True)
    kinds = {e["_k"] for e in events}
    assert {"order", "usertrade", "position", "balance"} <= kinds


@settings(max_examples=40, deadline=None)
@given(ops)
def test_same_inputs_same_outputs(seq: list[tuple[Any, ...]]) -> None:
    assert run(seq, check=False) == run(seq, check=False)


levels = st.lists(st.tuples(st.integers(1, 30), st.integers(1, 50)), min_size=0, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    asks=levels,
    bids=levels,
    buy=st.booleans(),
    size=st.integers(1, 300),
    limit_ticks=st.one_of(st.none(), st.integers(0, 40)),
    tif=st.sampled_from(["ioc", "fok", "gtc"]),
)
def test_taker_walk_matches_a_reference(
    asks: list[tuple[int, int]], bids: list[tuple[int, int]], buy: bool, size: int, limit_ticks: int | None, tif: str
) -> None:
    """Against an independent walk: fills level by level at each level's price, up to the limit."""
    mid = D(1000)
    ask_book, px = [], mid
    for gap, qty in asks:
        px += TICK * gap
        ask_book.append((px, D(qty)))
    bid_book, px = [], mid
    for gap, qty in bids:
        px -= TICK * gap
        bid_book.append((px, D(qty)))
    v = Venue({SYM: INST}, balance=D(10**9))
    v.update_book(SYM, bid_book, ask_book, 1, mark=mid)
    if limit_ticks is None and tif == "gtc":
        tif = "ioc"
    limit = None if limit_ticks is None else (mid + TICK * limit_ticks if buy else mid - TICK * limit_ticks)
    # reference
    want: list[tuple[D, D]] = []
    left = D(size)
    for p, q in ask_book if buy else bid_book:
        if left == 0 or (limit is not None and (p > limit if buy else p < limit)):
            break
        take = min(q, left)
        want.append((p, take))
        left -= take
    got_qty = sum((q for _, q in want), D(0))
    signed = size if buy else -size
    if tif == "fok" and got_qty < size:
        before = v.account()
        try:
            v.place(SYM, signed, limit or 0, tif="fok")
        except VenueError as exc:
            assert exc.label == "ORDER_FOK"
        else:
            raise AssertionError("FOK should have been refused")
        assert v.account() == before and v.my_trades() == [] and v.list_orders(status="finished") == []
        return
    o = v.place(SYM, signed, limit or 0, tif=tif)
    trades = list(reversed(v.my_trades(limit=100)))
    assert [(t.price, abs(t.size)) for t in trades] == want
    assert all(t.role == "taker" for t in trades)
    assert o.filled == got_qty and o.left_abs == size - got_qty
    if got_qty:
        assert o.fill_price == sum((p * q for p, q in want), D(0)) / got_qty
    assert o.is_open == (tif == "gtc" and got_qty < size)
    assert v.position(SYM).size == (got_qty if buy else -got_qty)
