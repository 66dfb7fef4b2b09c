"""reliability.md §7 faults against the loopback simulator, through the real adapters (ccxt REST, Gate WS):
lost ack (order placed), request lost before the venue, 5xx, 429, clock skew, WS drop while a fill happens."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.errors import AuthenticationError, RiskDenied
from cashup_tui.domain.secret import Secret
from cashup_tui.runtime import build_node
from cashup_tui.settings import Settings, replace_section
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

D = Decimal
S = OrderStatus
pytestmark = pytest.mark.timeout(90)


async def _until(pred, timeout: float = 8.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return True
        await asyncio.sleep(0.05)
    return pred()


def _count(venue, text: str) -> int:
    rows = venue.list_orders(status="open", limit=1000) + venue.list_orders(status="finished", limit=1000)
    return sum(1 for o in rows if o.text == text)


async def test_faults_through_the_real_adapters() -> None:
    sim = SimServer(["BTC_USDT"], seed=5, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
    await sim.start()
    s = Settings()
    s = replace_section(s, "gate", rest_url=sim.rest_url, ws_url=sim.ws_url, request_timeout_s=1.0,
                        orders_over_ws=False,  # this test is the REST path; tests/test_ws_orders.py the WS one
                        api_key=Secret(FAKE_API_KEY), api_secret=Secret(FAKE_API_SECRET))
    node = build_node(s, "testnet", symbols=["BTC_USDT"])
    await node.start()
    om, venue, f = node.om, sim.state.venue, sim.faults
    from dataclasses import replace

    node.risk.limits = replace(node.risk.limits, max_errors_per_min=1000, duplicate_window_ms=0)  # faults count as errors
    om.lookup_delay_s = 0.1
    om.reconciler.clock_margin_ms = 200  # loopback: no clock skew between this client and the simulator

    async def past_deadline(cid: str) -> None:
        """Wait until the order's X-Gate-Exptime (+ margin) has passed: only then is 'never reached' decided."""
        assert await _until(lambda: node.clock.now_ms() > om.reconciler.deadline_ms(node.cache.order(cid)))
    try:
        assert venue._countdowns, "testnet/live arm Gate's countdown_cancel_all while healthy"
        with pytest.raises(RiskDenied):
            await om.set_leverage("BTC_USDT", D(0))
        assert await om.set_leverage("BTC_USDT", D(5)) == D(5)
        # 1. the ack is lost but the order IS placed: UNKNOWN -> looked up by client id -> filled, one order
        f.set("lose_next_acks", 1)
        o = om.build("BTC_USDT", "buy", D(5), order_type="market", client_id="t-lostack")
        r = await om.submit(o)
        assert r.order.status is S.FILLED and _count(venue, "t-lostack") == 1
        kinds = [e.kind.value for _, e in node.journal.events("t-lostack")]
        assert kinds[:2] == ["submitted", "in_doubt"] and "filled" in kinds  # WS fill or lookup settles it
        # 2. the request vanishes before the venue: UNKNOWN, never re-sent; reconciliation settles it
        f.set("lose_next_requests", 1)
        r = await om.submit(om.build("BTC_USDT", "buy", D(5), order_type="market", client_id="t-lostreq"))
        assert r.order.status is S.UNKNOWN and _count(venue, "t-lostreq") == 0
        await past_deadline("t-lostreq")
        await om.reconcile()
        assert node.cache.order("t-lostreq").status is S.REJECTED and _count(venue, "t-lostreq") == 0
        # 3. a 502 and 4. a 429 on submit: the outcome is unknown, the lookup proves it never arrived
        for label, switch in (("t-five", "http_5xx_next"), ("t-rate", "http_429_next")):
            f.set(switch, 1)
            r = await om.submit(om.build("BTC_USDT", "sell", D(2), order_type="market", client_id=label))
            assert r.order.status is S.UNKNOWN, (label, r.order)  # not "rejected": the venue proved nothing
            await past_deadline(label)
            await om.reconcile()
            final = node.cache.order(label)
            assert final.status is S.REJECTED and final.reason == "never reached the venue"
            assert _count(venue, label) == 0, (label, final)
        # 5. clock skew: REQUEST_EXPIRED is a clock problem with a clear hint, and the order is rejected
        f.set("clock_skew_ms", 120_000)
        with pytest.raises(AuthenticationError) as info:
            await om.submit(om.build("BTC_USDT", "buy", D(1), order_type="market", client_id="t-skew"))
        assert "clock" in str(info.value).lower()
        assert node.cache.order("t-skew").status is S.REJECTED
        f.set("clock_skew_ms", 0)
        # 6. the private WS drops; the order fills at the venue meanwhile; reconnect -> reconcile -> fill applied once
        mark = node.cache.mark("BTC_USDT")
        far = node.instruments["BTC_USDT"].round_price(mark * D("0.98"), "down")
        r = await om.submit(om.build("BTC_USDT", "buy", D(3), price=far, client_id="t-rest"))
        assert r.order.status is S.OPEN
        await sim.admin_action("drop", {"mode": "abort"})
        venue.amend("t-rest", price=node.instruments["BTC_USDT"].round_price(mark * D("1.02"), "up"))
        assert await _until(lambda: node.cache.order("t-rest").status is S.FILLED)
        assert await _until(lambda: om.ready)
        assert sum(1 for x in node.journal.load_fills() if x.client_id == "t-rest") == len(
            [t for t in venue.my_trades(limit=1000) if t.text == "t-rest"])
        # 7. testnet/live stops are Gate price-triggered orders: placed, reconciled unchanged, cancelled
        trig = node.instruments["BTC_USDT"].round_price(node.cache.mark("BTC_USDT") * D("0.98"))
        st = await om.submit(om.build("BTC_USDT", "sell", D(1), order_type="stop_market", trigger_price=trig,
                                      reduce_only=True, client_id="t-stop"))
        assert st.order.status is S.OPEN and st.order.venue_order_id.startswith("trig-")
        assert len(venue.list_triggers()) == 1 and await om.reconcile() == []
        assert (await om.cancel("t-stop")).status is S.CANCELLED and venue.list_triggers() == []
        # after all of it: local position == venue position, and reconciliation is idempotent
        await om.reconcile()
        assert node.portfolio.positions["BTC_USDT"].size == venue.position("BTC_USDT").size
        assert await om.reconcile() == []
        # a clean stop disarms the dead-man switch: resting orders are the user's, not a crash's victims
        await node.stop()
        assert not venue._countdowns
    finally:
        await node.stop()
        await sim.stop()
