"""Small dialect-aware SQL helpers shared by the repositories (upsert, insert-or-ignore, now)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert
from sqlalchemy.exc import IntegrityError


def now_ms() -> int:
    return int(time.time() * 1000)


def table(model: Any) -> Table:
    return model.__table__


def _dialect_insert(conn: Connection, tbl: Table) -> Any | None:
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as ins
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as ins  # type: ignore[assignment]  # same API
    else:
        return None
    return ins(tbl)


def upsert(conn: Connection, tbl: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, overwriting the non-key columns of rows whose `keys` already exist (batched)."""
    if not rows:
        return
    stmt = _dialect_insert(conn, tbl)
    if stmt is not None:
        cols = [c for c in rows[0] if c not in keys]
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols})
        conn.execute(stmt, list(rows))
        return
    cond = and_(*[tbl.c[k] == _bind(k) for k in keys])  # generic: delete then insert, same transaction
    conn.execute(delete(tbl).where(cond), [{f"k_{k}": r[k] for k in keys} for r in rows])
    conn.execute(insert(tbl), list(rows))


def _bind(key: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(f"k_{key}")


def insert_ignore(conn: Connection, tbl: Table, row: dict[str, Any], keys: Sequence[str]) -> bool:
    """Insert one row unless its unique `keys` exist; True if inserted.

    `RETURNING` says whether a row was written: a driver's rowcount cannot be trusted for
    `ON CONFLICT DO NOTHING` (psycopg 3 reports -1), and a wrong answer here loses fills."""
    stmt = _dialect_insert(conn, tbl)
    if stmt is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys)).returning(*tbl.primary_key.columns)
        return conn.execute(stmt, row).first() is not None
    try:
        with conn.begin_nested():
            conn.execute(insert(tbl), row)
        return True
    except IntegrityError:
        return False
