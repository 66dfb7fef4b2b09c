"""Logging for the CLI and the app, with secret redaction on every handler.

Why: freqtrade#6016 and the ccxt verbose-header issues show secrets reaching logs through
config dumps, header dumps and tracebacks. So one `RedactingFilter` sits on EVERY handler and
rewrites the fully formatted message AND the formatted exception/stack text, replacing:
  - known secret values registered at runtime (`register_secret`: API key/secret, notification
    tokens, SMTP auth codes, QANotify user ids), and
  - anything in a `KEY`/`SIGN`/`secret`/`password`/`token`-like field, `Authorization` headers,
    and credentials inside notification URLs (apprise schemes: everything after `://`).
The log file is created 0600 inside a 0700 directory. Stdlib only: cheap to import.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path

MASK = "***"
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None

# Field names whose values are secrets: KEY, SIGN, api_key, apiSecret, X-Token, password, passwd,
# pass, authcode, access_token, user_id (QANotify's only credential), webhook urls...
_FIELD = (
    r"(?:[A-Za-z0-9_.\-]*?(?:key|secret|token|passw(?:or)?d|sign(?:ature)?|auth(?:code|_code)?|cookie|credential)s?"
    r"|passphrase|pass|pwd|user_id)"
)
# 'KEY': 'abc'  "KEY": "abc"  KEY=abc  key: abc  &pass=abc  (quoted or bare values)
_FIELD_RE = re.compile(
    rf"""(?P<name>(?<![A-Za-z0-9])["']?{_FIELD}["']?\s*(?:=|:)\s*)(?P<q>["'])?(?P<val>(?(q)[^"'\n]*|[^\s"',;&}}\])]+))""",
    re.IGNORECASE,
)
_AUTH_RE = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:bearer|basic|token)?\s*[^\s\"',}]+")
# Notification schemes carry tokens in the host/path: hide everything after "://".
_APPRISE_SCHEMES = (
    "tgram|telegram|mailto|mailtos|email|pushplus|wecom|wxpusher|qanotify|json|jsons|form|forms|xml|xmls|"
    "discord|slack|ntfy|ntfys|gotify|gotifys|pover|bark|barks|dingtalk|feishu|lark|matrix|matrixs|"
    "mmost|mmosts|rocket|rockets|signal|signals|serverchan|schan|apprise|apprises|pbul|join|ifttt|msteams|"
    "workflows|zulip|line|twilio|sns|ses|mqtt|mqtts|kumulos|pushover|wxteams|webex|rbox|popcorn|smtp|smtps"
)
_SCHEME_URL_RE = re.compile(rf"(?i)\b((?:{_APPRISE_SCHEMES})://)[^\s'\"<>]+")
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@'\"]+:[^@\s/'\"]+@")


def register_secret(value: object) -> None:
    """Make `value` (a key, a token, a password) disappear from every log line from now on."""
    text = str.__str__(value) if isinstance(value, str) else str(value)
    text = text.strip()
    if len(text) < _MIN_SECRET_LEN:
        return
    global _secret_re
    with _lock:
        if text in _secrets:
            return
        _secrets.add(text)
        parts = sorted(_secrets, key=len, reverse=True)  # longest first: a secret containing another
        _secret_re = re.compile("|".join(re.escape(p) for p in parts))


def forget_secret(value: object) -> None:
    """Stop masking `value` (e.g. after its key was removed); unknown values are ignored."""
    text = (str.__str__(value) if isinstance(value, str) else str(value)).strip()
    global _secret_re
    with _lock:
        if text not in _secrets:
            return
        _secrets.discard(text)
        parts = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(p) for p in parts)) if parts else None


def registered_count() -> int:
    return len(_secrets)


def _register_env_secrets() -> None:
    for var in ("CASHUP_GATE_API_KEY", "CASHUP_GATE_API_SECRET", "CASHUP_VAULT_PASSPHRASE", "CASHUP_ADMIN_PASSPHRASE"):
        v = os.environ.get(var)
        if v:
            register_secret(v)


def redact(text: str) -> str:
    """Return `text` with registered secrets, secret-looking fields and URL credentials masked."""
    if not text:
        return text
    _register_env_secrets()
    pattern = _secret_re
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _SCHEME_URL_RE.sub(lambda m: m.group(1) + MASK, text)
    text = _USERINFO_RE.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _AUTH_RE.sub(lambda m: m.group(1) + MASK, text)
    text = _FIELD_RE.sub(_mask_field, text)
    return text


_WORD_RE = re.compile(r"[a-z]{1,15}")


def _mask_field(m: re.Match[str]) -> str:
    """Mask the value, not the sentence: in prose ("wrong admin passphrase: live trading was not done")
    a plain lowercase word after `name: ` is a word; a value with digits, capitals, symbols or 16+
    characters, any `name=value` and any quoted value are masked. Known secrets are masked anyway."""
    val = m.group("val")
    if not val or val == MASK or val in ("None", "null", "''", '""'):
        return m.group(0)
    name = m.group("name")
    if not m.group("q") and name != name.rstrip() and name.rstrip().endswith(":") and _WORD_RE.fullmatch(val):
        return m.group(0)
    return f"{name}{m.group('q') or ''}{MASK}"


_HOSTLIKE_RE = re.compile(r"(?i)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?::[0-9]{1,5})?|\[?[0-9a-f:.]+\]?(?::[0-9]{1,5})?")


def mask_url(url: str) -> str:
    """A notification URL safe to show: the scheme and a host name stay readable, every token goes
    (user:pass, a host that is a token, path segments, query values): `tgram://***/?to=***`,
    `mailtos://***@qq.com?to=***`, `json://hooks.example.com/***`."""
    text = str(url).strip()
    tags, sep, rest = text.partition("=")
    if sep and "://" in rest and "://" not in tags:  # `critical,warning=tgram://...`
        return f"{tags}={mask_url(rest)}"
    scheme, sep, rest = text.partition("://")
    if not sep:
        return MASK
    rest, _, frag = rest.partition("#")
    rest, q, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    _, at, host = netloc.rpartition("@")
    shown_host = host if host and _HOSTLIKE_RE.fullmatch(host) and "." in host else (MASK if host else "")
    out = f"{scheme}://" + (f"{MASK}@" if at else "") + shown_host
    if slash:
        out += "/" + "/".join(MASK if seg else "" for seg in path.split("/"))
    if q:
        out += "?" + "&".join(f"{p.partition('=')[0]}={MASK}" if "=" in p else MASK for p in query.split("&") if p)
    if frag:
        out += "#" + MASK
    return out


class RedactingFilter(logging.Filter):
    """Rewrites the record in place: message (args merged) and exception/stack text, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_cashup_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad %-format must not lose the line
            message = f"{record.msg!r} (unformattable args: {type(exc).__name__})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None  # handlers that render exc_info themselves would skip redaction
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._cashup_redacted = True
        return True


class PrivateFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are always created with mode 0600."""

    def _open(self):  # type: ignore[override]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.chmod(self.baseFilename, 0o600)
        except OSError:
            pass
        return os.fdopen(fd, self.mode if "a" in self.mode else "a", encoding=self.encoding, errors=self.errors)


_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def install_redaction(logger: logging.Logger | None = None) -> int:
    """Put the filter on every handler reachable from `logger` (default: root and all named loggers)."""
    loggers: list[logging.Logger] = [logger] if logger is not None else [logging.getLogger()]
    if logger is None:
        loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    n = 0
    for lg in loggers:
        for h in lg.handlers:
            if not any(isinstance(f, RedactingFilter) for f in h.filters):
                h.addFilter(RedactingFilter())
                n += 1
    return n


def configure_logging(
    level: str = "INFO",
    *,
    file: str | os.PathLike[str] | None = None,
    console: bool = False,
    console_level: str = "WARNING",
) -> Path:
    """Configure the root logger: a 0600 rotating file (default `cashup.log` in the log dir) and
    optionally stderr. Idempotent. Returns the log file path."""
    from cashup_tui.paths import log_dir
    from cashup_tui.private_files import ensure_private_dir

    path = Path(file) if file else log_dir() / "cashup.log"
    ensure_private_dir(path.parent)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_cashup_handler", False):
            root.removeHandler(h)
            h.close()
    fh = PrivateFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
    fh.setFormatter(logging.Formatter(_FORMAT))
    fh.setLevel(level.upper())
    fh._cashup_handler = True  # type: ignore[attr-defined]
    root.addHandler(fh)
    if console:
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        sh.setLevel(console_level.upper())
        sh._cashup_handler = True  # type: ignore[attr-defined]
        root.addHandler(sh)
    levels = [fh.level] + ([logging.getLevelName(console_level.upper())] if console else [])
    root.setLevel(min(levels))
    # Libraries that are chatty or print credentials-bearing things at DEBUG stay at WARNING.
    for name in ("apprise", "ccxt", "urllib3", "asyncio", "aiosmtpd", "mail.log"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    install_redaction()
    _register_env_secrets()
    return path
