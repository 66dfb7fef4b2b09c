"""A strategy slot's share of each funding settlement, exactly once, whatever order the settlements are
booked in and wherever the process stops: a settlement booked after a newer one (late: a reconnect's or a
start-up's reconciliation, a push that arrives after another contract's) is neither lost nor doubled.
The slot's record on a real SQLite file; a crash is the process dying between the ledger's commit and
the slot's (the save step not run), then the store reopened from the file."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.enums import OrderType, Side
from cashup_tui.domain.events import FundingSettled
from cashup_tui.engine.funding import SETTLEMENTS_KEY, newest_seq, shares_missed
from cashup_tui.engine.portfolio_slot import add_portfolio
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.store import open_store
from cashup_tui.store.engine import Store
from cashup_tui.store.journal import StoreJournal
from tests.campaign import examples
from tests.engine_fakes import INSTRUMENTS, Engine, FakeExecution, MemoryJournal, make_engine, order
from tests.test_engine_runner import GOOD, _load, bar
from tests.test_slot_history import PRICES, portfolio_on_file

D = Decimal
SYM = "BTC_USDT"


def _settlement(ts: int, amount: str) -> FundingSettled:
    return FundingSettled(ts, SYM, D(amount), FundingSettled.key_of(SYM, ts))


def _restart(db: Path, venue: FakeExecution, cls: type, names: tuple[str, ...] = ("g",)
             ) -> tuple[Store, Engine, StrategyRunner]:
    """A new process on the store file: engine, runner, the slots added back."""
    store = open_store(str(db))
    e = make_engine(journal=StoreJournal(store, "paper"), venue=venue)  # type: ignore[arg-type]
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    for name in names:
        runner.add(cls(), SYM, "1m", name=name, order_notional=D(500))
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
    db, store, e, _, cls = await _slot_and_manual(tmp_path)
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


async def test_a_portfolio_slot_keeps_each_symbols_share_across_a_crash_out_of_order(tmp_path: Path) -> None:
    """The same for a portfolio slot: per symbol, an older settlement booked after a newer one, then a crash
    before the slot's commit; it holds the account's whole position on each symbol, so it takes each amount."""
    db, store, e, runner, slot, cls = await portfolio_on_file(tmp_path)
    prices = PRICES
    ts = max(b.updated_ms for b in slot.books.values()) + 1000
    await e.om.handle_event(FundingSettled(ts + 9000, "BTC_USDT", D("-1.5"), "BTC_USDT@9"))  # the newest first
    runner._save = lambda slot: None  # type: ignore[method-assign]  # dies before the slot's commits
    await e.om.handle_event(FundingSettled(ts + 2000, "ETH_USDT", D("0.25"), "ETH_USDT@2"))
    await e.om.handle_event(FundingSettled(ts, "BTC_USDT", D("-0.5"), "BTC_USDT@0"))
    store.close()
    for _ in range(2):
        store = open_store(str(db))
        e2 = make_engine(journal=StoreJournal(store, "paper"), venue=e.venue)  # type: ignore[arg-type]
        r2 = StrategyRunner(e2.om, INSTRUMENTS, e2.clock, e2.journal, e2.bus)
        back = add_portfolio(r2, cls(), list(prices), "1m", name="pf", order_notional=D(10_000))
        try:
            assert {s: b.funding for s, b in back.books.items()} == {"BTC_USDT": D("-2.0"), "ETH_USDT": D("0.25")}
        finally:
            store.close()


SLOTS = ("g", "h")


@st.composite
def _timelines(draw: st.DrawFn) -> tuple[list[tuple[str, int]], list[tuple[str, object, object]]]:
    """Trades (who: a slot or "" for a manual one, signed contracts), in order, and the actions: each trade,
    and each settlement's booking ("live", "crash": live but the process dies before the slots' commit,
    "stopped": booked by start-up reconciliation) with its per-contract figure, at a random point after the
    trades before its time (a settlement is booked after it happened, late and out of order alike)."""
    trades: list[tuple[str, int]] = [("", draw(st.integers(1, 50)))]
    held = dict.fromkeys(SLOTS, 0)
    for _ in range(draw(st.integers(1, 5))):
        who = draw(st.sampled_from(SLOTS))
        delta = draw(st.integers(max(-40, -120 - held[who]), min(40, 120 - held[who])).filter(bool))
        held[who] += delta
        trades.append((who, delta))
    actions: list[tuple[str, object, object]] = [("trade", i, None) for i in range(len(trades))]
    for n in range(draw(st.integers(1, 5))):
        before = draw(st.integers(1, len(trades) + 1))  # settled before trade number `before` (1-based)
        after_trade = next(k for k, a in enumerate(actions) if a[0] == "trade" and a[1] == before - 2) \
            if before > 1 else -1
        at = draw(st.integers(after_trade + 1, len(actions)))
        mode = draw(st.sampled_from(("live", "crash", "stopped")))
        per = D(draw(st.integers(-99, 99).filter(bool))) / 100
        actions.insert(at, (mode, (n, before), per))
    return trades, actions


@settings(max_examples=examples(25))
@given(timeline=_timelines())
def test_each_slot_takes_each_settlements_share_once_on_what_it_held_then(
        timeline: tuple[list[tuple[str, int]], list[tuple[str, object, object]]]) -> None:
    """Random booking orders and crash points: each slot's funding is the sum over the settlements of what
    each paid per contract times the contracts the slot held at its time, after every restart."""
    trades, actions = timeline
    base = 1_700_000_000_000  # the fake venue's trade number n fills at base + n

    def held_at(name: str, before: int) -> int:  # contracts of `name` after the trades before number `before`
        return sum(d for k, (who, d) in enumerate(trades, 1) if who == name and k < before)

    async def scenario(tmp: Path) -> None:
        cls, _ = _load(tmp, "good", GOOD)
        db = tmp / "store.sqlite"
        store, e, runner = _restart(db, FakeExecution(INSTRUMENTS), cls, SLOTS)
        venue = e.venue
        want = dict.fromkeys(SLOTS, D(0))
        done = 0  # trades made
        for kind, what, per in actions:
            if kind == "trade":
                who, delta = trades[int(str(what))]
                side = Side.BUY if delta > 0 else Side.SELL
                await e.om.submit(e.om.build(SYM, side, D(abs(delta)), order_type="market", strategy=who))
                done += 1
                continue
            assert isinstance(what, tuple) and isinstance(per, Decimal)
            n, before = what
            account = held_at("", done + 1) + sum(held_at(s, done + 1) for s in SLOTS)
            amount = per * account if account else D("0.01")
            if kind == "stopped":
                store.close()
                store = open_store(str(db))
                e = make_engine(journal=StoreJournal(store, "paper"), venue=venue)  # type: ignore[arg-type]
            elif kind == "crash":
                runner._save = lambda slot: None  # type: ignore[method-assign]
            await e.om.handle_event(FundingSettled(base + before, SYM, amount, f"{SYM}@{n}"))
            if account:
                for s in SLOTS:
                    want[s] += per * held_at(s, before)
            if kind != "live":  # the process died (or was stopped): a new one on the file
                store.close()
                store, e, runner = _restart(db, venue, cls, SLOTS)
            assert {s: runner.pnl(s)["funding"] for s in SLOTS} == want, (kind, what)
        store.close()
        store, e, runner = _restart(db, venue, cls, SLOTS)
        assert {s: runner.pnl(s)["funding"] for s in SLOTS} == want
        store.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp)))


def test_a_record_from_before_booking_numbers_keeps_its_time_mark() -> None:
    """A strategy's record written before booking numbers were kept marks a settlement time: it takes the
    settlements after that time (as it did); a record with a booking number takes the bookings after it,
    whatever their times; a new strategy (no record) takes none."""
    j = MemoryJournal()
    j.kv_set(SETTLEMENTS_KEY, [["a", 100, SYM, "-1", "-0.01"], ["b", 200, SYM, "-2", "-0.02"],  # before numbers
                               ["c", 300, SYM, "-3", "-0.03", 1], ["d", 150, SYM, "-4", "-0.04", 2],
                               ["e", 400, "ETH_USDT", "-5", "-0.05", 3], ["f", 500, SYM, "-6", "", 4]])
    assert newest_seq(j) == 4
    assert shares_missed(j, {"funding_ms": 150}, {SYM}) == [(200, SYM, D("-0.02")), (300, SYM, D("-0.03"))]
    assert shares_missed(j, {"funding_seq": 1}, {SYM}) == [(150, SYM, D("-0.04"))]
    assert shares_missed(j, {"funding_seq": 0}, {SYM, "ETH_USDT"}) == [
        (150, SYM, D("-0.04")), (300, SYM, D("-0.03")), (400, "ETH_USDT", D("-0.05"))]
    assert shares_missed(j, {}, {SYM}) == []


async def test_a_crash_inside_a_settlements_commit_books_it_once_when_it_comes_again(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """The position's funding and the ledger's record of the settlement are one commit: a process that dies
    writing them leaves neither, and the settlement read again (reconciliation) is booked once, not twice."""
    import cashup_tui.store.records as records

    db = tmp_path / "store.sqlite"
    store = open_store(str(db))
    e = make_engine(journal=StoreJournal(store, "paper"))  # type: ignore[arg-type]
    await e.om.submit(order(size="100", price=None, otype=OrderType.MARKET))
    s = _settlement(e.clock.now_ms() + 60_000, "-0.4")
    real = records.upsert

    def dies_on_the_ledger(conn, tbl, rows, keys):  # type: ignore[no-untyped-def]
        if any(str(r.get("key", "")).endswith(SETTLEMENTS_KEY) for r in rows):
            raise SystemExit("killed")
        return real(conn, tbl, rows, keys)

    monkeypatch.setattr(records, "upsert", dies_on_the_ledger)
    try:
        await e.om.handle_event(s)
    except SystemExit:
        pass
    monkeypatch.setattr(records, "upsert", real)
    store.close()
    for _ in range(2):  # restart; reconciliation reads the venue's settlements again (the same one)
        store = open_store(str(db))
        try:
            e2 = make_engine(journal=StoreJournal(store, "paper"), venue=e.venue)  # type: ignore[arg-type]
            await e2.om.handle_event(s)
            assert e2.portfolio.positions[SYM].funding == D("-0.4")
        finally:
            store.close()
    store = open_store(str(db))
    try:
        saved = {p.symbol: p for p in StoreJournal(store, "paper").load_positions()}
        assert saved[SYM].funding == D("-0.4"), "booked once across the crash and two restarts"
    finally:
        store.close()
