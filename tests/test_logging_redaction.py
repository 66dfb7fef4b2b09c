"""Secrets never reach a log: messages, dict dumps, ccxt header dumps, tracebacks, URLs."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest

from cashup_tui import logging_setup as ls
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

TG_TOKEN = "123456789:AAFakeTelegramTokenForTests_0123456"


@pytest.fixture
def logfile(tmp_path: Path):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    path = ls.configure_logging("DEBUG", file=tmp_path / "logs" / "cashup.log")
    ls.register_secret(FAKE_API_KEY)
    ls.register_secret(FAKE_API_SECRET)
    yield path
    for h in list(root.handlers):
        if getattr(h, "_cashup_handler", False):
            root.removeHandler(h)
            h.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _text(path: Path) -> str:
    for h in logging.getLogger().handlers:
        h.flush()
    return path.read_text()


def test_log_file_is_private(logfile: Path) -> None:
    logging.getLogger("cashup.test").info("hello")
    assert stat.S_IMODE(logfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(logfile.parent.stat().st_mode) == 0o700


def test_messages_and_dict_dumps(logfile: Path) -> None:
    log = logging.getLogger("cashup.test")
    log.info("keys are %s / %s", FAKE_API_KEY, FAKE_API_SECRET)
    log.warning("config %r", {"apiKey": FAKE_API_KEY, "secret": FAKE_API_SECRET, "options": {"x": 1}})
    log.info("unregistered: %s", {"password": "hunter2hunter2", "token": "tok-abc-123", "size": 3})
    text = _text(logfile)
    assert FAKE_API_KEY not in text and FAKE_API_SECRET not in text
    assert "hunter2hunter2" not in text and "tok-abc-123" not in text
    assert "'size': 3" in text  # ordinary fields survive


def test_ccxt_style_header_dump(logfile: Path) -> None:
    # What ccxt verbose mode prints (values made up, and here unregistered too)
    dump = (
        "fetch Request: gate POST https://api.gateio.ws/api/v4/futures/usdt/orders RequestHeaders: "
        "{'KEY': 'anotherfakekey42', 'Timestamp': '1700000000', 'SIGN': 'deadbeefcafe0123', "
        "'Content-Type': 'application/json'} RequestBody: {\"contract\":\"BTC_USDT\",\"size\":1}"
    )
    logging.getLogger("ccxt.base.exchange").warning(dump)
    text = _text(logfile)
    assert "anotherfakekey42" not in text and "deadbeefcafe0123" not in text
    assert "'Timestamp': '1700000000'" in text and "BTC_USDT" in text


def test_traceback_text_is_redacted(logfile: Path) -> None:
    def sign(secret: str) -> None:
        raise RuntimeError(f"signature failed for secret={secret} key {FAKE_API_KEY}")

    try:
        sign(FAKE_API_SECRET)
    except RuntimeError:
        logging.getLogger("cashup.test").exception("order submit failed")
    logging.getLogger("cashup.test").info("where am I %s", FAKE_API_SECRET, stack_info=True)
    text = _text(logfile)
    assert "Traceback" in text and "RuntimeError" in text
    assert FAKE_API_SECRET not in text and FAKE_API_KEY not in text


def test_notification_urls_never_logged(logfile: Path) -> None:
    log = logging.getLogger("apprise")
    log.error("Could not load URL: tgram://%s/-100123", TG_TOKEN)
    log.error("mailtos://12345:qqauthcode99@qq.com?to=ops@example.com failed")
    log.error("jsons://hooks.example.com/x?+X-Token=abcdefsecret")
    text = _text(logfile)
    for s in (TG_TOKEN, "qqauthcode99", "abcdefsecret", "12345:"):
        assert s not in text


def test_every_handler_gets_the_filter(logfile: Path) -> None:
    stream = io.StringIO()
    h = logging.StreamHandler(stream)
    logging.getLogger("cashup.other").addHandler(h)
    try:
        assert ls.install_redaction() >= 1
        logging.getLogger("cashup.other").error("key=%s", FAKE_API_SECRET)
        assert FAKE_API_SECRET not in stream.getvalue() and "***" in stream.getvalue()
    finally:
        logging.getLogger("cashup.other").removeHandler(h)


def test_env_secrets_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASHUP_GATE_API_SECRET", "env-only-secret-xyz")
    assert "env-only-secret-xyz" not in ls.redact("oops env-only-secret-xyz leaked")


def test_short_values_and_plain_words_survive() -> None:
    ls.register_secret("ab")  # too short to mask safely
    assert ls.redact("a b ab abc") == "a b ab abc"
    plain = "risk: max_order_notional 50000 denied for BTC_USDT size=3 price=65000.5"
    assert ls.redact(plain) == plain


from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ALNUM = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=8, max_size=64)


@settings(max_examples=150, deadline=None)
@given(secret=_ALNUM, before=st.text(max_size=40), after=st.text(max_size=40))
def test_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    ls.register_secret(secret)
    try:
        for text in (f"{before}{secret}{after}", f"{before}{{'x': '{secret}'}}{after}", f"{secret}{secret}"):
            assert secret not in ls.redact(text)
    finally:  # random values must not stay registered for the other tests in this process
        if secret not in (FAKE_API_KEY, FAKE_API_SECRET):
            ls.forget_secret(secret)


@settings(max_examples=150, deadline=None)
@given(value=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=30),
       field=st.sampled_from(["KEY", "SIGN", "api_key", "apiSecret", "password", "token", "X-Token", "secret"]),
       style=st.sampled_from(["'{f}': '{v}'", '"{f}": "{v}"', "{f}={v}", "{f}: {v}", "&{f}={v}&x=1"]))
def test_secret_fields_are_masked_whatever_the_format(value: str, field: str, style: str) -> None:
    # a plain lowercase word after "name: " is prose, not a value (test_prose_keeps_its_words)
    assume(not (style == "{f}: {v}" and value.isalpha() and len(value) <= 15))
    out = ls.redact("dump " + style.format(f=field, v=value) + " end")
    assert value not in out.replace(field, "") and ls.MASK in out


@pytest.mark.parametrize("text", ["wrong admin passphrase: live trading was not done",
                                  "wrong admin passphrase: still in the viewer profile",
                                  "token: expired, ask for a new one", "the key: press enter"])
def test_prose_keeps_its_words(text: str) -> None:
    assert ls.redact(text) == text


@pytest.mark.parametrize(("text", "secret"), [("password: hunter2 end", "hunter2"), ("token: AbcDefGhi", "AbcDefGhi"),
                                              ("passphrase=live now", "live"), ("secret: 'word'", "word"),
                                              ("api_key: abcdefghijklmnopq", "abcdefghijklmnopq")])
def test_values_are_still_masked(text: str, secret: str) -> None:
    assert secret not in ls.redact(text).replace("passphrase", "")


@pytest.mark.parametrize(("url", "shown"), [
    ("tgram://123456789:AAHsecretTOKEN/-100123?to=x", "tgram://***/***?to=***"),
    ("tgram://123456789:?to=x", "tgram://***?to=***"),
    ("mailtos://12345:authcode99@qq.com?to=ops@example.com", "mailtos://***@qq.com?to=***"),
    ("json://hooks.example.com/abc/def?token=zz", "json://hooks.example.com/***/***?token=***"),
    ("critical=pushplus://0123456789abcdef0123456789abcdef", "critical=pushplus://***"),
    ("not a url", "***"),
])
def test_mask_url_keeps_scheme_and_host_only(url: str, shown: str) -> None:
    assert ls.mask_url(url) == shown
