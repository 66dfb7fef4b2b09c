"""History tables (notifications, risk events, audit log) and the key-value `state` table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from cashup_tui.store.engine import transaction
from cashup_tui.store.sql import insert_ignore, now_ms, table, upsert
from cashup_tui.store.tables import DEFAULT_ACCOUNT, AuditRow, NotificationRow, RiskEventRow, StateRow

NOTIFICATIONS = table(NotificationRow)
RISK_EVENTS = table(RiskEventRow)
AUDIT = table(AuditRow)
STATE = table(StateRow)


@dataclass(frozen=True, slots=True)
class Notification:
    ts_ms: int
    severity: str
    title: str
    body: str = ""
    channel: str = ""
    status: str = "sent"
    error: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RiskEvent:
    ts_ms: int
    rule: str
    message: str = ""
    state: str = ""
    numbers: dict[str, Any] | None = None
    mode: str = ""
    id: int | None = None
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts_ms: int
    actor: str
    action: str
    details: dict[str, Any] | None = None
    id: int | None = None


def _insert(db: Any, tbl: Any, row: dict[str, Any]) -> int:
    with transaction(db) as conn:
        key = conn.execute(insert(tbl), row).inserted_primary_key
        assert key is not None  # a one-row INSERT always has its key
        return int(key[0])


def record_notification(db: Any, n: Notification) -> int:
    row = {k: getattr(n, k) for k in ("ts_ms", "severity", "title", "body", "channel", "status", "error")}
    return _insert(db, NOTIFICATIONS, row)


def list_notifications(db: Any, limit: int = 100, *, min_id: int = 0) -> list[Notification]:
    """Most recent first."""
    q = select(NOTIFICATIONS).where(NOTIFICATIONS.c.id > min_id).order_by(NOTIFICATIONS.c.id.desc()).limit(limit)
    with transaction(db) as conn:
        return [Notification(**dict(r)) for r in conn.execute(q).mappings()]


def record_risk_event(db: Any, e: RiskEvent) -> int:
    row = {k: getattr(e, k) for k in ("ts_ms", "rule", "message", "state", "numbers", "mode", "account")}
    return _insert(db, RISK_EVENTS, row)


def list_risk_events(db: Any, limit: int = 100, *, mode: str | None = None,
                     account: str | None = None) -> list[RiskEvent]:
    q = select(RISK_EVENTS)
    if account is not None:
        q = q.where(RISK_EVENTS.c.account == account)
    if mode is not None:
        q = q.where(RISK_EVENTS.c.mode == mode)
    with transaction(db) as conn:
        return [RiskEvent(**dict(r)) for r in conn.execute(q.order_by(RISK_EVENTS.c.id.desc()).limit(limit)).mappings()]


def audit(db: Any, action: str, actor: str, details: dict[str, Any] | None = None, ts_ms: int | None = None) -> int:
    """Record a user action (who, what, with which arguments). Never store secrets in `details`."""
    return _insert(db, AUDIT, {"ts_ms": now_ms() if ts_ms is None else ts_ms, "actor": actor, "action": action,
                               "details": details or {}})


def list_audit(db: Any, limit: int = 100, *, action: str | None = None, since_ms: int | None = None,
               until_ms: int | None = None) -> list[AuditEntry]:
    """Newest first; `since_ms` inclusive, `until_ms` exclusive."""
    q = select(AUDIT)
    if action is not None:
        q = q.where(AUDIT.c.action == action)
    if since_ms is not None:
        q = q.where(AUDIT.c.ts_ms >= since_ms)
    if until_ms is not None:
        q = q.where(AUDIT.c.ts_ms < until_ms)
    with transaction(db) as conn:
        return [AuditEntry(**dict(r)) for r in conn.execute(q.order_by(AUDIT.c.id.desc()).limit(limit)).mappings()]


def set_state(db: Any, key: str, value: str) -> None:
    with transaction(db) as conn:
        put_state(conn, key, value)


def put_state(conn: Any, key: str, value: str) -> None:
    """`set_state` inside the caller's transaction."""
    upsert(conn, STATE, [{"key": key, "value": str(value), "updated_ms": now_ms()}], keys=("key",))


def get_state(db: Any, key: str, default: str | None = None) -> str | None:
    with transaction(db) as conn:
        v = conn.execute(select(STATE.c.value).where(STATE.c.key == key)).scalar_one_or_none()
    return default if v is None else v


def next_counter(db: Any, key: str, step: int = 1) -> int:
    """Atomically increment an integer counter (e.g. client-id sequence) and return the new value."""
    with transaction(db) as conn:
        insert_ignore(conn, STATE, {"key": key, "value": "0", "updated_ms": now_ms()}, keys=("key",))
        cur = int(conn.execute(select(STATE.c.value).where(STATE.c.key == key)).scalar_one())
        new = cur + step
        conn.execute(update(STATE).where(STATE.c.key == key).values(value=str(new), updated_ms=now_ms()))
        return new
