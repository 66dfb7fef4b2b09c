"""Open a store: a SQLite file (WAL, foreign keys, private file modes) or any SQLAlchemy URL.

Nothing happens at import time; `open_store` creates the engine, the file and the schema.
SQLite transactions are explicit (`BEGIN` on every SQLAlchemy transaction, SQLAlchemy's
documented pysqlite recipe) so DDL, triggers and bulk inserts are truly atomic.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from cashup_tui.domain.errors import ConfigError
from cashup_tui.store.lite import SYNCHRONOUS, StoreError, enable_wal
from cashup_tui.store.lite import prepare_file as _prepare_file

__all__ = ["Store", "StoreError", "backend_hint", "open_store", "redact_url", "sqlite_path", "transaction"]


@dataclass(slots=True)
class Store:
    """An open database: the SQLAlchemy engine plus what we learned opening it."""

    engine: Engine
    url: str
    path: Path | None = None  # the SQLite file, None for memory / other backends
    schema_version: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def display(self) -> str:
        """Where the store is, for messages: the file, or the URL with its password hidden."""
        return str(self.path) if self.path is not None else redact_url(self.url)

    @property
    def location(self) -> str | None:
        """The store as a key of derived files (store.candle_cache): the SQLite file's real path, or the
        redacted URL; None for a database in memory."""
        if self.path is not None:
            return str(self.path.resolve())
        return None if self.is_sqlite else redact_url(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def begin(self) -> Any:
        """A connection in a transaction: commits on success, rolls back on error."""
        return self.engine.begin()

    def connect(self) -> Any:
        return self.engine.connect()

    def session(self) -> Any:
        """A SQLModel ORM session (`.exec(select(Row))`) for code that prefers objects (callers commit)."""
        from sqlmodel import Session as ModelSession

        return ModelSession(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL or plain path; None for memory or non-SQLite URLs."""
    if "://" not in url:
        return None if url in ("", ":memory:") else Path(url).expanduser()
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database).expanduser()


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***; a plain path unchanged. For every message and log line."""
    if "://" not in url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not parseable: cut everything between '://' and the last '@'
        head, _, rest = url.partition("://")
        return f"{head}://***@{rest.rpartition('@')[2]}" if "@" in rest else url


def backend_hint(url: str) -> str:
    """What to check when a store cannot be opened, for the backend `url` names."""
    u = make_url(url)
    name = u.get_backend_name()
    if name == "sqlite":
        return "is it a SQLite database, and is another process holding a write lock?"
    if name == "postgresql":
        return (f"is the PostgreSQL server at {u.host or 'localhost'}:{u.port or 5432} running and reachable, "
                f"and do the user {u.username or '(none)'!s} and database {u.database or '(none)'!s} exist?")
    return f"is the {name} server reachable, and do the user and database in the URL exist?"


def normalise_url(url: str) -> str:
    """Plain paths become `sqlite:///<absolute path>`; URLs pass through; ":memory:" is an in-memory DB.
    `postgresql://` and `postgres://` without a driver mean psycopg 3 (the `cashup[postgres]` extra),
    not SQLAlchemy's default psycopg2."""
    url = (url or "").strip()
    if not url:
        raise ConfigError("no store location given", hint="pass --db PATH, set CASHUP_DB or [store] url")
    if url == ":memory:":
        return "sqlite://"
    if "://" in url:
        scheme, _, rest = url.partition("://")
        if scheme in ("postgresql", "postgres"):
            url = f"postgresql+psycopg://{rest}"
        try:
            make_url(url)
        except ArgumentError as exc:
            raise ConfigError(
                f"store URL {redact_url(url)!r} is not a valid SQLAlchemy URL",
                hint="use a file path, or e.g. sqlite:////abs/path.sqlite, postgresql+psycopg://user@host/db",
            ) from exc
        return url
    return f"sqlite:///{Path(url).expanduser().resolve()}"


def _install_sqlite_hooks(engine: Engine, synchronous: str, busy_timeout_ms: int, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not memory:
            enable_wal(cur.execute, busy_timeout_ms)
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA synchronous = {synchronous}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        stmt = f"BEGIN {conn.get_execution_options().get('sqlite_begin', '')}".strip()
        raw: Any = conn.connection.driver_connection  # (a live connection: never None here)
        try:  # on the driver's connection: SQLAlchemy's execute path cost more than the BEGIN (every commit)
            raw.execute(stmt)
        except sqlite3.Error as exc:  # wrapped as SQLAlchemy's execute would (a busy store: OperationalError)
            raise DBAPIError.instance(stmt, (), exc, sqlite3.Error) from exc


def open_store(
    url: str,
    *,
    synchronous: str = "FULL",
    busy_timeout_ms: int = 5000,
    migrate: bool = True,
    target_version: int | None = None,
    echo: bool = False,
) -> Store:
    """Open (and create/upgrade) the store at `url` (a SQLite path or any SQLAlchemy URL)."""
    from cashup_tui.store.migrations import upgrade

    sync = str(synchronous).upper()
    if sync not in SYNCHRONOUS:
        raise ConfigError(
            f"[store] synchronous = {synchronous!r} is not valid", hint=f"use one of {', '.join(SYNCHRONOUS)}"
        )
    full = normalise_url(url)
    u = make_url(full)
    path = sqlite_path(full)
    kwargs: dict[str, Any] = {"echo": echo}
    if u.get_backend_name() == "sqlite":
        if path is None:  # in-memory: one shared connection or every checkout sees an empty DB
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            _prepare_file(path)
            kwargs.update(connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})
    try:
        engine = create_engine(full, **kwargs)
    except Exception as exc:  # missing DBAPI driver, bad options
        hint = ("install the PostgreSQL extra: pip install 'cashup[postgres]'"
                if u.get_backend_name() == "postgresql" else "install the database driver or fix the URL")
        raise ConfigError(f"cannot use store URL {redact_url(full)!r}: {_redacted(exc, u)}", hint=hint) from exc
    if engine.dialect.name == "sqlite":
        _install_sqlite_hooks(engine, sync, busy_timeout_ms, memory=path is None)
    store = Store(engine=engine, url=full, path=path)
    try:
        store.schema_version = upgrade(store, target=target_version) if migrate else 0
    except (DBAPIError, sqlite3.DatabaseError) as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open the store {store.display}: {_redacted(getattr(exc, 'orig', None) or exc, u)}",
            hint=backend_hint(full),
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return store


def _redacted(exc: BaseException, u: Any) -> str:
    """An exception's text with the URL's password (if any) cut out, whatever the driver put in it."""
    msg = str(exc).strip()
    return msg.replace(u.password, "***") if u.password else msg


@contextmanager
def transaction(target: Any) -> Iterator[Connection]:
    """Yield a connection in a transaction for a Store, Engine, Session or an existing Connection.

    An existing Connection is used as is (the caller owns its transaction), so repository calls
    compose: `with store.begin() as conn: save_order(conn, o); append_order_event(conn, ...)`.
    """
    if isinstance(target, Connection):
        if target.in_transaction():
            yield target
        else:
            with target.begin():
                yield target
        return
    if isinstance(target, Session):
        yield target.connection()
        return
    engine = target.engine if isinstance(target, Store) else target
    with engine.begin() as conn:
        yield conn
