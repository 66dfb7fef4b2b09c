"""Vault hardening (issue 14): a new vault needs a passphrase of 8+ characters; a lowered scrypt cost
(CASHUP_VAULT_SCRYPT_N) is honoured only in a test run, otherwise ignored with a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cashup_tui.adapters import vault as v
from cashup_tui.adapters.vault import Vault, VaultError
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(v.SCRYPT_N_ENV, str(2**10))


@pytest.mark.parametrize("short", ["1", "1234567", "abcdefg"])
def test_a_new_vault_refuses_a_short_passphrase(tmp_path: Path, short: str) -> None:
    vault = Vault(tmp_path / "vault.json")
    with pytest.raises(VaultError, match="shorter than 8"):
        vault.set_entry(short, "gateio", {"api_key": FAKE_API_KEY, "api_secret": FAKE_API_SECRET})
    assert not vault.exists()
    vault.set_entry("12345678", "gateio", {"api_key": FAKE_API_KEY, "api_secret": FAKE_API_SECRET})
    assert vault.get_keys("12345678") is not None


def test_lowered_scrypt_cost_only_in_tests(caplog: pytest.LogCaptureFixture) -> None:
    assert v.scrypt_n_from_env({v.SCRYPT_N_ENV: "1024", v.TEST_RUN_ENV: "t.py::x (call)"}) == 1024
    with caplog.at_level(logging.WARNING, logger="cashup.vault"):
        assert v.scrypt_n_from_env({v.SCRYPT_N_ENV: "1024"}) == v.DEFAULT_SCRYPT_N
    assert "ignored outside tests" in caplog.text
    assert v.scrypt_n_from_env({v.SCRYPT_N_ENV: str(2**18)}) == 2**18  # stronger is always fine


def test_cli_refuses_a_short_new_vault_passphrase(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CASHUP_DATA_DIR": str(tmp_path / "d"), "CASHUP_CONFIG_DIR": str(tmp_path / "c"),
           "CASHUP_LOG_DIR": str(tmp_path / "l"), "CASHUP_VAULT_PASSPHRASE": "x9y8z7", "CASHUP_GATE_API_KEY": FAKE_API_KEY,
           "CASHUP_GATE_API_SECRET": FAKE_API_SECRET}
    p = subprocess.run([sys.executable, "-m", "cashup_tui", "keys", "set", "gateio", "--from-env"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode in (1, 2), (p.returncode, p.stderr)
    assert "shorter than 8" in p.stderr and "Traceback" not in p.stderr
