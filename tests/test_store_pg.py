"""PostgreSQL as a real store, and accounts sharing one database: inserts that know whether they
inserted, concurrent first opens, two accounts' rows kept apart (store and running nodes), and
errors that name the backend without printing the database password."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import Liquidity, OrderStatus, OrderType, Side
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.orders import Fill, Order, OrderEvent, OrderEventKind
from cashup_tui.domain.positions import Position
from cashup_tui.store import open_store, records
from cashup_tui.store.journal import StoreJournal
from cashup_tui.store.migrations import LATEST
from cashup_tui.store.sql import insert_ignore
from tests import pg_server
from tests.test_runtime_cli import cashup

D = Decimal


def _order(cid: str = "c-1", status: OrderStatus = OrderStatus.OPEN, filled: D = D(0)) -> Order:
    return Order(client_id=ClientOrderId(cid), symbol="BTC_USDT", side=Side.BUY, size=D(2), order_type=OrderType.LIMIT,
                 price=D(100), status=status, filled=filled, created_ms=1_700_000_000_000)


def _fill(trade_id: str = "1", cid: str = "c-1") -> Fill:
    return Fill(trade_id=trade_id, client_id=ClientOrderId(cid), symbol="BTC_USDT", side=Side.BUY, size=D(1),
                price=D(100), fee=D("0.01"), ts_ms=1_700_000_000_500, liquidity=Liquidity.TAKER)


def test_insert_ignore_knows_whether_it_inserted(store_url: str) -> None:
    """psycopg 3 reports rowcount -1 for INSERT .. ON CONFLICT: trusting it said 'duplicate' for new rows."""
    with open_store(store_url) as s, s.begin() as conn:
        from cashup_tui.store.records import STATE

        assert insert_ignore(conn, STATE, {"key": "k", "value": "1", "updated_ms": 1}, keys=("key",)) is True
        assert insert_ignore(conn, STATE, {"key": "k", "value": "2", "updated_ms": 2}, keys=("key",)) is False
        assert insert_ignore(conn, STATE, {"key": "k2", "value": "3", "updated_ms": 3}, keys=("key",)) is True


def test_a_fill_is_saved_with_its_order_position_and_wallet(store_url: str) -> None:
    with open_store(store_url) as s:
        j = StoreJournal(s, "testnet")
        j.save_order(_order())
        filled = _order(status=OrderStatus.PARTIALLY_FILLED, filled=D(1))
        pos = Position("BTC_USDT", size=D(1), entry_price=D(100), updated_ms=5)
        wallet = Balance("USDT", total=D("999.99"), available=D("899.99"), ts_ms=5)
        ev = OrderEvent(OrderEventKind.FILLED, 5, fill=_fill())
        assert j.record_fill(_fill(), order=filled, event=ev, position=pos, balance=wallet) is True
        assert j.get_order("c-1") == filled and j.load_positions() == [pos] and j.load_balances() == [wallet]
        assert [e.kind for _, e in j.events("c-1")] == [OrderEventKind.FILLED]
        # the same venue trade again: nothing written
        other = Position("BTC_USDT", size=D(9), entry_price=D(1), updated_ms=6)
        assert j.record_fill(_fill(), order=_order(), event=ev, position=other, balance=wallet) is False
        assert j.get_order("c-1") == filled and j.load_positions() == [pos] and len(j.load_fills()) == 1


def test_two_accounts_on_one_database_keep_their_own_rows(store_url: str) -> None:
    with open_store(store_url) as s:
        alice, bob = StoreJournal(s, "live", "alice"), StoreJournal(s, "live", "bob")
        for j, size in ((alice, D(1)), (bob, D(5))):  # the same client id, trade id, symbol and keys
            j.save_order(_order())
            assert j.record_fill(_fill(), order=_order(status=OrderStatus.FILLED, filled=D(2)), event=None,
                                 position=Position("BTC_USDT", size=size), balance=Balance("USDT", size, size)) is True
            j.kv_set("risk.state", {"state": f"halted-{size}"})
            j.record_risk_event(1, "halt", "max_loss", "m", {})
        bob.save_order(_order("c-2"))
        assert alice.load_orders(open_only=True) == [] and [o.client_id for o in bob.load_orders(open_only=True)] == ["c-2"]
        assert [p.size for p in alice.load_positions()] == [D(1)] and [p.size for p in bob.load_positions()] == [D(5)]
        assert [b.total for b in alice.load_balances()] == [D(1)] and [b.total for b in bob.load_balances()] == [D(5)]
        assert alice.kv_get("risk.state") == {"state": "halted-1"} and bob.kv_get("risk.state") == {"state": "halted-5"}
        assert len(alice.load_fills()) == len(bob.load_fills()) == 1 and alice.has_fill("1") and bob.has_fill("1")
        assert StoreJournal(s, "live").load_fills() == [] and StoreJournal(s, "live").get_order("c-1") is None
        assert {e.account for e in records.list_risk_events(s)} == {"alice", "bob"}


async def test_two_accounts_nodes_on_one_database_never_reconcile_each_other(store_url: str) -> None:
    """Alice's resting order and position survive Bob's node starting and reconciling against his venue."""
    from cashup_tui.runtime import build_node
    from cashup_tui.settings import Settings, replace_section

    def node(account: str):
        s = replace_section(Settings(), "gate", account=account)
        return build_node(s, "demo", db_url=store_url, symbols=["BTC_USDT"])

    a = node("alice")
    await a.start()
    try:
        await a.om.submit(a.om.build("BTC_USDT", "buy", D(4), order_type="market"))
        far = a.instruments["BTC_USDT"].round_price(a.cache.mark("BTC_USDT") * D("0.97"), "down")
        rest = (await a.om.submit(a.om.build("BTC_USDT", "buy", D(1), price=far))).order
        assert rest.status is OrderStatus.OPEN
        b = node("bob")
        await b.start()
        try:
            assert not any("BTC_USDT" in c for c in b.reconcile_changes), b.reconcile_changes
            assert b.journal.load_orders() == [] and b.journal.load_fills() == []
            pos = b.portfolio.positions.get("BTC_USDT")
            assert pos is None or pos.is_flat
            assert await b.om.reconcile() == []
        finally:
            await b.stop()
        assert a.journal.get_order(rest.client_id).status is OrderStatus.OPEN
        assert {p.symbol: p.size for p in a.journal.load_positions()} == {"BTC_USDT": D(4)}
        assert await a.om.reconcile() == []
    finally:
        await a.stop()


def test_four_processes_opening_a_new_postgres_database_all_succeed(pg: pg_server.PgServer, tmp_path: Path) -> None:
    url = pg.create_database()
    go = tmp_path / "go"
    code = ("import sys, time, pathlib\n"
            "from cashup_tui.store import open_store\n"
            "ready, go = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])\n"
            "ready.write_text('1')\n"
            "end = time.monotonic() + 60\n"
            "while not go.exists() and time.monotonic() < end: time.sleep(0.005)\n"
            "s = open_store(sys.argv[1]); print(s.schema_version); s.close()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, url, str(tmp_path / f"ready{i}"), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    end = time.monotonic() + 60
    while not all((tmp_path / f"ready{i}").exists() for i in range(4)) and time.monotonic() < end:
        time.sleep(0.01)
    go.write_text("1")  # all four are imported and waiting: release them together
    results = [(p.wait(60), *p.communicate()) for p in procs]
    assert [(rc, out.strip()) for rc, out, _ in results] == [(0, str(LATEST))] * 4, [e for *_, e in results]
    with open_store(url) as s, s.begin() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_version ORDER BY version")] == list(range(1, LATEST + 1))


def test_postgres_errors_name_the_backend_and_hide_the_password(
    pg: pg_server.PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = pg_server.PASSWORD
    missing_db = pg.url("no_such_database", password=True)
    closed = f"postgresql+psycopg://{pg_server.USER}:{secret}@127.0.0.1:1/x"
    for url in (missing_db, closed):
        for args in (("data", "list"), ("orders", "list", "--mode", "testnet"), ("backtest", "list")):
            rc, out, err = cashup(capsys, "--db", url, *args)
            assert rc in (1, 2), (args, out, err)
            assert secret not in out + err, (args, out, err)
            assert "PostgreSQL server at 127.0.0.1" in err and "***" in err, (args, err)
    # a working PostgreSQL URL with a password never prints it either; postgresql:// means psycopg 3
    url = pg.create_database().replace("cashup@", f"cashup:{secret}@").replace("postgresql+psycopg://", "postgresql://")
    rc, out, err = cashup(capsys, "--db", url, "data", "list")
    assert rc == 0 and secret not in out + err, err


def test_every_ms_column_holds_64_bit_times(store_url: str) -> None:
    """Epoch milliseconds exceed 2**31: BIGINT on PostgreSQL (SQLite's INTEGER is 64-bit)."""
    from sqlalchemy import BigInteger, Integer, inspect

    with open_store(store_url) as s:
        insp = inspect(s.engine)
        cols = [(t, c) for t in insp.get_table_names() for c in insp.get_columns(t) if c["name"].endswith("_ms")]
        assert len(cols) >= 20
        want = Integer if s.is_sqlite else BigInteger
        assert [(t, c["name"]) for t, c in cols if not isinstance(c["type"], want)] == []
        later = 2**41  # year 2039 and far beyond
        records.audit(s, "x", "me", {}, ts_ms=later)
        assert records.list_audit(s)[0].ts_ms == later


def test_an_existing_v2_sqlite_file_moves_forward_with_its_rows(tmp_path: Path) -> None:
    """A file made by the previous release (literal v2 DDL and rows, no SQLAlchemy) keeps every row, now
    under the default account; migration 1..2 still creates exactly that v2 shape."""
    import sqlite3

    from tests.store_v2_schema import V2_DDL, V2_MIGRATIONS

    fresh = tmp_path / "fresh.sqlite"
    open_store(str(fresh), target_version=2).close()
    raw = sqlite3.connect(fresh)
    assert sorted(r[0] for r in raw.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")) == sorted(V2_DDL)
    raw.close()
    old = tmp_path / "old.sqlite"
    raw = sqlite3.connect(old)
    for ddl in V2_DDL:
        raw.execute(ddl)
    raw.executemany("INSERT INTO schema_version VALUES (?, ?, 0)", V2_MIGRATIONS)
    raw.execute("INSERT INTO orders (client_id, symbol, side, order_type, size, price, tif, reduce_only, status, filled,"
                " avg_fill_price, fees, created_ms, updated_ms, strategy, reason, mode, trade_ids) VALUES ('c-1', "
                "'BTC_USDT', 'buy', 'limit', '2', '100', 'gtc', 0, 'open', '0', '0', '0', 1700000000000, 0, '', '', "
                "'live', '[]')")
    raw.execute("INSERT INTO fills (trade_id, client_id, symbol, side, size, price, fee, ts_ms, liquidity, mode) "
                "VALUES ('1', 'c-1', 'BTC_USDT', 'buy', '1', '100', '0.01', 1700000000500, 'taker', 'live')")
    raw.execute("INSERT INTO positions VALUES ('live', 'BTC_USDT', '1', '1', '100', '0', '0', '0', '1', 5)")
    raw.execute("INSERT INTO balances VALUES ('live', 'USDT', '999.99', '899.99', 5)")
    raw.execute("INSERT INTO order_events (client_id, kind, ts_ms, reason, mode, recorded_ms) "
                "VALUES ('c-1', 'submitted', 1, '', 'live', 1)")
    raw.execute("INSERT INTO state VALUES ('live:risk.state', '\"halted\"', 1)")
    raw.commit()
    raw.close()
    with open_store(str(old)) as s:
        assert s.schema_version == LATEST == 8
        j = StoreJournal(s, "live")
        assert j.load_orders(open_only=True) == [_order()] and j.load_fills() == [_fill()]
        assert j.load_positions() == [Position("BTC_USDT", size=D(1), entry_price=D(100), updated_ms=5)]
        assert j.load_balances() == [Balance("USDT", total=D("999.99"), available=D("899.99"), ts_ms=5)]
        assert [e.kind for _, e in j.events("c-1")] == [OrderEventKind.SUBMITTED]
        assert j.kv_get("risk.state") == "halted"
        assert StoreJournal(s, "live", "alice").load_orders() == []


def test_candle_and_funding_imports_on_both_backends(store_url: str) -> None:
    """`cashup data import`'s store path: idempotent, conflicts refused, --replace, gaps, exact funding rates."""
    from cashup_tui.domain.errors import DataError
    from cashup_tui.store import candles

    h = 3_600_000
    rows = [(1_700_000_000_000 // h * h + i * h, 1.1 + i, 2.2 + i, 0.3 + i, 1.7 + i, 0.1 * i) for i in range(30)
            if i not in (7, 8, 20)]
    with open_store(store_url) as s:
        assert candles.import_candles(s, "BTC_USDT", "60m", rows).inserted == 27
        assert candles.import_candles(s, "BTC_USDT", "1h", rows).unchanged == 27
        changed = [*rows[:-1], (rows[-1][0], 9.0, 9.0, 9.0, 9.0, 9.0)]
        with pytest.raises(DataError, match="1 bars of BTC_USDT 1h are already stored with different values"):
            candles.import_candles(s, "BTC_USDT", "1h", changed)
        assert [tuple(r) for r in candles.load_candles(s, "BTC_USDT", "1h").itertuples(index=False)] == rows
        assert candles.import_candles(s, "BTC_USDT", "1h", changed, replace=True).replaced == 27
        assert candles.series_gaps(s, "BTC_USDT", "1h") == [(rows[7][0] - 2 * h, rows[7][0] - h),
                                                            (rows[18][0] - h, rows[18][0] - h)]
        assert candles.import_funding(s, "BTC_USDT", [(0, "0.000123456789012345678"), (28_800_000, "-0.0001")]).inserted == 2
        assert candles.load_funding(s, "BTC_USDT")[0] == (0, D("0.000123456789012345678"))
        info = {x.timeframe: x for x in candles.list_series(s)}
        assert (info["1h"].rows, info["1h"].gaps, info["1h"].missing, info["funding"].rows) == (27, 2, 3, 2)
        assert candles.delete_series(s, "BTC_USDT", "1h") == 27 and candles.list_series(s, include_funding=False) == []


def test_missing_postgres_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_server, "pg_bin_dir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="initdb/pg_ctl not found"):
        pg_server.start_server()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        pg_server.start_server()
