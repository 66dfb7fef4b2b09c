"""Orders, the append-only order event journal and fills.

Write-ahead rule (used by the order manager): `save_order` + `append_order_event(SUBMITTED)`
commit before the request leaves the process, so a crash never loses an order we sent.

Rows are keyed by (account, mode, client id / trade id): accounts sharing a database stay apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select

from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.orders import Fill, Order, OrderEvent
from cashup_tui.store import mappers as m
from cashup_tui.store.engine import transaction
from cashup_tui.store.sql import insert_ignore, now_ms, table, upsert
from cashup_tui.store.tables import DEFAULT_ACCOUNT, FillRow, OrderEventRow, OrderRow

ORDERS = table(OrderRow)
EVENTS = table(OrderEventRow)
FILLS = table(FillRow)
WORKING = tuple(s.value for s in OrderStatus if s.is_working)
ORDER_KEY = ("account", "mode", "client_id")
FILL_KEY = ("account", "mode", "trade_id")


def _scoped(q: Any, tbl: Any, account: str, mode: str | None) -> Any:
    """Restrict a query to one account (and one mode unless None)."""
    q = q.where(tbl.c.account == account)
    return q if mode is None else q.where(tbl.c.mode == mode)


def save_order(db: Any, order: Order, mode: str = "", account: str = DEFAULT_ACCOUNT) -> None:
    """Insert or update the order (keyed by account, mode and client id)."""
    with transaction(db) as conn:
        upsert(conn, ORDERS, [m.order_to_row(order, mode, account)], keys=ORDER_KEY)


def save_orders(db: Any, orders: Iterable[Order], mode: str = "", account: str = DEFAULT_ACCOUNT) -> None:
    with transaction(db) as conn:
        upsert(conn, ORDERS, [m.order_to_row(o, mode, account) for o in orders], keys=ORDER_KEY)


def get_order(db: Any, client_id: str, mode: str = "", account: str = DEFAULT_ACCOUNT) -> Order | None:
    """The order keyed (account, mode, client id): the whole key, so the unique index finds it."""
    q = _scoped(select(ORDERS).where(ORDERS.c.client_id == str(client_id)), ORDERS, account, mode)
    with transaction(db) as conn:
        r = conn.execute(q).mappings().first()
    return m.order_from_row(r) if r else None


def get_order_by_venue_id(db: Any, venue_order_id: str, mode: str | None = None,
                          account: str = DEFAULT_ACCOUNT) -> Order | None:
    q = _scoped(select(ORDERS).where(ORDERS.c.venue_order_id == str(venue_order_id)), ORDERS, account, mode)
    with transaction(db) as conn:
        r = conn.execute(q.order_by(ORDERS.c.id)).mappings().first()
    return m.order_from_row(r) if r else None


def load_open_orders(db: Any, mode: str | None = None, symbol: str | None = None,
                     account: str = DEFAULT_ACCOUNT) -> list[Order]:
    """Orders that may still rest at the venue (incl. SUBMITTING/UNKNOWN: reconcile those first)."""
    q = _scoped(select(ORDERS).where(ORDERS.c.status.in_(WORKING)), ORDERS, account, mode)
    if symbol is not None:
        q = q.where(ORDERS.c.symbol == symbol)
    with transaction(db) as conn:
        return [m.order_from_row(r) for r in conn.execute(q.order_by(ORDERS.c.id)).mappings()]


def list_orders(
    db: Any, *, mode: str | None = None, symbol: str | None = None, status: str | None = None, limit: int = 200,
    account: str = DEFAULT_ACCOUNT,
) -> list[Order]:
    """Most recent first."""
    q = _scoped(select(ORDERS), ORDERS, account, mode)
    if symbol is not None:
        q = q.where(ORDERS.c.symbol == symbol)
    if status is not None:
        q = q.where(ORDERS.c.status == status)
    with transaction(db) as conn:
        rows = conn.execute(q.order_by(ORDERS.c.id.desc()).limit(limit)).mappings()
        return [m.order_from_row(r) for r in rows]


def append_order_event(db: Any, client_id: str, event: OrderEvent, mode: str = "",
                       account: str = DEFAULT_ACCOUNT) -> int:
    """Append one journal entry; returns its sequence number."""
    with transaction(db) as conn:
        res = conn.execute(insert(EVENTS), m.event_to_row(client_id, event, mode, now_ms(), account))
        assert res.inserted_primary_key is not None  # a one-row INSERT always has its key
        return int(res.inserted_primary_key[0])


def append_order_events(db: Any, items: Iterable[tuple[str, OrderEvent]], mode: str = "",
                        account: str = DEFAULT_ACCOUNT) -> int:
    """Bulk journal append (one executemany in one transaction); returns how many were written."""
    ts = now_ms()
    rows = [m.event_to_row(cid, e, mode, ts, account) for cid, e in items]
    if rows:
        with transaction(db) as conn:
            conn.execute(insert(EVENTS), rows)
    return len(rows)


def load_order_events(
    db: Any, client_id: str | None = None, *, since_seq: int = 0, limit: int | None = None,
    mode: str | None = None, account: str = DEFAULT_ACCOUNT,
) -> list[tuple[int, str, OrderEvent]]:
    """Journal entries in append order as (seq, client_id, event)."""
    q = _scoped(select(EVENTS).where(EVENTS.c.seq > since_seq), EVENTS, account, mode)
    if client_id is not None:
        q = q.where(EVENTS.c.client_id == str(client_id))
    q = q.order_by(EVENTS.c.seq)
    if limit is not None:
        q = q.limit(limit)
    with transaction(db) as conn:
        return [(r["seq"], r["client_id"], m.event_from_row(r)) for r in conn.execute(q).mappings()]


def record_fill(db: Any, fill: Fill, mode: str = "", account: str = DEFAULT_ACCOUNT) -> bool:
    """Store a fill once: False (and nothing written) when its venue trade id is already known.
    On PostgreSQL the account's fill inserts take turns until commit (a transaction advisory lock), as
    SQLite's writers do: ids are then in commit order, which `load_fills_after`'s cursor relies on (an id
    handed out before a newer one committed after it would be passed over for good)."""
    with transaction(db) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"cashup.fills {account} {mode}"))))
        return insert_ignore(conn, FILLS, m.fill_to_row(fill, mode, account), keys=FILL_KEY)


def load_fills(
    db: Any, *, client_id: str | None = None, symbol: str | None = None, since_ms: int | None = None,
    mode: str | None = None, account: str = DEFAULT_ACCOUNT,
) -> list[Fill]:
    q = _scoped(select(FILLS), FILLS, account, mode)
    if client_id is not None:
        q = q.where(FILLS.c.client_id == str(client_id))
    if symbol is not None:
        q = q.where(FILLS.c.symbol == symbol)
    if since_ms is not None:
        q = q.where(FILLS.c.ts_ms >= since_ms)
    with transaction(db) as conn:
        return [m.fill_from_row(r) for r in conn.execute(q.order_by(FILLS.c.ts_ms, FILLS.c.id)).mappings()]


def load_strategy_fills(db: Any, strategy: str, symbol: str, *, mode: str | None = None,
                        account: str = DEFAULT_ACCOUNT) -> list[Fill]:
    """The fills of `strategy`'s orders on `symbol`, in time order: a strategy's whole history (its position
    is rebuilt from it on restart), read in one query without loading the account's other orders or fills."""
    q = _scoped(select(FILLS), FILLS, account, mode).where(FILLS.c.symbol == symbol).join(
        ORDERS, (ORDERS.c.account == FILLS.c.account) & (ORDERS.c.mode == FILLS.c.mode)
        & (ORDERS.c.client_id == FILLS.c.client_id)).where(ORDERS.c.strategy == strategy)
    with transaction(db) as conn:
        fills = [m.fill_from_row(r) for r in conn.execute(q).mappings()]
    return sorted(fills, key=lambda f: (f.ts_ms, f.trade_id))


def load_fills_after(db: Any, after_id: int, *, limit: int | None = None, mode: str | None = None,
                     account: str = DEFAULT_ACCOUNT) -> tuple[list[Fill], int]:
    """The fills stored after the row `after_id` (0: from the first), in the order stored, and the id of the
    last one read (`after_id` when none): a reader that keeps the id reads only what is new, by the primary
    key's range (O(new), not O(stored)). Fill inserts take turns (SQLite's writers; on PostgreSQL
    `record_fill`'s lock), so ids are in commit order."""
    # the account and mode compared as expressions, so no index on them is preferred to the key's range
    q = select(FILLS).where(FILLS.c.id > after_id, FILLS.c.account.concat("") == account).order_by(FILLS.c.id)
    if mode is not None:
        q = q.where(FILLS.c.mode.concat("") == mode)
    if limit is not None:
        q = q.limit(limit)
    with transaction(db) as conn:
        rows = list(conn.execute(q).mappings())
    return [m.fill_from_row(r) for r in rows], (int(rows[-1]["id"]) if rows else after_id)


def order_strategies(db: Any, client_ids: Iterable[str], *, mode: str | None = None,
                     account: str = DEFAULT_ACCOUNT) -> dict[str, str]:
    """The strategy of each of these orders that names one (by the orders' unique key, in chunks)."""
    ids = sorted({str(c) for c in client_ids})
    out: dict[str, str] = {}
    with transaction(db) as conn:
        for i in range(0, len(ids), 500):
            q = _scoped(select(ORDERS.c.client_id, ORDERS.c.strategy).where(
                ORDERS.c.client_id.in_(ids[i:i + 500])), ORDERS, account, mode)
            out.update({c: s for c, s in conn.execute(q) if s})
    return out


def last_fill_ms(db: Any, *, mode: str | None = None, account: str = DEFAULT_ACCOUNT) -> int | None:
    q = _scoped(select(func.max(FILLS.c.ts_ms)), FILLS, account, mode)
    with transaction(db) as conn:
        value = conn.execute(q).scalar()
    return None if value is None else int(value)


def known_trade_ids(db: Any, trade_ids: Iterable[str], mode: str | None = None,
                    account: str = DEFAULT_ACCOUNT) -> set[str]:
    """Which of these venue trade ids are already stored (for replay/reconcile de-duplication)."""
    ids = [str(t) for t in trade_ids]
    if not ids:
        return set()
    q = _scoped(select(FILLS.c.trade_id).where(FILLS.c.trade_id.in_(ids)), FILLS, account, mode)
    with transaction(db) as conn:
        return set(conn.execute(q).scalars())
