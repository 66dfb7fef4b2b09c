"""A strategy slot is rebuilt on restart from its own orders' fills, all of them: however many orders the
account placed since (manual ones, other strategies'), the slot comes back holding what it held. The journal
keeps every order, but its order list for the caches is the recent ones; the slot's fills are read by its
name from the store (one query), not picked out of that list. On a real SQLite file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cashup_tui.domain.enums import OrderStatus, OrderType, Side
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.market import Bar
from cashup_tui.domain.orders import Fill, Order, OrderEvent, OrderEventKind
from cashup_tui.engine.portfolio_slot import PortfolioSlot, add_portfolio
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.engine.strategy import load_strategy
from cashup_tui.store import open_store
from cashup_tui.store.engine import Store
from cashup_tui.store.journal import StoreJournal
from tests.engine_fakes import INSTRUMENTS, Engine, FakeExecution, MemoryJournal, make_engine
from tests.test_engine_runner import GOOD, _load, bar
from tests.test_portfolio_live import FIXED, flat_bar

D = Decimal
SYM = "BTC_USDT"
NEWER = 1001  # one more than the journal's recent-order window


PRICES = {"BTC_USDT": 50000.0, "ETH_USDT": 3000.0}  # the fake venue's fill prices and the marks


async def portfolio_on_file(tmp_path: Path) -> tuple[Path, Store, Engine, StrategyRunner, PortfolioSlot, type]:
    """A portfolio slot "pf" (fixed weights) holding BTC and ETH, its journal a SQLite file."""
    (tmp_path / "fixed.py").write_text(FIXED)
    cls = load_strategy(str(tmp_path / "fixed.py"))
    db = tmp_path / "store.sqlite"
    store, e, runner = reopen(db)
    slot = add_portfolio(runner, cls(), list(PRICES), "1m", name="pf", order_notional=D(10_000))
    assert isinstance(slot, PortfolioSlot)
    slot.warm_up({s: [Bar(s, "1m", 1_700_000_000_000 + i * 60_000, p, p, p, p) for i in range(4)]
                  for s, p in PRICES.items()})
    flat_bar(slot, runner, PRICES)
    await runner.idle()
    assert all(b.size != 0 for b in slot.books.values())
    return db, store, e, runner, slot, cls


def reopen(db: Path, venue: FakeExecution | None = None) -> tuple[Store, Engine, StrategyRunner]:
    """A process on the store file: its engine (on `venue`, the same fake venue after a restart) and runner."""
    store = open_store(str(db))
    e = make_engine(journal=StoreJournal(store, "paper"), venue=venue)  # type: ignore[arg-type]
    return store, e, StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)


def _newer_orders(journal: StoreJournal | MemoryJournal, n: int, start_ms: int) -> None:
    """`n` later orders of the account that are not the slot's: manual, done (cancelled)."""
    items = []
    for i in range(n):
        o = Order(ClientOrderId(f"t-manual{i}"), SYM, Side.BUY, D(1), OrderType.LIMIT, D(40000),
                  status=OrderStatus.CANCELLED, created_ms=start_ms + i, updated_ms=start_ms + i)
        items.append((o, OrderEvent(OrderEventKind.CANCELLED, start_ms + i)))
    journal.save_orders(items)


async def test_a_slot_comes_back_with_its_position_after_a_thousand_newer_orders(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    store, e, runner = reopen(db)
    cls, _ = _load(tmp_path, "good", GOOD)
    runner.add(cls(), SYM, "1m", name="g", order_notional=D(500))
    runner.on_bar(bar(0))
    await runner.idle()
    held = runner.slots["g"].position
    assert held != 0
    _newer_orders(e.journal, NEWER, e.clock.now_ms() + 1)  # type: ignore[arg-type]
    store.close()
    store, _, r2 = reopen(db, e.venue)
    try:
        r2.add(cls(), SYM, "1m", name="g", order_notional=D(500))
        assert r2.slots["g"].position == held, "the slot's fills are older than the recent-order window"
        assert r2.slots["g"].fills == 1
    finally:
        store.close()


async def test_a_portfolio_slot_comes_back_with_its_books_after_a_thousand_newer_orders(tmp_path: Path) -> None:
    db, store, e, _, slot, cls = await portfolio_on_file(tmp_path)
    sizes = {s: b.size for s, b in slot.books.items()}
    _newer_orders(e.journal, NEWER, e.clock.now_ms() + 1)  # type: ignore[arg-type]
    store.close()
    store, _, r2 = reopen(db, e.venue)
    try:
        back = add_portfolio(r2, cls(), list(PRICES), "1m", name="pf", order_notional=D(10_000))
        assert {s: b.size for s, b in back.books.items()} == sizes
    finally:
        store.close()


def test_the_store_and_the_memory_journal_pick_the_same_strategy_fills(tmp_path: Path) -> None:
    """Only `strategy`'s orders, only `symbol`, every one of them, in time order (ties by trade id); another
    mode's or account's rows with the same client id stay out."""
    store = open_store(str(tmp_path / "s.sqlite"))
    try:
        journals = [StoreJournal(store, "paper"), MemoryJournal()]
        other_mode, other_account = StoreJournal(store, "live"), StoreJournal(store, "paper", account="b")
        for j in [*journals, other_mode, other_account]:
            for i, (strat, sym) in enumerate([("g", SYM), ("h", SYM), ("g", "ETH_USDT"), ("", SYM)] * 3):
                cid = ClientOrderId(f"t-o{i}")
                o = Order(cid, sym, Side.BUY, D(1), OrderType.MARKET, None, strategy=strat, created_ms=i)
                j.save_order(o, event=OrderEvent(OrderEventKind.SUBMITTED, i))
                for k in range(2):  # two fills each; times out of insertion order, one tie
                    j.save_fill(Fill(f"x{i}-{k}", cid, sym, Side.BUY, D(1), D(100), D(0), 1000 - 10 * i + (k and 0)))
        got = [[(f.trade_id, f.ts_ms) for f in j.strategy_fills("g", SYM)] for j in journals]
        want = sorted(((f"x{i}-{k}", 1000 - 10 * i) for i in (0, 4, 8) for k in range(2)), key=lambda x: (x[1], x[0]))
        assert got == [want, want]
    finally:
        store.close()
