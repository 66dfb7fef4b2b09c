"""The settings writer both front ends use (service/config_edit.py) and `cashup config set`: a change is
checked as the loader checks it, written back with every comment and line of the user's file kept
(tomlkit), atomically with the file's mode; a bad value names the key and the allowed range and writes
nothing; secrets are refused and never shown."""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashup_tui.domain.errors import ConfigError
from cashup_tui.service.config_edit import ConfigFile
from cashup_tui.settings import _RANGES, load_settings
from tests.campaign import examples
from tests.conftest import FAKE_API_KEY
from tests.test_cli_basics import cashup

EXAMPLE = resources.files("cashup_tui").joinpath("cashup.example.toml").read_text(encoding="utf-8")
TOKEN_URL = "tgram://123456789:AAFakeTokenForTestsOnly0123456789/987654321"


def _file(tmp_path: Path, mode: int = 0o640) -> Path:
    p = tmp_path / "cashup.toml"
    p.write_text(EXAMPLE, encoding="utf-8")
    os.chmod(p, mode)
    return p


def _changed_lines(before: str, after: str) -> list[str]:
    return [ln for ln in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def test_set_keeps_every_comment_and_the_mode(tmp_path: Path) -> None:
    p = _file(tmp_path)
    change = ConfigFile(p, environ={}).set("risk.max_leverage", "3")
    after = p.read_text(encoding="utf-8")
    assert _changed_lines(EXAMPLE, after) == ["-max_leverage = 10.0", "+max_leverage = 3.0"]
    assert oct(p.stat().st_mode & 0o777) == "0o640"
    assert load_settings(p, environ={}).risk.max_leverage == 3.0
    assert not change.now and "applies after a restart" in change.message and "risk.max_leverage = 3.0" in change.message
    assert not [f for f in tmp_path.iterdir() if f.name != "cashup.toml"]  # no temp file left behind


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("risk.max_leverage", "5000", "'risk.max_leverage' must be in (0, 1000]"),
    ("risk.max_leverage", "0", "'risk.max_leverage' must be in (0, 1000]"),
    ("sim.port", "70000", "'sim.port' must be in [0, 65535]"),
    ("risk.max_open_orders", "1.5", "'risk.max_open_orders': expected an integer"),
    ("risk.daily_loss_limit", "nan", "'risk.daily_loss_limit' must be a finite number"),
    ("ui.mode", "moon", "'ui.mode' must be one of demo, paper, testnet, live"),
    ("risk.max_levrage", "3", "did you mean risk.max_leverage?"),
    ("notify.alerts", "BTC_USDT price sideways", "notify.alerts[1]"),
    ("gate.api_key", "abc", "cashup keys set gateio"),
    ("notify.urls", TOKEN_URL, "notification centre"),
])
def test_a_bad_value_is_refused_by_name_and_nothing_is_written(tmp_path: Path, key: str, value: str,
                                                              needle: str) -> None:
    p = _file(tmp_path)
    with pytest.raises(ConfigError) as err:
        ConfigFile(p, environ={}).set(key, value)
    assert needle in str(err.value)
    assert "AAFakeToken" not in str(err.value)
    assert p.read_text(encoding="utf-8") == EXAMPLE


NUMERIC = sorted(_RANGES)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_valid_values_round_trip(tmp_path: Path, data: st.DataObject) -> None:
    p = _file(tmp_path)
    section, name = data.draw(st.sampled_from(NUMERIC))
    lo, hi, lo_ok = _RANGES[(section, name)]
    integer = isinstance(getattr(getattr(load_settings(p, environ={}), section), name), int)
    if integer:
        value: float = data.draw(st.integers(int(lo) if lo_ok else int(lo) + 1, int(hi)))
    else:
        value = data.draw(st.floats(lo, hi, exclude_min=not lo_ok, allow_nan=False, allow_infinity=False))
    ConfigFile(p, environ={}).set(f"{section}.{name}", repr(value))
    assert getattr(getattr(load_settings(p, environ={}), section), name) == value
    changed = _changed_lines(EXAMPLE, p.read_text(encoding="utf-8"))
    assert all(f"{name} =" in ln for ln in changed)  # only that key's line, comments intact


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(NUMERIC), raw=st.one_of(
    st.text(max_size=12).filter(lambda t: not _is_number(t)),
    st.sampled_from(["-1", "1e300", "inf", "-inf", "nan", "99999999999"]),
))
def test_invalid_values_never_write(tmp_path: Path, key: tuple[str, str], raw: str) -> None:
    p = _file(tmp_path)
    lo, hi, lo_ok = _RANGES[key]
    if _is_number(raw) and (lo < float(raw) < hi or (lo_ok and float(raw) == lo) or float(raw) == hi):
        return  # a valid value: the other property covers it
    with pytest.raises(ConfigError):
        ConfigFile(p, environ={}).set(".".join(key), raw)
    assert p.read_text(encoding="utf-8") == EXAMPLE


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_lists_channels_and_rules(tmp_path: Path) -> None:
    p = _file(tmp_path, 0o600)
    cfg = ConfigFile(p, environ={})
    assert not cfg.add_item("ui.watchlist", "XRP_USDT").now
    cfg.add_item("notify.alerts", "BTC_USDT price above 70000")
    cfg.replace_item("notify.alerts", 0, "BTC_USDT price below 20000")
    change = cfg.add_channel(TOKEN_URL)
    assert "AAFakeToken" not in change.message and "tgram://***" in change.message
    (row,) = cfg.channels()
    assert row.enabled and "AAFakeToken" not in row.shown
    cfg.enable_channel(row, False)
    s = load_settings(p, environ={})
    assert (s.notify.urls, s.notify.disabled_urls) == ([], [TOKEN_URL])
    assert s.notify.alerts == ["BTC_USDT price below 20000"]
    assert s.ui.watchlist[-1] == "XRP_USDT"
    with pytest.raises(ConfigError, match="rejected by apprise"):
        cfg.add_channel("nosuchscheme://host/path")
    cfg.enable_channel(cfg.channels()[0], True)
    cfg.remove_channel(cfg.channels()[0])
    cfg.remove_item("notify.alerts", 0)
    s = load_settings(p, environ={})
    assert s.notify.urls == s.notify.disabled_urls == s.notify.alerts == []
    shown = {r.key: r for r in cfg.rows()}
    assert shown["gate.api_key"].secret and shown["gate.api_key"].value == "<not set>"
    with_key = {r.key: r for r in ConfigFile(p, environ={"CASHUP_GATE_API_KEY": FAKE_API_KEY}).rows()}
    assert with_key["gate.api_key"].value == "<set>" and with_key["gate.api_key"].env == "CASHUP_GATE_API_KEY"
    # the header comments and every comment line of the example are still there
    after = p.read_text(encoding="utf-8")
    assert [ln for ln in EXAMPLE.splitlines() if ln.startswith("#")] == [ln for ln in after.splitlines()
                                                                          if ln.startswith("#")]


def test_cli_config_set(tmp_path: Path) -> None:
    p = _file(tmp_path, 0o600)
    ok = cashup("--config", str(p), "config", "set", "risk.max_leverage", "4")
    assert ok.returncode == 0, ok.stderr
    assert "risk.max_leverage = 4.0" in ok.stdout and "applies after a restart" in ok.stdout
    bad = cashup("--config", str(p), "config", "set", "risk.max_leverage", "4000")
    assert bad.returncode == 2 and "'risk.max_leverage' must be in (0, 1000]" in bad.stderr
    secret = cashup("--config", str(p), "config", "set", "gate.api_secret", "abc")
    assert secret.returncode == 2 and "cashup keys" in secret.stderr
    assert load_settings(p, environ={}).risk.max_leverage == 4.0
    # no file yet: the documented example is written first, then the key
    fresh = cashup("config", "set", "ui.refresh_hz", "2", env={"CASHUP_CONFIG_DIR": str(tmp_path / "cfg")})
    assert fresh.returncode == 0 and "(created)" in fresh.stdout
    assert "# CashUp settings" in (tmp_path / "cfg" / "cashup.toml").read_text(encoding="utf-8")
