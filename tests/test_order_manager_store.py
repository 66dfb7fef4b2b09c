"""The order manager on a real store (a SQLite file, a PostgreSQL database): write-ahead visible to
another connection, restart from the store reproduces positions and the trading state."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cashup_tui.domain.enums import OrderStatus, TradingState
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from tests.engine_fakes import feed, make_engine

D = Decimal


def _status_from_file(url: str, client_id: str) -> str | None:
    from sqlalchemy import create_engine, text

    from cashup_tui.store.engine import normalise_url

    engine = create_engine(normalise_url(url))  # an independent reader: proves the row was committed
    try:
        with engine.connect() as con:
            row = con.execute(text("select status from orders where client_id = :c"), {"c": client_id}).first()
        return row[0] if row else None
    finally:
        engine.dispose()


async def test_write_ahead_is_committed_before_the_venue_call(store_url: str) -> None:
    path = store_url
    store = open_store(path)
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
    await asyncio.sleep(0)  # the ack commits at the next turn of the loop
    assert _status_from_file(path, o.client_id) == "open"
    kinds = [ev.kind.value for _, ev in e.journal.events(o.client_id)]
    assert kinds == ["submitted", "accepted"]
    store.close()


async def test_restart_from_file_reproduces_positions_state_and_ids(store_url: str) -> None:
    store = open_store(store_url)
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
    e.risk.set_kill_level(1, "end of day", source="cli")  # the state only (kill 1 would also cancel the order)
    pos = e.portfolio.positions["BTC_USDT"]
    store.close()

    store2 = open_store(store_url)
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
    other = StoreJournal(store2, "paper", "another-account")  # ... nor another account in the same mode
    assert other.load_fills() == [] and other.kv_get("risk.state") is None and other.load_orders() == []
    assert other.load_positions() == [] and StoreJournal(store2, "paper").load_positions() != []
    store2.close()
