"""Order manager against an in-memory venue: write-ahead, in-doubt lookup, dedup, reconcile, kill switch."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from msgspec.structs import replace

from cashup_tui.domain.enums import OrderStatus, Side, TradingState
from cashup_tui.domain.errors import OrderRejected, RiskDenied
from cashup_tui.domain.events import OrderDenied, OrderFilled, OrderUpdated
from cashup_tui.domain.orders import EVENT_KIND, Fill, OrderEvent, transition
from cashup_tui.engine.risk import RiskLimits
from tests.engine_fakes import INSTRUMENTS, FakeExecution, feed, make_engine

D = Decimal
S = OrderStatus


async def test_write_ahead_row_exists_in_submitting_before_venue_is_called() -> None:
    e = make_engine()
    seen = []
    real = e.venue.submit

    async def spy(order):
        row = e.journal.get_order(order.client_id)
        seen.append((row.status if row else None, [ev.kind for _, ev in e.journal.events(order.client_id)]))
        return await real(order)

    e.venue.submit = spy  # type: ignore[method-assign]
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    res = await e.om.submit(o)
    assert seen == [(S.SUBMITTING, ["submitted"])]
    assert res.order.status is S.OPEN and res.order.venue_order_id
    await asyncio.sleep(0)  # the ack commits at the next turn of the loop
    assert e.journal.get_order(o.client_id).status is S.OPEN


async def test_a_submits_ack_is_answered_first_then_committed_before_any_other_write() -> None:
    """The ack's journal line commits after the caller has the answer: at the next turn of the loop, or
    first thing when another write of orders or fills comes sooner (the journal keeps the order of events),
    or when the order manager stops."""
    e = make_engine()

    def stored(cid: str) -> tuple[S, list[str]]:
        return e.journal.get_order(cid).status, [ev.kind.value for _, ev in e.journal.events(cid)]

    async def place(price: str):
        return (await e.om.submit(e.om.build("BTC_USDT", "buy", D(1), price=D(price)))).order

    a = await place("49000")
    assert a.status is S.OPEN and e.cache.order(a.client_id) is a
    assert stored(a.client_id) == (S.SUBMITTING, ["submitted"])  # the claim: what a crash here leaves
    await asyncio.sleep(0)
    assert stored(a.client_id) == (S.OPEN, ["submitted", "accepted"])
    b = await place("49000.1")
    await e.om.cancel(b.client_id)
    assert stored(b.client_id) == (S.CANCELLED, ["submitted", "accepted", "cancel_requested", "cancelled"])
    c = await place("49000.2")
    assert e.om.on_fill(Fill("f-c", c.client_id, "BTC_USDT", Side.BUY, D(1), D("49000.2")))
    assert stored(c.client_id) == (S.FILLED, ["submitted", "accepted", "filled"])
    f = await place("49000.4")  # a cancel-all answer journalled in one commit (before the loop turns)
    ev = OrderEvent(EVENT_KIND.CANCELLED, e.clock.now_ms(), reason="cancel-all")
    e.om.reconciler._store_all([(transition(f, ev), ev)])
    assert stored(f.client_id) == (S.CANCELLED, ["submitted", "accepted", "cancelled"])
    d = await place("49000.3")
    await e.om.stop()
    assert stored(d.client_id) == (S.OPEN, ["submitted", "accepted"])


async def test_client_ids_are_unique_and_restart_safe() -> None:
    e = make_engine()
    a, b = e.om.new_client_id(), e.om.new_client_id()
    e2 = make_engine(journal=e.journal, session="s2")
    c = e2.om.new_client_id()
    assert len({a, b, c}) == 3 and all(x.startswith("t-") and len(x) <= 30 for x in (a, b, c))
    e3 = make_engine(journal=e.journal, session="s1")  # same session tag: the persisted counter still moves on
    assert e3.om.new_client_id() not in {a, b, c}


async def test_risk_denial_never_reaches_the_venue() -> None:
    e = make_engine(limits=RiskLimits(max_order_notional=D(10), duplicate_window_ms=0))
    denials = []
    e.bus.subscribe(OrderDenied, denials.append)
    o = e.om.build("BTC_USDT", "buy", D(100), price=D(50000))
    with pytest.raises(RiskDenied) as info:
        await e.om.submit(o)
    assert info.value.rule == "max_order_notional"
    assert e.venue.submit_calls == [] and e.journal.get_order(o.client_id) is None
    assert denials and denials[0].rule == "max_order_notional"


@pytest.mark.parametrize("fault", ["timeout_placed", "5xx_placed"])
async def test_in_doubt_placed_is_resolved_by_lookup_with_one_order_at_venue(fault: str) -> None:
    e = make_engine()
    e.venue.fail_next_submit = fault
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    res = await e.om.submit(o)
    assert res.order.status is S.OPEN and res.order.venue_order_id == e.venue.orders[o.client_id].venue_order_id
    assert e.venue.submit_calls == [o.client_id]  # never sent twice
    kinds = [ev.kind for _, ev in e.journal.events(o.client_id)]
    assert kinds[:3] == ["submitted", "in_doubt", "accepted"]
    # submitting the same intent again reports the existing order
    again = await e.om.submit(o)
    assert again.existed and e.venue.submit_calls == [o.client_id] and len(e.venue.orders) == 1


async def test_in_doubt_placed_and_filled_brings_the_fill() -> None:
    e = make_engine()
    e.venue.fail_next_submit = "timeout_placed"
    e.venue.fetch_fail = 1  # the first lookup also fails
    o = e.om.build("BTC_USDT", "buy", D(10), order_type="market")
    res = await e.om.submit(o)
    assert res.order.status is S.FILLED and res.order.filled == D(10)
    assert e.portfolio.positions["BTC_USDT"].size == D(10)


async def test_in_doubt_not_placed_stays_unknown_then_reconcile_rejects_it() -> None:
    e = make_engine()
    e.venue.fail_next_submit = "timeout_not_placed"
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    res = await e.om.submit(o)
    assert res.order.status is S.UNKNOWN and res.order.unconfirmed
    assert e.venue.orders == {}
    # not found, but the request could still land until its X-Gate-Exptime (+ clock margin): still UNKNOWN
    assert await e.om.reconcile() == [] and e.cache.order(o.client_id).status is S.UNKNOWN
    e.clock.advance(e.om.reconciler.deadline_ms(e.cache.order(o.client_id)) - e.clock.now_ms() + 1)
    changes = await e.om.reconcile()
    assert e.cache.order(o.client_id).status is S.REJECTED
    assert any(o.client_id in c for c in changes)
    assert e.venue.submit_calls == [o.client_id] and e.venue.orders == {}
    assert await e.om.reconcile() == []


async def test_definitive_reject() -> None:
    e = make_engine()
    e.venue.fail_next_submit = "reject"
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    with pytest.raises(OrderRejected):
        await e.om.submit(o)
    assert e.journal.get_order(o.client_id).status is S.REJECTED


async def test_duplicate_fill_via_ws_and_rest_applied_once() -> None:
    e = make_engine()
    e.venue.fill_on_submit = False
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    await e.om.submit(o)
    f = e.venue.fill_resting(o.client_id, D(4))
    fills = []
    e.bus.subscribe(OrderFilled, fills.append)
    await e.om.handle_event(OrderFilled(f.ts_ms, f))  # websocket
    await e.om.handle_event(OrderFilled(f.ts_ms, f))  # websocket duplicate
    assert await e.om.sync_fills("BTC_USDT", since_ms=0) == 0  # REST brings the same trade
    assert len(fills) == 1 and len(e.journal.fills) == 1
    assert e.portfolio.positions["BTC_USDT"].size == D(4)
    assert e.cache.order(o.client_id).status is S.PARTIALLY_FILLED


async def test_fill_after_cancel_is_applied() -> None:
    e = make_engine()
    e.venue.fill_on_submit = False
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    await e.om.submit(o)
    late = e.venue.fill_resting(o.client_id, D(3))  # fills at the venue...
    cancelled = await e.om.cancel(o.client_id)  # ...while we cancel (venue answers cancelled)
    assert cancelled.status is S.CANCELLED
    e.om.on_fill(late)  # the WS copy of the fill the cancel reply already brought in
    assert len(e.journal.fills) == 1
    final = e.cache.order(o.client_id)
    assert final.status is S.CANCELLED and final.filled == D(3)
    assert e.portfolio.positions["BTC_USDT"].size == D(3)


async def test_order_stream_updates_and_adoption() -> None:
    e = make_engine()
    e.venue.fill_on_submit = False
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    await e.om.submit(o)
    v = replace(e.venue.orders[o.client_id], status=S.CANCELLED, reason="cancelled on the web UI")
    await e.om.handle_event(OrderUpdated(1, v, "update"))
    assert e.cache.order(o.client_id).status is S.CANCELLED
    ext = e.venue.place(e.om.build("ETH_USDT", "sell", D(1), price=D(3100), client_id="t-web1"))
    await e.om.handle_event(OrderUpdated(2, ext, "update"))
    assert e.cache.order("t-web1").strategy == "external"


async def test_amend_and_cancel_all_and_close_position() -> None:
    e = make_engine()
    e.venue.fill_on_submit = False
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    await e.om.submit(o)
    am = await e.om.amend(o.client_id, price=D("49500.0"), size=D(12))
    assert (am.price, am.size) == (D("49500.0"), D(12))
    with pytest.raises(RiskDenied):
        await e.om.amend(o.client_id, price=D("49500.05"))
    o2 = e.om.build("ETH_USDT", "sell", D(1), price=D(3100))
    await e.om.submit(o2)
    done = await e.om.cancel_all()
    assert {x.client_id for x in done} == {o.client_id, o2.client_id}
    assert all(x.status is S.CANCELLED for x in done)
    e.venue.fill_on_submit = True
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(5), order_type="market"))
    closed = await e.om.close_position("BTC_USDT")
    assert closed is not None and closed.reduce_only and closed.status is S.FILLED
    assert e.portfolio.positions["BTC_USDT"].is_flat and e.venue.pos["BTC_USDT"].is_flat


async def test_order_types_pass_through() -> None:
    e = make_engine()
    for kw in ({"post_only": True, "price": D(49000)}, {"tif": "ioc", "price": D(49000)},
               {"tif": "fok", "price": D(49000)}):
        o = e.om.build("BTC_USDT", "buy", D(1), **kw)
        await e.om.submit(o)
        e.clock.advance(1000)
        feed(e.cache, e.portfolio, e.clock, e.venue.price)
    assert [e.venue.orders[c].tif.value for c in e.venue.submit_calls] == ["poc", "ioc", "fok"]


async def test_emulated_stop_and_take_profit_fire_on_mark() -> None:
    e = make_engine()
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
    stop = e.om.build("BTC_USDT", "sell", D(10), order_type="stop_market", trigger_price=D(49000), reduce_only=True)
    await e.om.submit(stop)
    assert e.cache.order(stop.client_id).status is S.OPEN and stop.client_id not in e.venue.submit_calls
    assert await e.om.on_mark("BTC_USDT", D(49500)) == []
    e.venue.price["BTC_USDT"] = D(48900)
    fired = await e.om.on_mark("BTC_USDT", D(48900))
    assert len(fired) == 1 and fired[0].status is S.FILLED and fired[0].reduce_only
    assert e.cache.order(stop.client_id).status is S.CANCELLED
    assert "triggered" in e.cache.order(stop.client_id).reason
    assert e.portfolio.positions["BTC_USDT"].is_flat


async def test_trailing_stop_follows_the_high() -> None:
    e = make_engine()
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
    trail = e.om.build("BTC_USDT", "sell", D(10), order_type="trailing_stop", trigger_price=D(500), reduce_only=True)
    await e.om.submit(trail)
    for px in (50500, 51000, 50600):
        assert await e.om.on_mark("BTC_USDT", D(px)) == []
    e.venue.price["BTC_USDT"] = D(50500)
    fired = await e.om.on_mark("BTC_USDT", D(50500))  # 500 below the 51000 high
    assert len(fired) == 1 and e.portfolio.positions["BTC_USDT"].is_flat


async def test_bracket_arms_exits_on_fill_and_one_cancels_the_other() -> None:
    e = make_engine()
    entry = e.om.build("BTC_USDT", "buy", D(10), order_type="market")
    await e.om.bracket(entry, stop_price=D(49000), take_profit_price=D(51000))
    await e.om.idle()
    legs = [o for o in e.cache.open_orders() if o.reduce_only]
    assert sorted(o.order_type.value for o in legs) == ["stop_market", "take_profit"]
    assert all(o.size == D(10) and o.side is Side.SELL for o in legs)
    e.venue.price["BTC_USDT"] = D(51000)
    fired = await e.om.on_mark("BTC_USDT", D(51000))
    await e.om.idle()
    assert len(fired) == 1
    assert e.cache.open_orders() == []
    assert e.portfolio.positions["BTC_USDT"].is_flat


async def test_reconcile_idempotent_and_adopts_venue_state() -> None:
    e = make_engine(reconciled=False)
    with pytest.raises(RiskDenied) as info:
        await e.om.submit(e.om.build("BTC_USDT", "buy", D(1), price=D(49000)))
    assert info.value.rule == "reconciling"
    # things happened at the venue while we were away
    e.venue.place(e.om.build("BTC_USDT", "buy", D(3), order_type="market", client_id="t-away1"))
    e.venue.place(e.om.build("ETH_USDT", "buy", D(2), price=D(2900), client_id="t-away2"))
    changes = await e.om.reconcile()
    assert any("fill" in c for c in changes) and any("adopted" in c for c in changes)
    assert e.portfolio.positions["BTC_USDT"].size == D(3)
    assert e.portfolio.cash == e.venue.cash
    assert await e.om.reconcile() == []
    assert e.om.ready and not e.risk.reconciling


async def test_restart_with_persisted_state_reproduces_positions() -> None:
    e = make_engine()
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))
    e.clock.advance(2000)
    feed(e.cache, e.portfolio, e.clock, e.venue.price)
    await e.om.submit(e.om.build("BTC_USDT", "sell", D(4), order_type="market"))
    e.clock.advance(2000)
    feed(e.cache, e.portfolio, e.clock, e.venue.price)
    await e.om.submit(e.om.build("ETH_USDT", "sell", D(7), order_type="market"))
    before = {s: (p.size, p.entry_price, p.realized_pnl, p.fees) for s, p in e.portfolio.positions.items()}
    # restart: a new engine on the same journal and venue
    e2 = make_engine(journal=e.journal, venue=e.venue, reconciled=False, session="s2")
    after = {s: (p.size, p.entry_price, p.realized_pnl, p.fees) for s, p in e2.portfolio.positions.items()}
    assert after == before
    changes = await e2.om.reconcile()
    assert not [c for c in changes if c.startswith(("position", "fill", "order"))]
    assert {s: p.size for s, p in e2.portfolio.positions.items()} == {s: p.size for s, p in e.venue.pos.items()}


async def test_kill_switch_levels() -> None:
    """Each level does all the one below does, and more (engine/kill.py)."""
    e = make_engine()
    e.venue.fill_on_submit = False
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), order_type="market"))  # not filled: cancelled
    e.venue.fill_on_submit = True
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), order_type="market", client_id="t-pos"))
    e.venue.fill_on_submit = False
    entry = e.om.build("BTC_USDT", "buy", D(2), price=D(49000), client_id="t-entry")
    exit_ = e.om.build("BTC_USDT", "sell", D(2), price=D(51000), client_id="t-exit", reduce_only=True)
    plain = e.om.build("BTC_USDT", "sell", D(3), price=D(52000), client_id="t-plain")  # reduces, not flagged
    stop = e.om.build("BTC_USDT", "sell", D(10), order_type="stop_market", trigger_price=D(48000),
                      client_id="t-stop", reduce_only=True)
    for o in (entry, exit_, plain, stop):
        await e.om.submit(o)
    # level 1: no new entries, the resting entry is cancelled; exits and the protective stop stay
    assert await e.om.kill(1, "test", source="cli") == ["cancelled t-entry"]
    assert e.risk.state is TradingState.REDUCING
    assert sorted(o.client_id for o in e.cache.open_orders()) == ["t-exit", "t-plain", "t-stop"]
    with pytest.raises(RiskDenied):
        await e.om.submit(e.om.build("BTC_USDT", "buy", D(1), price=D(49000)))
    # level 2: also what is not flagged reduce-only; the reduce-only exits stay
    assert await e.om.kill(2, "test", source="cli") == ["cancelled t-plain"]
    assert sorted(o.client_id for o in e.cache.open_orders()) == ["t-exit", "t-stop"]
    # level 3: cancel everything and flatten
    e.venue.fill_on_submit = True
    await e.om.kill(3, "test", source="cli")
    assert e.cache.open_orders() == [] and e.portfolio.positions["BTC_USDT"].is_flat
    # level 4: flattens as 3 does, then halted: nothing goes out (not even reducing orders)
    e.risk.resume("ok", source="cli")
    await e.om.submit(e.om.build("BTC_USDT", "sell", D(4), order_type="market", client_id="t-short"))
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(1), price=D(49000), client_id="t-rest"))
    done = await e.om.kill(4, "test", source="cli")
    assert "cancelled t-rest" in done and any(d.startswith("flatten") for d in done)
    assert e.cache.open_orders() == [] and e.portfolio.positions["BTC_USDT"].is_flat
    assert e.risk.state is TradingState.HALTED and e.risk.status.kill_level == 4
    with pytest.raises(RiskDenied) as info:
        await e.om.submit(e.om.build("ETH_USDT", "sell", D(1), order_type="market", reduce_only=True))
    assert info.value.rule == "trading_state"
    e.risk.resume("ok", source="cli")
    assert e.risk.state is TradingState.ACTIVE


async def test_rule_trip_runs_kill_actions() -> None:
    e = make_engine(limits=RiskLimits(daily_loss_limit=D(10), duplicate_window_ms=0))
    e.portfolio.roll(e.clock.now_ms())
    e.venue.fill_on_submit = False
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), price=D(49000)))
    e.portfolio.apply_fill(Fill("x1", "t-z", "ETH_USDT", Side.BUY, D(10), D(3000)))
    e.portfolio.set_mark("ETH_USDT", D(2800))
    assert e.risk.evaluate() == ["daily_loss"]
    await asyncio.sleep(0)
    await e.om.idle()
    assert e.cache.open_orders() == []  # level 2 cancelled the working entry


async def test_event_pump_consumes_execution_stream() -> None:
    venue = FakeExecution(INSTRUMENTS)
    e = make_engine(venue=venue)
    venue.fill_on_submit = False
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    await e.om.submit(o)
    e.om.start()
    await asyncio.sleep(0)
    f = venue.fill_resting(o.client_id)
    await venue.queue.put(OrderFilled(f.ts_ms, f))
    for _ in range(50):
        await asyncio.sleep(0)
        if e.cache.order(o.client_id).status is S.FILLED:
            break
    await e.om.stop()
    assert e.cache.order(o.client_id).status is S.FILLED


async def test_leverage_goes_through_the_gate() -> None:
    e = make_engine(limits=RiskLimits(max_leverage=D(5), duplicate_window_ms=0))
    for bad in (D(0), D(6), D("NaN")):
        with pytest.raises(RiskDenied):
            await e.om.set_leverage("BTC_USDT", bad)
    assert await e.om.set_leverage("BTC_USDT", D(5)) == D(5)
    assert e.portfolio.leverage["BTC_USDT"] == D(5)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=8), data=st.data())
def test_fills_shuffled_and_duplicated_across_paths_apply_once(sizes: list[int], data: st.DataObject) -> None:
    """Property (reliability §1.1): any interleaving of WS and REST deliveries, with duplicates,
    gives the same order state, position and journal as applying each venue fill once."""

    async def scenario() -> None:
        e = make_engine()
        e.venue.fill_on_submit = False
        total = sum(sizes)
        o = e.om.build("BTC_USDT", "buy", D(total), price=D(49000))
        await e.om.submit(o)
        fills = [e.venue.fill_resting(o.client_id, D(n), D(49000 - i)) for i, n in enumerate(sizes)]
        deliveries = data.draw(st.lists(st.sampled_from(range(len(fills))), min_size=len(fills) * 2,
                                        max_size=len(fills) * 3))
        deliveries += list(range(len(fills)))  # every fill arrives at least once
        order = data.draw(st.permutations(deliveries))
        for k, idx in enumerate(order):
            if k % 3 == 0:
                await e.om.sync_fills("BTC_USDT", since_ms=0)  # REST brings everything seen so far
            else:
                await e.om.handle_event(OrderFilled(fills[idx].ts_ms, fills[idx]))
        final = e.cache.order(o.client_id)
        assert final.filled == D(total) and final.status is S.FILLED
        assert e.portfolio.positions["BTC_USDT"].size == D(total)
        assert sorted(e.journal.fills) == sorted(f.trade_id for f in fills)
        assert e.portfolio.positions["BTC_USDT"].fees == sum((f.fee for f in fills), D(0))

    asyncio.run(scenario())


async def test_failed_reconciliation_keeps_trading_blocked() -> None:
    from cashup_tui.domain.errors import TemporaryError
    from cashup_tui.domain.events import FeedDisconnected

    e = make_engine()
    await e.om.handle_event(FeedDisconnected(1, "private", "dropped"))
    assert not e.om.ready and e.risk.reconciling
    real = e.venue.positions

    async def broken():
        raise TemporaryError("positions: HTTP 502")

    e.venue.positions = broken  # type: ignore[method-assign]
    with pytest.raises(TemporaryError):
        await e.om.reconcile()
    with pytest.raises(RiskDenied) as info:
        await e.om.submit(e.om.build("BTC_USDT", "buy", D(1), price=D(49000)))
    assert info.value.rule == "reconciling" and e.venue.submit_calls == []
    e.venue.positions = real  # type: ignore[method-assign]
    await e.om.reconcile()
    assert e.om.ready and not e.risk.reconciling


venue_op = st.tuples(st.sampled_from(["fill", "partial", "cancel", "external", "market"]), st.integers(0, 9))


@settings(max_examples=50, deadline=None)
@given(n_orders=st.integers(1, 5), ops=st.lists(venue_op, max_size=12))
def test_reconcile_converges_to_the_venue_and_is_idempotent(n_orders: int, ops: list) -> None:
    """Property: whatever happened at the venue while we were not listening (fills, partial fills,
    cancels, orders placed elsewhere), one reconciliation makes orders, fills, position and cash
    equal to the venue's, and a second one changes nothing."""
    from msgspec.structs import replace as _replace

    async def scenario() -> None:
        e = make_engine()
        e.venue.fill_on_submit = False
        cids = []
        for i in range(n_orders):
            r = await e.om.submit(e.om.build("BTC_USDT", "buy" if i % 2 else "sell", D(4 + i), price=D(49000 + i)))
            cids.append(r.order.client_id)
        ext = 0
        for op, k in ops:
            open_ids = [c for c, o in e.venue.orders.items() if o.status.is_working]
            if op in ("fill", "partial", "cancel") and open_ids:
                cid = open_ids[k % len(open_ids)]
                o = e.venue.orders[cid]
                if op == "cancel":
                    e.venue.orders[cid] = _replace(o, status=S.CANCELLED)
                else:
                    e.venue.fill_resting(cid, o.remaining if op == "fill" else D(1))
            elif op == "external":
                ext += 1
                e.venue.place(e.om.build("ETH_USDT", "sell", D(1), price=D(3100), client_id=f"t-ext{ext}"))
            elif op == "market":
                e.venue.place(e.om.build("BTC_USDT", "buy", D(1 + k), order_type="market", client_id=f"t-mkt{k}-{ext}"))
                ext += 1
        await e.om.reconcile()
        for cid, v in e.venue.orders.items():
            local = e.cache.order(cid)
            if v.status.is_working:
                assert local is not None and local.is_open and local.filled == v.filled, (cid, local, v)
            elif cid in cids:
                assert local is not None and local.status is v.status and local.filled == v.filled, (cid, local, v)
        for sym, vp in e.venue.pos.items():
            assert e.portfolio.positions[sym].size == vp.size
        assert e.portfolio.cash == e.venue.cash
        assert sorted(e.journal.fills) == sorted(f.trade_id for f in e.venue.trades)
        assert await e.om.reconcile() == []

    asyncio.run(scenario())


def test_client_ids_are_reserved_a_block_at_a_time_and_never_reused() -> None:
    """One durable write per block of ids, not per order; a restart on the same id session continues after
    the reserved block (the unused rest is a gap), so no id is ever made twice."""
    from cashup_tui.domain.ids import make_client_id
    from cashup_tui.engine.order_manager import COUNTER_KEY, ID_BLOCK

    e = make_engine()
    writes: list[object] = []
    kv_set = e.journal.kv_set
    e.journal.kv_set = lambda k, v: (writes.append(v) if k == COUNTER_KEY else None, kv_set(k, v))[1]  # type: ignore[method-assign]
    ids = [e.om.new_client_id() for _ in range(ID_BLOCK + 1)]
    assert writes == [ID_BLOCK, 2 * ID_BLOCK] and len(set(ids)) == len(ids)
    e2 = make_engine(journal=e.journal)  # a restart on the same store and id session ("s1")
    again = e2.om.new_client_id()
    assert again not in ids and again == make_client_id(e2.om.id_prefix, 2 * ID_BLOCK + 1, session="s1")
