"""Several processes on one store (issue 14), at the store level: ids unique per process, the write-ahead
insert is a claim, a stale writer never clobbers a newer order row, a busy store is waited out, and the
node lock names its holder. Two `Store`s on one SQLite file are two independent connections, as two
processes would hold them; the multi-process runs are in test_shared_store_procs.py."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from cashup_tui.domain.enums import OrderStatus, Side
from cashup_tui.domain.ids import ClientIdTaken, is_ours, make_client_id, new_session, validate_client_id
from cashup_tui.domain.orders import EVENT_KIND, Order, OrderEvent, transition
from cashup_tui.store import open_store
from cashup_tui.store.busy import BusyMeter, StoreBusy, retry_busy
from cashup_tui.store.journal import StoreJournal
from cashup_tui.store.migrations import LATEST
from tests.campaign import examples

D = Decimal


def _journals(path: Path, n: int = 2) -> list[StoreJournal]:
    return [StoreJournal(open_store(str(path)), "testnet") for _ in range(n)]


def _close(*js: StoreJournal) -> None:
    for j in js:
        j.store.close()


def _new(cid: str = "t-x-1", size: str = "3") -> Order:
    return Order(cid, "BTC_USDT", Side.BUY, D(size), price=D("26000"), created_ms=1, updated_ms=1)


# -- client ids --------------------------------------------------------------------------------------
def test_two_processes_started_in_the_same_second_get_different_ids() -> None:
    a = new_session(now_s=1_765_000_000, entropy=b"\x00\x00\x00\x01")
    b = new_session(now_s=1_765_000_000, entropy=b"\x00\x00\x00\x02")
    assert a[:6] == b[:6] and a != b  # same start second, different namespace
    assert make_client_id("t", 1, session=a) != make_client_id("t", 1, session=b)


@settings(max_examples=examples(50))
@given(prefix=st.sampled_from(["d", "p", "t", "l", "c", "ema.x"]), counter=st.integers(0, 36**12),
       now=st.integers(0, 2**40), entropy=st.binary(min_size=4, max_size=4))
def test_new_ids_are_valid_for_gate_and_ours(prefix: str, counter: int, now: int, entropy: bytes) -> None:
    cid = make_client_id(prefix, counter, session=new_session(now_s=now, entropy=entropy))
    assert validate_client_id(cid) == cid and len(cid) <= 30
    if len(cid) < 30:  # not cut to fit Gate's 28-character body
        assert is_ours(cid, prefix)


def test_old_ids_still_parse_and_foreign_ones_do_not() -> None:
    assert is_ours("t-tpm76p0-5", "t")  # the old layout: start second only
    assert is_ours("t-dtpm76p008s-1z", "d")
    assert not is_ours("t-dtpm76p008s-1z", "t")  # another mode's prefix
    for foreign in ("t-mine", "t-seed-1", "t-tpm76p008s", "web-1", "", None, "t-t-1-1"):
        assert not is_ours(foreign, "t"), foreign


# -- the write-ahead claim -----------------------------------------------------------------------------
def test_the_write_ahead_insert_of_an_id_that_exists_is_refused_not_overwritten(tmp_path: Path) -> None:
    a, b = _journals(tmp_path / "s.sqlite")
    try:
        ev = OrderEvent(EVENT_KIND.SUBMITTED, 2)
        mine = transition(_new(size="3"), ev)
        a.save_order(mine, event=ev)
        theirs = transition(_new(size="9"), ev)
        with pytest.raises(ClientIdTaken):
            b.save_order(theirs, event=ev)
        assert b.get_order("t-x-1").size == D("3")
        assert [e.kind for _, e in a.events("t-x-1")] == [EVENT_KIND.SUBMITTED]  # the refused claim wrote nothing
    finally:
        _close(a, b)


# -- compare-and-set -----------------------------------------------------------------------------------
def test_a_stale_writer_never_moves_a_filled_row_back(tmp_path: Path) -> None:
    """Process B read the order while it was OPEN; process A then saw it FILLED. B's late write (an OPEN
    note, or a cancel request) must not turn the row back into OPEN with filled 0 (issue 14)."""
    a, b = _journals(tmp_path / "s.sqlite")
    try:
        sub = OrderEvent(EVENT_KIND.SUBMITTED, 2)
        o = transition(_new(), sub)
        a.save_order(o, event=sub)
        acc = OrderEvent(EVENT_KIND.ACCEPTED, 3, venue_order_id="9001")
        opened = transition(o, acc)
        a.save_order(opened, event=acc)
        stale = b.get_order("t-x-1")  # B's copy: OPEN, filled 0
        assert stale is not None and stale.status is OrderStatus.OPEN
        b.save_order(stale)  # B now knows the row's version
        filled = replace(opened, status=OrderStatus.FILLED, filled=D("3"), avg_fill_price=D("26000"),
                         trade_ids=frozenset({"77"}))
        a.save_order(filled)
        for late in (stale, transition(stale, OrderEvent(EVENT_KIND.CANCEL_REQUESTED, 5))):
            kept = b.save_order(late, event=OrderEvent(EVENT_KIND.CANCEL_REQUESTED, 5))
            assert kept.status is OrderStatus.FILLED and kept.filled == D("3")
            row = a.get_order("t-x-1")
            assert row is not None and (row.status, row.filled, row.venue_order_id) == (OrderStatus.FILLED, D("3"), "9001")
        # a writer that knows more still moves the row forward, and a tie goes to the later write
        again = b.save_order(filled)
        assert again == filled
    finally:
        _close(a, b)


def test_the_version_moves_on_every_write_and_old_stores_gain_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    s = open_store(str(path), target_version=3)
    s.close()
    con = sqlite3.connect(path)  # a store written before migration 4: no orders.version
    con.execute("ALTER TABLE orders DROP COLUMN version")
    con.execute("DELETE FROM schema_version WHERE version > 3")
    con.commit()
    con.close()
    (j,) = _journals(path, 1)
    try:
        assert j.store.schema_version == LATEST
        sub = OrderEvent(EVENT_KIND.SUBMITTED, 2)
        j.save_order(transition(_new(), sub), event=sub)
        j.save_order(transition(j.get_order("t-x-1"), OrderEvent(EVENT_KIND.ACCEPTED, 3)))
        with j.store.begin() as conn:
            assert conn.exec_driver_sql("SELECT version FROM orders").scalar() == 2
    finally:
        _close(j)


# -- a busy store ----------------------------------------------------------------------------------------
def test_a_write_waits_for_another_connection_s_write_lock(tmp_path: Path) -> None:
    """Another process holds the write lock (BEGIN IMMEDIATE) past SQLite's busy timeout: the journal waits
    and retries instead of raising "database is locked", then says so in a clean error when it gives up."""
    import threading
    import time

    path = tmp_path / "s.sqlite"
    j = StoreJournal(open_store(str(path), busy_timeout_ms=50), "testnet")
    j.kv_set("k", 1)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")

        def commit_once_we_waited() -> None:  # condition, not a sleep: the journal has met the lock twice
            deadline = time.monotonic() + 60
            while j.busy.waits < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            holder.execute("COMMIT")

        t = threading.Thread(target=commit_once_we_waited)
        t.start()
        j.kv_set("k", 2)  # the real method: blocks in the retry until the other connection commits
        t.join(60)
        assert j.kv_get("k") == 2 and j.busy.waits >= 2 and j.busy.waited_s > 0
        holder.execute("BEGIN IMMEDIATE")
        j.busy_wait_s = 0.2
        with pytest.raises(StoreBusy) as info:
            j.kv_set("k", 3)
        msg = str(info.value)
        assert "locked by another process" in msg and "kv_set" in msg
        assert not any(w in msg for w in ("INSERT", "UPDATE", "SELECT", "sqlite3"))
        holder.execute("ROLLBACK")
        assert j.kv_get("k") == 2
    finally:
        holder.close()
        j.store.close()


def test_a_busy_begin_immediate_is_sqlalchemy_s_error_and_waited_out(tmp_path: Path) -> None:
    """The write-ahead transaction takes the write lock at BEGIN (sent on the driver's connection): a lock
    held elsewhere surfaces there as SQLAlchemy's OperationalError, as any statement's would, and the
    journal waits it out, then gives up with StoreBusy; the connection stays usable."""
    from sqlalchemy.exc import OperationalError

    path = tmp_path / "s.sqlite"
    j = StoreJournal(open_store(str(path), busy_timeout_ms=20), "testnet")
    holder = sqlite3.connect(path, isolation_level=None)
    o = transition(Order("t-b1", "BTC_USDT", Side.BUY, Decimal(1), price=Decimal(100)),
                   ev := OrderEvent(EVENT_KIND.SUBMITTED, 1))
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), \
                j.store.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            pass
        j.busy_wait_s = 0.1
        with pytest.raises(StoreBusy):
            j.save_order(o, event=ev)
        assert j.busy.waits >= 1
        holder.execute("ROLLBACK")
        j.save_order(o, event=ev)
        assert j.get_order("t-b1") == o
    finally:
        holder.close()
        j.store.close()


def test_retry_busy_reraises_what_is_not_a_lock() -> None:
    calls = []

    def boom() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("no such table: nope")

    with pytest.raises(sqlite3.OperationalError):
        retry_busy(boom, max_wait_s=10, meter=BusyMeter())
    assert calls == [1]


# -- the node lock -------------------------------------------------------------------------------------------
def test_the_node_lock_names_its_holder_and_frees_on_release(tmp_path: Path) -> None:
    from cashup_tui import node_lock

    db = str(tmp_path / "s.sqlite")
    first = node_lock.hold(db, "paper", command="cashup trade x BTC_USDT (paper)")
    assert first is not None
    try:
        with pytest.raises(node_lock.NodeLockHeld) as info:
            node_lock.hold(db, "paper", command="second")
        msg = str(info.value)
        import os

        assert f"pid {os.getpid()}" in msg and "cashup trade x BTC_USDT (paper)" in msg and "since 20" in msg
        other = node_lock.hold(db, "live", command="live node")  # another mode: its own lock
        assert other is not None
        other.release()
    finally:
        first.release()
    again = node_lock.hold(db, "paper", command="third")
    assert again is not None
    again.release()
    assert node_lock.hold(":memory:", "paper", command="x") is None
    url_lock = node_lock.lock_path("postgresql+psycopg://u:secret@h/db", "live", tmp_path)
    assert url_lock is not None and "secret" not in str(url_lock)


def test_a_second_workstation_on_the_store_is_refused_before_the_app_opens(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cashup_tui import node_lock
    from tests.test_runtime_cli import cashup

    db = str(tmp_path / "s.sqlite")
    held = node_lock.hold(db, "demo", command="cashup trade flip BTC_USDT (demo)")
    try:
        rc, out, err = cashup(capsys, "--db", db, "tui", "--mode", "demo")
    finally:
        assert held is not None
        held.release()
    assert rc == 1, (out, err)
    assert "another trading node already runs on the demo store" in err and "cashup trade flip" in err
    assert "Traceback" not in err


def test_a_revived_order_wins_over_the_write_off_another_writer_kept(tmp_path: Path) -> None:
    """A placement that landed late: one process wrote it off ("never reached"), the venue then showed it
    and the reconciler revived it; the write-off is our inference, so the venue's OPEN must win."""
    from cashup_tui.domain.order_merge import NEVER_REACHED, further, written_off

    a, b = _journals(tmp_path / "s.sqlite")
    try:
        sub = OrderEvent(EVENT_KIND.SUBMITTED, 2)
        a.save_order(transition(_new(), sub), event=sub)
        off = a.save_order(transition(a.get_order("t-x-1"), OrderEvent(EVENT_KIND.REJECTED, 3, reason=NEVER_REACHED)))
        assert written_off(off)
        revived = replace(off, status=OrderStatus.OPEN, reason="", venue_order_id="42", updated_ms=4)
        assert further(off, revived) is revived
        assert b.save_order(revived, event=OrderEvent(EVENT_KIND.ACCEPTED, 4, venue_order_id="42")).status is OrderStatus.OPEN
        assert a.get_order("t-x-1").status is OrderStatus.OPEN
        venue_rejected = transition(_new("t-x-2"), OrderEvent(EVENT_KIND.REJECTED, 3, reason="ORDER_POC_IMMEDIATE"))
        assert not written_off(venue_rejected)
        assert further(venue_rejected, replace(venue_rejected, status=OrderStatus.OPEN)) is venue_rejected
    finally:
        _close(a, b)
