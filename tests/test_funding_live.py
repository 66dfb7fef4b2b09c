"""Funding, live: the simulator settles funding as Gate does (the wallet moves, `futures.balances` type
`fund`), the real client reads it, and the engine books the venue's amount on the position, in the cash
and in each strategy's share, once (a restart neither loses nor repeats it). Paper settles its local venue
when the feed's next settlement time moves on. Market's countdown runs on an injected clock."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Ticker
from cashup_tui.domain.secret import Secret
from cashup_tui.runtime import Node, build_node
from cashup_tui.service.funding import funding_view
from cashup_tui.service.workstation import EngineWorkstation
from cashup_tui.settings import Settings, replace_section
from tests.campaign import examples
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.notify_helpers import wait_for
from tests.test_runtime_cli import cashup

D = Decimal
pytestmark = pytest.mark.timeout(120)
SYM = "BTC_USDT"


def _settings(sim: SimServer) -> Settings:
    return replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url, request_timeout_s=2.0,
                           api_key=Secret(FAKE_API_KEY), api_secret=Secret(FAKE_API_SECRET))


async def _testnet(sim: SimServer, db: Path) -> Node:
    node = build_node(_settings(sim), "testnet", db_url=str(db), symbols=[SYM])
    await node.start()
    node.risk.limits = replace(node.risk.limits, max_errors_per_min=1000, duplicate_window_ms=0)
    return node


def _venue_funding(sim: SimServer) -> Decimal:
    return sim.state.venue.position(SYM).pnl_fund


async def test_the_venues_funding_reaches_the_position_the_cash_and_survives_a_restart(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "store.sqlite"
    async with SimServer([SYM], seed=21, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        node = await _testnet(sim, db)
        try:
            res = await node.om.submit(node.om.build(SYM, "buy", D(30), order_type="market"))
            assert res.order.status is not OrderStatus.REJECTED
            assert await wait_for(lambda: node.portfolio.positions[SYM].size == D(30), 15, 0.05)
            cash_before = node.portfolio.cash
            await sim.admin_action("funding", {"symbol": SYM})  # the next tick settles, as at the interval
            assert await wait_for(lambda: _venue_funding(sim) != 0, 15, 0.05)
            assert await wait_for(lambda: node.portfolio.positions[SYM].funding != 0, 15, 0.05)
            paid = _venue_funding(sim)
            pos = node.portfolio.positions[SYM]
            assert pos.funding == paid  # the venue's amount, to the cent and beyond
            assert node.portfolio.cash == cash_before + paid
            assert node.cache.position(SYM).funding == paid  # what the Positions pane reads
        finally:
            await node.stop()
        node2 = await _testnet(sim, db)
        try:
            assert node2.portfolio.positions[SYM].funding == paid  # journalled, not replayed from fills
            # the same settlement pushed again (a reconnect) is not booked twice
            await node2.om.handle_event(_replayed(node, paid))
            assert node2.portfolio.positions[SYM].funding == paid
            # closed, the round trip carries the funding paid while it was open
            await node2.om.close_position(SYM)
            assert await wait_for(lambda: node2.portfolio.positions[SYM].is_flat, 15, 0.05)
            (trip,) = EngineWorkstation(node2).round_trips()
            assert trip["funding"] == paid and trip["net_pnl"] == trip["realised_pnl"] - trip["fees"] + paid
        finally:
            await node2.stop()
    monkeypatch.setenv("CASHUP_DB", str(db))
    rc, out, err = cashup(capsys, "fills", "--round-trips", "--csv", "--mode", "testnet")
    (row,) = csv.DictReader(io.StringIO(out))
    assert rc == 0 and D(row["funding"]) == paid and D(row["net_pnl"]) == trip["net_pnl"], err
    rc, out, err = cashup(capsys, "positions", "--flat", "--mode", "testnet", "--json")
    assert rc == 0 and D(json.loads(out)["positions"][0]["funding"]) == paid, err


def _replayed(node: Node, paid: Decimal):  # the settlement the first node booked, as the client would push it
    from cashup_tui.domain.events import FundingSettled
    from cashup_tui.engine.funding import settlements

    (ts, sym, amount), = settlements(node.journal)
    assert amount == paid
    return FundingSettled(ts, sym, paid, FundingSettled.key_of(sym, ts))


async def test_paper_settles_when_the_feeds_next_settlement_time_moves_on(tmp_path: Path) -> None:
    async with SimServer([SYM], seed=22, tick_ms=100) as sim:
        s = replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url)
        node = build_node(s, "paper", db_url=str(tmp_path / "paper.sqlite"), symbols=[SYM])
        await node.start()
        try:
            r = await node.om.submit(node.om.build(SYM, "buy", D(20), order_type="market"))
            assert r.order.status is OrderStatus.FILLED
            sup, venue = node.supervisor, node.paper_venue
            mark = float(node.cache.mark(SYM))
            assert await wait_for(lambda: SYM in sup._next_funding, 15, 0.05)  # a ticker with funding_next_apply
            t0 = sup._next_funding[SYM][0]  # the feed's next settlement (the simulator's, as Gate sends it)
            sup.settle_funding(venue, Ticker(SYM, 2, mark, mark, funding_rate=0.0003, funding_next_apply_s=t0))
            assert venue.position(SYM).pnl_fund == 0  # the same settlement time: nothing settled yet
            sup.settle_funding(venue, Ticker(SYM, 3, mark, mark, funding_rate=0.0001, funding_next_apply_s=t0 + 28800))
            paid = venue.position(SYM).pnl_fund
            assert paid != 0 and venue.account().total == node.portfolio.cash + paid
            node.om.apply_events_now()
            assert node.portfolio.positions[SYM].funding == paid
            assert node.portfolio.cash == venue.account().total
        finally:
            await node.stop()


INST = Instrument(SYM, quanto_multiplier=D("0.0001"), price_tick=D("0.1"), size_step=D(1), min_size=D(1),
                  max_size=D(1_000_000), funding_interval_s=28_800)


@settings(max_examples=examples(50))
@given(now_s=st.integers(1_600_000_000, 1_900_000_000), ahead=st.integers(0, 28_800), sent=st.booleans())
def test_countdown_is_the_venues_next_settlement_on_the_injected_clock(now_s: int, ahead: int, sent: bool) -> None:
    nxt = now_s + ahead if sent else 0
    v = funding_view(Ticker(SYM, 0, 1.0, funding_rate=0.0001, funding_rate_indicative=0.0002,
                            funding_next_apply_s=nxt), INST, now_s * 1000 + 999)
    assert v is not None
    if sent and ahead > 0:
        assert (v.next_apply_s, v.seconds_left) == (nxt, ahead)
    else:  # none sent (or passed): the next multiple of the interval
        assert v.next_apply_s % 28_800 == 0 and 0 < v.seconds_left <= 28_800
    h, m, s = (int(x) for x in v.countdown.split(":"))
    assert h * 3600 + m * 60 + s == v.seconds_left
