"""The `domain.ports.Journal` port over the SQLite/SQLAlchemy store.

Why in the store (not the engine): engine and store are siblings that never import each other;
both depend only on the port in the domain, and the composition root picks this one.

Every row carries the mode ("demo", "paper", "testnet", "live") and the venue account (a
configured name, `DEFAULT_ACCOUNT` unless set) so one database can hold several modes and several
traders' accounts without mixing their orders, fills, positions, balances or risk state.

Several processes may share the store (README "Several processes on one store"): order rows are
written by compare-and-set (`store/order_cas.py`), and every call waits out another process's
write lock (`store/busy.py`) instead of failing the strategy that made it.

Durability: every commit is at the store's configured level (SQLite `synchronous`, FULL by default:
it survives a power loss; PostgreSQL's `synchronous_commit`), except a submit's deferred ack
(`save_order(relaxed=True)`), which needs no sync of its own: on a SQLite store in WAL mode at FULL it
commits at NORMAL, on PostgreSQL with `synchronous_commit = off` for that transaction only. Either is
still safe from a process crash, and an OS crash or power loss can only drop it together with the
commits after it (WAL is written and synced in order). The order row then stays SUBMITTING and
reconciliation settles it by client id, as after an ack lost on the wire. The write-ahead claim, every
other order line (a locally armed trigger's too), fills, positions and wallet keep the configured level.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from cashup_tui.domain.account import Balance
from cashup_tui.domain.orders import EVENT_KIND, Fill, Order, OrderEvent
from cashup_tui.domain.positions import Position
from cashup_tui.store import Store, records
from cashup_tui.store import mappers as m
from cashup_tui.store import orders as orders_repo
from cashup_tui.store import portfolio as pf_repo
from cashup_tui.store.busy import BusyMeter, retry_busy
from cashup_tui.store.order_cas import SQL_OPS, OrderOps, write_known, write_order
from cashup_tui.store.order_fast import SqliteOrderOps, write_transaction
from cashup_tui.store.sql import now_ms
from cashup_tui.store.tables import DEFAULT_ACCOUNT

F = TypeVar("F", bound=Callable[..., Any])


class _NeedsRead(Exception):
    """The one-statement write did not settle the order row (rolled back): read and merge."""


def _busy_retried(fn: F) -> F:
    """Run the whole call again while another process holds the store's write lock (bounded)."""
    @functools.wraps(fn)
    def wrapper(self: StoreJournal, *args: Any, **kwargs: Any) -> Any:
        return retry_busy(lambda: fn(self, *args, **kwargs), max_wait_s=self.busy_wait_s, meter=self.busy,
                          what=fn.__name__)

    return wrapper  # type: ignore[return-value]


class StoreJournal:
    """Implements `cashup_tui.domain.ports.Journal` on an open `Store`."""

    def __init__(self, store: Store, mode: str, account: str = "", *, busy_wait_s: float = 120.0) -> None:
        self.store = store
        self.mode = mode
        self.account = account or DEFAULT_ACCOUNT
        self.busy_wait_s = busy_wait_s  # total wait for another process's write lock before StoreBusy
        self.busy = BusyMeter()
        self._stmts: dict[str, Any] = {}
        self._known: dict[str, tuple[int, Order]] = {}  # client id -> (orders.version, order) last seen here
        self._sync_level: int | None = None  # SQLite's configured synchronous (2 = FULL) if relaxable, else 0
        self._ops: OrderOps | None = None

    @contextmanager
    def _write(self, *, relaxed: bool = False) -> Iterator[Any]:
        """A write transaction that takes SQLite's write lock at BEGIN (IMMEDIATE), so a busy store
        is met by the busy timeout up front, never half-way through a read-then-write. `relaxed`: its
        commit skips its own sync (see the module docstring), and no other commit is relaxed with it."""
        with self.store.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, \
                self._relaxed(conn.connection.driver_connection, conn.invalidate) if relaxed else nullcontext(), \
                conn.begin():
            if relaxed and conn.dialect.name == "postgresql":  # SET LOCAL: ends with this transaction
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield conn

    @contextmanager
    def _relaxed(self, raw: Any, invalidate: Callable[[], None]) -> Iterator[None]:
        """Around one transaction: this SQLite connection at synchronous=NORMAL when that only drops the
        commit's own sync (WAL mode, FULL or EXTRA configured), the configured level restored after it
        (SQLite refuses to change it inside a transaction). Elsewhere nothing changes."""
        if not self._relax_sqlite(raw):
            yield
            return
        try:
            yield
        finally:
            try:
                raw.execute(f"PRAGMA synchronous = {self._sync_level}")
            except BaseException:  # never hand a relaxed connection back to the pool
                invalidate()
                raise

    def _relax_sqlite(self, raw: Any) -> bool:
        """Set SQLite's connection `raw` to synchronous=NORMAL if that only drops the commit's own sync;
        whether it did."""
        if not self.store.is_sqlite:
            return False
        if self._sync_level is None:  # read once: the configured level, 0 when there is nothing to relax
            wal = str(raw.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
            level = int(raw.execute("PRAGMA synchronous").fetchone()[0])
            self._sync_level = level if wal and level > 1 else 0
        if not self._sync_level:
            return False
        raw.execute("PRAGMA synchronous = NORMAL")
        return True

    def _upsert_stmt(self, name: str, tbl: Any, keys: tuple[str, ...], cols: list[str]) -> Any | None:
        """A prepared INSERT .. ON CONFLICT DO UPDATE, built once (the hot path: every order change
        and fill). None on backends without it: the repository functions are used instead."""
        stmt = self._stmts.get(name)
        if stmt is None and self.store.engine.dialect.name in ("sqlite", "postgresql"):
            base: Any
            if self.store.engine.dialect.name == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                base = sqlite_insert(tbl)
            else:
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                base = pg_insert(tbl)
            stmt = self._stmts[name] = base.on_conflict_do_update(
                index_elements=list(keys), set_={c: base.excluded[c] for c in cols if c not in keys})
        return stmt

    def _order_ops(self) -> OrderOps:
        """The order row writes: straight on SQLite's connection (`store/order_fast.py`), else portable."""
        ops = self._ops
        if ops is None:
            engine = self.store.engine
            ops = self._ops = SqliteOrderOps(engine.dialect) if engine.dialect.name == "sqlite" else SQL_OPS
        return ops

    def _save_order_row(self, conn: Any, order: Order, *, claim: bool = False) -> Order:
        """Compare-and-set the row; the order now stored (a newer row another process wrote wins)."""
        cid = order.client_id
        try:
            known = self._known[cid] = write_order(conn, order, self.mode, self.account, self._known.get(cid), claim=claim,
                                                   ops=self._order_ops())
        except BaseException:
            self._known.pop(cid, None)  # the transaction rolls back: what we knew may be gone
            raise
        return known[1]

    def _key(self, key: str) -> str:
        return f"{self.account}/{self.mode}:{key}"

    # -- orders and the event journal -----------------------------------------------------
    @_busy_retried
    def save_order(self, order: Order, *, event: OrderEvent | None = None, relaxed: bool = False) -> Order:
        """Order row + journal line in ONE transaction: the write-ahead commit. Returns the order as
        stored. A SUBMITTED event is the write-ahead claim of a new id: `ClientIdTaken` if it exists.
        `relaxed`: a submit's deferred ack, committed without a sync of its own (module docstring)."""
        claim = event is not None and event.kind is EVENT_KIND.SUBMITTED
        ops = self._order_ops()
        if isinstance(ops, SqliteOrderOps) and (claim or order.client_id in self._known):
            stored = self._save_order_sqlite(ops, order, event, claim=claim, relaxed=relaxed)
            if stored is not None:
                return stored
        with self._write(relaxed=relaxed) as conn:
            stored = self._save_order_row(conn, order, claim=claim)
            if event is not None:
                self._append_event(conn, order.client_id, event)
        return stored

    def _save_order_sqlite(self, ops: SqliteOrderOps, order: Order, event: OrderEvent | None, *, claim: bool,
                           relaxed: bool) -> Order | None:
        """`save_order`'s usual case (a claim, or an update from the version known here) on SQLite's own
        connection: SQLAlchemy's Connection, transaction and events around the two statements cost more
        than SQLite's work. The same statements, lock, commit and sync level; None, nothing written,
        when it needs a read (`write_known` did not settle it): `save_order` then reads and merges."""
        cid = order.client_id
        fairy = self.store.engine.raw_connection()
        try:
            raw: Any = fairy.driver_connection  # (a checked-out connection: never None)
            with self._relaxed(raw, fairy.invalidate) if relaxed else nullcontext(), write_transaction(raw):
                done = write_known(raw, order, self.mode, self.account, self._known.get(cid), claim=claim, ops=ops)
                if done is None:
                    raise _NeedsRead
                if event is not None:
                    self._append_event(raw, cid, event)
        except _NeedsRead:  # rolled back
            self._known.pop(cid, None)
            return None
        except BaseException:
            self._known.pop(cid, None)  # rolled back: what we knew may be gone
            raise
        finally:
            fairy.close()
        self._known[cid] = done
        return done[1]

    def _append_event(self, conn: Any, client_id: str, event: OrderEvent) -> None:
        ops = self._order_ops()
        if isinstance(ops, SqliteOrderOps):
            ops.append_event(conn, m.event_to_row(client_id, event, self.mode, now_ms(), self.account))
        else:
            orders_repo.append_order_event(conn, client_id, event, self.mode, self.account)

    @_busy_retried
    def save_orders(self, items: list[tuple[Order, OrderEvent]]) -> list[Order]:
        """Many order rows and their journal lines in ONE transaction (one fsync for a cancel-all answer);
        the orders as stored (compare-and-set, as `save_order`)."""
        stored: list[Order] = []
        with self._write() as conn:
            for order, event in items:
                stored.append(self._save_order_row(conn, order))
                self._append_event(conn, order.client_id, event)
        return stored

    @_busy_retried
    def get_order(self, client_id: str) -> Order | None:
        return orders_repo.get_order(self.store, client_id, self.mode, self.account)

    @_busy_retried
    def load_orders(self, *, open_only: bool = False, limit: int = 1000) -> list[Order]:
        if open_only:
            return orders_repo.load_open_orders(self.store, mode=self.mode, account=self.account)
        recent = orders_repo.list_orders(self.store, mode=self.mode, limit=limit, account=self.account)
        open_ = {o.client_id: o for o in orders_repo.load_open_orders(self.store, mode=self.mode,
                                                                      account=self.account)}
        merged = {o.client_id: o for o in recent} | open_
        return sorted(merged.values(), key=lambda o: (o.created_ms, o.client_id))

    @_busy_retried
    def events(self, client_id: str | None = None) -> list[tuple[str, OrderEvent]]:
        events = orders_repo.load_order_events(self.store, client_id, mode=self.mode, account=self.account)
        return [(cid, ev) for _seq, cid, ev in events]

    # -- fills -------------------------------------------------------------------------
    @_busy_retried
    def save_fill(self, fill: Fill) -> bool:
        return orders_repo.record_fill(self.store, fill, self.mode, self.account)

    @_busy_retried
    def record_fill(self, fill: Fill, *, order: Order | None, event: OrderEvent | None, position: Position,
                    balance: Balance) -> bool:
        """Fill, order row, journal line, position and wallet in ONE transaction (one fsync, and a crash
        can never leave a fill without its position). False, and nothing written, for a duplicate."""
        with self._write() as conn:
            if not orders_repo.record_fill(conn, fill, self.mode, self.account):
                return False
            if order is not None:
                self._save_order_row(conn, order)
                if event is not None:
                    self._append_event(conn, order.client_id, event)
            self._upsert(conn, "position", pf_repo.POSITIONS, pf_repo.POSITION_KEY,
                         m.position_to_row(position, self.mode, self.account),
                         lambda: pf_repo.upsert_position(conn, position, self.mode, self.account))
            self._upsert(conn, "balance", pf_repo.BALANCES, pf_repo.BALANCE_KEY,
                         m.balance_to_row(balance, self.mode, self.account),
                         lambda: pf_repo.upsert_balance(conn, balance, self.mode, self.account))
        return True

    def _upsert(self, conn: Any, name: str, tbl: Any, keys: tuple[str, ...], row: dict[str, Any],
                fallback: Any) -> None:
        stmt = self._upsert_stmt(name, tbl, keys, list(row))
        if stmt is None:
            fallback()
        else:
            conn.execute(stmt, [row])

    @_busy_retried
    def has_fill(self, trade_id: str) -> bool:
        return bool(orders_repo.known_trade_ids(self.store, [trade_id], self.mode, self.account))

    @_busy_retried
    def load_fills(self, since_ms: int | None = None) -> list[Fill]:
        return orders_repo.load_fills(self.store, since_ms=since_ms, mode=self.mode, account=self.account)

    @_busy_retried
    def strategy_fills(self, strategy: str, symbol: str) -> list[Fill]:
        return orders_repo.load_strategy_fills(self.store, strategy, symbol, mode=self.mode, account=self.account)

    @_busy_retried
    def fills_after(self, cursor: int, limit: int | None = None) -> tuple[list[Fill], int]:
        return orders_repo.load_fills_after(self.store, cursor, limit=limit, mode=self.mode, account=self.account)

    @_busy_retried
    def order_strategies(self, client_ids: Iterable[str]) -> dict[str, str]:
        return orders_repo.order_strategies(self.store, client_ids, mode=self.mode, account=self.account)

    @_busy_retried
    def last_fill_ms(self) -> int | None:
        return orders_repo.last_fill_ms(self.store, mode=self.mode, account=self.account)

    # -- positions and balances ----------------------------------------------------------
    @_busy_retried
    def save_positions(self, positions: list[Position], *, state: tuple[str, Any] | None = None) -> None:
        with self._write() as conn:
            for p in positions:
                pf_repo.upsert_position(conn, p, self.mode, self.account)
            if state is not None:
                records.put_state(conn, self._key(state[0]), json.dumps(state[1], default=str))

    @_busy_retried
    def load_positions(self) -> list[Position]:
        return list(pf_repo.load_positions(self.store, self.mode, include_flat=True, account=self.account).values())

    @_busy_retried
    def save_balances(self, balances: list[Balance]) -> None:
        with self._write() as conn:
            for b in balances:
                pf_repo.upsert_balance(conn, b, self.mode, self.account)

    @_busy_retried
    def load_balances(self) -> list[Balance]:
        return list(pf_repo.load_balances(self.store, self.mode, self.account).values())

    # -- risk events, audit, key-value state -----------------------------------------------
    @_busy_retried
    def record_risk_event(self, ts_ms: int, kind: str, rule: str, message: str, numbers: dict[str, Any]) -> None:
        safe = json.loads(json.dumps(numbers, default=str))
        records.record_risk_event(self.store, records.RiskEvent(ts_ms, rule, message, kind, safe, self.mode,
                                                                account=self.account))

    @_busy_retried
    def audit(self, ts_ms: int, actor: str, action: str, detail: str) -> None:
        records.audit(self.store, action, actor, {"detail": detail, "mode": self.mode, "account": self.account}, ts_ms)

    @_busy_retried
    def kv_get(self, key: str) -> Any | None:
        raw = records.get_state(self.store, self._key(key))
        return None if raw is None else json.loads(raw)

    @_busy_retried
    def kv_set(self, key: str, value: Any) -> None:
        records.set_state(self.store, self._key(key), json.dumps(value, default=str))
