"""Notifications through apprise: queued, rate-limited, de-duplicated, retried, never blocking.

Why this shape (reliability.md §4 and rule 8): a sync `notify()` against a hanging endpoint
stalled the event loop for the whole read timeout (measured 2 s), so everything here goes
through `await Apprise.async_notify(...)` from a bounded queue drained by its own task.
`submit()`/`publish()` are synchronous, O(1), never raise and never wait: a failing or hanging
endpoint cannot touch trading state. On overflow the oldest info-level message is dropped
(and counted). Each channel has its own Apprise object, token bucket, retries with
exponential backoff, and short `rto`/`cto` socket timeouts. Every outcome goes to a
history callback (the store records it) and an in-memory ring.

Channels come from apprise URLs, optionally prefixed by severity tags in apprise's text
config form: `critical=tgram://...`, `info,warning=pushplus://...`; an untagged URL gets
every severity. URLs carry tokens: they are validated at config time with the traps of
reliability.md §4, their secret parts are registered with the log redaction filter, and
they are never logged or shown (only `#2 tgram`).

QANotify has no apprise plugin: `qanotify://{user_id}` is registered here with
`@apprise.decorators.notify`, implementing its three templates (xiadan_report,
strategy_status, price_notify) with URL-encoded query values (the upstream package pastes
them unencoded). It is plain HTTP and best-effort by design of that service.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from cashup_tui.domain.errors import ConfigError
from cashup_tui.logging_setup import register_secret

log = logging.getLogger("cashup.notify")

SEVERITIES = ("debug", "info", "warning", "critical")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_APPRISE_TYPE = {"debug": "info", "info": "info", "warning": "warning", "critical": "failure"}
QANOTIFY_ENDPOINT = "http://www.yutiansut.com/signal"  # plain HTTP, as the upstream package uses
QANOTIFY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "xiadan_report": (
        "strategy_id", "realaccount", "code", "order_direction", "order_offset", "price", "volume", "order_time",
    ),
    "strategy_status": ("first", "name", "stype", "frequence", "remark"),
    "price_notify": ("first", "name", "curprice", "limitprice", "orderid", "remark"),
}
EVENTS = (
    "fill", "rejection", "risk_trip", "kill_switch", "strategy_error", "disconnect", "daily_pnl", "alert",
    "message", "test",
)


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


def _apprise():
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


# --- templates ------------------------------------------------------------------------------

_env_lock = threading.Lock()
_jinja_env: Any = None


def _templates():
    global _jinja_env
    if _jinja_env is None:
        with _env_lock:
            if _jinja_env is None:
                import jinja2

                _jinja_env = jinja2.Environment(
                    loader=jinja2.PackageLoader("cashup_tui", "templates/notify"),
                    undefined=jinja2.StrictUndefined,
                    autoescape=False,
                    trim_blocks=True,
                    lstrip_blocks=True,
                    keep_trailing_newline=False,
                )
    return _jinja_env


def render(event: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    """(title, body) from `templates/notify/<event>.j2`: the first line is the title.

    A template bug must not lose the notification: fall back to `key: value` lines."""
    try:
        text = _templates().get_template(f"{event}.j2").render(**fields).strip()
    except Exception as exc:
        log.warning("notify template %s failed (%s); sending a plain message", event, type(exc).__name__)
        lines = [f"{k}: {v}" for k, v in fields.items() if k not in ("title",)]
        return str(fields.get("title") or event.replace("_", " ")), "\n".join(lines)
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()


# --- the service ----------------------------------------------------------------------------


@dataclass(slots=True)
class Notification:
    event: str
    severity: str
    fields: dict[str, Any]
    ts_ms: int
    dedup_key: str | None = None
    qanotify: dict[str, str] | None = None
    rendered: tuple[str, str] | None = None  # (title, body), rendered once for all channels
    seq: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One outcome for the history (the store's callback receives these). No URLs, no tokens."""

    ts_ms: int
    event: str
    severity: str
    title: str
    channel: str  # "#1 tgram" or "-" when no channel was involved
    outcome: str  # sent | failed | dropped | deduplicated | rate_limited
    attempts: int = 0
    error: str = ""


@dataclass(slots=True)
class _Bucket:
    capacity: float
    rate_per_s: float
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate_per_s)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class _Lane:
    """One channel's queue, workers, token bucket and Apprise object."""

    channel: Channel
    queue: deque[Notification]
    apprise: Any = None
    bucket: _Bucket | None = None
    wakeup: asyncio.Event | None = None
    workers: list[asyncio.Task[None]] = field(default_factory=list)
    busy: int = 0


HistorySink = Callable[[DeliveryRecord], None]
"""Called on the event loop for every outcome: keep it quick (e.g. hand the row to the store's
batching recorder); an exception is counted in `stats['history_errors']` and logged."""


class NotificationService:
    """Queue + worker task in front of apprise. Implements the `Notifier` port (`notify`) and
    `EventSink` (`publish`). Create it, `await start()`, feed it, `await stop()`."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        min_severity: str = "info",
        rate_limit_per_min: int = 30,
        dedup_window_s: float = 60.0,
        queue_size: int = 1000,
        retries: int = 2,
        backoff_s: float = 1.0,
        timeout_s: float = 4.0,
        concurrency: int = 2,
        history: HistorySink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_severity not in _RANK:
            raise ConfigError(f"notify.min_severity {min_severity!r} unknown", hint=f"one of {', '.join(SEVERITIES)}")
        self.channels = list(channels)
        self.min_rank = _RANK[min_severity]
        self.rate_limit_per_min = rate_limit_per_min
        self.dedup_window_s = dedup_window_s
        self.queue_size = max(1, queue_size)
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.concurrency = max(1, concurrency)
        self._history_sink = history
        self._clock = clock
        self._lanes: list[_Lane] = [_Lane(c, deque()) for c in self.channels]
        self._started = False
        self._seq = 0
        self._recent: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.history: deque[DeliveryRecord] = deque(maxlen=500)
        self.stats: dict[str, int] = dict.fromkeys(
            ("queued", "sent", "failed", "retries", "dropped", "deduplicated", "rate_limited", "below_min",
             "no_channel", "history_errors"),
            0,
        )

    # construction --------------------------------------------------------------------------
    @classmethod
    def from_settings(
        cls, ns: Any, *, extra_urls: Iterable[str] = (), history: HistorySink | None = None, **kw: Any
    ) -> NotificationService:
        """Build from `Settings.notify` (validates every URL now, at config time)."""
        specs = [*ns.urls, *extra_urls]
        channels = [
            parse_channel(u, i, timeout_s=ns.timeout_s, connect_timeout_s=ns.connect_timeout_s)
            for i, u in enumerate(specs, 1)
        ]
        return cls(
            channels,
            min_severity=ns.min_severity,
            rate_limit_per_min=ns.rate_limit_per_min,
            dedup_window_s=ns.dedup_window_s,
            queue_size=ns.queue_size,
            retries=ns.retries,
            timeout_s=ns.timeout_s,
            history=history,
            **kw,
        )

    # lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Create one Apprise object, token bucket and `concurrency` workers per channel, so a
        hanging channel only ever delays itself."""
        if self._started:
            return
        apprise = _apprise()
        for lane in self._lanes:
            a = apprise.Apprise()
            if not a.add(lane.channel.url):
                raise ConfigError(f"notify.urls[{lane.channel.index}]: {lane.channel.scheme}:// URL was rejected by apprise")
            lane.apprise = a
            cap = float(max(1, self.rate_limit_per_min))
            lane.bucket = _Bucket(cap, cap / 60.0, cap, self._clock())
            lane.wakeup = asyncio.Event()
            if lane.queue:
                lane.wakeup.set()
            lane.workers = [
                asyncio.create_task(self._lane_worker(lane), name=f"cashup-notify-{lane.channel.label}")
                for _ in range(self.concurrency)
            ]
        self._started = True

    async def stop(self, drain_s: float = 2.0) -> None:
        """Give queued and in-flight messages `drain_s` to finish, then cancel the rest (recorded as dropped)."""
        if not self._started:
            return
        deadline = time.monotonic() + drain_s
        while any(lane.queue or lane.busy for lane in self._lanes) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        workers = [w for lane in self._lanes for w in lane.workers]
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for lane in self._lanes:
            lane.workers = []
            for n in lane.queue:
                self._record(n, lane.channel.label, "dropped", 0, "shut down before delivery", title=n.event)
            self.stats["dropped"] += len(lane.queue)
            lane.queue.clear()
        self._started = False

    async def __aenter__(self) -> NotificationService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def pending(self) -> list[Notification]:
        """Queued notifications (each once, in arrival order) across all channels."""
        seen: dict[int, Notification] = {}
        for lane in self._lanes:
            for n in lane.queue:
                seen.setdefault(id(n), n)
        return sorted(seen.values(), key=lambda n: n.seq)

    # producers (sync, never raise, never block) ---------------------------------------------
    def submit(
        self,
        event: str,
        severity: str = "info",
        *,
        dedup_key: str | None = None,
        qanotify: Mapping[str, str] | None = None,
        ts_ms: int | None = None,
        **fields: Any,
    ) -> bool:
        """Queue one notification. Returns False when filtered, de-duplicated or no channel."""
        try:
            return self._submit(event, severity, dedup_key, qanotify, ts_ms, fields)
        except Exception:  # a notification problem must never reach the trading path
            log.exception("notification submit failed for event %s", event)
            return False

    def _submit(
        self, event: str, severity: str, dedup_key: str | None, qanotify: Mapping[str, str] | None,
        ts_ms: int | None, fields: dict[str, Any],
    ) -> bool:
        sev = severity if severity in _RANK else "info"
        if _RANK[sev] < self.min_rank:
            self.stats["below_min"] += 1
            return False
        if not any(sev in c.tags for c in self.channels):
            self.stats["no_channel"] += 1
            return False
        n = Notification(event, sev, dict(fields), ts_ms if ts_ms is not None else int(time.time() * 1000),
                         dedup_key, dict(qanotify) if qanotify else None)
        if dedup_key is not None:
            now = self._clock()
            last = self._recent.get(dedup_key)
            if last is not None and now - last < self.dedup_window_s:
                self._suppressed[dedup_key] = self._suppressed.get(dedup_key, 0) + 1
                self.stats["deduplicated"] += 1
                self._record(n, "-", "deduplicated", 0, "", title=event)
                return False
            self._recent[dedup_key] = now
            repeats = self._suppressed.pop(dedup_key, 0)
            if repeats:
                n.fields["repeats"] = repeats
            if len(self._recent) > 4096:  # forget old keys
                cutoff = now - self.dedup_window_s
                self._recent = {k: t for k, t in self._recent.items() if t >= cutoff}
        self._seq += 1
        n.seq = self._seq
        queued = False
        for lane in self._lanes:
            if sev not in lane.channel.tags:
                continue
            if len(lane.queue) >= self.queue_size and not self._drop_for(lane, n):
                continue
            lane.queue.append(n)
            queued = True
            if lane.wakeup is not None:
                lane.wakeup.set()
        if queued:
            self.stats["queued"] += 1
        return queued

    def _drop_for(self, lane: _Lane, new: Notification) -> bool:
        """Make room in a full channel queue, counting every drop: the oldest info-or-lower
        message goes first; a new critical may evict the oldest warning (then the oldest
        critical); otherwise the new message itself is dropped (returns False)."""
        q = lane.queue
        victim = next((i for i in q if _RANK[i.severity] <= _RANK["info"]), None)
        if victim is None and new.severity == "critical":
            victim = next((i for i in q if i.severity == "warning"), None) or q[0]
        self.stats["dropped"] += 1
        if victim is None:
            self._record(new, lane.channel.label, "dropped", 0, "queue full", title=new.event)
            return False
        q.remove(victim)
        self._record(victim, lane.channel.label, "dropped", 0, "queue full", title=victim.event)
        return True

    async def notify(self, title: str, body: str, *, severity: str = "info", tags: Sequence[str] = ()) -> bool:
        """The `Notifier` port: queue a free-form message (returns whether it was queued)."""
        return self.submit("message", severity, title=title, body=body, tags=list(tags))

    def publish(self, event: Any) -> None:
        """`EventSink`: turn domain events into notifications (unknown events are ignored)."""
        try:
            spec = notification_for(event)
        except Exception:
            log.exception("could not map %s to a notification", type(event).__name__)
            return
        if spec is not None:
            name, severity, dedup, fields, qa = spec
            self.submit(name, severity, dedup_key=dedup, qanotify=qa, ts_ms=getattr(event, "ts_ms", None), **fields)

    def attach(self, bus: Any) -> Callable[[], None]:
        """Subscribe to every domain event on an engine bus (`subscribe(type, handler)`); returns
        the unsubscribe function. Only events `notification_for` maps produce messages."""
        from cashup_tui.domain.events import Event

        return bus.subscribe(Event, self.publish)

    def alert(self, fired: Any) -> bool:
        """Queue an `AlertFired` from `domain.alerts.AlertEngine` (QANotify gets price_notify)."""
        name, severity, dedup, fields, qa = alert_notification(fired)
        return self.submit(name, severity, dedup_key=dedup, qanotify=qa, ts_ms=fired.ts_ms, **fields)

    def daily_pnl(self, day: str, *, realized: Any, unrealized: Any, fees: Any, funding: Any, equity: Any) -> bool:
        """Queue the end-of-day summary (once per day: de-duplicated by the day)."""
        fields = daily_pnl_fields(day, realized, unrealized, fees, funding, equity)
        qa = {"template": "strategy_status", "first": f"Daily PnL {day}", "name": "CashUp",
              "stype": f"realised {realized}, unrealised {unrealized}, equity {equity}", "frequence": "1d",
              "remark": f"fees {fees}, funding {funding}"}
        return self.submit("daily_pnl", "info", dedup_key=f"pnl:{day}", qanotify=qa, **fields)

    # consumers: one lane per channel ----------------------------------------------------------
    async def _lane_worker(self, lane: _Lane) -> None:
        assert lane.wakeup is not None
        while True:
            while not lane.queue:
                lane.wakeup.clear()
                await lane.wakeup.wait()
            n = lane.queue.popleft()
            lane.busy += 1
            try:
                await self._send(lane, n)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one message kill the lane
                self.stats["failed"] += 1
                log.error("notification to %s crashed: %s", lane.channel.label, type(exc).__name__)
            finally:
                lane.busy -= 1

    def _render(self, n: Notification) -> tuple[str, str]:
        if n.rendered is None:
            fields = dict(n.fields)
            fields.setdefault("severity", n.severity)
            fields.setdefault("time", datetime.fromtimestamp(n.ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
            title, body = render(n.event, fields)
            if fields.get("repeats"):
                body += f"\n(+{fields['repeats']} similar suppressed)"
            n.rendered = (title, body)
        return n.rendered

    async def _send(self, lane: _Lane, n: Notification) -> None:
        ch = lane.channel
        title, body = self._render(n)
        assert lane.bucket is not None
        if not lane.bucket.take(self._clock()) and n.severity != "critical":
            self.stats["rate_limited"] += 1
            self._record(n, ch.label, "rate_limited", 0, "rate limit", title=title)
            return
        payload = body
        if ch.scheme == "qanotify":
            payload = json.dumps(n.qanotify or _qa_default(title, body, n), ensure_ascii=False)
        error = ""
        apprise_obj = lane.apprise
        for attempt in range(1, self.retries + 2):
            try:
                result = await asyncio.wait_for(
                    apprise_obj.async_notify(body=payload or " ", title=title, notify_type=_APPRISE_TYPE[n.severity]),
                    timeout=self.timeout_s * 2 + 1,
                )
                ok = bool(result)
                error = "" if ok else "endpoint refused or failed"
            except TimeoutError:
                ok, error = False, "timed out"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                ok, error = False, type(exc).__name__
            if ok:
                self.stats["sent"] += 1
                self._record(n, ch.label, "sent", attempt, "", title=title)
                return
            if attempt <= self.retries:
                self.stats["retries"] += 1
                delay = self.backoff_s * (2 ** (attempt - 1)) * (0.8 + 0.4 * random.random())
                await asyncio.sleep(delay)
        self.stats["failed"] += 1
        log.warning("notification %s to %s failed after %d attempts: %s", n.event, ch.label, self.retries + 1, error)
        self._record(n, ch.label, "failed", self.retries + 1, error, title=title)

    def _record(self, n: Notification, channel: str, outcome: str, attempts: int, error: str, *, title: str) -> None:
        """In-memory ring now; the external sink later on the loop (never inside `submit()`'s
        caller, so a slow store cannot delay the trading code that raised the event)."""
        rec = DeliveryRecord(n.ts_ms, n.event, n.severity, title, channel, outcome, attempts, error)
        self.history.append(rec)
        if self._history_sink is None:
            return
        try:
            asyncio.get_running_loop().call_soon(self._sink, rec)
        except RuntimeError:  # no loop (e.g. submit before start in a sync context)
            self._sink(rec)

    def _sink(self, rec: DeliveryRecord) -> None:
        try:
            self._history_sink(rec)  # type: ignore[misc]
        except Exception:
            self.stats["history_errors"] += 1
            log.exception("notification history sink failed")


def _qa_default(title: str, body: str, n: Notification) -> dict[str, str]:
    return {"template": "strategy_status", "first": title, "name": str(n.fields.get("strategy") or "CashUp"),
            "stype": body, "frequence": str(n.fields.get("timeframe", "")), "remark": n.severity}


# --- domain events -> notifications -----------------------------------------------------------

Spec = tuple[str, str, str | None, dict[str, Any], dict[str, str] | None]


def notification_for(event: Any) -> Spec | None:
    """(template, severity, dedup key, fields, qanotify fields) for a domain event, or None."""
    from cashup_tui.domain import events as ev
    from cashup_tui.domain.enums import OrderStatus, TradingState

    if isinstance(event, ev.OrderFilled):
        f = event.fill
        ts = datetime.fromtimestamp((f.ts_ms or event.ts_ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        fields = {"symbol": f.symbol, "side": f.side.value, "size": f.size, "price": f.price, "fee": f.fee,
                  "client_id": str(f.client_id), "trade_id": f.trade_id, "liquidity": f.liquidity.value}
        qa = {"template": "xiadan_report", "strategy_id": str(f.client_id), "realaccount": "gateio",
              "code": f.symbol, "order_direction": f.side.value.upper(), "order_offset": "",
              "price": str(f.price), "volume": str(f.size), "order_time": ts}
        return "fill", "info", f"fill:{f.trade_id}", fields, qa
    if isinstance(event, ev.OrderDenied):
        fields = {"symbol": "", "client_id": event.client_id, "rule": event.rule, "reason": event.message, "source": "risk gate"}
        return "rejection", "warning", f"denied:{event.rule}:{event.client_id}", fields, None
    if isinstance(event, ev.OrderUpdated) and event.order.status is OrderStatus.REJECTED:
        o = event.order
        fields = {"symbol": o.symbol, "client_id": str(o.client_id), "rule": "", "reason": o.reason or "rejected",
                  "source": "venue"}
        return "rejection", "warning", f"rejected:{o.client_id}", fields, None
    if isinstance(event, ev.RiskTripped):
        fields = {"rule": event.rule, "reason": event.message, "state": event.state.value}
        return "risk_trip", "critical", f"risk:{event.rule}:{event.state.value}", fields, None
    if isinstance(event, ev.TradingStateChanged):
        sev = "info" if event.new is TradingState.ACTIVE else "critical"
        fields = {"old": event.old.value, "new": event.new.value, "reason": event.reason}
        return "kill_switch", sev, f"state:{event.new.value}", fields, None
    if isinstance(event, ev.StrategyFailed):
        fields = {"strategy": event.strategy, "where": event.where, "reason": event.message}
        qa = {"template": "strategy_status", "first": f"Strategy {event.strategy} halted", "name": event.strategy,
              "stype": event.message, "frequence": "", "remark": event.where}
        return "strategy_error", "critical", f"strategy:{event.strategy}:{event.message}", fields, qa
    if isinstance(event, ev.FeedDisconnected):
        fields = {"stream": event.stream, "reason": event.reason, "kind": "disconnected"}
        return "disconnect", "warning", f"feed:{event.stream}", fields, None
    if isinstance(event, ev.FeedStale):
        fields = {"stream": event.stream, "reason": f"no data for {event.age_ms / 1000:.1f}s", "kind": "stale"}
        return "disconnect", "warning", f"feed:{event.stream}", fields, None
    return None


def alert_notification(fired: Any) -> Spec:
    """An `AlertFired` from domain.alerts -> notification spec (QANotify: price_notify)."""
    r = fired.rule
    fields = {"symbol": r.symbol, "rule": r.describe(), "message": fired.message, "value": fired.value,
              "rule_id": r.id, "kind": r.kind.value}
    qa = {"template": "price_notify", "first": fired.message, "name": r.symbol, "curprice": str(fired.value),
          "limitprice": str(r.threshold), "orderid": r.id, "remark": r.describe()}
    return "alert", "warning", f"alert:{r.id}:{fired.ts_ms}", fields, qa


def daily_pnl_fields(day: str, realized: Any, unrealized: Any, fees: Any, funding: Any, equity: Any) -> dict[str, Any]:
    return {"day": day, "realized": realized, "unrealized": unrealized, "fees": fees, "funding": funding,
            "equity": equity}
