"""The order write-ahead statements run straight on SQLite's DBAPI connection.

Why: every submit commits the write-ahead claim (order row + journal line) before the venue is called,
and the ack after it; through SQLAlchemy's execute machinery each statement cost several times what
SQLite itself spends on it. The SQL text and the columns' bind processors (Decimal as TEXT, JSON as
TEXT, ...) are SQLAlchemy's own, compiled once, so the rows written are the same bytes; the statements
run inside the caller's transaction on the same connection. SQLite only: elsewhere `StoreJournal` keeps
the portable path (`order_cas.SqlOps`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from cashup_tui.store.order_cas import UPDATE_COLUMNS, UPDATE_ORDER
from cashup_tui.store.orders import EVENTS, ORDER_KEY, ORDERS


class _Prepared:
    """One statement compiled once (qmark parameters) with the bind processor of each parameter; a literal
    in the statement (`version + 1`) keeps its compiled value."""

    __slots__ = ("consts", "names", "procs", "sql")

    def __init__(self, stmt: Any, dialect: Dialect, columns: Sequence[str]) -> None:
        compiled = stmt.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise TypeError("a positional (qmark) dialect is needed")
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup)
        binds = compiled.binds
        self.procs: tuple[Callable[[Any], Any] | None, ...] = tuple(
            binds[n].type.bind_processor(dialect) for n in self.names)
        self.consts: dict[str, Any] = {n: binds[n].value for n in self.names if n not in columns}

    def params(self, row: dict[str, Any]) -> list[Any]:
        if self.consts:
            row = self.consts | row
        return [v if p is None else p(v) for p, v in zip(self.procs, map(row.__getitem__, self.names), strict=True)]


def _values(tbl: Table, cols: Sequence[str]) -> dict[str, Any]:
    return {c: bindparam(c, type_=tbl.c[c].type) for c in cols}


class SqliteOrderOps:
    """`order_cas` operations (claim insert, compare-and-set update) and the journal line, as raw sqlite3
    statements in the caller's transaction. Built per column set, so a schema change needs no edit here."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._claim: dict[tuple[str, ...], _Prepared] = {}
        self._event: dict[tuple[str, ...], _Prepared] = {}
        self._update = _Prepared(UPDATE_ORDER, dialect, UPDATE_COLUMNS)

    @staticmethod
    def _raw(conn: Any) -> Any:
        """SQLite's connection: `conn` itself (`write_transaction`) or the one under a SQLAlchemy Connection."""
        return conn if isinstance(conn, sqlite3.Connection) else conn.connection.driver_connection

    def insert_ignore(self, conn: Any, row: dict[str, Any]) -> bool:
        """INSERT .. ON CONFLICT (account, mode, client_id) DO NOTHING; True if the row was written."""
        cols = tuple(row)
        prep = self._claim.get(cols)
        if prep is None:
            stmt = sqlite_insert(ORDERS).values(_values(ORDERS, cols)).on_conflict_do_nothing(index_elements=list(ORDER_KEY))
            prep = self._claim[cols] = _Prepared(stmt, self.dialect, cols)
        return bool(self._raw(conn).execute(prep.sql, prep.params(row)).rowcount == 1)

    def update(self, conn: Any, row: dict[str, Any]) -> int:
        """The compare-and-set UPDATE (`order_cas.UPDATE_ORDER`); the number of rows it changed."""
        return int(self._raw(conn).execute(self._update.sql, self._update.params(row)).rowcount)

    def append_event(self, conn: Any, row: dict[str, Any]) -> None:
        cols = tuple(row)
        prep = self._event.get(cols)
        if prep is None:
            prep = self._event[cols] = _Prepared(insert(EVENTS).values(_values(EVENTS, cols)), self.dialect, cols)
        self._raw(conn).execute(prep.sql, prep.params(row))


@contextmanager
def write_transaction(raw: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on SQLite's own connection (autocommit mode, as the engine's connect hook
    sets it): BEGIN IMMEDIATE as the journal's SQLAlchemy path begins, committed at the end, rolled back
    on any exception. BEGIN's and COMMIT's errors come out as SQLAlchemy would raise them (a busy store:
    OperationalError, which `retry_busy` waits out)."""
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc
    try:
        yield raw
    except BaseException:
        raw.rollback()
        raise
    try:
        raw.commit()
    except sqlite3.Error as exc:
        if raw.in_transaction:  # (never hand an open transaction back to the pool)
            raw.rollback()
        raise DBAPIError.instance("COMMIT", (), exc, sqlite3.Error) from exc
