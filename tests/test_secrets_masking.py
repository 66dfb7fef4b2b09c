"""Notification tokens are secrets (issue 14): `config show` masks them; a malformed URL is a clean
config error (exit 2), never an exception escaping apprise; random URLs are accepted or refused cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.notify_channels import parse_channel
from cashup_tui.domain.errors import ConfigError
from tests.campaign import examples
from tests.test_runtime_cli import cashup

TOKEN = "123456789:AAHdummyTOKENvalue0000"
URLS = [f"tgram://{TOKEN}/-100123?to=x", "mailtos://12345:qqauthcode99@qq.com?to=ops@example.com"]


def _config(tmp_path: Path, urls: list[str]) -> Path:
    p = tmp_path / "c.toml"
    p.write_text("[notify]\nurls = " + json.dumps(urls) + "\n")
    return p


@pytest.mark.parametrize("as_json", [False, True])
def test_config_show_masks_notification_tokens(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                               as_json: bool) -> None:
    cfg = _config(tmp_path, URLS)
    rc, out, err = cashup(capsys, "--config", str(cfg), "config", "show", *(["--json"] if as_json else []))
    assert rc == 0, err
    for secret in ("AAHdummyTOKENvalue0000", "123456789", "qqauthcode99", "12345:"):
        assert secret not in out
    assert "tgram://***/***?to=***" in out and "mailtos://***@qq.com?to=***" in out
    if as_json:
        assert json.loads(out)["settings"]["notify"]["urls"][1] == "mailtos://***@qq.com?to=***"


def test_settings_screen_text_is_masked(tmp_path: Path) -> None:
    from cashup_tui.settings import load_settings, render_toml

    text = render_toml(load_settings(_config(tmp_path, URLS)))
    assert "AAHdummy" not in text and "tgram://***" in text


def test_a_telegram_url_without_a_token_is_a_config_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"notify.urls\[0\]"):
        parse_channel("tgram://123456789:?to=x", 0)
    cfg = _config(tmp_path, ["tgram://123456789:?to=x"])
    rc, out, err = cashup(capsys, "--config", str(cfg), "notify", "channels")
    assert rc in (1, 2), (rc, out, err)
    assert "notify.urls[" in err and "malformed" in err and "Traceback" not in err + out and "bug" not in err


_SCHEMES = ["tgram", "telegram", "mailto", "mailtos", "pushplus", "wxpusher", "qanotify", "json", "jsons", "discord",
            "ntfy", "slack", "form", "xml", "bark", "gotify", "x-y", "http"]
_PIECE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=16) | st.sampled_from(
    ["", ":", "@", "@@", "[", "]", "%", "%zz", "123456789:", "AT_x", "UID_", "?", "#", "/", "-100", "qq.com",
     "127.0.0.1:99999", "[::1", "to=", "to=x&to=", "template=zz", "endpoint=ftp://x"])


@settings(max_examples=examples(200), deadline=None)
@given(scheme=st.sampled_from(_SCHEMES), netloc=_PIECE, path=_PIECE, query=_PIECE, tags=st.sampled_from(["", "critical="]))
def test_random_notification_urls_are_accepted_or_a_clean_config_error(scheme: str, netloc: str, path: str,
                                                                       query: str, tags: str) -> None:
    url = f"{tags}{scheme}://{netloc}/{path}?{query}"
    try:
        ch = parse_channel(url, 0)
    except ConfigError as exc:
        assert "notify.urls[0]" in str(exc)
        return
    assert ch.scheme and ch.label.startswith("#0 ")
