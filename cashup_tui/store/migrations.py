"""Schema version and forward migrations.

`MIGRATIONS` is an ordered list of (version, description, function). Opening a store runs
every migration above the recorded version inside one write transaction (BEGIN IMMEDIATE on
SQLite, so two processes opening the same file at once do not both migrate). A database newer
than the code is refused with a clear error; there are no downgrades.

Rule for future migrations: a migration must not rely on the *current* model shape of tables
created by an earlier one. Migration 1 builds its tables from the models because no later
migration alters them yet; the first migration that alters a v1 table must first freeze the
v1 DDL here (v3 did: `schema_v1` holds the v1 shape of the tables it alters).

PostgreSQL: the migration transaction first takes a transaction-scoped advisory lock, so several
processes opening a new database at once migrate it once, in turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Table, inspect, select, text
from sqlmodel import SQLModel

from cashup_tui.store import schema_v1
from cashup_tui.store import tables as t
from cashup_tui.store.lite import StoreError
from cashup_tui.store.migration_v3 import v3
from cashup_tui.store.types import MS

if TYPE_CHECKING:
    from cashup_tui.store.engine import Store

APPEND_ONLY = ("order_events",)
FILLS_TIME_INDEX = "ix_fills_account_mode_ts"
ORDERS_CLIENT_INDEX = "ix_orders_client_id"  # v1..v7; v8 drops it
PG_LOCK_KEY = 0x43617368557031  # pg_advisory_xact_lock key of CashUp's migrations ("CashUp1")


def _create(conn: Connection, models: tuple[type[SQLModel], ...]) -> None:
    """Create the tables of `models`; those a later migration alters in their v1 shape (schema_v1)."""
    for m in models:
        frozen = schema_v1.FROZEN.get(str(m.__tablename__))
        tbl: Table = frozen if frozen is not None else m.__table__  # type: ignore[attr-defined]
        tbl.create(conn, checkfirst=True)


def _append_only_triggers(conn: Connection, table: str) -> None:
    """Refuse UPDATE and DELETE on a journal table at the database level."""
    if conn.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(  # no '%' (a placeholder to psycopg): the message is concatenated
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION USING MESSAGE = '{table} is append-only: ' || TG_OP || ' refused'; "
            f"END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )


def _v1(conn: Connection) -> None:
    """Instruments, candles, orders, journal, fills, positions, balances, backtests, history, audit."""
    _create(conn, t.V1_TABLES)
    for table in APPEND_ONLY:
        _append_only_triggers(conn, table)


def _v2(conn: Connection) -> None:
    """Key-value state, optimisation trials, funding-rate history."""
    _create(conn, t.V2_TABLES)


def _v4(conn: Connection) -> None:
    """orders.version: the compare-and-set counter that stops a stale writer overwriting a newer row.
    Plain ALTER TABLE (SQLite and PostgreSQL); skipped where v3's SQLite rebuild already made the column."""
    if "version" not in {c["name"] for c in inspect(conn).get_columns("orders")}:
        conn.exec_driver_sql("ALTER TABLE orders ADD COLUMN version INTEGER NOT NULL DEFAULT 0")


def _v5(conn: Connection) -> None:
    """candle_stats: per-series statistics for `data list`, filled from the candles already stored
    (in its v5 shape: v8 adds the version they were computed at)."""
    from cashup_tui.store.candle_list import one_of, run_of, series_keys
    from cashup_tui.store.candle_stats import scan

    _create(conn, t.V5_TABLES)
    for sym, tf in series_keys(one_of(conn)):
        row = scan(conn, sym, tf)
        if row is not None:
            run_of(conn)("INSERT INTO candle_stats (symbol, timeframe, first_ms, last_ms, rows, gaps) "
                         "VALUES (:s, :tf, :first, :last, :rows, :gaps)",
                         dict(zip(("s", "tf", "first", "last", "rows", "gaps"), row, strict=True)))


def _v6(conn: Connection) -> None:
    """fills by (account, mode, time): start-up reads the newest fill and a recent window, not the table."""
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {FILLS_TIME_INDEX} ON fills (account, mode, ts_ms)")


def _v7(conn: Connection) -> None:
    """candle_versions: per-series versions bumped by triggers on every candle write, and the store's id;
    what the derived column cache checks (store.candle_versions, store.candle_cache)."""
    from cashup_tui.store.candle_versions import install

    _create(conn, t.V7_TABLES)
    install(conn)


def _v8(conn: Connection) -> None:
    """candle_stats.version: the series version (v7) each row was computed at, so a row after any write
    around it, a hand edit inside a series included, is known stale (store.candle_stats). Rows already
    there get none: stale, each series recomputed on its first listing or write rather than all of them
    here, in the transaction every command's first open of the store waits behind. And orders lose the
    plain client-id index: every lookup by client id pins account and mode, which the unique index
    serves, and each order claim wrote a page of both."""
    conn.exec_driver_sql(f"ALTER TABLE candle_stats ADD COLUMN version {MS.compile(dialect=conn.dialect)}")
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {ORDERS_CLIENT_INDEX}")


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema", _v1),
    (2, "state, optimisation trials, funding rates", _v2),
    (3, "account keys on orders, fills, positions, balances, risk state", v3),
    (4, "orders.version for compare-and-set writes", _v4),
    (5, "candle_stats: per-series span, rows and gaps", _v5),
    (6, "fills index on account, mode and time", _v6),
    (7, "candle_versions: per-series versions for the column cache", _v7),
    (8, "candle_stats.version; orders without the plain client_id index", _v8),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    """0 for an empty database; refuses a non-empty database that is not a CashUp store."""
    names = set(inspect(conn).get_table_names())
    if "schema_version" not in names:
        if names:
            where = "file" if conn.dialect.name == "sqlite" else f"empty {conn.dialect.name} database"
            raise StoreError(
                f"this database has tables ({', '.join(sorted(names)[:5])}...) but is not a CashUp store",
                hint=f"point --db at a new {where} or at an existing CashUp database",
            )
        return 0
    tbl = t.SchemaVersionRow.__table__  # type: ignore[attr-defined]
    versions = conn.execute(select(tbl.c.version)).scalars().all()
    return max(versions, default=0)


def upgrade(store: Store, target: int | None = None) -> int:
    """Bring the schema to `target` (default: latest); return the version now in the file."""
    goal = LATEST if target is None else target
    if not 0 <= goal <= LATEST:
        raise ValueError(f"unknown schema version {goal}; this code knows 1..{LATEST}")
    with store.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        have = current_version(conn)
        if have > LATEST:
            where = store.display
            raise StoreError(
                f"the store {where} has schema version {have}, newer than this CashUp knows ({LATEST})",
                hint=f"upgrade CashUp (pip install -U cashup), or point --db at another "
                     f"{'file' if store.is_sqlite else 'database'}",
            )
        tbl = t.SchemaVersionRow.__table__  # type: ignore[attr-defined]
        for version, description, fn in MIGRATIONS:
            if have < version <= goal:
                fn(conn)
                conn.execute(
                    tbl.insert(),
                    {"version": version, "description": description, "applied_ms": int(time.time() * 1000)},
                )
                have = version
    return have
