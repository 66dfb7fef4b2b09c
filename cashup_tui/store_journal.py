"""The engine's `Journal` port over the SQLite/SQLAlchemy store.

Why here (next to runtime.py, not in engine/ or store/): engine and store are siblings
that never import each other; this glue is picked by the composition root only.

Every row carries the mode ("demo", "paper", "testnet", "live") so one database file
can hold several modes without mixing their orders, fills or positions.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from cashup_tui.domain.account import Balance
from cashup_tui.domain.orders import Fill, Order, OrderEvent
from cashup_tui.domain.positions import Position
from cashup_tui.store import Store, records, transaction
from cashup_tui.store import mappers as m
from cashup_tui.store import orders as orders_repo
from cashup_tui.store import portfolio as pf_repo


class StoreJournal:
    """Implements `cashup_tui.engine.journal.Journal` on an open `Store`."""

    def __init__(self, store: Store, mode: str) -> None:
        self.store = store
        self.mode = mode
        self._stmts: dict[str, Any] = {}

    def _upsert_stmt(self, name: str, tbl: Any, keys: tuple[str, ...], cols: list[str]) -> Any | None:
        """A prepared INSERT .. ON CONFLICT DO UPDATE, built once (the hot path: every order change
        and fill). None on backends without it: the repository functions are used instead."""
        stmt = self._stmts.get(name)
        if stmt is None and self.store.engine.dialect.name in ("sqlite", "postgresql"):
            if self.store.engine.dialect.name == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as ins
            else:
                from sqlalchemy.dialects.postgresql import insert as ins
            base = ins(tbl)
            stmt = self._stmts[name] = base.on_conflict_do_update(
                index_elements=list(keys), set_={c: base.excluded[c] for c in cols if c not in keys})
        return stmt

    def _save_order_row(self, conn: Any, order: Order) -> None:
        row = m.order_to_row(order, self.mode)
        stmt = self._upsert_stmt("order", orders_repo.ORDERS, ("client_id",), list(row))
        if stmt is None:
            orders_repo.save_order(conn, order, self.mode)
        else:
            conn.execute(stmt, [row])

    def _key(self, key: str) -> str:
        return f"{self.mode}:{key}"

    # -- orders and the event journal -----------------------------------------------------
    def save_order(self, order: Order, *, event: OrderEvent | None = None) -> None:
        """Order row + journal line in ONE transaction: the write-ahead commit."""
        with self.store.begin() as conn:
            self._save_order_row(conn, order)
            if event is not None:
                orders_repo.append_order_event(conn, order.client_id, event, self.mode)

    def save_orders(self, items: list[tuple[Order, OrderEvent]]) -> None:
        """Many order rows and their journal lines in ONE transaction (one fsync for a cancel-all answer)."""
        with self.store.begin() as conn:
            for order, event in items:
                self._save_order_row(conn, order)
                orders_repo.append_order_event(conn, order.client_id, event, self.mode)

    def get_order(self, client_id: str) -> Order | None:
        o = orders_repo.get_order(self.store, client_id)
        return o

    def load_orders(self, *, open_only: bool = False, limit: int = 1000) -> list[Order]:
        if open_only:
            return orders_repo.load_open_orders(self.store, mode=self.mode)
        recent = orders_repo.list_orders(self.store, mode=self.mode, limit=limit)
        open_ = {o.client_id: o for o in orders_repo.load_open_orders(self.store, mode=self.mode)}
        merged = {o.client_id: o for o in recent} | open_
        return sorted(merged.values(), key=lambda o: (o.created_ms, o.client_id))

    def events(self, client_id: str | None = None) -> list[tuple[str, OrderEvent]]:
        return [(cid, ev) for _seq, cid, ev in orders_repo.load_order_events(self.store, client_id)]

    # -- fills -------------------------------------------------------------------------
    def save_fill(self, fill: Fill) -> bool:
        return orders_repo.record_fill(self.store, fill, self.mode)

    def record_fill(self, fill: Fill, *, order: Order | None, event: OrderEvent | None, position: Position,
                    balance: Balance) -> bool:
        """Fill, order row, journal line, position and wallet in ONE transaction (one fsync, and a crash
        can never leave a fill without its position). False, and nothing written, for a duplicate."""
        with self.store.begin() as conn:
            if not orders_repo.record_fill(conn, fill, self.mode):
                return False
            if order is not None:
                self._save_order_row(conn, order)
                if event is not None:
                    orders_repo.append_order_event(conn, order.client_id, event, self.mode)
            self._upsert(conn, "position", pf_repo.POSITIONS, ("mode", "symbol"), m.position_to_row(position, self.mode),
                         lambda: pf_repo.upsert_position(conn, position, self.mode))
            self._upsert(conn, "balance", pf_repo.BALANCES, ("mode", "currency"), m.balance_to_row(balance, self.mode),
                         lambda: pf_repo.upsert_balance(conn, balance, self.mode))
        return True

    def _upsert(self, conn: Any, name: str, tbl: Any, keys: tuple[str, ...], row: dict[str, Any],
                fallback: Any) -> None:
        stmt = self._upsert_stmt(name, tbl, keys, list(row))
        if stmt is None:
            fallback()
        else:
            conn.execute(stmt, [row])

    def has_fill(self, trade_id: str) -> bool:
        return bool(orders_repo.known_trade_ids(self.store, [trade_id]))

    def load_fills(self) -> list[Fill]:
        t = orders_repo.FILLS
        q = select(t).where(t.c.mode == self.mode).order_by(t.c.ts_ms, t.c.id)
        with transaction(self.store) as conn:
            return [m.fill_from_row(r) for r in conn.execute(q).mappings()]

    # -- positions and balances ----------------------------------------------------------
    def save_positions(self, positions: list[Position]) -> None:
        with self.store.begin() as conn:
            for p in positions:
                pf_repo.upsert_position(conn, p, self.mode)

    def load_positions(self) -> list[Position]:
        return list(pf_repo.load_positions(self.store, self.mode, include_flat=True).values())

    def save_balances(self, balances: list[Balance]) -> None:
        with self.store.begin() as conn:
            for b in balances:
                pf_repo.upsert_balance(conn, b, self.mode)

    def load_balances(self) -> list[Balance]:
        return list(pf_repo.load_balances(self.store, self.mode).values())

    # -- risk events, audit, key-value state -----------------------------------------------
    def record_risk_event(self, ts_ms: int, kind: str, rule: str, message: str, numbers: dict[str, Any]) -> None:
        safe = json.loads(json.dumps(numbers, default=str))
        records.record_risk_event(self.store, records.RiskEvent(ts_ms, rule, message, kind, safe, self.mode))

    def audit(self, ts_ms: int, actor: str, action: str, detail: str) -> None:
        records.audit(self.store, action, actor, {"detail": detail, "mode": self.mode}, ts_ms)

    def kv_get(self, key: str) -> Any | None:
        raw = records.get_state(self.store, self._key(key))
        return None if raw is None else json.loads(raw)

    def kv_set(self, key: str, value: Any) -> None:
        records.set_state(self.store, self._key(key), json.dumps(value, default=str))
