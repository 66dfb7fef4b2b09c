"""Per-series candle versions (schema v7): how the derived column cache (`store.candle_cache`) knows, exactly,
that its copy of a series is stale.

Every write to `candles`, by any writer (CashUp, a hand edit in the sqlite3 shell or psql), replaces its
series' `candle_versions.version` in the same transaction, through triggers the database runs itself
(an older CashUp refuses a v7 store, so it cannot write around them). A version is a random 63-bit token,
not a counter: a counter comes back to an old value when a backup of the file is restored and written
again, and a cache entry of the first write would look current; a random token never recurs, so equal
versions mean equal candles, and a reader may even read the version before the rows in two snapshots
(PostgreSQL's READ COMMITTED): a write in between only leaves an entry tagged with a version that is gone.

SQLite: row triggers AFTER INSERT / UPDATE / DELETE (`TRIGGERS`, the one place of their DDL). REPLACE's
implicit delete fires no delete trigger (recursive_triggers is off), but its insert fires the insert
trigger, and the replaced row has the same key, so the same series; an UPDATE that moves rows to another
series bumps both. A row trigger costs about as much per row as a third of the bulk insert itself, so the
bulk writes run under `suspended`: inside their own write transaction they drop the triggers they would
fire, write, bump the series once, and create them again before the caller commits. DDL is transactional
in SQLite and there is one writer at a time, so no other connection ever sees the table without its
triggers, and a crash or rollback brings the dropped ones back (a test kills an import to show it).
`triggers_intact` lets a reader refuse the cache when a trigger is missing or not ours.

PostgreSQL: statement-level triggers with transition tables, one bump per statement and series; TRUNCATE
bumps every series. The bulk writes do not drop them (DROP TRIGGER takes an ACCESS EXCLUSIVE lock) but set a
transaction-local switch the function obeys, then bump once (`suspended`): executemany runs a statement
per row, and a bump per statement rewrites the same version row each time. Whoever sets that switch by
hand writes around the versions, as whoever drops a trigger by hand does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cashup_tui.store.candle_list import driver_of, one_of, run_of, series_keys

STORE_ID_KEY = "cashup.store_id"  # in `state`: a random id per store, so two stores never share cache entries
STORE_ID_SQL = "INSERT INTO state (key, value, updated_ms) VALUES (:k, :v, :ms)"
_PG_RANDOM = "(random() * 9.2e18)::bigint"  # PostgreSQL's random() is a float in [0, 1); SQLite's a 64-bit int


def _upsert(s: str, tf: str, rnd: str = "random()") -> str:
    """One series' new version: `s`, `tf` are SQL expressions (parameters or NEW./OLD. columns)."""
    return (f"INSERT INTO candle_versions (symbol, timeframe, version) VALUES ({s}, {tf}, {rnd}) "
            "ON CONFLICT (symbol, timeframe) DO UPDATE SET version = excluded.version")


BUMP_SQL = _upsert(":s", ":tf")
_PG_BUMP_SQL = _upsert(":s", ":tf", _PG_RANDOM)
_NEW, _OLD = _upsert("NEW.symbol", "NEW.timeframe"), _upsert("OLD.symbol", "OLD.timeframe")
TRIGGERS = {  # SQLite: name -> DDL (sqlite_master keeps this text; `triggers_intact` compares it)
    "candles_version_insert": f"CREATE TRIGGER candles_version_insert AFTER INSERT ON candles BEGIN {_NEW}; END",
    "candles_version_update": f"CREATE TRIGGER candles_version_update AFTER UPDATE ON candles BEGIN {_OLD}; {_NEW}; END",
    "candles_version_delete": f"CREATE TRIGGER candles_version_delete AFTER DELETE ON candles BEGIN {_OLD}; END",
}
_PG_BUMP = ("INSERT INTO candle_versions (symbol, timeframe, version) SELECT symbol, timeframe, " + _PG_RANDOM
            + " FROM (SELECT DISTINCT symbol, timeframe FROM {rows}) AS touched "
            "ON CONFLICT (symbol, timeframe) DO UPDATE SET version = excluded.version")
PG_SUSPEND = "cashup.candle_versions_suspended"  # transaction-local: `suspended` sets it, the function obeys
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION candle_versions_bump() RETURNS trigger AS $$ BEGIN "
    f"IF current_setting('{PG_SUSPEND}', true) = 'on' THEN RETURN NULL; END IF; "
    f"IF TG_OP = 'TRUNCATE' THEN UPDATE candle_versions SET version = {_PG_RANDOM}; RETURN NULL; END IF; "
    f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_PG_BUMP.format(rows='candle_old')}; END IF; "
    f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_PG_BUMP.format(rows='candle_new')}; END IF; "
    "RETURN NULL; END $$ LANGUAGE plpgsql"
)
PG_TRIGGERS = {
    "candles_version_insert": "AFTER INSERT ON candles REFERENCING NEW TABLE AS candle_new FOR EACH STATEMENT",
    "candles_version_update": "AFTER UPDATE ON candles REFERENCING OLD TABLE AS candle_old NEW TABLE AS candle_new "
                              "FOR EACH STATEMENT",
    "candles_version_delete": "AFTER DELETE ON candles REFERENCING OLD TABLE AS candle_old FOR EACH STATEMENT",
    "candles_version_truncate": "AFTER TRUNCATE ON candles FOR EACH STATEMENT",
}
_PG_INTACT = ("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'candles'::regclass AND tgenabled <> 'D' "
              f"AND tgname IN ({', '.join(repr(n) for n in PG_TRIGGERS)})")
_SQLITE_INTACT = (f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'candles' "
                  f"AND sql IN ({', '.join(':t' + str(i) for i in range(len(TRIGGERS)))})")
VERSION_SQL = ("SELECT v.version, s.value FROM candle_versions AS v, state AS s "
               "WHERE v.symbol = :s AND v.timeframe = :tf AND s.key = :k")


def install(conn: Any) -> None:
    """The triggers and a fresh version for every stored series (migration 7), plus the store's id."""
    _, dialect, _ = driver_of(conn)
    run = run_of(conn)
    if dialect == "postgresql":
        conn.exec_driver_sql(PG_FUNCTION)
        for name, when in PG_TRIGGERS.items():
            conn.exec_driver_sql(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION candle_versions_bump()")
    else:
        for ddl in TRIGGERS.values():
            run(ddl, {})
    for sym, tf in series_keys(one_of(conn)):
        bump(conn, sym, tf)
    run(STORE_ID_SQL, store_id_row())


def store_id_row() -> dict[str, Any]:
    """The `state` row naming a new store (STORE_ID_SQL's parameters)."""
    import time

    return {"k": STORE_ID_KEY, "v": uuid.uuid4().hex, "ms": int(time.time() * 1000)}


def bump(conn: Any, symbol: str, timeframe: str) -> None:
    """Give one series a new version (what its triggers do), inside the caller's write transaction."""
    _, dialect, _ = driver_of(conn)
    run_of(conn)(_PG_BUMP_SQL if dialect == "postgresql" else BUMP_SQL, {"s": symbol, "tf": timeframe})


@contextmanager
def suspended(conn: Any, symbol: str, timeframe: str, names: tuple[str, ...]) -> Iterator[None]:
    """Run a bulk write to ONE series without the SQLite row triggers `names`: dropped here, the series
    bumped once and the triggers created again on the way out, all inside the caller's write transaction
    (a rollback, or a crash, restores them with everything else). Outside a transaction the triggers just
    fire (slower, never wrong). PostgreSQL: the triggers stay; a transaction-local setting (`PG_SUSPEND`,
    gone at commit or rollback) makes them return at once, since executemany runs one statement per row
    and each bump there writes a new row version of the same version row (quadratic in one transaction)."""
    raw, dialect, _ = driver_of(conn)
    if dialect == "postgresql":
        one = one_of(conn)
        one("SELECT set_config(:k, 'on', true)", {"k": PG_SUSPEND})
        yield  # an error fails the transaction (or the caller's savepoint), and that undoes the setting too
        bump(conn, symbol, timeframe)
        one("SELECT set_config(:k, 'off', true)", {"k": PG_SUSPEND})
        return
    if dialect != "sqlite" or not raw.in_transaction:
        yield
        return
    for name in names:
        raw.execute(f"DROP TRIGGER IF EXISTS {name}")
    try:
        yield
    finally:  # also after an error: a caller that goes on and commits keeps part of the write
        if raw.in_transaction:
            bump(raw, symbol, timeframe)
            for name in names:
                raw.execute(TRIGGERS[name].replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))


def triggers_intact(conn: Any) -> bool:
    """Every version trigger is there, enabled and (SQLite) exactly ours: else a write may have
    changed candles without a bump, and the cache must not be trusted."""
    _, dialect, _ = driver_of(conn)
    one = one_of(conn)
    if dialect == "postgresql":
        return int(one(_PG_INTACT, {})[0]) == len(PG_TRIGGERS)
    if dialect != "sqlite":
        return False
    return int(one(_SQLITE_INTACT, {f"t{i}": ddl for i, ddl in enumerate(TRIGGERS.values())})[0]) == len(TRIGGERS)


def series_version(conn: Any, symbol: str, timeframe: str) -> tuple[str, int] | None:
    """(store id, version) of one series in the caller's transaction, or None when there is none to
    trust (no row: an empty series; a missing or foreign trigger; a store without an id)."""
    row = one_of(conn)(VERSION_SQL, {"s": symbol, "tf": timeframe, "k": STORE_ID_KEY})
    if row is None or not triggers_intact(conn):
        return None
    return str(row[1]), int(row[0])
