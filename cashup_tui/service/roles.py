"""Profiles (viewer / developer / trader / admin), the permission check, and the audit trail of user actions.

Why: in a local app a "role" is which capabilities a session gets, not
a user database. viewer is read-only; developer (a strategy developer) backtests, optimises, edits and
paper-trades strategies but sends no order where money is at stake (testnet/live: the session knows the
mode, so the workstation and the CLI refuse alike); trader trades within the risk limits (and may always
pull the kill switch); admin also changes risk limits, keys and the live switch, and must
prove it with a passphrase whose scrypt hash is kept in the encrypted vault (the runtime
reads it from there; this module never touches files). Every user action, allowed or
denied, goes through `audit(...)`, a callable the store provides (`AuditSink`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol

from cashup_tui.domain.errors import CashupError

log = logging.getLogger("cashup.roles")


class Role(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    TRADER = "trader"
    ADMIN = "admin"


class Action(StrEnum):
    VIEW = "view"
    PLACE_ORDER = "place_order"
    AMEND_ORDER = "amend_order"
    CANCEL_ORDER = "cancel_order"
    CLOSE_POSITION = "close_position"
    KILL_SWITCH = "kill_switch"  # reduces risk: any trading profile may pull it
    START_STRATEGY = "start_strategy"
    STOP_STRATEGY = "stop_strategy"
    TEST_NOTIFY = "test_notify"
    RESUME_TRADING = "resume_trading"  # leaving HALTED/REDUCING re-opens risk: admin
    SET_RISK_LIMITS = "set_risk_limits"
    MANAGE_KEYS = "manage_keys"
    LIVE_SWITCH = "live_switch"
    MANAGE_NOTIFY = "manage_notify"
    SET_ADMIN_PASSPHRASE = "set_admin_passphrase"
    BACKTEST = "backtest"
    OPTIMIZE = "optimize"
    EDIT_STRATEGY = "edit_strategy"


_VIEWER = frozenset({Action.VIEW})
# actions that send (or re-shape) orders at the venue: a developer only where no money is at stake
VENUE_ORDERS = frozenset({Action.PLACE_ORDER, Action.AMEND_ORDER, Action.CLOSE_POSITION, Action.START_STRATEGY})
_DEVELOPER = _VIEWER | VENUE_ORDERS | {
    Action.BACKTEST,
    Action.OPTIMIZE,
    Action.EDIT_STRATEGY,
    Action.CANCEL_ORDER,
    Action.KILL_SWITCH,
    Action.STOP_STRATEGY,
    Action.TEST_NOTIFY,
}
_TRADER = _DEVELOPER | {
    Action.PLACE_ORDER,
    Action.AMEND_ORDER,
    Action.CANCEL_ORDER,
    Action.CLOSE_POSITION,
    Action.KILL_SWITCH,
    Action.START_STRATEGY,
    Action.STOP_STRATEGY,
    Action.TEST_NOTIFY,
}
_ADMIN = frozenset(Action)
PERMISSIONS: Mapping[Role, frozenset[Action]] = {Role.VIEWER: _VIEWER, Role.DEVELOPER: frozenset(_DEVELOPER),
                                                 Role.TRADER: frozenset(_TRADER), Role.ADMIN: _ADMIN}


_PHRASES = {Action.KILL_SWITCH: "use the kill switch", Action.TEST_NOTIFY: "send a test notification",
            Action.LIVE_SWITCH: "switch to live trading", Action.MANAGE_NOTIFY: "change notifications",
            Action.VIEW: "view"}


def describe(action: Action) -> str:
    """What the action does, as a verb phrase for messages ("place order", "use the kill switch")."""
    return _PHRASES.get(action, action.value.replace("_", " "))


class PermissionDenied(CashupError):
    """The current profile may not perform this action."""

    def __init__(self, message: str, *, role: Role, action: Action | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.role = role
        self.action = action


class AdminPassphraseRequired(PermissionDenied):
    """An admin-only action was asked for without the admin passphrase: the caller prompts and retries."""


def minimum_role(action: Action) -> Role:
    """The least profile that may do `action` anywhere (orders: trader; a developer's are paper only)."""
    for role in (Role.VIEWER, Role.DEVELOPER, Role.TRADER, Role.ADMIN):
        if action in PERMISSIONS[role] and not (role is Role.DEVELOPER and action in VENUE_ORDERS):
            return role
    return Role.ADMIN  # pragma: no cover - every action is in ADMIN


def allowed(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[Role(role)]


def require(role: Role | str, action: Action | str) -> None:
    """Raise `PermissionDenied` (with how to get the right profile) unless `role` may do `action`."""
    try:
        r, a = Role(role), Action(action)
    except ValueError as exc:
        raise CashupError(f"unknown role or action: {exc}", hint=f"roles: {', '.join(Role)}") from None
    if a in PERMISSIONS[r]:
        return
    need = minimum_role(a)
    how = (
        "admin actions ask the admin passphrase (set it with `cashup keys admin-passphrase`)"
        if need is Role.ADMIN
        else f'this needs ui.profile = "{need.value}" in the config file (or CASHUP_UI_PROFILE={need.value})'
    )
    raise PermissionDenied(
        f"the {r.value} profile may not {describe(a)} (needs {need.value})", role=r, action=a, hint=how
    )


# --- admin passphrase hash --------------------------------------------------------------------

HASH_SCHEME = "scrypt"
_HASH_N = 2**15  # the admin check runs on a keypress: keep it short (32 MiB: 128 * n * r bytes)


def hash_passphrase(passphrase: str, *, n: int = _HASH_N, r: int = 8, p: int = 1) -> str:
    """`scrypt$n$r$p$salt$hash` (base64): stored in the vault, never the passphrase itself."""
    if not passphrase:
        raise CashupError("the admin passphrase must not be empty", hint="choose a long passphrase")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return "$".join([HASH_SCHEME, str(n), str(r), str(p), _b64(salt), _b64(digest)])


def verify_passphrase(passphrase: str, stored: str) -> bool:
    """Constant-time check of `passphrase` against a `hash_passphrase` string; False if malformed."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != HASH_SCHEME:
            return False
        ni, ri, pi = int(n), int(r), int(p)
        if not (2 <= ni <= 2**20 and 1 <= ri <= 32 and 1 <= pi <= 16):
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            passphrase.encode(), salt=base64.b64decode(salt), n=ni, r=ri, p=pi, maxmem=1100 * 1024 * 1024, dklen=len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


# --- sessions and the audit trail -------------------------------------------------------------


class AuditSink(Protocol):
    """What the store provides: record one user action. Must not raise into the caller's path."""

    def __call__(self, action: str, *, role: str, outcome: str, detail: Mapping[str, Any]) -> None: ...


def _log_audit(action: str, *, role: str, outcome: str, detail: Mapping[str, Any]) -> None:
    log.info("audit %s role=%s outcome=%s %s", action, role, outcome, dict(detail))


class Session:
    """The profile of the person at the keyboard, with every check and change audited.

    `admin_hash` is a callable so the runtime can read the hash from the vault lazily (the
    vault is unlocked at start-up; this object never sees the file or its passphrase)."""

    def __init__(
        self,
        role: Role | str = Role.VIEWER,
        *,
        audit: AuditSink | None = None,
        admin_hash: Callable[[], str | None] | None = None,
        admin_open: bool = False,
        money_mode: str = "",
    ) -> None:
        self.role = Role(role)
        # the mode's name when orders reach a Gate account (testnet, live): a developer sends none there
        self.money_mode = money_mode
        self._audit: AuditSink = audit or _log_audit
        self._admin_hash = admin_hash or (lambda: None)
        # no admin passphrase set: admin actions are allowed (and audited as such) only where no money is at
        # stake (demo/paper); testnet/live refuse them until `cashup keys admin-passphrase` sets one
        self.admin_open = admin_open

    def _record(self, action: str, outcome: str, detail: Mapping[str, Any]) -> None:
        try:
            self._audit(action, role=self.role.value, outcome=outcome, detail=dict(detail))
        except Exception:  # the audit store failing must be visible but must not mask the action's result
            log.exception("audit sink failed for %s", action)

    def authorize(
        self, action: Action | str, *, passphrase: str | None = None, record_as: str | None = None, **detail: Any
    ) -> Role:
        """Check and record one user action (as `record_as`, default the action's name); returns the role it
        ran as. Admin-only actions are sudo-like: the admin passphrase is checked for this one action (the
        profile does not change); without one `AdminPassphraseRequired` asks the caller to prompt and retry.
        Every refusal is recorded as denied and raised as `PermissionDenied` with how to get the right profile."""
        a = Action(action)
        name = record_as or a.value
        if self.role is Role.DEVELOPER and a in VENUE_ORDERS and self.money_mode:
            self._record(name, "denied", {**detail, "reason": f"developer profile in {self.money_mode}"})
            raise PermissionDenied(
                f"the developer profile may not {describe(a)} in {self.money_mode} mode: it trades in paper and "
                "demo only", role=self.role, action=a,
                hint='backtest or paper-trade it (--mode paper); orders in testnet/live need ui.profile = "trader"',
            )
        if a in PERMISSIONS[self.role]:
            self._record(name, "allowed", detail)
            return self.role
        if minimum_role(a) is not Role.ADMIN:
            try:
                require(self.role, a)
            except PermissionDenied:
                self._record(name, "denied", detail)
                raise
        what = describe(a)
        stored = self._admin_hash()
        if not stored:
            if self.admin_open:
                self._record(name, "allowed", {**detail, "as": "admin", "admin": "open: no admin passphrase set"})
                return Role.ADMIN
            self._record(name, "denied", {**detail, "reason": "no admin passphrase set"})
            raise PermissionDenied(
                f"{what} needs the admin profile, which is locked: no admin passphrase is set",
                role=self.role, action=a, hint="set one with `cashup keys admin-passphrase`, then try again",
            )
        if passphrase is None:
            raise AdminPassphraseRequired(
                f"{what} needs the admin passphrase", role=self.role, action=a,
                hint="type it when asked (headless: set CASHUP_ADMIN_PASSPHRASE)",
            )
        if not verify_passphrase(passphrase, stored):
            self._record(name, "denied", {**detail, "reason": "wrong admin passphrase"})
            raise PermissionDenied(
                f"wrong admin passphrase: {what} was not done", role=self.role, action=a,
                hint="try again; `cashup keys admin-passphrase` changes it",
            )
        self._record(name, "allowed", {**detail, "as": "admin"})
        return Role.ADMIN

    def switch(self, role: Role | str, passphrase: str | None = None) -> Role:
        """Change profile. Admin needs the passphrase; stepping down never does."""
        target = Role(role)
        if target is Role.ADMIN and self.role is not Role.ADMIN:
            stored = self._admin_hash()
            if not stored:
                self._record("switch_profile", "denied", {"to": target.value, "reason": "no admin passphrase set"})
                raise CashupError(
                    "no admin passphrase is set, so the admin profile is locked",
                    hint="set one with `cashup keys admin-passphrase`",
                )
            if passphrase is None or not verify_passphrase(passphrase, stored):
                self._record("switch_profile", "denied", {"to": target.value, "reason": "wrong passphrase"})
                raise PermissionDenied(
                    "wrong admin passphrase: still in the " + self.role.value + " profile",
                    role=self.role,
                    hint="type the admin passphrase again (set with `cashup keys admin-passphrase`)",
                )
        old = self.role
        self.role = target
        self._record("switch_profile", "allowed", {"from": old.value, "to": target.value})
        return target
