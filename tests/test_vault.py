"""The encrypted key vault: round trip, wrong passphrase, tampering, file mode, no plaintext."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cashup_tui.adapters import vault as v
from cashup_tui.adapters.vault import Vault, VaultError
from cashup_tui.domain.secret import Secret
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

PASS = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(v.SCRYPT_N_ENV, str(2**10))


def _make(tmp_path: Path) -> Vault:
    vault = Vault(tmp_path / "data" / "vault.json")
    vault.set_entry(PASS, "gateio", {"api_key": FAKE_API_KEY, "api_secret": FAKE_API_SECRET})
    return vault


def test_round_trip(tmp_path: Path) -> None:
    vault = _make(tmp_path)
    keys = vault.get_keys(PASS)
    assert keys is not None and keys.source == "vault"
    assert keys.api_key.reveal() == FAKE_API_KEY and keys.api_secret.reveal() == FAKE_API_SECRET
    assert isinstance(keys.api_secret, Secret)
    assert FAKE_API_SECRET not in repr(keys) and "***" in repr(keys)
    # a second save re-encrypts under a fresh salt and keeps other entries
    vault.set_entry(PASS, v.META, {"admin_hash": "x"})
    assert set(vault.load(PASS)) == {"gateio", v.META}


def test_file_mode_0600_dir_0700_and_no_plaintext(tmp_path: Path) -> None:
    vault = _make(tmp_path)
    assert stat.S_IMODE(vault.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(vault.path.parent.stat().st_mode) == 0o700
    raw = vault.path.read_bytes()
    for secret in (FAKE_API_KEY, FAKE_API_SECRET, PASS, "fakekey", "fakesecret"):
        assert secret.encode() not in raw
    env = json.loads(raw)
    assert env["kdf"]["name"] == "scrypt" and env["kdf"]["n"] == 2**10 and env["kdf"]["salt"]
    # no temp files left behind by the atomic write
    assert [p.name for p in vault.path.parent.iterdir()] == ["vault.json"]


def test_default_cost_is_2_pow_17(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(v.SCRYPT_N_ENV)
    assert v.scrypt_n_from_env() == 2**17
    for bad in ("1000", "abc", str(2**30), "2"):
        with pytest.raises(VaultError, match="power of two"):
            v.scrypt_n_from_env({v.SCRYPT_N_ENV: bad})


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    vault = _make(tmp_path)
    with pytest.raises(VaultError, match="wrong passphrase") as ei:
        vault.load("not the passphrase")
    assert ei.value.hint and FAKE_API_SECRET not in str(ei.value)


@pytest.mark.parametrize("field", ["token", "check"])
def test_tampered_file_is_detected(tmp_path: Path, field: str) -> None:
    vault = _make(tmp_path)
    env = json.loads(vault.path.read_text())
    s = env[field]
    mid = len(s) // 2
    env[field] = s[:mid] + ("A" if s[mid] != "A" else "B") + s[mid + 1 :]
    vault.path.write_text(json.dumps(env))
    os.chmod(vault.path, 0o600)
    with pytest.raises(VaultError) as ei:
        vault.load(PASS)
    msg = str(ei.value)
    if field == "token":
        assert "damaged" in msg and "altered" in msg
    else:
        assert "wrong passphrase" in msg or "damaged" in msg


def test_garbage_and_truncated_files(tmp_path: Path) -> None:
    vault = _make(tmp_path)
    vault.path.write_bytes(vault.path.read_bytes()[:40])
    with pytest.raises(VaultError, match="damaged"):
        vault.load(PASS)
    vault.path.write_text(json.dumps({"format": "cashup-vault", "version": 1, "kdf": {"name": "scrypt", "n": 2**40, "r": 8, "p": 1}}))
    with pytest.raises(VaultError, match="out of range"):
        vault.load(PASS)


def test_group_readable_vault_is_refused(tmp_path: Path) -> None:
    vault = _make(tmp_path)
    os.chmod(vault.path, 0o644)
    with pytest.raises(VaultError, match="chmod 600"):
        vault.load(PASS)


def test_remove_entry_deletes_the_empty_file(tmp_path: Path) -> None:
    vault = _make(tmp_path)
    assert vault.remove_entry(PASS, "gateio") is True
    assert not vault.exists()


def test_resolve_order_env_then_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = _make(tmp_path)
    asked: list[int] = []

    def pp() -> str:
        asked.append(1)
        return PASS

    keys = v.resolve_keys(passphrase=pp, vault=vault, environ={})
    assert keys is not None and keys.source == "vault" and asked == [1]
    keys = v.resolve_keys(
        passphrase=pp, vault=vault, environ={v.KEY_ENV: "envkey1234", v.SECRET_ENV: "envsecret1234"}
    )
    assert keys is not None and keys.source == "env" and asked == [1]  # env never unlocks the vault
    with pytest.raises(VaultError, match="partner"):
        v.keys_from_env({v.KEY_ENV: "only-the-key"})


def test_fail_keyring_backend_is_not_used() -> None:
    import keyring
    from keyring.backends import fail

    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        ok, name = v.keyring_status()
        assert not ok and "fail" in name
        assert v.keys_from_keyring() is None
        with pytest.raises(VaultError, match="no usable OS keyring"):
            v.keyring_store("gateio", "k" * 8, "s" * 8)
    finally:
        keyring.set_keyring(old)


def test_passphrase_never_from_a_pipe_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.delenv(v.PASSPHRASE_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("typed\n"))
    with pytest.raises(VaultError, match="no terminal"):
        v.read_passphrase()
    monkeypatch.setenv(v.PASSPHRASE_ENV, PASS)
    assert v.read_passphrase() == PASS


def test_real_cost_vault_unlocks_in_under_five_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.delenv(v.SCRYPT_N_ENV)
    vault = Vault(tmp_path / "vault.json")
    vault.save(PASS, {"gateio": {"api_key": FAKE_API_KEY, "api_secret": FAKE_API_SECRET}})
    t0 = time.perf_counter()
    assert vault.get_keys(PASS) is not None
    assert time.perf_counter() - t0 < 5.0
    assert json.loads(vault.path.read_text())["kdf"]["n"] == 2**17
