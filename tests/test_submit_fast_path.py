"""The submit path's shortcuts keep its rules: the write-ahead claim and fills are committed at the
configured synchronous level (FULL), only the venue's ack line is relaxed to NORMAL and the connection
goes back to FULL; an id made by this order manager is not read back before its claim, any other id
is; the cache's open-order index follows every status change."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import event

from cashup_tui.domain.enums import OrderStatus
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.store import open_store
from cashup_tui.store.journal import StoreJournal
from tests.engine_fakes import make_engine

D = Decimal


def _transactions(lines: list[str]) -> list[tuple[str, int]]:
    """(statements of one transaction, synchronous level in force at its COMMIT) from a SQLite trace."""
    level, cur, out = 2, None, []
    for s in lines:
        up = s.strip().upper()
        if up.startswith("PRAGMA SYNCHRONOUS ="):
            level = 1 if up.endswith("NORMAL") else int(up.rsplit("=", 1)[1])
        elif up.startswith("BEGIN"):
            cur = []
        elif up.startswith("COMMIT") and cur is not None:
            out.append(("\n".join(cur), level))
            cur = None
        elif cur is not None:
            cur.append(s)
    return out


async def test_only_the_ack_line_is_committed_at_normal(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "j.sqlite"), synchronous="FULL")
    store.engine.dispose()  # every connection from here on is traced
    lines: list[str] = []
    event.listen(store.engine, "connect", lambda dbapi, _rec: dbapi.set_trace_callback(lines.append))
    e = make_engine(journal=StoreJournal(store, "paper"))
    o = e.om.build("BTC_USDT", "buy", D(10), price=D(49000))
    del lines[:]
    r = await e.om.submit(o)
    assert r.order.status is OrderStatus.OPEN
    e.om.on_fill(e.venue.fill_resting(o.client_id))
    txs = _transactions(lines)
    claim = [lvl for sql, lvl in txs if "INSERT INTO orders" in sql]
    ack = [lvl for sql, lvl in txs if "UPDATE orders" in sql and "'accepted'" in sql]
    fill = [lvl for sql, lvl in txs if "INSERT INTO fills" in sql]
    assert claim == [2] and ack == [1] and fill == [2], txs
    with store.engine.connect() as c:  # the pooled connection is back at FULL
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    store.close()


async def test_a_store_configured_normal_is_left_as_it_is(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "j.sqlite"), synchronous="NORMAL")
    e = make_engine(journal=StoreJournal(store, "paper"))
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(10), price=D(49000)))
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    store.close()


class _CountingJournal(MemoryJournal):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def get_order(self, client_id: str):  # type: ignore[no-untyped-def]
        self.reads.append(client_id)
        return super().get_order(client_id)


async def test_own_ids_are_not_read_back_other_ids_are() -> None:
    j = _CountingJournal()
    e = make_engine(journal=j)
    own = e.om.build("BTC_USDT", "buy", D(1), price=D(49000))
    await e.om.submit(own)
    assert j.reads == []
    given = e.om.build("BTC_USDT", "buy", D(1), price=D(49000), client_id="t-mine-1")
    await e.om.submit(given)
    assert j.reads == ["t-mine-1"]
    # an id already in the journal (another process, an earlier run) is found and not sent again
    other = make_engine(journal=j, session="s2")
    again = await other.om.submit(given)
    assert again.existed and again.order.client_id == "t-mine-1"
    assert other.venue.submit_calls == []


def test_open_order_index_follows_status_changes() -> None:
    e = make_engine()
    cache = Cache()
    o = e.om.build("BTC_USDT", "buy", D(1), price=D(49000))
    from msgspec.structs import replace

    cache.put_order(replace(o, status=OrderStatus.OPEN))
    cache.put_order(replace(o, client_id="x2", symbol="ETH_USDT", status=OrderStatus.OPEN))
    assert [x.client_id for x in cache.open_orders("BTC_USDT")] == [o.client_id]
    assert len(cache.open_orders()) == 2
    cache.put_order(replace(o, status=OrderStatus.FILLED))
    assert [x.client_id for x in cache.open_orders()] == ["x2"]
    assert len(cache.orders()) == 2 and cache.order(o.client_id).status is OrderStatus.FILLED  # type: ignore[union-attr]
