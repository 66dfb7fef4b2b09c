"""Schema v3: rows that belong to a venue account carry it.

Orders, the order journal, fills, positions, balances, risk events and the journal's key-value state
gain an `account` (existing rows: `DEFAULT_ACCOUNT`), and their keys become (account, mode, ...), so
two traders or two accounts sharing one database never overwrite or reconcile away each other's rows.
Studies, backtests, candles and instruments stay shared.

SQLite cannot change a primary key or drop an inline UNIQUE: it rebuilds those four tables (rename,
create, copy, drop, in the migration's one transaction). PostgreSQL alters them in place, with the
same index and constraint names the models declare.
"""

from __future__ import annotations

from sqlalchemy import Connection, column, insert, literal, or_, select, update
from sqlalchemy import table as sql_table

from cashup_tui.store import schema_v1
from cashup_tui.store import tables as t

REBUILT = ("orders", "fills", "positions", "balances")
ADDED = ("order_events", "risk_events")  # a plain ADD COLUMN: their keys do not change
V2_MODES = ("demo", "paper", "testnet", "live")  # the journal's state keys were "<mode>:<key>"
ADD_ACCOUNT = f"ADD COLUMN account VARCHAR NOT NULL DEFAULT '{t.DEFAULT_ACCOUNT}'"

_PG_KEYS = {
    "orders": ("DROP INDEX ix_orders_client_id", "CREATE INDEX ix_orders_client_id ON orders (client_id)",
               "CREATE UNIQUE INDEX ux_orders_account_mode_client ON orders (account, mode, client_id)"),
    "fills": ("ALTER TABLE fills DROP CONSTRAINT fills_trade_id_key",
              "ALTER TABLE fills ADD CONSTRAINT uq_fills_account_mode_trade UNIQUE (account, mode, trade_id)"),
    "positions": ("ALTER TABLE positions DROP CONSTRAINT positions_pkey",
                  "ALTER TABLE positions ADD PRIMARY KEY (account, mode, symbol)"),
    "balances": ("ALTER TABLE balances DROP CONSTRAINT balances_pkey",
                 "ALTER TABLE balances ADD PRIMARY KEY (account, mode, currency)"),
}
_MODELS = {"orders": t.OrderRow, "fills": t.FillRow, "positions": t.PositionRow, "balances": t.BalanceRow}


def _rebuild_sqlite(conn: Connection, name: str) -> None:
    old = schema_v1.FROZEN[name]
    for ix in old.indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {ix.name}")
    conn.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}_v2")
    new = _MODELS[name].__table__  # type: ignore[attr-defined]
    new.create(conn)
    cols = [c.name for c in old.columns]
    src = sql_table(f"{name}_v2", *[column(c) for c in cols])
    query = select(*[src.c[c] for c in cols], literal(t.DEFAULT_ACCOUNT))
    conn.execute(insert(new).from_select([*cols, "account"], query))
    conn.exec_driver_sql(f"DROP TABLE {name}_v2")


def v3(conn: Connection) -> None:
    """Account keys on account-owned rows (see the module docstring)."""
    for name in REBUILT:
        if conn.dialect.name == "sqlite":
            _rebuild_sqlite(conn, name)
        else:
            conn.exec_driver_sql(f"ALTER TABLE {name} {ADD_ACCOUNT}")
            for stmt in _PG_KEYS[name]:
                conn.exec_driver_sql(stmt)
    for name in ADDED:
        conn.exec_driver_sql(f"ALTER TABLE {name} {ADD_ACCOUNT}")
    state = t.StateRow.__table__  # type: ignore[attr-defined]
    conn.execute(update(state).where(or_(*[state.c.key.startswith(f"{m}:") for m in V2_MODES]))
                 .values(key=literal(f"{t.DEFAULT_ACCOUNT}/") + state.c.key))
