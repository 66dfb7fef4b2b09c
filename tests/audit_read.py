"""The store's audit actions as another process sees them: read-only, while the node may be writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def audit_actions(db: Path) -> list[str]:
    """The audit log's actions in order ("node.stop" last after a clean stop); [] before the schema exists."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return [a for (a,) in c.execute("select action from audit_log order by id")]
    except sqlite3.OperationalError:  # the schema is being created
        return []
