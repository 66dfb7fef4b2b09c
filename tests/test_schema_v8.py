"""Schema v8: a store written at v7 (the literal v7 DDL on SQLite, migration target 7 on PostgreSQL) moves
to exactly the schema a new store gets, its candle_stats rows recomputed on first use (they carry no
version, so a row a hand edit inside a series left wrong is not trusted); and every lookup of an order by
client id is served by an index, now that the plain client-id index is gone."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event

from cashup_tui.domain.orders import EVENT_KIND, OrderEvent, transition
from cashup_tui.store import candle_stats, candles, open_store
from cashup_tui.store.candle_stats_check import list_series_sqlite
from cashup_tui.store.candle_versions import STORE_ID_SQL, store_id_row
from cashup_tui.store.engine import transaction
from cashup_tui.store.journal import StoreJournal
from cashup_tui.store.migrations import LATEST
from tests import pg_server
from tests.store_v7_schema import V7_DDL, V7_MIGRATIONS
from tests.test_shared_store import _new

STEP = 60_000
BAR = "INSERT INTO candles VALUES (?, '1m', ?, 1, 2, 0.5, 1, 1)"
STATS = "INSERT INTO candle_stats VALUES (?, '1m', ?, ?, ?, ?)"  # v7: no version column
ORDER = ("INSERT INTO orders (account, client_id, symbol, side, order_type, size, price, tif, reduce_only, status, "
         "filled, avg_fill_price, fees, created_ms, updated_ms, strategy, reason, mode, trade_ids, version) VALUES "
         "('default', 't-x-1', 'BTC_USDT', 'buy', 'limit', '3', '26000', 'gtc', 0, 'open', '0', '0', '0', 1, 1, '', "
         "'', 'testnet', '[]', 1)")


def _sqlite_schema(path: Path) -> set[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        return set(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        con.close()


def _v7_file(path: Path) -> None:
    """What v7 CashUp left: its DDL and schema rows, series A with a right stats row, series B with the row
    a hand edit inside it left (a bar deleted, the row still counting it), an order."""
    con = sqlite3.connect(path)
    for ddl in V7_DDL:
        con.execute(ddl)
    con.executemany("INSERT INTO schema_version VALUES (?, ?, 0)", V7_MIGRATIONS)
    con.execute(STORE_ID_SQL, store_id_row())
    con.executemany(BAR, [(s, k * STEP) for s in ("A", "B") for k in range(6)])
    con.executemany(STATS, [("A", 0, 5 * STEP, 6, 0), ("B", 0, 5 * STEP, 6, 0)])
    con.execute("DELETE FROM candles WHERE symbol = 'B' AND open_ms = ?", (2 * STEP,))  # the hand edit
    con.execute(ORDER)
    con.commit()
    con.close()


def test_a_v7_sqlite_file_gets_the_new_schema_and_recomputes_its_stats(tmp_path: Path) -> None:
    fresh, old = tmp_path / "fresh.sqlite", tmp_path / "old.sqlite"
    open_store(str(fresh)).close()
    _v7_file(old)
    assert "ix_orders_client_id" in {r[1] for r in _sqlite_schema(old)}
    with open_store(str(old)) as db:
        assert db.schema_version == LATEST == 8
        with db.begin() as conn:  # lazy: the rows carry no version until first used
            assert [r[0] for r in conn.exec_driver_sql("SELECT version FROM candle_stats")] == [None, None]
    assert _sqlite_schema(old) == _sqlite_schema(fresh)
    assert list_series_sqlite(str(old)) is None  # no version: stale, the stdlib path hands over
    with open_store(str(old)) as db:
        with transaction(db) as conn:
            want = [candle_stats.scan(conn, s, "1m") for s in ("A", "B")]
        assert want[1] == ("B", "1m", 0, 5 * STEP, 5, 1)
        assert [(i.symbol, i.timeframe, i.first_ms, i.last_ms, i.rows, i.gaps)
                for i in candles.list_series(db, include_funding=False)] == want
        assert StoreJournal(db, "testnet").get_order("t-x-1") is not None
    assert list_series_sqlite(str(old)) == (want, [])  # recomputed rows stored with their versions


def _pg_schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "columns": "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default "
                   "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
        "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                    "WHERE NOT tgisinternal ORDER BY 1, 2",
    }
    with open_store(url) as db, db.begin() as conn:
        return {k: [tuple(r) for r in conn.exec_driver_sql(q)] for k, q in queries.items()}


def test_a_v7_postgres_database_gets_the_new_schema_and_recomputes_its_stats(pg: pg_server.PgServer) -> None:
    fresh, old = pg.create_database(), pg.create_database()
    open_store(fresh).close()
    with open_store(old, target_version=7) as db, db.begin() as conn:
        assert "ix_orders_client_id" in {r[0] for r in conn.exec_driver_sql("SELECT indexname FROM pg_indexes")}
        for s in ("A", "B"):
            for k in range(6):
                conn.exec_driver_sql(BAR.replace("?", "%s"), (s, k * STEP))
            conn.exec_driver_sql(STATS.replace("?", "%s"), (s, 0, 5 * STEP, 6, 0))
        conn.exec_driver_sql("DELETE FROM candles WHERE symbol = 'B' AND open_ms = %s", (2 * STEP,))
    assert _pg_schema(old) == _pg_schema(fresh)
    assert "ix_orders_client_id" not in {r[1] for r in _pg_schema(old)["indexes"]}
    with open_store(old) as db:
        assert db.schema_version == LATEST
        with transaction(db) as conn:
            want = [candle_stats.scan(conn, s, "1m") for s in ("A", "B")]
        assert want[1] == ("B", "1m", 0, 5 * STEP, 5, 1)
        assert [(i.symbol, i.timeframe, i.first_ms, i.last_ms, i.rows, i.gaps)
                for i in candles.list_series(db, include_funding=False)] == want
        with db.begin() as conn:
            got = conn.exec_driver_sql("SELECT s.version = v.version FROM candle_stats s JOIN candle_versions v "
                                       "USING (symbol, timeframe)").all()
        assert got == [(True,), (True,)]


def _seeks_client_id(con: sqlite3.Connection, sql: str) -> bool:
    """SQLite plans `sql` as an index search of orders down to the client id (not a scan of the table, nor
    of one account's or mode's part of the index)."""
    plan = [str(r[-1]) for r in con.execute(f"EXPLAIN QUERY PLAN {sql}") if re.search(r"\borders\b", str(r[-1]))]
    return bool(plan) and all(re.match(r"SEARCH orders USING (COVERING )?INDEX .*client_id=\?", p) for p in plan)


def test_every_order_lookup_by_client_id_uses_an_index(tmp_path: Path) -> None:
    """Every statement an order's life runs (claim, acks, a stale writer's read and merge, lookups) that
    selects orders by client id is planned as an index search, never a scan: the plain client-id index
    is gone, so a lookup that does not pin account and mode would scan. Statements are caught as SQLite
    runs them (SQLAlchemy's and the fast path's alike)."""
    path = tmp_path / "s.sqlite"
    seen: list[str] = []
    stores = [open_store(str(path)) for _ in range(2)]
    for s in stores:
        event.listen(s.engine, "connect", lambda dbapi, _rec: dbapi.set_trace_callback(seen.append))
        s.engine.dispose()  # connections from here on trace
    a, b = (StoreJournal(s, "testnet") for s in stores)
    try:
        sub = OrderEvent(EVENT_KIND.SUBMITTED, 2)
        o = transition(_new(), sub)
        a.save_order(o, event=sub)  # the write-ahead claim
        stale = b.get_order("t-x-1")
        acc = OrderEvent(EVENT_KIND.ACCEPTED, 3, venue_order_id="9001")
        a.save_order(transition(o, acc), event=acc)  # the update from the version it knows
        assert stale is not None
        b.save_order(stale)  # B's version is old: its update misses, it reads and merges
        a.load_orders(open_only=True)
        a.events("t-x-1")
    finally:
        for s in stores:
            s.close()
    by_client = [q for q in seen if re.search(r"\bFROM orders\b|\bUPDATE orders\b", q)
                 and re.search(r"\bWHERE\b.*\bclient_id\b", q, re.S)]
    assert len({q.split(" WHERE ")[0][:12] for q in by_client}) == 2, by_client  # SELECTs and UPDATEs seen
    con = sqlite3.connect(path)
    try:
        for bad in ("client_id = 't-x-1'", "account = 'default' AND client_id = 't-x-1'"):  # what it would catch
            assert not _seeks_client_id(con, f"SELECT * FROM orders WHERE {bad}")
        assert [q for q in by_client if not _seeks_client_id(con, q)] == []
    finally:
        con.close()
