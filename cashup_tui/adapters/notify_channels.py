"""Notification channels: apprise URLs with severity tags, validated at config time, and the QANotify plugin.

URLs carry tokens: they are validated with the known traps refused, their secret parts are
registered with the log redaction filter, and they are never logged or shown (only `#2 tgram`).
QANotify has no apprise plugin: `qanotify://{user_id}` is registered here with
`@apprise.decorators.notify`, implementing its three templates (xiadan_report, strategy_status,
price_notify) with URL-encoded query values (the upstream package pastes them unencoded). It is plain
HTTP and best-effort by design of that service. The queue that sends through them is `notify.py`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from cashup_tui.domain.errors import ConfigError
from cashup_tui.logging_setup import register_secret

log = logging.getLogger("cashup.notify")

SEVERITIES = ("debug", "info", "warning", "critical")
QANOTIFY_ENDPOINT = "http://www.yutiansut.com/signal"  # plain HTTP, as the upstream package uses
QANOTIFY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "xiadan_report": (
        "strategy_id", "realaccount", "code", "order_direction", "order_offset", "price", "volume", "order_time",
    ),
    "strategy_status": ("first", "name", "stype", "frequence", "remark"),
    "price_notify": ("first", "name", "curprice", "limitprice", "orderid", "remark"),
}


# --- channels and URL validation ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Channel:
    """One destination. `label` is safe to show and log; `url` never is."""

    index: int
    scheme: str
    tags: frozenset[str]
    url: str = field(repr=False)

    @property
    def label(self) -> str:
        return f"#{self.index} {self.scheme}"


_TAGGED = re.compile(r"^\s*(?P<tags>[A-Za-z0-9_,\s-]+?)\s*=\s*(?P<url>[A-Za-z][A-Za-z0-9+.-]*://.*)$", re.S)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_apprise_lock = threading.Lock()
_apprise_ready = False


def _apprise() -> Any:
    """Import apprise (heavy) on first use, register QANotify, keep apprise quiet on stderr."""
    global _apprise_ready
    import apprise

    if not _apprise_ready:
        with _apprise_lock:
            if not _apprise_ready:
                alog = logging.getLogger("apprise")
                if not any(isinstance(h, logging.NullHandler) for h in alog.handlers):
                    alog.addHandler(logging.NullHandler())  # no lastResort printing of URL fragments
                from apprise.manager_plugins import NotificationManager

                if "qanotify" not in NotificationManager():
                    apprise.decorators.notify(on="qanotify", name="QANotify")(_qanotify_send)
                _apprise_ready = True
    return apprise


def _fail(where: str, scheme: str, what: str, hint: str) -> ConfigError:
    return ConfigError(f"{where}: {scheme}:// URL {what}", hint=hint)


def _with_timeouts(url: str, rto: float, cto: float) -> str:
    """Add `rto`/`cto` (apprise socket timeouts) unless the user chose them."""
    parts = urlsplit(url)
    have = {p.split("=", 1)[0].lower() for p in parts.query.split("&") if p}
    extra = []
    if "rto" not in have:
        extra.append(f"rto={rto:g}")
    if "cto" not in have:
        extra.append(f"cto={cto:g}")
    if not extra:
        return url
    sep = "&" if parts.query else "?"
    frag = ""
    if "#" in url:
        url, frag = url.split("#", 1)
        frag = "#" + frag
    return url + sep + "&".join(extra) + frag


def validate_url(url: str, where: str = "notification URL") -> Any:
    """Parse `url` with apprise and check the traps that `add()` lets through; return the plugin.

    Errors name `where` and the scheme, never the URL itself (it holds tokens)."""
    m = _SCHEME.match(url.strip())
    if not m:
        raise ConfigError(f"{where}: not an apprise URL (expected scheme://...)",
                          hint="e.g. tgram://BOT_TOKEN/CHAT_ID, mailtos://user:pass@qq.com?to=..., json://host/path")
    scheme = m.group(1).lower()
    url = url.strip()
    netloc = url[m.end() :].split("/", 1)[0].split("?", 1)[0]
    if scheme in ("mailto", "mailtos") and netloc.count("@") > 1:
        raise _fail(where, scheme, "has an unescaped '@' in the user part (apprise would parse an empty host)",
                    "URL-encode it (12345%40qq.com) or use ?user=12345@qq.com&pass=...; QQ mail: mailtos://QQNUMBER:AUTHCODE@qq.com")
    apprise = _apprise()
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    hints = {
        "tgram": "expected tgram://BOT_TOKEN/CHAT_ID with BOT_TOKEN like 123456789:ABC...",
        "pushplus": "the PushPlus token must be 32-64 letters, digits, '_' or '-': pushplus://TOKEN",
        "wxpusher": "expected wxpusher://AT_APPTOKEN/UID_user (the token starts with AT_)",
        "mailto": "expected mailto://user:pass@host?from=you@example.com&to=ops@example.com",
        "mailtos": "expected mailtos://user:pass@domain?to=... (QQ: mailtos://QQNUMBER:AUTHCODE@qq.com)",
        "json": "expected json://host[:port]/path",
        "jsons": "expected jsons://host[:port]/path",
        "qanotify": "expected qanotify://USER_ID[?template=strategy_status]",
    }
    if plugin is None:
        raise _fail(where, scheme, "was rejected by apprise (unknown scheme or malformed)",
                    hints.get(scheme, "check the URL format in apprise's documentation"))
    if scheme in ("mailto", "mailtos"):
        if not getattr(plugin, "host", "") or not getattr(plugin, "smtp_host", ""):
            raise _fail(where, scheme, "parses with an empty host", hints[scheme])
        if not getattr(plugin, "targets", None):
            raise _fail(where, scheme, "has no recipient", "add ?to=ops@example.com")
    elif scheme == "wxpusher":
        if not (getattr(plugin, "_users", None) or getattr(plugin, "_topics", None)):
            raise _fail(where, scheme, "has no target (delivery would fail at send time)",
                        "add /UID_xxx (a user) or /123 (a topic id): wxpusher://AT_token/UID_user")
    elif scheme in ("tgram", "telegram"):
        if not getattr(plugin, "targets", None):
            raise _fail(where, scheme, "has no chat id (apprise would try to detect one over the network)",
                        "append the chat id: tgram://BOT_TOKEN/CHAT_ID (a channel: /@name)")
    elif scheme == "qanotify":
        host = urlsplit(url).hostname or ""
        if not host:
            raise _fail(where, scheme, "has no user id", hints["qanotify"])
        qs = _query(url)
        if qs.get("template") and qs["template"] not in QANOTIFY_TEMPLATES:
            raise _fail(where, scheme, f"names an unknown template {qs['template']!r}",
                        f"templates: {', '.join(QANOTIFY_TEMPLATES)}")
        ep = qs.get("endpoint")
        if ep and not ep.startswith(("http://", "https://")):
            raise _fail(where, scheme, "has an endpoint that is not http(s)", "endpoint=http://host/path")
    return plugin


def _query(url: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in urlsplit(url).query.split("&"):
        if part:
            k, _, v = part.partition("=")
            out[unquote(k).lower()] = unquote(v)
    return out


def _register_url_secrets(url: str) -> None:
    """Tokens in the host/path/userinfo/query of a channel URL become redaction secrets."""
    register_secret(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    host = parts.netloc.rsplit("@", 1)[-1]  # case kept: urlsplit().hostname lowercases tokens
    for piece in (parts.username, parts.password):
        if piece:
            register_secret(unquote(piece))
    if parts.scheme.lower() in ("tgram", "telegram", "pushplus", "wecom", "wxpusher", "qanotify"):
        register_secret(unquote(host))  # the host IS the token (tgram: 123456789:ABC...)
        register_secret(unquote(host.split(":", 1)[-1]))
    for seg in parts.path.split("/"):
        if len(seg) >= 8:
            register_secret(unquote(seg))
    for k, v in _query(url).items():
        if k in ("pass", "password", "token", "user", "apikey", "key", "secret") and v:
            register_secret(v)


def parse_channel(spec: str, index: int, *, timeout_s: float = 4.0, connect_timeout_s: float = 3.0) -> Channel:
    """`[tags=]URL` -> Channel (validated, timeouts added, secrets registered for redaction)."""
    where = f"notify.urls[{index}]"
    m = _TAGGED.match(spec)
    tags: frozenset[str]
    if m and not _SCHEME.match(spec.strip()):
        url = m.group("url").strip()
        tags = frozenset(t.strip().lower() for t in m.group("tags").split(",") if t.strip())
        bad = sorted(tags - set(SEVERITIES))
        if bad:
            raise ConfigError(f"{where}: unknown severity tag(s) {', '.join(bad)}",
                              hint=f"tags are severities: {', '.join(SEVERITIES)} (e.g. critical=tgram://...)")
    else:
        url = spec.strip()
        tags = frozenset(SEVERITIES)
    try:  # apprise and urllib trip over some malformed URLs (IndexError, ValueError): a config error, not a crash
        _register_url_secrets(url)
        validate_url(url, where)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{where}: malformed notification URL ({type(exc).__name__})",
                          hint="check the URL format in apprise's documentation for this scheme") from None
    scheme = _SCHEME.match(url).group(1).lower()  # type: ignore[union-attr]
    return Channel(index, scheme, tags, _with_timeouts(url, timeout_s, connect_timeout_s))


# --- QANotify plugin ------------------------------------------------------------------------


def qanotify_params(body: str, title: str, qsd: Mapping[str, str]) -> dict[str, str]:
    """The template and its fields: from a JSON body our notifier builds, else strategy_status."""
    data: dict[str, Any] | None = None
    if body.startswith("{"):
        try:
            parsed = json.loads(body)
            if isinstance(parsed, dict) and parsed.get("template") in QANOTIFY_TEMPLATES:
                data = parsed
        except ValueError:
            data = None
    if data is None:
        data = {"template": qsd.get("template") or "strategy_status", "first": title, "name": "CashUp",
                "stype": body, "frequence": "", "remark": "", "curprice": "", "limitprice": "", "orderid": "",
                "strategy_id": "CashUp", "realaccount": "", "code": "", "order_direction": "", "order_offset": "",
                "price": "", "volume": "", "order_time": ""}
        if data["template"] != "strategy_status":
            data["first"] = title
            data["remark"] = body
    template = str(data["template"])
    return {"template": template, **{k: str(data.get(k, "")) for k in QANOTIFY_TEMPLATES[template]}}


def _qanotify_send(body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any) -> bool:
    """apprise custom plugin: POST with every value in the (properly encoded) query string."""
    import requests

    qsd = {str(k).lower(): str(v) for k, v in (meta.get("qsd") or {}).items()}
    user_id = str(meta.get("host") or "")
    if not user_id:
        return False
    endpoint = qsd.get("endpoint") or QANOTIFY_ENDPOINT
    try:
        rto, cto = float(qsd.get("rto", 4)), float(qsd.get("cto", 4))
    except ValueError:
        rto, cto = 4.0, 4.0
    params = {"user_id": user_id, **qanotify_params(body or "", title or "", qsd)}
    try:
        resp = requests.post(endpoint, params=params, timeout=(cto, rto))
    except requests.RequestException as exc:
        logging.getLogger("cashup.notify").warning("QANotify delivery failed: %s", type(exc).__name__)
        return False
    return 200 <= resp.status_code < 300
