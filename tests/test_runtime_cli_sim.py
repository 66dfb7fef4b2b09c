"""The trading CLI against `cashup sim serve` in its own process (testnet mode with made-up keys)."""

from __future__ import annotations

import json

import pytest

from tests.test_runtime_cli import cashup

pytestmark = pytest.mark.timeout(60)


def serve_sim(monkeypatch: pytest.MonkeyPatch, *extra: str):
    """`cashup sim serve` in its own process (port 0) with made-up keys and `extra` flags; CASHUP_GATE_* point at it."""
    import os
    import subprocess
    import sys

    from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

    env = {k: v for k, v in os.environ.items() if not k.startswith("CASHUP_GATE")}
    p = subprocess.Popen([sys.executable, "-m", "cashup_tui", "sim", "serve", "--port", "0", "--symbols", "BTC_USDT",
                          "--api-key", FAKE_API_KEY, "--api-secret", FAKE_API_SECRET, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert p.stdout is not None
        for line in p.stdout:
            k, _, v = line.strip().removeprefix("export ").partition("=")
            if k.startswith("CASHUP_GATE_"):
                monkeypatch.setenv(k, v)
            if k == "CASHUP_GATE_API_SECRET":
                break
        yield p
    finally:
        p.terminate()
        p.wait(10)


@pytest.fixture
def sim_serve(monkeypatch: pytest.MonkeyPatch):
    yield from serve_sim(monkeypatch)


def test_amend_close_cancel_against_sim_serve(capsys: pytest.CaptureFixture[str], sim_serve, store_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASHUP_DB", store_url)  # a SQLite file, a PostgreSQL database
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "2", "--price", "26500", "--mode", "testnet",
                          "--client-id", "t-am1", "--json")
    assert rc == 0 and json.loads(out)["order"]["status"] == "open", err
    rc, out, err = cashup(capsys, "orders", "amend", "t-am1", "--price", "26400", "--size", "3", "--mode", "testnet",
                          "--json")
    assert rc == 0, err
    am = json.loads(out)
    assert (am["price"], am["size"], am["status"]) == ("26400", "3", "open")
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "2", "--type", "market", "--mode", "testnet")
    assert rc == 0 and "FILLED" in out, err
    rc, out, err = cashup(capsys, "orders", "close", "BTC_USDT", "--mode", "testnet", "--json")
    assert rc == 0 and json.loads(out)["reduce_only"] and json.loads(out)["status"] == "filled", err
    rc, out, _ = cashup(capsys, "orders", "close", "BTC_USDT", "--mode", "testnet")
    assert rc == 0 and "no open BTC_USDT position" in out
    rc, out, _ = cashup(capsys, "orders", "cancel", "--all", "--mode", "testnet", "--json")
    assert rc == 0 and [o["status"] for o in json.loads(out)] == ["cancelled"]
    rc, out, _ = cashup(capsys, "orders", "sync", "--mode", "testnet", "--json")
    assert rc == 0 and json.loads(out)["changes"] == []  # the store agrees with the venue
    from cashup_tui.store import open_store
    from cashup_tui.store.journal import StoreJournal

    with open_store(store_url) as store:
        j = StoreJournal(store, "testnet")
        fills = j.load_fills()
        assert len({f.trade_id for f in fills}) == len(fills) >= 2  # the market buy and the close, each once
        assert {o.client_id: o.status.value for o in j.load_orders()}["t-am1"] == "cancelled"
        assert [p.size for p in j.load_positions()] == [0]
    rc, _, err = cashup(capsys, "orders", "amend", "t-nope", "--price", "1", "--mode", "testnet")
    assert rc == 1 and "no order with client id 't-nope'" in err


ADMIN_PP = "admin-pass-for-tests-3"


def test_live_needs_confirmation_and_the_admin_passphrase_and_is_audited(
    capsys: pytest.CaptureFixture[str], sim_serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cashup_tui.adapters.vault import save_admin_hash
    from cashup_tui.paths import admin_hash_path
    from cashup_tui.service.roles import hash_passphrase

    place = ("orders", "place", "BTC_USDT", "buy", "1", "--type", "market", "--mode", "live")
    rc, _, err = cashup(capsys, *place)
    assert rc == 2 and "--confirm-live" in err
    # the live switch is an admin action: refused in live while no admin passphrase is set
    rc, _, err = cashup(capsys, *place, "--confirm-live")
    assert rc == 1 and "no admin passphrase is set" in err and "cashup keys admin-passphrase" in err
    save_admin_hash(hash_passphrase(ADMIN_PP, n=2**10), admin_hash_path())
    rc, _, err = cashup(capsys, *place, "--confirm-live")  # no terminal to type it in, no env var
    assert rc == 1 and "CASHUP_ADMIN_PASSPHRASE" in err
    monkeypatch.setenv("CASHUP_ADMIN_PASSPHRASE", "not-the-admin-passphrase")
    rc, _, err = cashup(capsys, *place, "--confirm-live")
    assert rc == 1 and "wrong admin passphrase" in err
    monkeypatch.setenv("CASHUP_ADMIN_PASSPHRASE", ADMIN_PP)
    rc, out, err = cashup(capsys, *place, "--confirm-live", "--json")
    assert rc == 0 and json.loads(out)["order"]["status"] == "filled", err
    assert ADMIN_PP not in out + err
    from cashup_tui.paths import default_db_path
    from cashup_tui.store import open_store
    from cashup_tui.store.records import list_audit

    store = open_store(str(default_db_path("live")))
    try:
        actions = {(a.action, a.details.get("detail", "")) for a in list_audit(store, 50)}
    finally:
        store.close()
    assert any(act == "live.start" and "confirmed=True" in d for act, d in actions)
    assert any(act == "orders.place" for act, _ in actions)
    switches = [d for act, d in actions if act == "live.switch"]
    assert sum(d.startswith("DENIED") for d in switches) == 2 and any("as=admin" in d for d in switches)


def test_viewer_profile_cannot_trade_and_resume_needs_admin(capsys: pytest.CaptureFixture[str], sim_serve,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from cashup_tui.adapters.vault import save_admin_hash
    from cashup_tui.paths import admin_hash_path
    from cashup_tui.service.roles import hash_passphrase

    monkeypatch.setenv("CASHUP_UI_PROFILE", "viewer")
    rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "1", "--price", "26000", "--mode", "testnet")
    assert rc == 1 and "the viewer profile may not place order" in err and "hint" in err
    rc, _, err = cashup(capsys, "risk", "kill", "1", "--mode", "testnet")
    assert rc == 1 and "may not use the kill switch" in err
    rc, out, _ = cashup(capsys, "orders", "list", "--mode", "testnet", "--json")
    assert rc == 0 and json.loads(out) == []  # reading is fine; nothing was sent
    monkeypatch.setenv("CASHUP_UI_PROFILE", "trader")
    rc, _, err = cashup(capsys, "risk", "kill", "1", "--mode", "testnet")
    assert rc == 0, err
    # resume re-opens risk: admin only. testnet with no admin passphrase set: refused
    rc, _, err = cashup(capsys, "risk", "resume", "--mode", "testnet")
    assert rc == 1 and "no admin passphrase is set" in err
    save_admin_hash(hash_passphrase(ADMIN_PP, n=2**10), admin_hash_path())
    monkeypatch.setenv("CASHUP_ADMIN_PASSPHRASE", "wrong-one-here")
    rc, _, err = cashup(capsys, "risk", "resume", "--mode", "testnet")
    assert rc == 1 and "wrong admin passphrase" in err
    rc, out, _ = cashup(capsys, "risk", "status", "--mode", "testnet", "--json")
    assert json.loads(out)["kill_level"] == 1  # still stopped
    monkeypatch.setenv("CASHUP_ADMIN_PASSPHRASE", ADMIN_PP)
    rc, out, err = cashup(capsys, "risk", "resume", "--mode", "testnet")
    assert rc == 0 and "trading ACTIVE" in out, err

    from cashup_tui.paths import default_db_path
    from cashup_tui.store import open_store
    from cashup_tui.store.records import list_audit

    store = open_store(str(default_db_path("testnet")))
    try:
        rows = [(a.actor, a.action, a.details.get("detail", "")) for a in list_audit(store, 50)]
    finally:
        store.close()
    assert ("cli:viewer", "orders.place") in {(a, b) for a, b, _ in rows}
    assert [d.startswith("DENIED") for a, b, d in rows if b == "risk.resume"].count(True) == 2
    assert any(a == "cli:trader" and b == "risk.resume" and "as=admin" in d for a, b, d in rows)
