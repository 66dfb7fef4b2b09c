"""A strategy slot's share of each funding settlement, exactly once, whatever order the settlements are
booked in and wherever the process stops: a settlement booked after a newer one (late: a reconnect's or a
start-up's reconciliation, a push that arrives after another contract's) is neither lost nor doubled.
The slot's record on a real SQLite file; a crash is the process dying between the ledger's commit and
the slot's (the save step not run), then the store reopened from the file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cashup_tui.domain.enums import OrderType
from cashup_tui.domain.events import FundingSettled
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.store import open_store
from cashup_tui.store.engine import Store
from cashup_tui.store.journal import StoreJournal
from tests.engine_fakes import INSTRUMENTS, Engine, FakeExecution, make_engine, order
from tests.test_engine_runner import GOOD, _load, bar

D = Decimal
SYM = "BTC_USDT"


def _settlement(ts: int, amount: str) -> FundingSettled:
    return FundingSettled(ts, SYM, D(amount), FundingSettled.key_of(SYM, ts))


def _restart(db: Path, venue: FakeExecution, cls: type) -> tuple[Store, Engine, StrategyRunner]:
    """A new process on the store file: engine, runner, the slot added back."""
    store = open_store(str(db))
    e = make_engine(journal=StoreJournal(store, "paper"), venue=venue)  # type: ignore[arg-type]
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    runner.add(cls(), SYM, "1m", name="g", order_notional=D(500))
    return store, e, runner


async def _slot_and_manual(tmp_path: Path) -> tuple[Path, Store, Engine, StrategyRunner, type]:
    """Slot "g" long 100 contracts beside a manual 100: the slot's share is half of each settlement."""
    db = tmp_path / "store.sqlite"
    store = open_store(str(db))
    e = make_engine(journal=StoreJournal(store, "paper"))  # type: ignore[arg-type]
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    cls, _ = _load(tmp_path, "good", GOOD)
    runner.add(cls(), SYM, "1m", name="g", order_notional=D(500))
    runner.on_bar(bar(0))
    await runner.idle()
    await e.om.submit(order(size="100", price=None, otype=OrderType.MARKET))
    assert e.portfolio.positions[SYM].size == D(200) and runner.slots["g"].position == D(100)
    return db, store, e, runner, cls


async def test_an_older_settlement_booked_live_then_a_crash_before_the_slot_is_saved_is_not_lost(
        tmp_path: Path) -> None:
    db, store, e, runner, cls = await _slot_and_manual(tmp_path)
    now = e.clock.now_ms()
    await e.om.handle_event(_settlement(now + 60_000, "-0.4"))  # S1, the newer: the slot saved with its share
    assert runner.pnl("g")["funding"] == D("-0.2")
    runner._save = lambda slot: None  # type: ignore[method-assign]  # the process dies before the slot's commit
    await e.om.handle_event(_settlement(now + 30_000, "-0.6"))  # S0, older, booked after S1
    store.close()
    for _ in range(2):  # a restart takes S0's share; another takes nothing more
        store, _, r2 = _restart(db, e.venue, cls)
        try:
            assert r2.pnl("g")["funding"] == D("-0.5"), "S1's share once and S0's once"
        finally:
            store.close()


async def test_an_older_settlement_booked_at_start_up_reaches_the_slot(tmp_path: Path) -> None:
    """No crash needed: the node stops after a newer settlement was pushed; an older one (another contract's
    push came first, or the stream dropped) is booked by start-up reconciliation before the slot is back."""
    db, store, e, runner, cls = await _slot_and_manual(tmp_path)
    now = e.clock.now_ms()
    await e.om.handle_event(_settlement(now + 60_000, "-0.4"))
    store.close()
    store = open_store(str(db))
    e2 = make_engine(journal=StoreJournal(store, "paper"), venue=e.venue)  # type: ignore[arg-type]
    await e2.om.handle_event(_settlement(now + 30_000, "-0.6"))  # start-up reconciliation: no runner yet
    store.close()
    for _ in range(2):
        store, _, r2 = _restart(db, e.venue, cls)
        try:
            assert r2.pnl("g")["funding"] == D("-0.5")
        finally:
            store.close()
