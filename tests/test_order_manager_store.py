"""The order manager on a real SQLite store: write-ahead visible to another connection,
restart from the file reproduces positions and the trading state."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from cashup_tui.domain.enums import OrderStatus, TradingState
from cashup_tui.store import open_store
from cashup_tui.store_journal import StoreJournal
from tests.engine_fakes import feed, make_engine

D = Decimal


def _status_from_file(path: Path, client_id: str) -> str | None:
    con = sqlite3.connect(path)  # an independent reader: proves the row was committed
    try:
        row = con.execute("select status from orders where client_id = ?", (client_id,)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


async def test_write_ahead_is_committed_before_the_venue_call(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    store = open_store(str(path))
    e = make_engine(journal=StoreJournal(store, "paper"))
    seen = []
    real = e.venue.submit

    async def spy(order):
        seen.append(_status_from_file(path, order.client_id))
        return await real(order)

    e.venue.submit = spy  # type: ignore[method-assign]
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    await e.om.submit(o)
    assert seen == ["submitting"]
    assert _status_from_file(path, o.client_id) == "open"
    kinds = [ev.kind.value for _, ev in e.journal.events(o.client_id)]
    assert kinds == ["submitted", "accepted"]
    store.close()


async def test_restart_from_file_reproduces_positions_state_and_ids(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    store = open_store(str(path))
    e = make_engine(journal=StoreJournal(store, "paper"))
    ids = []
    for side, size in (("buy", 10), ("sell", 3), ("buy", 5)):
        r = await e.om.submit(e.om.build("BTC_USDT", side, D(size), order_type="market"))
        ids.append(r.order.client_id)
        e.clock.advance(2000)
        feed(e.cache, e.portfolio, e.clock, e.venue.price)
    e.venue.fail_next_submit = "timeout_not_placed"
    r = await e.om.submit(e.om.build("ETH_USDT", "buy", D(1), price=D(2900)))
    assert r.order.status is OrderStatus.UNKNOWN
    await e.om.kill(1, "end of day", source="cli")
    pos = e.portfolio.positions["BTC_USDT"]
    store.close()

    store2 = open_store(str(path))
    e2 = make_engine(journal=StoreJournal(store2, "paper"), venue=e.venue, reconciled=False)
    p2 = e2.portfolio.positions["BTC_USDT"]
    assert (p2.size, p2.entry_price, p2.realized_pnl, p2.fees) == (pos.size, pos.entry_price, pos.realized_pnl, pos.fees)
    assert e2.risk.state is TradingState.REDUCING
    assert e2.cache.order(r.order.client_id).status is OrderStatus.UNKNOWN  # shown as UNCONFIRMED
    assert e2.om.new_client_id() not in ids
    e2.clock.advance(e2.om.reconciler.deadline_ms(e2.cache.order(r.order.client_id)) - e2.clock.now_ms() + 1)
    changes = await e2.om.reconcile()  # past the request's X-Gate-Exptime + margin: it never reached the venue
    assert e2.cache.order(r.order.client_id).status is OrderStatus.REJECTED
    assert len(changes) == 1
    assert await e2.om.reconcile() == []
    # another mode in the same file sees none of it
    other = StoreJournal(store2, "demo")
    assert other.load_fills() == [] and other.kv_get("risk.state") is None
    store2.close()
