"""Profiles, the permission check, the admin passphrase and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from cashup_tui.domain.errors import CashupError
from cashup_tui.service.roles import (
    Action,
    AdminPassphraseRequired,
    PermissionDenied,
    Role,
    Session,
    allowed,
    hash_passphrase,
    require,
    verify_passphrase,
)


class Audit:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, dict[str, Any]]] = []

    def __call__(self, action: str, *, role: str, outcome: str, detail: Any) -> None:
        self.rows.append((action, role, outcome, dict(detail)))


def test_matrix() -> None:
    assert allowed(Role.VIEWER, Action.VIEW)
    assert not allowed(Role.VIEWER, Action.PLACE_ORDER)
    assert not allowed(Role.VIEWER, Action.KILL_SWITCH)
    assert allowed(Role.TRADER, Action.PLACE_ORDER) and allowed(Role.TRADER, Action.KILL_SWITCH)
    for a in (Action.SET_RISK_LIMITS, Action.MANAGE_KEYS, Action.LIVE_SWITCH, Action.RESUME_TRADING):
        assert not allowed(Role.TRADER, a) and allowed(Role.ADMIN, a)
    assert all(allowed(Role.ADMIN, a) for a in Action)


def test_require_raises_a_clear_error() -> None:
    require("trader", "place_order")
    with pytest.raises(PermissionDenied) as ei:
        require(Role.VIEWER, Action.PLACE_ORDER)
    assert "viewer profile may not place order" in str(ei.value) and "trader" in ei.value.hint
    with pytest.raises(PermissionDenied, match="admin passphrase"):
        require(Role.TRADER, Action.LIVE_SWITCH)
    with pytest.raises(CashupError, match="unknown role"):
        require("root", "view")


def test_passphrase_hash() -> None:
    h = hash_passphrase("s3cret admin", n=2**10)
    assert "s3cret" not in h and h.startswith("scrypt$1024$")
    assert verify_passphrase("s3cret admin", h)
    assert not verify_passphrase("wrong", h)
    assert not verify_passphrase("s3cret admin", "garbage")
    assert not verify_passphrase("s3cret admin", "scrypt$99999999999$8$1$AA$AA")
    assert hash_passphrase("x", n=2**10) != hash_passphrase("x", n=2**10)  # salted


def test_session_audits_every_action() -> None:
    audit = Audit()
    s = Session("trader", audit=audit)
    s.authorize(Action.PLACE_ORDER, symbol="BTC_USDT", size="1")
    with pytest.raises(PermissionDenied):
        s.authorize(Action.SET_RISK_LIMITS, key="max_leverage", value=50)
    with pytest.raises(PermissionDenied):
        Session("viewer", audit=audit).authorize(Action.CANCEL_ORDER, record_as="order.cancel", client_id="t-1")
    assert audit.rows == [
        ("place_order", "trader", "allowed", {"symbol": "BTC_USDT", "size": "1"}),
        ("set_risk_limits", "trader", "denied", {"key": "max_leverage", "value": 50, "reason": "no admin passphrase set"}),
        ("order.cancel", "viewer", "denied", {"client_id": "t-1"}),
    ]


def test_admin_actions_are_sudo_like() -> None:
    """An admin-only action asks the passphrase for that one action; the profile stays what it was."""
    audit = Audit()
    stored = hash_passphrase("open sesame", n=2**10)
    s = Session("trader", audit=audit, admin_hash=lambda: stored)
    with pytest.raises(AdminPassphraseRequired, match="needs the admin passphrase") as ei:
        s.authorize(Action.RESUME_TRADING, record_as="risk.resume")
    assert "CASHUP_ADMIN_PASSPHRASE" in ei.value.hint
    with pytest.raises(PermissionDenied, match="wrong admin passphrase"):
        s.authorize(Action.RESUME_TRADING, passphrase="nope", record_as="risk.resume")
    assert s.authorize(Action.RESUME_TRADING, passphrase="open sesame", record_as="risk.resume") is Role.ADMIN
    assert s.role is Role.TRADER  # one action, not a new profile
    assert s.authorize(Action.PLACE_ORDER) is Role.TRADER  # trader actions never ask
    assert [(a, o, d.get("as"), d.get("reason")) for a, _, o, d in audit.rows] == [
        ("risk.resume", "denied", None, "wrong admin passphrase"),
        ("risk.resume", "allowed", "admin", None),
        ("place_order", "allowed", None, None),
    ]
    assert all("open sesame" not in repr(r) for r in audit.rows)
    # a viewer cannot trade even with the passphrase at hand, but the passphrase holder can resume
    v = Session("viewer", audit=audit, admin_hash=lambda: stored)
    with pytest.raises(PermissionDenied, match="viewer profile may not place order"):
        v.authorize(Action.PLACE_ORDER, passphrase="open sesame")
    assert v.authorize(Action.RESUME_TRADING, passphrase="open sesame") is Role.ADMIN


def test_no_admin_passphrase_open_only_without_money_at_stake() -> None:
    audit = Audit()
    demo = Session("trader", audit=audit, admin_open=True)  # demo/paper
    assert demo.authorize(Action.RESUME_TRADING) is Role.ADMIN
    assert audit.rows[-1][2:] == ("allowed", {"as": "admin", "admin": "open: no admin passphrase set"})
    live = Session("trader", audit=audit, admin_open=False)  # testnet/live
    with pytest.raises(PermissionDenied, match="no admin passphrase is set") as ei:
        live.authorize(Action.LIVE_SWITCH, passphrase="anything")
    assert "cashup keys admin-passphrase" in ei.value.hint
    assert audit.rows[-1][2] == "denied"


def test_admin_needs_the_passphrase() -> None:
    audit = Audit()
    stored = hash_passphrase("open sesame", n=2**10)
    s = Session(Role.TRADER, audit=audit, admin_hash=lambda: stored)
    with pytest.raises(PermissionDenied, match="wrong admin passphrase"):
        s.switch("admin", "nope")
    with pytest.raises(PermissionDenied):
        s.switch("admin")
    assert s.role is Role.TRADER
    s.switch("admin", "open sesame")
    s.authorize(Action.LIVE_SWITCH, to="live")
    s.switch("viewer")  # stepping down needs nothing
    assert s.role is Role.VIEWER
    outcomes = [(a, o) for a, _, o, _ in audit.rows]
    assert outcomes == [
        ("switch_profile", "denied"),
        ("switch_profile", "denied"),
        ("switch_profile", "allowed"),
        ("live_switch", "allowed"),
        ("switch_profile", "allowed"),
    ]
    assert all("open sesame" not in repr(r) for r in audit.rows)


def test_admin_locked_without_a_hash() -> None:
    s = Session(Role.VIEWER)
    with pytest.raises(CashupError, match="no admin passphrase is set"):
        s.switch(Role.ADMIN, "anything")


def test_failing_audit_sink_does_not_change_the_answer() -> None:
    def broken(*a: Any, **k: Any) -> None:
        raise RuntimeError("db gone")

    s = Session("trader", audit=broken)
    s.authorize(Action.CANCEL_ORDER)  # allowed despite the sink failing
    with pytest.raises(PermissionDenied):
        s.authorize(Action.MANAGE_KEYS)
