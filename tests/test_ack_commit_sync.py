"""A submit's deferred ack is the only commit made without a sync of its own, on SQLite (synchronous=NORMAL
on a WAL store configured FULL) and PostgreSQL (synchronous_commit=off for that transaction): the level in
force at every COMMIT is read on the connection itself, so a relaxed level that leaked onto the cancel, fill
or amend written right after the flush in the same call chain, or onto a locally armed trigger's ACCEPTED
line (not at the venue: nothing would settle its loss), fails here. A kill -9 after the relaxed commit
keeps the ack: tests/test_order_manager_crash.py (crash point after_ack_commit)."""

from __future__ import annotations

import functools
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from cashup_tui.domain.account import Balance
from cashup_tui.domain.enums import OrderStatus
from cashup_tui.domain.positions import Position
from cashup_tui.store import Store, open_store
from cashup_tui.store.journal import StoreJournal
from tests.engine_fakes import make_engine

D = Decimal


def _ask(store: Store) -> str:
    return "SHOW synchronous_commit" if store.engine.dialect.name == "postgresql" else "PRAGMA synchronous"


def _levels(store: Store) -> tuple[str, str]:
    """(configured, relaxed) as the backend reports them."""
    return ("on", "off") if store.engine.dialect.name == "postgresql" else ("2", "1")


def _trace_commits(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """(level in force at the COMMIT, kinds of the journal lines the transaction wrote), one per commit.
    SQLite: every commit of the driver's connections (new ones: the engine is disposed first), so the
    journal's writes straight on SQLite's connection (`store/order_fast.py`) are traced like SQLAlchemy's."""
    out: list[tuple[str, list[str]]] = []
    seen = [0]
    ask = _ask(store)

    def on_commit(raw: Any) -> None:
        level = str(raw.execute(ask).fetchone()[0])
        rows = raw.execute(f"SELECT seq, kind FROM order_events WHERE seq > {seen[0]} ORDER BY seq").fetchall()
        if rows:
            seen[0] = rows[-1][0]
        out.append((level, [str(k) for _, k in rows]))

    if store.engine.dialect.name == "sqlite":
        class Traced(sqlite3.Connection):
            def commit(self) -> None:
                if self.in_transaction:
                    on_commit(self)
                super().commit()

        store.engine.dispose()
        monkeypatch.setattr(sqlite3.dbapi2, "connect", functools.partial(sqlite3.dbapi2.connect, factory=Traced))
    else:
        event.listen(store.engine, "commit", lambda conn: on_commit(conn.connection.driver_connection))
    return out


def _open(url: str) -> Store:
    store = open_store(url, synchronous="FULL")
    if store.engine.dialect.name == "postgresql":  # the test server runs with synchronous_commit=off
        with store.engine.connect() as c:
            c.exec_driver_sql(f'ALTER DATABASE "{make_url(store.url).database}" SET synchronous_commit = on')
            c.commit()
    store.engine.dispose()  # new connections: the database's setting, the trace below
    return store


async def test_only_deferred_acks_commit_relaxed(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _open(store_url)
    configured, relaxed = _levels(store)
    commits = _trace_commits(store, monkeypatch)
    e = make_engine(journal=StoreJournal(store, "paper"))
    om = e.om
    resting = [om.build("BTC_USDT", "buy", D(1), price=D(49000)) for _ in range(3)]
    # each write below comes before the loop turns, so it first flushes the previous submit's deferred ack
    await om.submit(resting[0])
    assert (await om.cancel(resting[0].client_id)).status is OrderStatus.CANCELLED
    await om.submit(resting[1])
    assert om.on_fill(e.venue.fill_resting(resting[1].client_id))
    await om.submit(resting[2])
    assert (await om.amend(resting[2].client_id, price=D(48000))).price == D(48000)
    stop = om.build("BTC_USDT", "sell", D(1), order_type="stop_market", trigger_price=D(48000))
    assert (await om.submit(stop)).order.status is OrderStatus.OPEN  # held here: "armed locally"
    om.journal.save_positions([Position("BTC_USDT", size=D(1), entry_price=D(49000), updated_ms=1)])
    om.journal.save_balances([Balance("USDT", total=D(1), available=D(1), ts_ms=1)])
    om.flush_unsaved()

    assert {lvl for lvl, _ in commits} <= {configured, relaxed}, commits
    assert [kinds for lvl, kinds in commits if lvl == relaxed] == [["accepted"]] * 3, commits
    at_level = [kinds for lvl, kinds in commits if lvl == configured]
    assert at_level.count(["submitted"]) == 4 and ["accepted"] in at_level  # the claims; the armed stop
    assert {"cancel_requested", "filled", "amended"} <= {k for kinds in at_level for k in kinds}, commits
    assert len([kinds for kinds in at_level if not kinds]) >= 2  # id counter, positions, wallet
    with store.engine.connect() as c:  # the pooled connection is back at the configured level
        assert str(c.exec_driver_sql(_ask(store)).scalar()) == configured
    store.close()


async def test_a_sqlite_store_not_in_wal_mode_keeps_its_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside WAL, synchronous=NORMAL is not 'the next sync covers it': the ack stays at FULL."""
    store = open_store(str(tmp_path / "j.sqlite"), synchronous="FULL")
    store.engine.dispose()
    event.listen(store.engine, "connect", lambda dbapi, _rec: dbapi.execute("PRAGMA journal_mode = DELETE"))
    commits = _trace_commits(store, monkeypatch)
    e = make_engine(journal=StoreJournal(store, "paper"))
    await e.om.submit(e.om.build("BTC_USDT", "buy", D(1), price=D(49000)))
    e.om.flush_unsaved()
    assert ("2", ["accepted"]) in commits and {lvl for lvl, _ in commits} == {"2"}, commits
    store.close()
