"""Issue 10: the strategy developer profile (backtests, optimises, paper-trades; no order in testnet/live),
enforced by the session both front ends ask, and `cashup audit` listing what was allowed and denied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cashup_tui.domain.enums import Mode
from cashup_tui.runtime import make_session
from cashup_tui.service.roles import Action, PermissionDenied, Role, Session, allowed, require
from cashup_tui.settings import load_settings
from tests.conftest import MARKET_DIR, need_shared
from tests.test_runtime_cli import cashup
from tests.test_runtime_cli_sim import serve_sim

pytestmark = pytest.mark.timeout(120)
ORDERS = (Action.PLACE_ORDER, Action.AMEND_ORDER, Action.CLOSE_POSITION, Action.START_STRATEGY)


class Audit:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, dict[str, Any]]] = []

    def __call__(self, action: str, *, role: str, outcome: str, detail: Any) -> None:
        self.rows.append((action, role, outcome, dict(detail)))


@pytest.mark.parametrize("mode", [Mode.TESTNET, Mode.LIVE])
def test_the_developer_sends_no_order_where_money_is_at_stake(mode: Mode) -> None:
    audit = Audit()
    s = make_session(load_settings(environ={"CASHUP_UI_PROFILE": "developer"}), mode, audit)
    assert s.role is Role.DEVELOPER
    for action in ORDERS:
        with pytest.raises(PermissionDenied) as ei:
            s.authorize(action, record_as=f"x.{action.value}", symbol="BTC_USDT")
        assert f"the developer profile may not {action.value.replace('_', ' ')} in {mode.value} mode" in str(ei.value)
        assert 'ui.profile = "trader"' in ei.value.hint
    # what reduces risk or touches no venue stays allowed
    for action in (Action.CANCEL_ORDER, Action.KILL_SWITCH, Action.STOP_STRATEGY, Action.BACKTEST, Action.OPTIMIZE,
                   Action.EDIT_STRATEGY, Action.VIEW):
        s.authorize(action)
    denied = [r for r in audit.rows if r[2] == "denied"]
    assert [r[0] for r in denied] == [f"x.{a.value}" for a in ORDERS]
    assert all(r[1] == "developer" and f"developer profile in {mode.value}" in r[3]["reason"] for r in denied)


@pytest.mark.parametrize("mode", [Mode.DEMO, Mode.PAPER])
def test_the_developer_paper_trades_backtests_and_optimises(mode: Mode) -> None:
    s = make_session(load_settings(environ={"CASHUP_UI_PROFILE": "developer"}), mode, Audit())
    for action in (*ORDERS, Action.BACKTEST, Action.OPTIMIZE, Action.EDIT_STRATEGY, Action.CANCEL_ORDER):
        assert s.authorize(action) is Role.DEVELOPER
    # admin actions stay admin's (open in demo/paper with no passphrase set, as for a trader)
    assert s.authorize(Action.RESUME_TRADING) is Role.ADMIN


def test_the_matrix_keeps_viewer_read_only_and_trader_a_superset() -> None:
    assert not any(allowed(Role.VIEWER, a) for a in (*ORDERS, Action.BACKTEST, Action.EDIT_STRATEGY))
    assert all(allowed(Role.TRADER, a) for a in Action if allowed(Role.DEVELOPER, a))
    with pytest.raises(PermissionDenied) as ei:  # a viewer placing an order is told to be a trader
        require(Role.VIEWER, Action.PLACE_ORDER)
    assert "needs trader" in str(ei.value)
    with pytest.raises(PermissionDenied, match="needs developer"):
        require(Role.VIEWER, Action.BACKTEST)
    assert Session("trader", money_mode="live").authorize(Action.PLACE_ORDER) is Role.TRADER


@pytest.fixture
def sim_serve(monkeypatch: pytest.MonkeyPatch):
    yield from serve_sim(monkeypatch)


def test_developer_cli_refused_on_testnet_allowed_on_demo_and_backtest_and_audited(
        capsys: pytest.CaptureFixture[str], sim_serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CASHUP_UI_PROFILE", "developer")
    rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "1", "--price", "26000", "--mode", "testnet")
    assert rc == 1 and "the developer profile may not place order in testnet mode" in err, err
    rc, _, err = cashup(capsys, "trade", "--strategy", "sma_cross", "--symbol", "BTC_USDT", "--mode", "testnet",
                        "--duration", "1")
    assert rc == 1 and "the developer profile may not start strategy in testnet mode" in err, err
    rc, out, err = cashup(capsys, "orders", "list", "--mode", "testnet", "--json")
    assert rc == 0 and json.loads(out) == [], err  # nothing reached the venue
    rc, _, err = cashup(capsys, "orders", "cancel", "--all", "--mode", "testnet")
    assert rc == 0, err  # cancelling reduces risk: allowed
    # paper money: the in-process demo venue takes the developer's order
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "1", "--type", "market", "--mode", "demo",
                          "--json")
    assert rc == 0 and json.loads(out)["order"]["status"] == "filled", err
    btc = tmp_path / "btc.csv"
    btc.write_text("\n".join(need_shared(MARKET_DIR / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv")
                             .read_text().splitlines()[:801]) + "\n")
    rc, out, err = cashup(capsys, "backtest", "run", "sma_cross", "--data", str(btc), "--json")
    assert rc == 0, err

    # the audit log: the refusals and the allowed actions, who and when
    rc, out, err = cashup(capsys, "audit", "--mode", "testnet", "--json")
    assert rc == 0, err
    rows = json.loads(out)["audit"]
    assert [r["ts_ms"] for r in rows] == sorted(r["ts_ms"] for r in rows)
    denied = {(r["actor"], r["action"]) for r in rows if r["outcome"] == "denied"}
    assert ("cli:developer", "orders.place") in denied and ("cli:developer", "trade.start") in denied
    assert any(r["actor"] == "cli:developer" and r["outcome"] == "allowed" and r["action"].startswith("orders.cancel")
               for r in rows)
    assert all(r["mode"] in ("testnet", "") for r in rows)
    rc, out, _ = cashup(capsys, "audit", "--mode", "testnet")
    assert rc == 0 and "DENIED" in out and "cli:developer" in out and "denied (testnet)" in out
    rc, out, _ = cashup(capsys, "audit", "--mode", "demo", "--json")
    assert any(r["action"] == "orders.place" and r["outcome"] == "allowed" for r in json.loads(out)["audit"])
    last = rows[-1]["ts_ms"]
    rc, out, _ = cashup(capsys, "audit", "--mode", "testnet", "--since", str(last + 1), "--json")
    assert rc == 0 and json.loads(out)["audit"] == []
    rc, out, _ = cashup(capsys, "audit", "--mode", "testnet", "--since", str(last), "--json")
    assert rc == 0 and [r["ts_ms"] for r in json.loads(out)["audit"]] == [r["ts_ms"] for r in rows if r["ts_ms"] >= last]


def test_audit_cli_bad_input_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cashup(capsys, "audit", "--since", "yesterday-ish")
    assert rc == 2 and "--since" in err
    rc, _, err = cashup(capsys, "audit", "--since", "2026-01-02", "--until", "2026-01-01")
    assert rc == 2 and "must be after" in err
    rc, _, err = cashup(capsys, "audit", "--limit", "0")
    assert rc == 2 and "--limit" in err
    rc, out, err = cashup(capsys, "audit", "--mode", "paper")
    assert rc == 0 and "no audit rows (paper)" in out, err
