"""One trading node per store and mode: the lock `cashup` (the workstation) and `cashup trade` hold.

Why: two nodes on one store and mode would both run strategies, reconcile and write the same
orders and positions. Short commands (`orders place/cancel/sync`, `orders list`, `positions`)
do not take it: unique client ids, compare-and-set order rows and reconciliation make them safe
next to a node (README "Several processes on one store").

How: `flock` on `<store file>.<mode>.node.lock` (a hashed name in the data dir for a non-file
store URL). The kernel drops an flock when its holder dies, `kill -9` included, so a crashed
node never leaves a stale lock; the file only says who holds it (pid, command, since) for the
message a second node gets. Plain files and fcntl: no SQLAlchemy import before the TUI paints.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cashup_tui.domain.errors import CashupError


class NodeLockHeld(CashupError):
    """Another trading node already runs on this store and mode."""


def lock_path(db_url: str, mode: str, fallback_dir: Path) -> Path | None:
    """Where the lock for (store, mode) lives; None for an in-memory store (nothing to share)."""
    url = (db_url or "").strip()
    if url in ("", ":memory:", "sqlite://", "sqlite:///:memory:"):
        return None
    if "://" not in url:
        return Path(f"{Path(url).expanduser().resolve()}.{mode}.node.lock")
    if url.startswith("sqlite:///") and "?" not in url:
        return Path(f"{Path(url[len('sqlite:///'):]).resolve()}.{mode}.node.lock")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]  # never the URL itself: it may hold a password
    return fallback_dir / f"node-{mode}-{digest}.lock"


@dataclass
class NodeLock:
    path: Path
    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing drops the flock

    def __enter__(self) -> NodeLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(path: Path) -> dict[str, object]:
    """What the lock file says about its holder ({} while it is being written or after a clean stop)."""
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def acquire(path: Path, *, mode: str, command: str, store: str) -> NodeLock:
    """Take the lock or raise `NodeLockHeld` naming the holder. Never waits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        h = holder(path)
        since = h.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(since))) if isinstance(since, (int, float)) else "?"
        who = f"pid {h.get('pid', '?')} (`{h.get('command', '?')}`, since {when})"
        raise NodeLockHeld(
            f"another trading node already runs on the {mode} store {store}: {who}",
            hint="one trading node (the workstation or `cashup trade`) per store and mode: stop that one first, "
                 "or use another --db. `cashup orders ...`, `positions` and read-only commands may run next to it",
        ) from None
    except BaseException:
        os.close(fd)
        raise
    info = json.dumps({"pid": os.getpid(), "command": command, "since": time.time(), "mode": mode})
    os.ftruncate(fd, 0)
    os.pwrite(fd, info.encode(), 0)
    return NodeLock(path, fd)


def hold(db_url: str, mode: str, *, command: str) -> NodeLock | None:
    """The composition roots' call: the lock for this store and mode (None for an in-memory store).
    `command` is shown to a second node: a short description, never argv (it may carry a DB password)."""
    from cashup_tui.paths import data_dir

    path = lock_path(db_url, mode, data_dir())
    if path is None:
        return None
    shown = str(path)[: -len(f".{mode}.node.lock")] if path.name.endswith(".node.lock") else "(database URL)"
    return acquire(path, mode=mode, command=command, store=shown)
