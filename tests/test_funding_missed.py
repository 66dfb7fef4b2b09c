"""Funding the stream did not deliver: a settlement Gate booked while this node was stopped, or while its
private stream was down, is read from Gate's account book at reconciliation and booked once (position,
cash, settlements ledger, round trips), exactly what the venue booked; one pushed as well is not doubled.
The real client against the simulator's account book over loopback; the account book's rows as Gate
sends them, malformed ones included."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.engine.funding import settlements
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.notify_helpers import wait_for
from tests.test_funding_live import SYM, _testnet, _venue_funding

D = Decimal
pytestmark = pytest.mark.timeout(180)


async def _settle(sim: SimServer, before: Decimal) -> Decimal:
    """One settlement at the venue (the simulator's next tick); returns the venue's running total. A
    settlement is known by contract and second (Gate settles a contract once an interval): each one here
    waits for a second of its own."""
    book = sim.state.venue.account_book(limit=1, type="fund")
    if book:
        last_s = int(book[0]["time"])
        assert await wait_for(lambda: sim.now_ms() // 1000 > last_s, 5, 0.02)
    await sim.admin_action("funding", {"symbol": SYM})
    assert await wait_for(lambda: _venue_funding(sim) != before, 15, 0.02), "the venue did not settle"
    return _venue_funding(sim)


async def test_settlements_made_while_the_node_was_stopped_are_booked_at_start_once(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    async with SimServer([SYM], seed=31, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        node = await _testnet(sim, db)
        try:
            res = await node.om.submit(node.om.build(SYM, "buy", D(30), order_type="market"))
            assert res.order.status is not OrderStatus.REJECTED
            assert await wait_for(lambda: node.portfolio.positions[SYM].size == D(30), 15, 0.05)
            total = await _settle(sim, D(0))  # pushed while running: booked from the stream
            assert await wait_for(lambda: node.portfolio.positions[SYM].funding == total, 15, 0.05)
        finally:
            await node.stop()
        for _ in range(2):  # two settlements while no node runs: no stream delivers them
            total = await _settle(sim, total)
        node = await _testnet(sim, db)
        try:
            pos = node.portfolio.positions[SYM]
            assert pos.funding == total, "the venue's amounts, to the last digit"
            assert node.portfolio.cash == sim.state.venue.account().total
            booked = settlements(node.journal)
            assert len(booked) == 3 and sum(a for _, _, a in booked) == total
            said = [c for c in node.reconcile_changes if c.startswith(f"funding {SYM}")]
            assert len(said) == 2 and all("did not deliver" in c for c in said), node.reconcile_changes
            # the private stream drops (abruptly), a settlement lands meanwhile or right after; whichever way
            # it arrives (the push, the reconciliation after the reconnect, or both) it is booked once
            for round_ in range(3):
                await sim.admin_action("drop", {"mode": "abort"})
                total = want = await _settle(sim, total)
                assert await wait_for(lambda w=want: node.portfolio.positions[SYM].funding == w, 20, 0.05), round_
                assert await wait_for(lambda: node.om.ready, 20, 0.05)
            await node.om.reconcile()  # once more: nothing new
            assert node.portfolio.positions[SYM].funding == total
            assert len(settlements(node.journal)) == 6
            assert node.portfolio.cash == sim.state.venue.account().total
        finally:
            await node.stop()


async def test_the_account_book_reader_takes_gates_rows_and_skips_malformed_ones(tmp_path: Path) -> None:
    async with SimServer([SYM], seed=32, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        node = await _testnet(sim, tmp_path / "store.sqlite")
        try:
            ex = node.om.execution
            assert await ex.funding_since(0) == []
            await node.om.submit(node.om.build(SYM, "sell", D(10), order_type="market"))
            assert await wait_for(lambda: node.portfolio.positions[SYM].size == D(-10), 15, 0.05)
            total = await _settle(sim, D(0))
            (ev,) = await ex.funding_since(0)
            assert ev.symbol == SYM and ev.amount == total and ev.key == f"{SYM}@{ev.ts_ms // 1000}"
            assert await ex.funding_since(ev.ts_ms + 1000) == []
            rows = await ex.rest.account_book(100)  # Gate's rows: the settlement
            assert [(r["type"], r["contract"], D(r["change"])) for r in rows] == [("fund", SYM, total)]

            async def garbage(limit: int, **kw: object) -> list[dict[str, object]]:
                return [{"time": "soon", "change": "1", "type": "fund", "contract": SYM},
                        {"time": 1.7e9, "change": "NaN", "type": "fund", "contract": SYM},
                        {"time": 1.7e9, "change": "0.5", "type": "fund", "contract": "NOPE_USDT"},
                        {"time": None, "change": None, "type": "fund", "text": ""},
                        {"time": 1.7e9, "change": "-0.25", "type": "fund", "text": f"{SYM}:funding"}]

            ex.rest.account_book = garbage  # type: ignore[method-assign]
            (ok,) = await ex.funding_since(0)
            assert (ok.symbol, ok.amount, ok.ts_ms) == (SYM, D("-0.25"), 1_700_000_000_000)
        finally:
            await node.stop()


async def test_a_strategy_takes_its_share_of_what_was_settled_while_it_was_stopped(tmp_path: Path) -> None:
    """The strategy holds the account's whole position: its funding is every settlement, the ones booked by
    start-up reconciliation (before it is added again) included, once, after one restart and after another."""
    from cashup_tui.engine.strategy import load_strategy

    db = tmp_path / "store.sqlite"
    strat = load_strategy("sma_cross")
    async with SimServer([SYM], seed=33, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET) as sim:
        node = await _testnet(sim, db)
        try:
            assert node.runner is not None
            node.runner.add(strat(), SYM, "1h", name="s", keep=True)
            await node.om.submit(node.om.build(SYM, "buy", D(20), order_type="market", strategy="s"))
            assert await wait_for(lambda: node.runner.slots["s"].position == D(20), 15, 0.05)
            total = await _settle(sim, D(0))  # while it runs: from the stream, through the bus
            assert await wait_for(lambda: node.runner.pnl("s")["funding"] == total, 15, 0.05)
        finally:
            await node.stop()
        for _ in range(2):
            total = await _settle(sim, total)
        for _ in range(2):  # a restart, then another with nothing new
            node = await _testnet(sim, db)
            try:
                assert node.runner is not None and node.portfolio.positions[SYM].funding == total
                node.runner.add(strat(), SYM, "1h", name="s", keep=True)
                assert node.runner.slots["s"].position == D(20)
                assert node.runner.pnl("s")["funding"] == total
            finally:
                await node.stop()
