"""The store without SQLAlchemy: what `cashup backtest run` needs to record a run, on the stdlib driver.

Importing SQLAlchemy + SQLModel costs a large part of a cold backtest's start. A run is three
plain INSERTs, so when the store is a SQLite file whose schema is current (or a new, empty file: it
gets the literal schema of `store.schema_sql`, the one `open_store` creates, tests hold them equal),
the run, its trades and its equity points are written here with `sqlite3`: the same file modes and
PRAGMAs as `open_store` (busy timeout, WAL, foreign keys, the configured `synchronous`), one
`BEGIN IMMEDIATE` transaction (nothing half-written on any error, the schema of a new file included),
and the same column values as `store.backtests` (both paths build their rows with `run_row` /
`trade_values` / `equity_values` below; a test compares them). Anything else (an older or newer
schema, a database that is not a store, another backend, a URL with options) returns None and the
caller takes the SQLAlchemy path, which migrates or explains.

The same transaction on such a file (`write_sqlite`) carries `cashup data import` into SQLite
(store.candle_import). Also home of what both paths share without SQLAlchemy: `StoreError`, the canonical JSON
(`dumps`), the backtest row dataclasses.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cashup_tui.domain.errors import ConfigError, DataError
from cashup_tui.domain.instruments import to_decimal
from cashup_tui.store import schema_sql
from cashup_tui.store.candle_list import sqlite_file
from cashup_tui.store.candle_versions import STORE_ID_SQL, store_id_row
from cashup_tui.store.schema_sql import SCHEMA_VERSION  # == migrations.LATEST (a test holds them equal)

RUN_STATUSES = ("running", "done", "failed")
SYNCHRONOUS = ("FULL", "NORMAL", "OFF")


class StoreError(DataError):
    """The database cannot be used as is (too new, unreadable, locked)."""


# ------------------------------------------------------------------------------------------- JSON
def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "value"):  # enums
        return o.value
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): equal params give equal text and equal hashes."""
    return json.dumps(value, default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------------------ backtest rows
@dataclass(frozen=True, slots=True)
class BacktestRun:
    strategy: str
    symbol: str
    timeframe: str
    fingerprint: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    error: str = ""
    engine: str = "fast"
    data_start_ms: int = 0
    data_end_ms: int = 0
    started_ms: int = 0
    finished_ms: int = 0
    cash: Decimal = Decimal(0)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class BacktestTrade:
    symbol: str
    side: str
    size: Decimal
    entry_ms: int
    entry_price: Decimal
    exit_ms: int | None = None
    exit_price: Decimal | None = None
    pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    reason: str = ""


def now_ms() -> int:
    return int(time.time() * 1000)


def run_row(run: BacktestRun) -> dict[str, Any]:
    """The backtest_runs row (column -> Python value, before the column types' conversion)."""
    if run.status not in RUN_STATUSES:
        raise ValueError(f"backtest status {run.status!r} not in {RUN_STATUSES}")
    row = {k: getattr(run, k) for k in BacktestRun.__slots__ if k != "id"}  # type: ignore[attr-defined]
    row["cash"] = to_decimal(run.cash)
    row["started_ms"] = run.started_ms or now_ms()
    return row


TRADE_COLUMNS = ("symbol", "side", "size", "entry_ms", "entry_price", "exit_ms", "exit_price", "pnl", "fees", "reason")


def trade_values(t: BacktestTrade) -> tuple[Any, ...]:
    """A backtest_trades row without run_id, in TRADE_COLUMNS order (Decimals still Decimal)."""
    return (t.symbol, t.side, to_decimal(t.size), int(t.entry_ms), to_decimal(t.entry_price),
            None if t.exit_ms is None else int(t.exit_ms), None if t.exit_price is None else to_decimal(t.exit_price),
            to_decimal(t.pnl), to_decimal(t.fees), t.reason)


def equity_values(p: Sequence[Any]) -> tuple[int, float, float]:
    """(ts_ms, equity, drawdown) of one equity point given as (ts, equity[, drawdown])."""
    return int(p[0]), float(p[1]), float(p[2]) if len(p) > 2 else 0.0


def _text(v: Any) -> Any:
    """What `DecimalText` binds: Decimal as its canonical string, None as NULL."""
    return str(v) if isinstance(v, Decimal) else v


def float_text(x: float) -> str:
    """`str(Decimal(repr(x)))` (what a float stored exactly through `DecimalText` becomes) without the
    Decimal when repr has no exponent, nan or inf: then the two strings are equal (a test holds it)."""
    r = repr(x)
    if "e" in r or "n" in r:
        return str(Decimal(r))
    return r


@dataclass(slots=True)
class TradeColumns:
    """A run's trades column by column, in the floats the engine computed (`Result.trade_columns`).
    `rows()` is what `save_backtest_run_sqlite` writes, straight to text; `trades()` the same trades as
    `BacktestTrade` values (Decimal(repr(float)): exact) for the SQLAlchemy path. Both give the same rows."""

    symbol: str
    side: list[str]
    size: list[float]
    entry_ms: list[int]
    entry_price: list[float]
    exit_ms: list[int | None]
    exit_price: list[float]
    pnl: list[float]
    fees: list[float]
    reason: list[str]

    def trades(self) -> list[BacktestTrade]:
        d = Decimal
        return [BacktestTrade(self.symbol, sd, d(repr(q)), int(em), d(repr(ep)), None if xm is None else int(xm),
                              d(repr(xp)), d(repr(p)), d(repr(f)), r)
                for sd, q, em, ep, xm, xp, p, f, r in zip(self.side, self.size, self.entry_ms, self.entry_price,
                                                          self.exit_ms, self.exit_price, self.pnl, self.fees,
                                                          self.reason, strict=True)]

    def rows(self) -> list[tuple[Any, ...]]:
        """backtest_trades rows without run_id, in TRADE_COLUMNS order, as the columns store them."""
        return list(zip([self.symbol] * len(self.side), self.side, _texts(self.size), list(map(int, self.entry_ms)),
                        _texts(self.entry_price), [None if x is None else int(x) for x in self.exit_ms],
                        _texts(self.exit_price), _texts(self.pnl), _texts(self.fees), self.reason, strict=True))


def _texts(xs: list[float]) -> list[str]:
    """`float_text` of a whole column. The shortest round-trip digits come from orjson in one C call
    (the same digits as `repr`, without a `repr` call per value); only the layout differs, and
    Decimal's canonical layout is rebuilt from them: positional text stays as it is, an exponent
    becomes `E-n` / `E+n`. Anything else (nan, inf, an unexpected token) takes `float_text`."""
    if not xs:
        return []
    import orjson

    text = orjson.dumps(xs).decode()
    if "null" in text:  # nan/inf (JSON has neither)
        return [float_text(x) for x in xs]
    body = text[1:-1]
    if "0.000000" in body:  # positional below 1e-6 (orjson writes those with an exponent): token by token
        toks = [t if "e" not in t and "0.000000" not in t else _exp_text(t) for t in body.split(",")]
    else:
        # the few tokens Decimal lays out differently (e+N, e-5, e-6) through Decimal, found by a C scan;
        # every other exponent is -7 or below, which Decimal writes with the same digits as "E-n"
        parts: list[str] = []
        last = 0
        for m in _ODD_EXP.finditer(body):
            start = body.rfind(",", 0, m.start()) + 1
            parts += (body[last:start], str(Decimal(body[start:m.end()])))
            last = m.end()
        if parts:
            body = "".join(parts) + body[last:]
        toks = body.replace("e-", "E-").split(",")
    if len(toks) != len(xs):  # pragma: no cover - orjson writes one token per float
        return [float_text(x) for x in xs]
    return toks


# JSON numbers whose Decimal text is not "digits E-n": 1e16 and up (E+n or an integer), 1e-6 .. 1e-5
# (positional for Decimal); orjson writes 1e-5 and up positionally, so e-1 .. e-4 never occur
_ODD_EXP = re.compile(r"e(?:\+[0-9]+|-[1-6](?![0-9]))")  # the exponent; the token starts after the comma before


def _exp_text(tok: str) -> str:
    """`str(Decimal(tok))` for a JSON number with an exponent (or a positional one below 1e-6); below
    1e-6 (the common case: tiny sizes and PnL) without building the Decimal."""
    m, _, e = tok.partition("e")
    u = m.removeprefix("-")
    if e and u[:1] in "123456789" and u[1:2] in ("", "."):
        n = int(e)
        if n <= -7:  # adjusted exponent below -6: Decimal writes it scientific, digits as they are
            return f"{m}E{n}"
    return str(Decimal(tok))  # 1e16 and up: integer or E+n depending on the digits (rare: Decimal decides)


# ------------------------------------------------------------------------------------ the sqlite path
def prepare_file(path: Path) -> None:
    """Parent dir 0700 when we create it; the DB file created 0600 (SQLite gives -wal/-shm the same mode)."""
    parent = path.parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True, mode=0o700)
            parent.chmod(0o700)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the store directory {parent}: {exc.strerror}",
                hint="choose a writable location with --db or [store] url",
            ) from exc
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"store location {path}: {parent} is not a directory")
    if path.is_dir():
        raise ConfigError(f"store location {path} is a directory", hint="pass a file path such as data.sqlite")
    old = os.umask(0o077)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError as exc:
        raise ConfigError(
            f"cannot open the store file {path}: {exc.strerror}",
            hint="check the path and its permissions, or choose another with --db",
        ) from exc
    finally:
        os.umask(old)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if p.exists() and p.stat().st_uid == os.getuid():
                p.chmod(0o600)
        except OSError:
            pass


def enable_wal(execute: Any, busy_timeout_ms: int) -> None:
    """Switch a connection to WAL, waiting out other openers as the busy timeout promises.

    Switching the journal mode needs an exclusive lock, and SQLite answers "database is locked" at
    once (without calling the busy handler) while another connection is opening or recovering the
    same file, so several processes opening a fresh store together failed now and then."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.001
    while True:
        try:
            execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _connect(path: Path, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection set up like `open_store`'s (see store.engine._install_sqlite_hooks)."""
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        enable_wal(conn.execute, busy_timeout_ms)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except BaseException:
        conn.close()
        raise
    return conn


def _create_schema(conn: sqlite3.Connection) -> None:
    """Every migration's tables, indexes and triggers plus its schema_version row (store.schema_sql), and
    the store's id."""
    for stmt in schema_sql.DDL:
        conn.execute(stmt)
    now = now_ms()
    conn.executemany("INSERT INTO schema_version (version, description, applied_ms) VALUES (?, ?, ?)",
                     [(v, d, now) for v, d in schema_sql.MIGRATIONS])
    conn.execute(STORE_ID_SQL, store_id_row())  # what migration 7 writes beside its DDL


_BUSY_HINT = "is another process holding a write lock? try again, or pass --no-store"


def write_sqlite(url: str, write: Any, what: str, *, synchronous: str, busy_timeout_ms: int,
                 hint: str = _BUSY_HINT) -> Any:
    """`write(conn)` in one `BEGIN IMMEDIATE` transaction on a SQLite store that is new/empty (it gets the
    schema `open_store` would create, in the same transaction) or at SCHEMA_VERSION; returns what `write`
    returns, or None when this store is not such a file (the caller then uses `open_store`). `hint` goes
    with a SQLite error (as StoreError)."""
    sync = str(synchronous).upper()
    path = sqlite_file(url)
    if path is None or sync not in SYNCHRONOUS:
        return None
    prepare_file(path)  # as open_store: the directory 0700 and the file 0600 when they are created here
    try:
        conn = _connect(path, sync, busy_timeout_ms)
    except sqlite3.Error:
        return None  # not a database we can open here: open_store says why
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            try:
                have = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            except sqlite3.Error:
                have = None
            if have is None and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                _create_schema(conn)  # a new, empty file: the schema open_store would create, in this transaction
                have = SCHEMA_VERSION
            if have != SCHEMA_VERSION:  # older (migrate), newer or not a store: open_store handles and explains
                conn.execute("ROLLBACK")
                return None
            out = write(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"cannot record {what} in {path}: {exc}", hint=hint) from exc
    finally:
        conn.close()
    return out


def save_backtest_run_sqlite(
    url: str,
    run: BacktestRun,
    trades: TradeColumns | Iterable[BacktestTrade] = (),
    equity: Sequence[Sequence[Any]] = (),
    *,
    synchronous: str = "FULL",
    busy_timeout_ms: int = 5000,
) -> int | None:
    """`store.backtests.save_backtest_run` on the stdlib driver: the run id, or None when this store is not
    a SQLite file that is new/empty or at SCHEMA_VERSION (the caller then uses `open_store`). A new file
    gets the schema `open_store` would create (store.schema_sql) in the same transaction as the run."""
    row = run_row(run)
    if isinstance(trades, TradeColumns):
        trows = trades.rows()
    else:
        trows = [tuple(_text(v) for v in trade_values(t)) for t in trades]
    erows = [equity_values(p) for p in equity]

    def write(conn: sqlite3.Connection) -> int:
        cols = list(row)
        vals = [dumps(row[c]) if c in ("params", "metrics") and row[c] is not None else _text(row[c])
                for c in cols]
        cur = conn.execute(f"INSERT INTO backtest_runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                           vals)
        run_id = int(cur.lastrowid or 0)
        if trows:
            conn.executemany(
                f"INSERT INTO backtest_trades (run_id, {', '.join(TRADE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (len(TRADE_COLUMNS) + 1))})",
                [(run_id, *r) for r in trows])
        if erows:
            conn.executemany("INSERT INTO backtest_equity (run_id, ts_ms, equity, drawdown) VALUES (?, ?, ?, ?)",
                             [(run_id, *r) for r in erows])
        return run_id

    result: int | None = write_sqlite(url, write, "the backtest", synchronous=synchronous,
                                       busy_timeout_ms=busy_timeout_ms)
    return result


def audit_sqlite(url: str, action: str, actor: str, details: dict[str, Any], *, synchronous: str = "FULL",
                 busy_timeout_ms: int = 5000) -> bool:
    """`store.records.audit` on the stdlib driver (a backtest's profile check); False when the caller must
    use `open_store` (see `save_backtest_run_sqlite`)."""
    def write(conn: sqlite3.Connection) -> bool:
        conn.execute("INSERT INTO audit_log (ts_ms, actor, action, details) VALUES (?, ?, ?, ?)",
                     (now_ms(), actor, action, dumps(details)))
        return True

    return bool(write_sqlite(url, write, "the audit row", synchronous=synchronous, busy_timeout_ms=busy_timeout_ms))
