"""Notifications through apprise: queued, rate-limited, de-duplicated, retried, never blocking.

Why this shape: a sync `notify()` against a hanging endpoint
stalled the event loop for the whole read timeout, so everything here goes
through `await Apprise.async_notify(...)` from a bounded queue drained by its own task.
`submit()`/`publish()` are synchronous, O(1), never raise and never wait: a failing or hanging
endpoint cannot touch trading state. On overflow the oldest info-level message is dropped
(and counted). Each channel has its own Apprise object, token bucket, retries with
exponential backoff, and short `rto`/`cto` socket timeouts. Every outcome goes to a
history callback (the store records it) and an in-memory ring.

Channels (apprise URLs with severity tags, URL validation, the QANotify plugin) are
`notify_channels.py`; what each domain event says, and the templates, are `notify_messages.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cashup_tui.adapters.notify_channels import SEVERITIES, Channel, _apprise, parse_channel
from cashup_tui.adapters.notify_messages import alert_notification, daily_pnl_fields, notification_for, render
from cashup_tui.adapters.notify_templates import check_templates
from cashup_tui.domain.errors import ConfigError

log = logging.getLogger("cashup.notify")

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_APPRISE_TYPE = {"debug": "info", "info": "info", "warning": "warning", "critical": "failure"}


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
        templates_dir: str | None = None,
    ) -> None:
        if min_severity not in _RANK:
            raise ConfigError(f"notify.min_severity {min_severity!r} unknown", hint=f"one of {', '.join(SEVERITIES)}")
        self.templates_dir = templates_dir  # the user's templates (checked now: a bad one is a start-up error)
        self.user_templates = check_templates(templates_dir)
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

        unsubscribe: Callable[[], None] = bus.subscribe(Event, self.publish)
        return unsubscribe

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
            title, body = render(n.event, fields, self.templates_dir)
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
