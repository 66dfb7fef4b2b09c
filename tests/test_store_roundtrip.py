"""Round trip of every store table with exact Decimals and big venue ids; journal append-only;
fills unique by trade id; migrations; file modes. The `db` tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from cashup_tui.domain.ids import ClientOrderId, VenueOrderId
from cashup_tui.domain.orders import Fill, Order, OrderEvent, OrderEventKind
from cashup_tui.domain.positions import Position
from cashup_tui.store import StoreError, candles, open_store, orders, portfolio, records
from cashup_tui.store import backtests as bt
from cashup_tui.store.migrations import LATEST
from cashup_tui.store.tables import V1_TABLES, V2_TABLES
from tests.stubs import btc_usdt

TINY = Decimal("0.000000012345678901234")
BIG_ID = "299207900263708423"
HUGE = Decimal("123456789012345678901234567890.000000000000000000001")


@pytest.fixture
def db(store_url: str):
    s = open_store(store_url)
    yield s
    s.close()


def _order(**kw) -> Order:
    base = dict(
        client_id=ClientOrderId("t-abc-1"), symbol="BTC_USDT", side=Side.SELL, size=Decimal("12.5"),
        order_type=OrderType.LIMIT, price=Decimal("65000.1") + TINY, tif=TimeInForce.POC, reduce_only=True,
        trigger_price=HUGE, status=OrderStatus.PARTIALLY_FILLED, filled=Decimal("2.5"),
        avg_fill_price=Decimal("65000.123456789012345678"), fees=-TINY, venue_order_id=VenueOrderId(BIG_ID),
        created_ms=1_700_000_000_123, updated_ms=1_700_000_000_456, strategy="ema_cross", reason="why",
        trade_ids=frozenset({"1", BIG_ID}),
    )
    base.update(kw)
    return Order(**base)


def _fill(trade_id: str = BIG_ID) -> Fill:
    return Fill(
        trade_id=trade_id, client_id=ClientOrderId("t-abc-1"), symbol="BTC_USDT", side=Side.SELL,
        size=Decimal("0.0001") + TINY, price=Decimal("65000.1"), fee=TINY, ts_ms=1_700_000_000_999,
        venue_order_id=VenueOrderId(BIG_ID), liquidity=Liquidity.MAKER,
    )


def test_orders_round_trip_exact(db) -> None:
    o = _order()
    orders.save_order(db, o, mode="paper")
    assert orders.get_order(db, "t-abc-1", "paper") == o
    assert orders.get_order_by_venue_id(db, BIG_ID) == o
    # update in place keyed by client id
    o2 = _order(status=OrderStatus.CANCELLED, reason="user")
    orders.save_order(db, o2, mode="paper")
    assert orders.get_order(db, "t-abc-1", "paper") == o2
    assert orders.load_open_orders(db) == []
    orders.save_order(db, _order(client_id=ClientOrderId("t-abc-2"), status=OrderStatus.UNKNOWN), mode="live")
    assert [x.client_id for x in orders.load_open_orders(db)] == ["t-abc-2"]
    assert orders.load_open_orders(db, mode="paper") == []
    assert len(orders.list_orders(db)) == 2


def test_journal_round_trip_and_append_only(db) -> None:
    evs = [
        OrderEvent(OrderEventKind.SUBMITTED, 1),
        OrderEvent(OrderEventKind.ACCEPTED, 2, venue_order_id=VenueOrderId(BIG_ID)),
        OrderEvent(OrderEventKind.FILLED, 3, fill=_fill()),
        OrderEvent(OrderEventKind.AMENDED, 4, new_price=HUGE, new_size=TINY),
        OrderEvent(OrderEventKind.CANCELLED, 5, reason="user"),
    ]
    seq = orders.append_order_event(db, "t-abc-1", evs[0], mode="paper")
    assert orders.append_order_events(db, [("t-abc-1", e) for e in evs[1:]], mode="paper") == 4
    got = orders.load_order_events(db, "t-abc-1")
    assert [g[2] for g in got] == evs
    assert [g[0] for g in got] == list(range(seq, seq + 5))
    assert orders.load_order_events(db, since_seq=got[2][0])[0][2] == evs[3]
    # the database itself refuses UPDATE and DELETE on the journal
    for sql in ("UPDATE order_events SET reason = 'x'", "DELETE FROM order_events"):
        with pytest.raises(Exception, match="append-only"), db.begin() as conn:
            conn.exec_driver_sql(sql)
    if db.is_sqlite:  # ... also from a plain sqlite3 connection that bypasses our code
        raw = sqlite3.connect(db.path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("DELETE FROM order_events WHERE seq = ?", (seq,))
        raw.close()
    assert len(orders.load_order_events(db)) == 5


def test_fills_unique_by_trade_id(db) -> None:
    assert orders.record_fill(db, _fill(), mode="live") is True
    assert orders.record_fill(db, _fill(), mode="live") is False
    assert orders.record_fill(db, _fill("2"), mode="live") is True
    got = orders.load_fills(db, client_id="t-abc-1")
    assert got == [_fill(), _fill("2")]
    assert got[0].fee == TINY and got[0].trade_id == BIG_ID
    assert orders.known_trade_ids(db, [BIG_ID, "3"]) == {BIG_ID}


def test_positions_balances_instruments(db) -> None:
    p = Position("BTC_USDT", quanto_multiplier=Decimal("0.0001"), size=Decimal(-3) - TINY, entry_price=HUGE,
                 realized_pnl=TINY, fees=Decimal("1.000000000000000000001"), funding=-TINY,
                 leverage=Decimal("12.5"), updated_ms=7)
    portfolio.upsert_position(db, p, mode="paper")
    assert portfolio.load_positions(db, "paper") == {"BTC_USDT": p}
    flat = Position("ETH_USDT")
    portfolio.upsert_position(db, flat, mode="paper")
    assert "ETH_USDT" not in portfolio.load_positions(db, "paper")
    assert portfolio.load_positions(db, "paper", include_flat=True)["ETH_USDT"] == flat
    assert portfolio.load_positions(db, "live") == {}
    b = Balance("USDT", total=HUGE, available=TINY, ts_ms=9)
    portfolio.upsert_balance(db, b, mode="paper")
    portfolio.upsert_balance(db, Balance("USDT", total=Decimal(1), available=Decimal(1)), mode="live")
    assert portfolio.load_balances(db, "paper") == {"USDT": b}
    inst = btc_usdt(maker_fee_rate=-TINY, in_delisting=True, orders_limit=7)
    assert portfolio.save_instruments(db, [inst]) == 1
    assert portfolio.get_instrument(db, "BTC_USDT") == inst
    assert portfolio.load_instruments(db) == {"BTC_USDT": inst}


def test_candles_and_funding_round_trip(db) -> None:
    rows = [(1_000 * 60_000 + i * 60_000, 1.5 + i, 2.5 + i, 0.5 + i, 1.25 + i, 10.0 * i) for i in range(5)]
    assert candles.upsert_candles(db, "BTC_USDT", "1m", rows) == 5
    df = candles.load_candles(db, "BTC_USDT", "1m")
    assert [tuple(r) for r in df.itertuples(index=False)] == rows
    assert df["open_ms"].dtype == "int64"
    bars = candles.load_bars(db, "BTC_USDT", "1m", start_ms=rows[1][0], end_ms=rows[2][0])
    assert [b.open_ms for b in bars] == [rows[1][0], rows[2][0]]
    # upsert overwrites a revised bar
    candles.upsert_candles(db, "BTC_USDT", "1m", [(rows[4][0], 9.0, 9.0, 9.0, 9.0, 1.0)])
    assert candles.load_candles(db, "BTC_USDT", "1m")["close"].iloc[-1] == 9.0
    # one name per bar length: '60s' is the same series as '1m'
    assert candles.canonical_timeframe("60m") == "1h" and candles.canonical_timeframe("1440m") == "1d"
    assert len(candles.load_candles(db, "BTC_USDT", "60s")) == 5
    candles.upsert_funding(db, "BTC_USDT", [(0, TINY), (28_800_000, "-0.00375")])
    assert candles.load_funding(db, "BTC_USDT") == [(0, TINY), (28_800_000, Decimal("-0.00375"))]
    infos = {(s.symbol, s.timeframe): s for s in candles.list_series(db)}
    assert infos[("BTC_USDT", "1m")].rows == 5 and infos[("BTC_USDT", "funding")].rows == 2


def test_backtests_and_trials(db) -> None:
    run = bt.BacktestRun(strategy="ema_cross", symbol="BTC_USDT", timeframe="1h", fingerprint="f" * 32,
                         params={"fast": 12, "slow": 26, "x": Decimal("0.1")}, metrics={"sharpe": 1.5},
                         status="done", cash=HUGE, started_ms=1, finished_ms=2, data_start_ms=3, data_end_ms=4)
    trades = [bt.BacktestTrade("BTC_USDT", "buy", TINY, 10, HUGE, 20, Decimal("2"), pnl=-TINY, fees=TINY, reason="x"),
              bt.BacktestTrade("BTC_USDT", "sell", Decimal(1), 30, 1.1)]  # float converted exactly via repr
    rid = bt.save_backtest_run(db, run, trades, [(10, 100.0, 0.0), (20, 99.5, -0.005)])
    got = bt.get_backtest_run(db, rid)
    assert got is not None
    assert got.cash == HUGE and got.params == {"fast": 12, "slow": 26, "x": "0.1"} and got.metrics == {"sharpe": 1.5}
    loaded = bt.load_backtest_trades(db, rid)
    assert loaded[0] == trades[0] and loaded[1].entry_price == Decimal("1.1")
    assert bt.load_equity(db, rid) == [(10, 100.0, 0.0), (20, 99.5, -0.005)]
    failing = bt.save_backtest_run(db, bt.BacktestRun("s", "BTC_USDT", "1h", "g" * 32))
    bt.finish_backtest_run(db, failing, status="failed", error="ZeroDivisionError in on_bar (s.py:12)")
    assert bt.get_backtest_run(db, failing).status == "failed"  # type: ignore[union-attr]
    assert [r.id for r in bt.list_backtest_runs(db)] == [failing, rid]
    assert [r.id for r in bt.find_runs_by_fingerprint(db, "f" * 32)] == [rid]
    assert bt.delete_backtest_run(db, rid) and bt.load_equity(db, rid) == [] and bt.load_backtest_trades(db, rid) == []
    # trials: unique per (study, params); a resumed sweep skips what is done
    t1 = bt.Trial("s1", {"a": 1, "b": 2}, 1.5, {"sharpe": 1.5}, created_ms=5)
    assert bt.record_trial(db, t1) is True
    assert bt.record_trial(db, bt.Trial("s1", {"b": 2, "a": 1}, 9.0)) is False  # same params, other key order
    assert bt.record_trial(db, bt.Trial("s1", {"a": 2, "b": 2}, None, status="failed", error="boom")) is True
    assert bt.record_trial(db, bt.Trial("s2", {"a": 1, "b": 2}, 0.1)) is True
    assert bt.finished_trial_hashes(db, "s1") == {bt.params_hash({"a": 1, "b": 2}), bt.params_hash({"a": 2, "b": 2})}
    best = bt.list_trials(db, "s1")
    assert best[0].objective == 1.5 and best[0].params == {"a": 1, "b": 2} and best[-1].objective is None


def test_history_audit_state(db) -> None:
    n = records.Notification(ts_ms=1, severity="critical", title="kill", body="b", channel="mailto", status="failed",
                             error="timeout")
    nid = records.record_notification(db, n)
    assert records.list_notifications(db) == [records.Notification(**{**_asdict(n), "id": nid})]
    e = records.RiskEvent(ts_ms=2, rule="max_leverage", message="3 > 2", state="halted",
                          numbers={"limit": Decimal("2"), "value": TINY}, mode="live")
    eid = records.record_risk_event(db, e)
    got = records.list_risk_events(db)[0]
    assert got.id == eid and got.numbers == {"limit": "2", "value": str(TINY)} and got.rule == "max_leverage"
    aid = records.audit(db, "order.place", "user", {"client_id": "t-1", "size": Decimal("1.5")}, ts_ms=3)
    assert records.list_audit(db) == [records.AuditEntry(3, "user", "order.place", {"client_id": "t-1", "size": "1.5"}, aid)]
    assert records.get_state(db, "trading_state") is None
    records.set_state(db, "trading_state", "halted")
    records.set_state(db, "trading_state", "active")
    assert records.get_state(db, "trading_state") == "active"
    assert [records.next_counter(db, "cid") for _ in range(3)] == [1, 2, 3]


def _asdict(x) -> dict:
    return {k: getattr(x, k) for k in x.__slots__}


def test_every_table_is_covered() -> None:
    """Guard: a new table must get a round-trip test above (add it here when you do)."""
    tested = {"schema_version", "instruments", "candles", "orders", "order_events", "fills", "positions", "balances",
              "backtest_runs", "backtest_trades", "backtest_equity", "notifications", "risk_events", "audit_log",
              "state", "opt_trials", "funding_rates"}
    assert {m.__tablename__ for m in V1_TABLES + V2_TABLES} == tested


def test_decimal_column_refuses_float(db) -> None:
    from cashup_tui.store.sql import table
    from cashup_tui.store.tables import BalanceRow

    with pytest.raises(Exception, match="refusing float"), db.begin() as conn:
        conn.execute(table(BalanceRow).insert(), {"mode": "", "currency": "X", "total": 0.1, "available": 0.1})


def test_file_modes_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "new" / "sub" / "c.sqlite"
    s = open_store(str(path), synchronous="NORMAL")
    orders.save_order(s, _order())  # forces -wal/-shm into existence
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert p.exists(), p
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p, oct(p.stat().st_mode))
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with s.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    s.close()
    # an existing, too-open file is tightened on open; FULL is the default
    os.chmod(path, 0o644)
    s = open_store(f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with s.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    s.close()


def test_foreign_keys_enforced(db) -> None:
    from cashup_tui.store.sql import table
    from cashup_tui.store.tables import BacktestEquityRow

    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(table(BacktestEquityRow).insert(), {"run_id": 999, "ts_ms": 1, "equity": 1.0, "drawdown": 0.0})


def _v2_row(row: dict) -> dict:
    """A row as code before schema v3 wrote it: no account."""
    return {k: v for k, v in row.items() if k != "account"}


def test_migration_from_v1_keeps_rows_under_the_default_account(store_url: str) -> None:
    from cashup_tui.store import mappers, schema_v1
    from cashup_tui.store.journal import StoreJournal

    s = open_store(store_url, target_version=1)
    assert s.schema_version == 1
    assert "state" not in inspect(s.engine).get_table_names()
    pos = Position("BTC_USDT", size=Decimal(-3) - TINY, entry_price=HUGE, updated_ms=7)
    bal = Balance("USDT", total=HUGE, available=TINY, ts_ms=9)
    with s.begin() as conn:  # the v1 tables as the code of that time wrote them
        conn.execute(schema_v1.ORDERS.insert(), _v2_row(mappers.order_to_row(_order(), "demo")))
        conn.execute(schema_v1.FILLS.insert(), _v2_row(mappers.fill_to_row(_fill(), "demo")))
        conn.execute(schema_v1.POSITIONS.insert(), _v2_row(mappers.position_to_row(pos, "demo")))
        conn.execute(schema_v1.BALANCES.insert(), _v2_row(mappers.balance_to_row(bal, "demo")))
        ev = OrderEvent(OrderEventKind.SUBMITTED, 1)
        conn.execute(schema_v1.ORDER_EVENTS.insert(), _v2_row(mappers.event_to_row("t-abc-1", ev, "demo")))
        conn.execute(schema_v1.RISK_EVENTS.insert(), {"ts_ms": 2, "rule": "r", "message": "m", "state": "halted",
                                                      "numbers": {}, "mode": "demo"})
    s.close()
    s = open_store(store_url, target_version=2)
    records.set_state(s, "demo:risk.state", '"halted"')  # the journal's v2 state key
    records.set_state(s, "trading_state", "x")  # not a journal key: left alone
    s.close()
    s = open_store(store_url)
    assert s.schema_version == LATEST == 8
    j = StoreJournal(s, "demo")
    assert j.account == "default"
    assert j.get_order("t-abc-1") == _order() and j.load_orders(open_only=True) == [_order()]
    assert j.load_fills() == [_fill()] and j.has_fill(BIG_ID)
    assert j.load_positions() == [pos] and j.load_balances() == [bal]
    assert j.events() == [("t-abc-1", ev)] and j.kv_get("risk.state") == "halted"
    assert records.list_risk_events(s, account="default")[0].state == "halted"
    assert records.get_state(s, "trading_state") == "x"
    other = StoreJournal(s, "demo", "alice")  # another account sees none of it
    assert (other.get_order("t-abc-1"), other.load_fills(), other.load_positions(), other.kv_get("risk.state")) == (
        None, [], [], None)
    with s.begin() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_version ORDER BY version")] == list(range(1, LATEST + 1))
    s.close()
    # re-opening is a no-op
    assert open_store(store_url).schema_version == LATEST


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    open_store(str(path)).close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO schema_version (version, description, applied_ms) VALUES (99, 'future', 0)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 99, newer than this CashUp knows"):
        open_store(str(path))


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE stuff (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="not a CashUp store"):
        open_store(str(path))


def test_memory_url_and_bad_settings() -> None:
    from cashup_tui.domain.errors import ConfigError

    s = open_store(":memory:")
    records.set_state(s, "a", "1")
    assert records.get_state(s, "a") == "1"
    with pytest.raises(ConfigError, match="synchronous"):
        open_store(":memory:", synchronous="fast")
    with pytest.raises(ConfigError, match="cannot use store URL"):
        open_store("nope://x:y:z@@")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.decimals(allow_nan=False, allow_infinity=False), st.decimals(allow_nan=False, allow_infinity=False, places=30))
def test_decimal_round_trip_property(db, a: Decimal, b: Decimal) -> None:
    """Any finite Decimal comes back identical, exponent included (str(x) is preserved)."""
    portfolio.upsert_balance(db, Balance("P", total=a, available=b), mode="prop")
    got = portfolio.load_balances(db, "prop")["P"]
    assert str(got.total) == str(a) and str(got.available) == str(b)


def test_unusable_locations_are_config_errors(tmp_path: Path) -> None:
    from cashup_tui.domain.errors import ConfigError

    (tmp_path / "adir").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        open_store(str(tmp_path / "adir"))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match=r"not a directory|cannot open"):
        open_store(str(tmp_path / "afile" / "db.sqlite"))
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        open_store(str(garbage))


def test_generic_dialect_fallbacks(db, monkeypatch: pytest.MonkeyPatch) -> None:
    """Backends without ON CONFLICT support use delete+insert / savepoint paths: same results."""
    from cashup_tui.store import sql

    monkeypatch.setattr(sql, "_dialect_insert", lambda conn, tbl: None)
    rows = [(60_000 * i, 1.0, 2.0, 0.5, 1.5, 1.0) for i in range(3)]
    candles.upsert_candles(db, "X", "1m", rows)
    candles.upsert_candles(db, "X", "1m", [(60_000, 9.0, 9.0, 9.0, 9.0, 9.0)])
    assert candles.load_candles(db, "X", "1m")["close"].tolist() == [1.5, 9.0, 1.5]
    assert orders.record_fill(db, _fill()) is True
    assert orders.record_fill(db, _fill()) is False
    assert len(orders.load_fills(db)) == 1


def test_sqlmodel_session_works_with_the_tables(db) -> None:
    from sqlmodel import select

    from cashup_tui.store.tables import AuditRow

    with db.session() as s:
        s.add(AuditRow(ts_ms=1, actor="me", action="test", details={"a": 1}))
        s.commit()
        got = s.exec(select(AuditRow)).one()
    assert (got.actor, got.details) == ("me", {"a": 1})


def test_concurrent_first_open_migrates_once(tmp_path: Path) -> None:
    """Four openers of one fresh file, many times over: each gets the latest schema and the migrations
    run once. Switching to WAL answers "database is locked" at once (no busy handler) while another
    opener holds the file; this failed about once in 25 fresh files before `enable_wal` waited."""
    from concurrent.futures import ThreadPoolExecutor

    for round_ in range(40):
        path = tmp_path / f"race{round_}.sqlite"

        def opener(_: int, path: Path = path) -> int:
            s = open_store(str(path))
            v = s.schema_version
            s.close()
            return v

        with ThreadPoolExecutor(4) as ex:
            assert list(ex.map(opener, range(4))) == [LATEST] * 4
        raw = sqlite3.connect(path)
        assert raw.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == LATEST
        raw.close()
