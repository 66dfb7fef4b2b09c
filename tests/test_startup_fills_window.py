"""Start-up reads a window of fill history, not all of it (issue 13: the workstation loaded every stored
fill: +39 MB at 50k fills). Positions and the wallet come from what each fill's commit journalled;
only the last day's trade ids are loaded; an old fill sent again is still refused (the journal);
a store without journalled positions still replays its fills."""

from __future__ import annotations

from decimal import Decimal

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import Side
from cashup_tui.domain.orders import Fill
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.engine.order_manager import RECENT_FILLS_MS
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from tests.engine_fakes import make_engine

D = Decimal
DAY = 86_400_000


def _history(journal, instruments, n: int, start_ms: int, step_ms: int) -> Portfolio:  # type: ignore[no-untyped-def]
    """n fills over time, journalled as the reconciler does (fill + position + wallet in one commit)."""
    pf = Portfolio.with_cash(instruments, D(100_000))
    for i in range(n):
        side = Side.BUY if i % 3 else Side.SELL
        f = Fill(f"t{i}", f"c{i}", "BTC_USDT", side, D(1 + i % 4), D(50_000 + (i * 37) % 900), D("0.5"),
                 start_ms + i * step_ms, venue_order_id=f"v{i}")
        pf.apply_fill(f)
        journal.record_fill(f, order=None, event=None, position=pf.positions["BTC_USDT"],
                            balance=Balance("USDT", pf.cash, pf.cash, f.ts_ms))
    return pf


class CountingJournal(StoreJournal):
    loaded: list[int]

    def load_fills(self, since_ms: int | None = None) -> list[Fill]:
        out = super().load_fills(since_ms)
        self.loaded.append(len(out))
        return out


def test_restart_loads_only_the_recent_window_and_keeps_positions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    e = make_engine(journal=StoreJournal(store, "paper"))
    t0 = e.clock.now_ms() - 10 * DAY
    ref = _history(e.journal, e.portfolio.instruments, 600, t0, 10 * DAY // 600)  # one every 4 hours or so
    j = CountingJournal(store, "paper")
    j.loaded = []
    e2 = make_engine(journal=j, venue=e.venue, reconciled=False)
    p, r = e2.portfolio.positions["BTC_USDT"], ref.positions["BTC_USDT"]
    assert (p.size, p.entry_price, p.realized_pnl, p.fees) == (r.size, r.entry_price, r.realized_pnl, r.fees)
    assert e2.portfolio.cash == ref.cash
    assert j.loaded and max(j.loaded) < 600 / 5, j.loaded  # about a day of ten, not the whole history
    assert e2.om.reconciler.ids_known_since_ms == t0 + 599 * (10 * DAY // 600) - RECENT_FILLS_MS
    # an old fill (before the window) sent again: refused by the journal, the position does not move
    old = e.journal.load_fills()[3]
    assert not e2.portfolio.has_trade(old.trade_id)
    before = (p.size, e2.portfolio.cash)
    assert e2.om.on_fill(old) is False
    assert (e2.portfolio.positions["BTC_USDT"].size, e2.portfolio.cash) == before
    # a new fill still applies
    new = Fill("t-new", "c-new", "BTC_USDT", Side.BUY, D(2), D(50_100), D("0.5"), e.clock.now_ms(), venue_order_id="vn")
    assert e2.om.on_fill(new) is True
    assert e2.portfolio.positions["BTC_USDT"].size == before[0] + 2
    store.close()


def test_a_store_without_journalled_positions_replays_its_fills() -> None:
    j = MemoryJournal()
    e = make_engine(journal=MemoryJournal())
    ref = _history(j, e.portfolio.instruments, 50, e.clock.now_ms() - DAY, 60_000)
    j.positions.clear()  # as a store from before positions were journalled with each fill
    e2 = make_engine(journal=j, venue=e.venue, reconciled=False)
    p, r = e2.portfolio.positions["BTC_USDT"], ref.positions["BTC_USDT"]
    assert (p.size, p.entry_price, p.realized_pnl, p.fees) == (r.size, r.entry_price, r.realized_pnl, r.fees)
    assert all(e2.portfolio.has_trade(f"t{i}") for i in range(50))
