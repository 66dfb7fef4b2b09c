"""Order rows written by compare-and-set on `orders.version`: a stale writer never clobbers a newer row.

Several processes share one store (a node plus `cashup orders cancel`, or several `orders place`).
A plain upsert let the last writer win even when it knew less: a process holding an old copy
rewrote a FILLED row as OPEN with filled 0 (issue 14). Here every update is
`UPDATE ... SET ..., version = v + 1 WHERE client_id = :c AND version = :v`; when no row matched,
someone else wrote first, so the row is re-read and the version further along is kept
(`domain.order_merge.further`). The write-ahead insert of a new order is a claim: an id that is
already in the store is refused (`ClientIdTaken`), never overwritten. Portable SQL (SQLite and
PostgreSQL), one statement on the fast path.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection, select, update

from cashup_tui.domain.ids import ClientIdTaken
from cashup_tui.domain.order_merge import further
from cashup_tui.domain.orders import Order
from cashup_tui.store import mappers as m
from cashup_tui.store.orders import ORDER_KEY, ORDERS
from cashup_tui.store.sql import insert_ignore

_MAX_ROUNDS = 50  # each lost round means another writer committed: bounded, never reached in practice


def _update_stmt() -> Any:
    from sqlalchemy import bindparam

    cols = [c.name for c in ORDERS.columns if c.name not in ("id", *ORDER_KEY, "version")]
    return (update(ORDERS)
            .where(ORDERS.c.account == bindparam("k_account"), ORDERS.c.mode == bindparam("k_mode"),
                   ORDERS.c.client_id == bindparam("k_client_id"), ORDERS.c.version == bindparam("k_version"))
            .values({c: bindparam(c) for c in cols} | {"version": bindparam("k_version") + 1}))


UPDATE_ORDER = _update_stmt()
# the parameters a caller passes to UPDATE_ORDER (an order row, its key columns renamed k_*)
UPDATE_COLUMNS = ("k_account", "k_mode", "k_client_id", "k_version",
                  *(c.name for c in ORDERS.columns if c.name not in ("id", *ORDER_KEY, "version")))


class OrderOps(Protocol):
    """The two writes of the compare-and-set (`store/order_fast.py` runs them on SQLite's own connection)."""

    def insert_ignore(self, conn: Any, row: dict[str, Any]) -> bool: ...

    def update(self, conn: Any, row: dict[str, Any]) -> int: ...


class SqlOps:
    """The portable writes, through SQLAlchemy (any backend)."""

    def insert_ignore(self, conn: Any, row: dict[str, Any]) -> bool:
        return insert_ignore(conn, ORDERS, row, keys=ORDER_KEY)

    def update(self, conn: Any, row: dict[str, Any]) -> int:
        return int(conn.execute(UPDATE_ORDER, row).rowcount)


SQL_OPS = SqlOps()


def read_version(conn: Connection, client_id: str, mode: str, account: str) -> tuple[Order, int] | None:
    """The account's stored order and its version (None when there is no row)."""
    q = select(ORDERS).where(ORDERS.c.account == account, ORDERS.c.mode == mode,
                             ORDERS.c.client_id == str(client_id))
    r = conn.execute(q).mappings().first()
    return None if r is None else (m.order_from_row(r), int(r["version"] or 0))


def write_known(conn: Any, order: Order, mode: str, account: str, known: tuple[int, Order] | None, *,
                claim: bool = False, ops: OrderOps = SQL_OPS) -> tuple[int, Order] | None:
    """The write that needs no read (one statement): the claim of an id this writer has not seen, or the
    update from the version it knows. None when that did not settle it (the id is in the store, the row
    moved on, or nothing is known): `write_order` then reads and merges. Same arguments as `write_order`."""
    if known is None:
        if claim and ops.insert_ignore(conn, m.order_to_row(order, mode, account) | {"version": 1}):
            return 1, order
        return None
    if claim:
        raise ClientIdTaken(order.client_id, known[1])
    version, stored = known
    return _update(conn, further(stored, order), version, mode, account, ops)


def _update(conn: Any, order: Order, version: int, mode: str, account: str, ops: OrderOps) -> tuple[int, Order] | None:
    row = m.order_to_row(order, mode, account)
    row["k_client_id"], row["k_version"] = row.pop("client_id"), version
    row["k_account"], row["k_mode"] = row.pop("account"), row.pop("mode")
    return (version + 1, order) if ops.update(conn, row) == 1 else None


def write_order(conn: Connection, order: Order, mode: str, account: str, known: tuple[int, Order] | None, *,
                claim: bool = False, ops: OrderOps = SQL_OPS) -> tuple[int, Order]:
    """Write `order` in the caller's transaction; return (version, order) now stored.

    `known` is the (version, order) this writer last saw in the row (None: unknown, read it): `order` is
    merged with it before writing, so even a writer that knows the version cannot move the row back.
    `claim=True` is the write-ahead insert of a new order: `ClientIdTaken` when the id is in the store."""
    for _ in range(_MAX_ROUNDS):
        done = write_known(conn, order, mode, account, known, claim=claim, ops=ops)
        if done is not None:
            return done
        if known is not None:  # the update from it lost: keep what it knew, read what is there now
            order, known = further(known[1], order), None
        cur = read_version(conn, order.client_id, mode, account)
        if cur is None:
            if ops.insert_ignore(conn, m.order_to_row(order, mode, account) | {"version": 1}):
                return 1, order
            continue  # another process inserted it between our read and insert: read it
        stored, version = cur
        if claim:
            raise ClientIdTaken(order.client_id, stored)
        order = further(stored, order)
        if order is stored:
            return version, stored  # ours was behind the row just read: it stays as it is
        done = _update(conn, order, version, mode, account, ops)
        if done is not None:
            return done
        # another process wrote it since: re-read and merge
    raise RuntimeError(f"order {order.client_id}: compare-and-set did not settle after {_MAX_ROUNDS} rounds")
