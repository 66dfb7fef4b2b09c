"""Settings discovery, validation errors (file, line, key, expectation) and env overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cashup_tui.domain.errors import ConfigError
from cashup_tui.settings import ENV_ONLY, Settings, load_settings, render_toml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "cashup.example.toml"


def test_example_documents_every_key_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    defaults = Settings().as_dict()
    for section, values in defaults.items():
        for key, value in values.items():
            if (section, key) in ENV_ONLY:
                assert key not in data.get(section, {})
                continue
            assert data[section][key] == value, f"{section}.{key}"
    for section, values in data.items():
        for key in values:
            assert key in defaults[section], f"example has unknown key {section}.{key}"


def test_every_example_key_has_a_comment() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            above = lines[i - 1].strip()
            assert above.startswith("#") or "=" in above or above.startswith("["), line


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(environ={}).source == "built-in defaults"
    user = tmp_path / "user.toml"
    user.write_text("[risk]\nmax_leverage = 3\n")
    monkeypatch.setenv("CASHUP_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "cashup.toml").write_text("[risk]\nmax_leverage = 4\n")
    assert load_settings(environ={}).risk.max_leverage == 4
    monkeypatch.setenv("CASHUP_CONFIG", str(user))
    assert load_settings(environ={}).risk.max_leverage == 3
    flag = tmp_path / "flag.toml"
    flag.write_text("[risk]\nmax_leverage = 5\n")
    assert load_settings(flag, environ={}).risk.max_leverage == 5
    s = load_settings(flag, environ={"CASHUP_RISK_MAX_LEVERAGE": "6", "CASHUP_GATE_REST_URL": "http://127.0.0.1:1/api/v4"})
    assert s.risk.max_leverage == 6
    assert s.gate.rest_url == "http://127.0.0.1:1/api/v4"


@pytest.mark.parametrize(
    "text,needle",
    [
        ("[risk]\nmax_leverage = \"ten\"\n", ":2: 'risk.max_leverage': expected a number"),
        ("[risk]\n\nmax_levrage = 3\n", "did you mean 'max_leverage'"),
        ("[rsk]\nmax_leverage = 3\n", "did you mean [risk]"),
        ("[ui]\nmode = \"yolo\"\n", "must be one of demo, paper, testnet, live"),
        ("[risk\nmax_leverage = 3\n", "not valid TOML"),
        ("[gate]\napi_secret = \"x\"\n", "must not be stored in a config file"),
        ("[risk]\nmax_open_orders = 2.5\n", "expected an integer"),
    ],
)
def test_bad_file_names_file_line_key(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={})
    assert str(p) in str(e.value)
    assert needle in str(e.value)


def test_bad_env_override_is_clear() -> None:
    with pytest.raises(ConfigError, match=r"CASHUP_RISK_MAX_LEVERAGE: 'risk.max_leverage': expected a number"):
        load_settings(environ={"CASHUP_RISK_MAX_LEVERAGE": "lots"})


def test_keys_from_env_are_masked() -> None:
    s = load_settings(environ={"CASHUP_GATE_API_KEY": "fakekey123", "CASHUP_GATE_API_SECRET": "fakesecret456"})
    assert s.gate.api_key.reveal() == "fakekey123"
    assert "fakesecret456" not in repr(s)
    assert "fakesecret456" not in render_toml(s)
    assert s.as_dict()["gate"]["api_secret"] == "<set>"


def test_the_cli_mode_choices_are_the_trading_modes() -> None:
    """`cli/choices.Mode` is a stdlib Literal (the fast --help path): it must list what the enum accepts."""
    from typing import get_args

    from cashup_tui.cli.choices import Mode as ModeChoice
    from cashup_tui.domain.enums import TRADING_MODES

    assert get_args(ModeChoice) == tuple(m.value for m in TRADING_MODES)
