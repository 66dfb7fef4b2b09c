"""`cashup keys ...` as a real process: set/status/remove, admin passphrase, audit, zero leaks."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

REPO = Path(__file__).resolve().parent.parent
VAULT_PP = "vault-pass-for-tests-1"
ADMIN_PP = "admin-pass-for-tests-2"


def cashup(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CASHUP_VAULT_SCRYPT_N": "1024", **(env or {})}
    return subprocess.run([sys.executable, "-m", "cashup_tui", *args], capture_output=True, text=True, env=full,
                          cwd=REPO, timeout=120, stdin=subprocess.DEVNULL)


KEYS_ENV = {"CASHUP_GATE_API_KEY": FAKE_API_KEY, "CASHUP_GATE_API_SECRET": FAKE_API_SECRET}


def test_keys_session_never_leaks_secrets() -> None:
    outputs: list[str] = []

    def run(*args: str, env: dict[str, str] | None = None, code: int = 0) -> subprocess.CompletedProcess[str]:
        r = cashup(*args, env=env)
        outputs.extend([r.stdout, r.stderr])
        assert r.returncode == code, (args, r.stdout, r.stderr)
        return r

    r = run("keys", "status")
    assert "none configured" in r.stdout
    r = run("keys", "set", "gateio", "--from-env", env={**KEYS_ENV, "CASHUP_VAULT_PASSPHRASE": VAULT_PP})
    assert "stored gateio keys in the vault" in r.stdout and "sha256:" in r.stdout
    r = run("keys", "status", "--json", env={"CASHUP_VAULT_PASSPHRASE": VAULT_PP})
    st = json.loads(r.stdout)
    assert st["in_use"] == "vault"
    vault_row = next(s for s in st["sources"] if s["source"] == "vault")
    assert vault_row["present"] is True and vault_row["fingerprint"].startswith("sha256:")
    r = run("keys", "status", env={**KEYS_ENV})
    assert "in use from env" in r.stdout
    r = run("keys", "status", env={"CASHUP_VAULT_PASSPHRASE": "not-the-vault-passphrase"}, code=1)
    assert "wrong passphrase" in r.stderr and "Traceback" not in r.stderr
    # admin passphrase: it may not be the vault passphrase; once set, key changes (and changing it) need it
    r = run("keys", "admin-passphrase", env={"CASHUP_ADMIN_PASSPHRASE_NEW": VAULT_PP}, code=1)
    assert "must differ from the vault passphrase" in r.stderr
    assert "admin passphrase: not set" in run("keys", "status", "--no-unlock").stdout
    r = run("keys", "admin-passphrase", env={"CASHUP_ADMIN_PASSPHRASE_NEW": ADMIN_PP})
    assert "admin passphrase set" in r.stdout
    assert "admin passphrase: set" in run("keys", "status", "--no-unlock").stdout
    r = run("keys", "admin-passphrase", env={"CASHUP_ADMIN_PASSPHRASE": "not-it", "CASHUP_ADMIN_PASSPHRASE_NEW": "x" * 9},
            code=1)
    assert "wrong admin passphrase" in r.stderr
    r = run("keys", "remove", "gateio", "--yes",
            env={"CASHUP_VAULT_PASSPHRASE": VAULT_PP, "CASHUP_ADMIN_PASSPHRASE": "not-it"}, code=1)
    assert "wrong admin passphrase" in r.stderr
    r = run("keys", "remove", "gateio", "--yes",
            env={"CASHUP_VAULT_PASSPHRASE": VAULT_PP, "CASHUP_ADMIN_PASSPHRASE": ADMIN_PP})
    assert "removed gateio keys from: vault" in r.stdout
    r = run("keys", "set", "kraken", code=1)
    assert "unknown exchange" in r.stderr
    r = run("keys", "set", "gateio", code=1)
    assert "no terminal" in r.stderr and "--from-env" in r.stderr

    data = Path(os.environ["CASHUP_DATA_DIR"])
    logs = Path(os.environ["CASHUP_LOG_DIR"])
    # the audit log recorded the key changes (without secrets)
    with sqlite3.connect(data / "cashup-live.sqlite") as conn:
        rows = conn.execute("select actor, action, details from audit_log order by id").fetchall()
    actions = [(a, b) for a, b, _ in rows]
    assert ("local-user", "keys_set") in actions and ("admin", "keys_remove") in actions
    assert ("local-user", "set_admin_passphrase") in actions
    checks = [(b, json.loads(d)["outcome"]) for a, b, d in rows if b.endswith(".check")]
    assert checks == [("set_admin_passphrase.check", "denied"), ("manage_keys.check", "denied"),
                      ("manage_keys.check", "allowed")]
    # zero hits for any secret in outputs, logs, DB files, vault
    blobs = [o.encode() for o in outputs]
    for d in (data, logs):
        for p in d.rglob("*"):
            if p.is_file():
                blobs.append(p.read_bytes())
    for secret in (FAKE_API_KEY, FAKE_API_SECRET, VAULT_PP, ADMIN_PP):
        hits = sum(b.count(secret.encode()) for b in blobs)
        assert hits == 0, f"{secret[:6]}... found {hits} times"
