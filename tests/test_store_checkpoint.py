"""A node's store checkpoints its WAL on a thread, never inside a commit (store/checkpoint.py)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from cashup_tui.runtime import build_node
from cashup_tui.settings import load_settings
from cashup_tui.store import open_store
from cashup_tui.store.checkpoint import WalCheckpointer


def _autocheckpoint(store) -> int:
    with store.engine.connect() as conn:
        return int(conn.connection.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


def test_default_store_keeps_sqlite_autocheckpoint(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.sqlite"))
    try:
        assert store.checkpointer is None
        assert _autocheckpoint(store) == 1000
    finally:
        store.close()


def test_commits_never_checkpoint_and_the_thread_does(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = open_store(str(path), synchronous="OFF", background_checkpoint=True)
    try:
        assert store.checkpointer is not None and _autocheckpoint(store) == 0
        store.checkpointer.stop()  # the test drives it from here
        with store.begin() as conn:
            conn.execute(text("CREATE TABLE filler (x BLOB)"))
        size = path.stat().st_size
        for _ in range(1200):  # > 1000 WAL pages: SQLite's default would have checkpointed in one of these
            with store.begin() as conn:
                conn.execute(text("INSERT INTO filler VALUES (randomblob(3000))"))
        assert path.stat().st_size == size, "a commit checkpointed"
        cp = WalCheckpointer(path, "OFF", 5000, interval_s=0.01).start()
        deadline = time.monotonic() + 30
        while path.stat().st_size == size and time.monotonic() < deadline:
            time.sleep(0.01)
        cp.stop()
        assert path.stat().st_size > size + 1200 * 3000, "the thread did not copy the WAL into the database"
        assert cp.runs >= 1 and cp._thread is None
    finally:
        store.close()
    assert store.checkpointer is None


async def test_a_node_store_checkpoints_on_its_thread(tmp_path: Path) -> None:
    node = build_node(load_settings(environ={}), "demo", db_url=str(tmp_path / "n.sqlite"), symbols=["BTC_USDT"])
    store = node.store
    assert store is not None and store.checkpointer is not None
    thread = store.checkpointer._thread
    assert thread is not None and thread.is_alive() and _autocheckpoint(store) == 0
    await node.stop()
    assert not thread.is_alive()
