"""The Gate.io futures websocket connection (aiohttp): connect, subscribe, ping, watch, reconnect.

Why one long-lived loop that never raises: a trading process must outlive every network fault.
Everything that can go wrong (refused connect, clean close 1000, abrupt drop, silent socket,
`futures.system` upgrade notice, error frames, garbage frames) becomes a domain event on the
sink and, where needed, a reconnect with jittered exponential backoff. Nothing survives a
reconnect on Gate's side, so every subscription is re-sent and private ones are re-signed
with a fresh `time`; `on_connect` lets the owner rebuild books.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from cashup_tui.adapters.gateio import constants as C
from cashup_tui.adapters.gateio.auth import ws_auth_block
from cashup_tui.adapters.gateio.parse import ACK, BAD, ERROR, UPDATE, ErrorInfo, FrameParser, SystemNotice
from cashup_tui.domain.events import (
    Event,
    FeedConnected,
    FeedDisconnected,
    FeedStale,
    FrameRejected,
    VenueErrorReceived,
)

log = logging.getLogger("cashup.gateio.ws")

OnValues = Callable[[str, list[Any]], None]


@dataclass
class Subscription:
    channel: str
    payload: list[str]
    private: bool = False
    acked: bool = False
    failed: str = ""  # last error message for this subscription

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.channel, tuple(self.payload)

    @property
    def symbols(self) -> list[str]:
        """The contracts this subscription streams (what the freshness clocks are keyed by)."""
        if self.private:
            return []  # private streams are legitimately quiet: only the socket's liveness is watched
        if self.channel == C.CANDLES:
            return self.payload[1:2]
        if self.channel == C.BOOK_UPDATE:
            return self.payload[:1]
        return list(self.payload)


@dataclass
class WsStats:
    connected: bool = False
    msgs: int = 0
    msgs_per_s: float = 0.0
    reconnects: int = 0
    parse_errors: int = 0
    error_frames: int = 0
    last_error: str = ""
    auth_error: str = ""
    last_msg_ms: int = 0  # wall-clock ms of the last inbound frame (refreshed by the watchdog)
    stale_streams: list[str] = field(default_factory=list)


class ConnectedFlag(asyncio.Event):
    """An Event you can also test with bool(): `if client.connected:` means connected right now."""

    def __bool__(self) -> bool:
        return self.is_set()


class _NullSink:
    def publish(self, event: Event) -> None:
        return None


class GateWsClient:
    """A self-healing websocket client for `/v4/ws/usdt`. Run it with `await client.run()`."""

    def __init__(
        self,
        url: str,
        on_values: OnValues,
        *,
        sink: Any = None,
        api_key: str = "",
        api_secret: str = "",
        user_id: str = "",
        ping_interval_s: float = C.PING_INTERVAL_S,
        dead_after_s: float = C.DEAD_AFTER_S,
        stream_stale_after_s: float = C.STREAM_STALE_AFTER_S,
        backoff_base_s: float = C.BACKOFF_BASE_S,
        backoff_max_s: float = C.BACKOFF_MAX_S,
        connect_timeout_s: float = 10.0,
        on_connect: Callable[[], Awaitable[None] | None] | None = None,
        session: aiohttp.ClientSession | None = None,
        time_s: Callable[[], int] = lambda: int(time.time()),
        rng: random.Random | None = None,
        now_ms: Callable[[], int] | None = None,
        monotonic_ms: Callable[[], int] | None = None,
    ) -> None:
        """`now_ms` (wall clock, event stamps) and `monotonic_ms` (liveness, rates, ages): the node's clock;
        by default the wall clock and the event loop's."""
        self.url = url
        self._on_values = on_values
        self._sink = sink if sink is not None else _NullSink()
        self._api_key = api_key
        self._api_secret = api_secret
        self.user_id = str(user_id)
        self.ping_interval_s = ping_interval_s
        self.dead_after_s = dead_after_s
        self.stream_stale_after_s = stream_stale_after_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self._on_connect = on_connect
        self._session = session
        self._own_session = session is None
        self._time_s = time_s
        self._rng = rng or random.Random()
        self._wall_ms = now_ms or _wall_ms
        self._mono_ms = monotonic_ms
        self._parser = FrameParser(self._rejected, clock=self._wall_ms)
        self._subs: dict[tuple[str, tuple[str, ...]], Subscription] = {}
        self._by_id: dict[int, Subscription] = {}
        self._next_id = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = False
        self._reconnect_reason = ""
        self._fresh: dict[str, dict[str, float]] = {}
        self._stale: set[str] = set()
        self._bg: set[asyncio.Task[None]] = set()
        self._last_rx = 0.0
        self._connected_at = 0.0
        self.stats = WsStats()
        self.connected = ConnectedFlag()

    # -- subscriptions ----------------------------------------------------------------------------
    async def subscribe(self, channel: str, payload: Sequence[str]) -> Subscription:
        """Add a public subscription (kept across reconnects) and send it if connected."""
        return await self._add(Subscription(channel, [str(p) for p in payload]))

    async def subscribe_private(self, channel: str, contracts: Sequence[str] = ("!all",)) -> Subscription:
        """Add a private subscription: payload = [user id, *contracts], signed on every send."""
        if not (self._api_key and self._api_secret):
            from cashup_tui.domain.errors import AuthenticationError

            raise AuthenticationError(
                f"{channel} needs an API key and secret",
                hint="set CASHUP_GATE_API_KEY and CASHUP_GATE_API_SECRET (or use `cashup keys`)",
            )
        if not self.user_id:
            from cashup_tui.domain.errors import ConfigError

            raise ConfigError(
                f"{channel} needs the numeric Gate user id in its payload",
                hint="read it from GET /api/v4/account/detail (user_id) and pass user_id=...",
            )
        payload = [self.user_id] if channel == C.BALANCES else [self.user_id, *contracts]
        return await self._add(Subscription(channel, payload, private=True))

    async def _add(self, sub: Subscription) -> Subscription:
        existing = self._subs.get(sub.key)
        if existing is not None:
            return existing
        self._subs[sub.key] = sub
        fresh = self._fresh.setdefault(sub.channel, {})
        now = self._time()
        for s in sub.symbols:
            fresh.setdefault(s, now)
        if self._ws is not None and not self._ws.closed:
            await self._send_sub(self._ws, sub, "subscribe")
        return sub

    async def unsubscribe(self, channel: str, payload: Sequence[str]) -> None:
        key = (channel, tuple(str(p) for p in payload))
        sub = self._subs.pop(key, None)
        if sub is not None and self._ws is not None and not self._ws.closed:
            await self._send_sub(self._ws, sub, "unsubscribe")

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs.values())

    def _request(self, channel: str, event: str | None, payload: list[str] | None, private: bool) -> dict[str, Any]:
        t = self._time_s()
        self._next_id = self._next_id % C.MAX_INT32 + 1
        req: dict[str, Any] = {"time": t, "id": self._next_id, "channel": channel}
        if event:
            req["event"] = event
        if payload is not None:
            req["payload"] = payload
        if private and event:
            req["auth"] = ws_auth_block(self._api_key, self._api_secret, channel, event, t)
        return req

    async def _send_sub(self, ws: aiohttp.ClientWebSocketResponse, sub: Subscription, event: str) -> None:
        req = self._request(sub.channel, event, sub.payload, sub.private)
        self._by_id[req["id"]] = sub
        sub.acked = False
        try:
            await ws.send_str(json.dumps(req, separators=(",", ":")))
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:  # closing: resent on reconnect
            log.debug("send %s failed: %s", sub.channel, exc)

    # -- the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and stay connected until `stop()` (or cancellation). Never raises on faults."""
        self._stopping = False
        attempt = 0
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            while not self._stopping:
                reason = await self._one_connection()
                if self._stopping:
                    break
                if self._last_rx > self._connected_at > 0:
                    attempt = 0  # the last connection worked: start the backoff again
                self.stats.reconnects += 1
                delay = self.backoff_delay(attempt)
                attempt += 1
                log.info("gate ws: %s; reconnecting in %.2f s", reason, delay)
                await asyncio.sleep(delay)
        finally:
            self.stats.connected = False
            self.connected.clear()
            if self._own_session and self._session is not None:
                await self._session.close()
                self._session = None

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: base * 2**attempt, capped, scaled by U(0.5, 1)."""
        return min(self.backoff_max_s, self.backoff_base_s * (2 ** min(attempt, 16))) * self._rng.uniform(0.5, 1.0)

    async def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()

    async def reconnect(self, reason: str) -> None:
        """Drop the current socket on purpose (upgrade notice, dead socket); run() reconnects."""
        self._reconnect_reason = reason
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    async def _one_connection(self) -> str:
        assert self._session is not None
        try:
            ws = await self._session.ws_connect(
                self.url,
                headers=C.SIZE_DECIMAL_HEADER,
                autoping=True,
                heartbeat=None,
                compress=0,
                max_msg_size=32 * 1024 * 1024,
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                receive_timeout=None,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = f"connect to {self.url} failed: {type(exc).__name__}: {exc}"
            self._publish(FeedDisconnected(self._now_ms(), self.url, reason))
            return reason
        self._ws = ws
        self._reconnect_reason = ""
        self._connected_at = self._last_rx = self._time()
        for fresh in self._fresh.values():  # a new connection gets a fresh grace period
            for k in fresh:
                fresh[k] = self._connected_at
        self._stale.clear()
        self.stats.connected = True
        self.connected.set()
        self._publish(FeedConnected(self._now_ms(), self.url))
        tasks: list[asyncio.Task[None]] = []
        try:
            for sub in list(self._subs.values()):
                await self._send_sub(ws, sub, "subscribe")
            if self._on_connect is not None:
                res = self._on_connect()
                if asyncio.iscoroutine(res):
                    await res
            tasks = [asyncio.create_task(self._ping_loop(ws)), asyncio.create_task(self._watchdog(ws))]
            reason = await self._read_loop(ws)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = f"connection error: {type(exc).__name__}: {exc}"
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            with contextlib.suppress(Exception):
                await ws.close()
            self._ws = None
            self.stats.connected = False
            self.connected.clear()
        if self._reconnect_reason:
            reason = self._reconnect_reason
        self.stats.last_error = reason
        self._publish(FeedDisconnected(self._now_ms(), self.url, reason))
        return reason

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """The hot loop: receive, parse, hand values on. Returns why the socket ended."""
        parse = self._parser.parse
        on_values = self._on_values
        fresh = self._fresh
        loop_time = self._time if self._mono_ms is not None else asyncio.get_running_loop().time
        receive = ws.receive
        TEXT = aiohttp.WSMsgType.TEXT
        BINARY = aiohttp.WSMsgType.BINARY
        stats = self.stats
        while True:
            msg = await receive()
            mt = msg.type
            if mt is TEXT or mt is BINARY:
                now = self._last_rx = loop_time()
                stats.msgs += 1
                ch, kind, payload = parse(msg.data)
                if kind == UPDATE:
                    if ch == C.SYSTEM:
                        self._system(payload)
                        continue
                    d = fresh.get(ch)
                    if d is not None:
                        for v in payload:
                            d[getattr(v, "symbol", "*")] = now
                    try:
                        on_values(ch, payload)
                    except Exception as exc:  # a consumer bug must not kill the feed
                        log.exception("on_values failed for %s", ch)
                        stats.last_error = f"consumer error on {ch}: {type(exc).__name__}: {exc}"
                elif kind == ACK:
                    self._acked(ch, msg.data)
                elif kind == ERROR:
                    self._error(payload, msg.data)
                elif kind == BAD:
                    stats.parse_errors = self._parser.parse_errors
                continue
            if mt is aiohttp.WSMsgType.CLOSE or mt is aiohttp.WSMsgType.CLOSING or mt is aiohttp.WSMsgType.CLOSED:
                code = ws.close_code
                return f"closed by server (code {code})" if code is not None else "connection closed"
            if mt is aiohttp.WSMsgType.ERROR:
                dropped = ws.exception()
                return f"connection dropped: {type(dropped).__name__}: {dropped}" if dropped else "connection dropped"
            # PING/PONG are handled by aiohttp (autoping)

    # -- control frames ---------------------------------------------------------------------------------
    def _acked(self, channel: str, raw: Any) -> None:
        req_id = _frame_id(raw)
        sub = self._by_id.pop(req_id, None) if req_id is not None else None
        if sub is not None:
            sub.acked = True
            sub.failed = ""
        else:  # acks without an id (2023 server): mark the channel's subs
            for s in self._subs.values():
                if s.channel == channel:
                    s.acked = True

    def _error(self, err: ErrorInfo, raw: Any) -> None:
        self.stats.error_frames += 1
        req_id = _frame_id(raw)
        sub = self._by_id.pop(req_id, None) if req_id is not None else None
        what = f"{err.event or 'request'} {err.channel}".strip()
        if err.is_auth:
            message = (
                f"authentication failed for {what}: {err.message} -- check the API key and secret "
                "(CASHUP_GATE_API_KEY / CASHUP_GATE_API_SECRET or `cashup keys`) and that the clock is in sync"
            )
            self.stats.auth_error = message
        else:
            message = f"{what} failed: {err.message}"
        if sub is not None:
            sub.failed = message
        self.stats.last_error = message
        self._publish(VenueErrorReceived(self._now_ms(), f"gate-ws {err.channel}", err.code, message))

    def _system(self, notices: list[SystemNotice]) -> None:
        for n in notices:
            if n.type == "upgrade":
                self._publish(
                    VenueErrorReceived(self._now_ms(), "gate-ws futures.system", "upgrade", f"server upgrade: {n.message}")
                )
                task = asyncio.get_running_loop().create_task(self.reconnect(f"server upgrade notice: {n.message}"))
                self._bg.add(task)  # keep a reference until it is done
                task.add_done_callback(self._bg.discard)

    def _rejected(self, event: FrameRejected) -> None:
        self.stats.parse_errors = self._parser.parse_errors
        self._publish(event)

    # -- liveness ---------------------------------------------------------------------------------------
    async def _ping_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Gate drops silent sockets (~30-60 s): an application `futures.ping` keeps it open."""
        while not ws.closed:
            await asyncio.sleep(self.ping_interval_s)
            try:
                await ws.send_str(json.dumps({"time": self._time_s(), "channel": C.PING}))
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                return

    async def _watchdog(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Dead socket (nothing at all, pongs included) -> reconnect; quiet stream -> FeedStale."""
        interval = max(0.01, min(self.ping_interval_s, self.dead_after_s, self.stream_stale_after_s) / 4)
        last_msgs, last_t = self.stats.msgs, self._time()
        while not ws.closed:
            await asyncio.sleep(interval)
            now = self._time()
            if now > last_t:  # (a clock that stands still measures no rate)
                self.stats.msgs_per_s = (self.stats.msgs - last_msgs) / (now - last_t)
                last_msgs, last_t = self.stats.msgs, now
            silent = now - self._last_rx
            self.stats.last_msg_ms = self._now_ms() - int(silent * 1000)
            if silent > self.dead_after_s:
                self._publish(FeedStale(self._now_ms(), "connection", int(silent * 1000)))
                await self.reconnect(f"no frame (not even a pong) for {silent:.1f} s: socket presumed dead")
                return
            for sub in self._subs.values():
                d = self._fresh.get(sub.channel, {})
                for sym in sub.symbols:
                    stream = f"{sub.channel}:{sym}"
                    age = now - d.get(sym, now)
                    if age > self.stream_stale_after_s:
                        if stream not in self._stale:
                            self._stale.add(stream)
                            self._publish(FeedStale(self._now_ms(), stream, int(age * 1000)))
                    elif stream in self._stale:
                        self._stale.discard(stream)
            self.stats.stale_streams = sorted(self._stale)

    def stream_age_s(self, channel: str, symbol: str) -> float | None:
        """Seconds since the last frame of one stream (its freshness clock), None if unknown."""
        t = self._fresh.get(channel, {}).get(symbol)
        return None if t is None else self._time() - t

    def last_frame_ms(self) -> int:
        """Wall-clock ms of the last inbound frame, as of now (0: none yet)."""
        return self._now_ms() - int((self._time() - self._last_rx) * 1000) if self._last_rx else 0

    # -- helpers --------------------------------------------------------------------------------------
    def _publish(self, event: Event) -> None:
        try:
            self._sink.publish(event)
        except Exception:  # the sink is someone else's code: never let it kill the feed
            log.exception("event sink failed")

    def _now_ms(self) -> int:
        return self._wall_ms()

    def _time(self) -> float:
        """Monotonic seconds: the injected clock's, else the event loop's."""
        return self._mono_ms() / 1000 if self._mono_ms is not None else asyncio.get_running_loop().time()


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _frame_id(raw: Any) -> int | None:
    """The echoed request id of a control frame (rare path: plain json is fine)."""
    try:
        v = json.loads(raw).get("id")
    except (ValueError, AttributeError, TypeError):
        return None
    return v if isinstance(v, int) else None
