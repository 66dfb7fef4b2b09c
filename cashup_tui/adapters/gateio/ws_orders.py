"""Orders over Gate's futures websocket API (`event: "api"`): `futures.login`, then `futures.order_place`,
`futures.order_amend`, `futures.order_cancel`, ... on a socket of their own.

Why the same rules as REST: every command is written once. If the socket drops, or no result comes,
after a request was written, its outcome is UNKNOWN (`TemporaryError`) and the order manager settles it
by looking the order up by client id -- exactly like a lost REST answer; nothing is ever re-sent.
A request that never left (not logged in, socket down) raises `WsOrdersUnavailable`, so the caller may
safely use REST instead. Gate's per-channel request limits are kept by `WindowLimiter`, which refuses
(nothing is sent) rather than waits: a late order is worse than a refused one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from cashup_tui.adapters.gateio import constants as C
from cashup_tui.adapters.gateio.auth import ws_api_sign
from cashup_tui.adapters.gateio.order_params import amend_body, order_key, place_body
from cashup_tui.adapters.gateio.rest_translate import _reject_hint, order_from_gate
from cashup_tui.domain.enums import Side
from cashup_tui.domain.errors import (
    AuthenticationError,
    CashupError,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    TemporaryError,
)
from cashup_tui.domain.orders import Order

log = logging.getLogger("cashup.gateio.ws_orders")

LOGIN = "futures.login"
PLACE = "futures.order_place"
BATCH_PLACE = "futures.order_batch_place"
AMEND = "futures.order_amend"
CANCEL = "futures.order_cancel"
CANCEL_CP = "futures.order_cancel_cp"
STATUS = "futures.order_status"
LIST = "futures.order_list"
# Gate: the futures WS order operations share one 100 requests/s budget
GATE_WS_ORDER_LIMITS: dict[str, int] = {"futures.order": 100}
GATE_WS_ORDER_GROUPS: dict[str, str] = {ch: "futures.order" for ch in
                                        (PLACE, BATCH_PLACE, AMEND, CANCEL, CANCEL_CP, STATUS, LIST)}
_UNKNOWN = "the outcome is unknown: look the order up by its client id before doing anything else"
_AUTH_LABELS = ("INVALID_KEY", "INVALID_SIGNATURE", "AUTHENTICATION_FAILED", "MISSING_REQUIRED_HEADER",
                "REQUEST_EXPIRED", "FORBIDDEN", "READ_ONLY")


class WsOrdersUnavailable(Exception):
    """The request was NOT sent (socket down or not logged in): the caller may use REST."""


class WindowLimiter:
    """At most `limits[group]` requests per trailing `window_s` for each group of channels.

    `try_acquire` refuses at once when the window is full; it never sleeps."""

    def __init__(self, limits: Mapping[str, int], groups: Mapping[str, str], *, window_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = dict(limits)
        self.groups = dict(groups)
        self.window_s = window_s
        self.clock = clock
        self._sent: dict[str, deque[float]] = {g: deque() for g in self.limits}
        self.refused = 0

    def limit_for(self, channel: str) -> tuple[str, int] | None:
        group = self.groups.get(channel, channel)
        n = self.limits.get(group)
        return None if n is None else (group, n)

    def try_acquire(self, channel: str) -> bool:
        found = self.limit_for(channel)
        if found is None:
            return True
        group, n = found
        now = self.clock()
        q = self._sent[group]
        while q and now - q[0] >= self.window_s:
            q.popleft()
        if len(q) >= n:
            self.refused += 1
            return False
        q.append(now)
        return True


def gate_ws_limiter(clock: Callable[[], float] = time.monotonic) -> WindowLimiter:
    """The limiter as Gate needs it for the futures WS order channels."""
    return WindowLimiter(GATE_WS_ORDER_LIMITS, GATE_WS_ORDER_GROUPS, clock=clock)


def error_from_ws(channel: str, label: str, message: str, status: str = "") -> CashupError:
    """A WS API error answer -> the domain error the REST path would have raised for it."""
    what = f"{channel}: {label + ': ' if label else ''}{message}".rstrip(": ")
    if label in _AUTH_LABELS or status in ("401", "403"):
        return AuthenticationError(what, hint="check the API key and secret and that the clock is in sync")
    if label in ("ORDER_NOT_FOUND", "ORDER_FINISHED"):
        return OrderNotFound(what, hint="the order may be finished or never existed")
    if label == "TOO_MANY_REQUESTS" or status == "429":
        return RateLimited(what, hint=_UNKNOWN)
    if status.startswith("5") or label in ("SERVER_ERROR", "INTERNAL"):
        return TemporaryError(what, hint=_UNKNOWN)
    return OrderRejected(what, hint=_reject_hint(label))


class GateWsOrders:
    """Logged-in websocket order channel with reconnect. `ready` = logged in right now."""

    def __init__(self, url: str, api_key: str, api_secret: str, *, limiter: WindowLimiter | None = None,
                 request_timeout_s: float = 10.0, order_expiry_ms: int = 0, backoff_s: float = C.BACKOFF_BASE_S,
                 backoff_max_s: float = C.BACKOFF_MAX_S, session: aiohttp.ClientSession | None = None,
                 time_s: Callable[[], int] = lambda: int(time.time())) -> None:
        self.url = url
        self._key = api_key
        self._secret = api_secret
        self.limiter = limiter
        self.request_timeout_s = request_timeout_s
        self.order_expiry_ms = order_expiry_ms  # > 0: Gate refuses a placement that arrives later (x-gate-exptime)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._session = session
        self._own_session = session is None
        self._time_s = time_s
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[str, tuple[str, asyncio.Future[Any]]] = {}
        self._next = 0
        self._stopping = False
        self.logged_in = asyncio.Event()
        self.uid = ""
        self.auth_error = ""
        self.stats = {"sent": 0, "acks": 0, "unknown": 0, "not_sent": 0, "logins": 0}

    @property
    def ready(self) -> bool:
        ws = self._ws
        return self.logged_in.is_set() and ws is not None and not ws.closed

    # -- connection ---------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, log in, serve requests; reconnect with backoff until `stop()`. Never raises on faults."""
        self._stopping = False
        if self._session is None:
            self._session = aiohttp.ClientSession()
        attempt = 0
        try:
            while not self._stopping:
                logged_before = self.stats["logins"]
                reason = await self._one_connection()
                if self._stopping:
                    break
                attempt = 0 if self.stats["logins"] > logged_before else attempt + 1
                delay = min(self.backoff_max_s, self.backoff_s * 2 ** min(attempt, 10))
                log.info("gate ws orders: %s; reconnecting in %.2f s", reason, delay)
                await asyncio.sleep(delay)
        finally:
            self._fail_pending("order socket stopped")
            if self._own_session and self._session is not None:
                await self._session.close()
                self._session = None

    async def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()

    async def _one_connection(self) -> str:
        assert self._session is not None
        try:
            ws = await self._session.ws_connect(self.url, headers=C.SIZE_DECIMAL_HEADER, autoping=True,
                                                heartbeat=C.PING_INTERVAL_S, compress=0,
                                                timeout=aiohttp.ClientWSTimeout(ws_close=2.0))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return f"connect to {self.url} failed: {type(exc).__name__}: {exc}"
        self._ws = ws
        reader = asyncio.get_running_loop().create_task(self._read_loop(ws))
        try:
            try:
                res = await self._request(ws, LOGIN, None)
            except CashupError as exc:
                self.auth_error = str(exc)
                log.warning("gate ws orders: login refused: %s (orders use REST)", exc)
            else:
                self.uid = str((res or {}).get("uid") or "") if isinstance(res, dict) else ""
                self.auth_error = ""
                self.stats["logins"] += 1
                self.logged_in.set()
            return await reader
        finally:
            self.logged_in.clear()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            with contextlib.suppress(Exception):
                await ws.close()
            self._ws = None
            self._fail_pending("the order socket dropped after the request was sent")

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        TEXT = aiohttp.WSMsgType.TEXT
        while True:
            msg = await ws.receive()
            if msg.type is TEXT:
                self._on_frame(msg.data)
                continue
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return f"order socket closed (code {ws.close_code})"
            if msg.type is aiohttp.WSMsgType.ERROR:
                return f"order socket dropped: {ws.exception()}"

    def _on_frame(self, raw: str) -> None:
        try:
            m = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if not isinstance(m, dict):
            return
        rid = m.get("request_id")
        if rid is None and isinstance(m.get("error"), dict):  # an envelope-style error to our frame id
            rid = m.get("id")
        rid = str(rid) if rid is not None else None
        entry = self._pending.get(rid) if rid is not None else None
        if entry is None:
            return
        if m.get("ack") is True:  # Gate's "received" echo for placements; the result follows
            self.stats["acks"] += 1
            return
        channel, fut = self._pending.pop(rid)  # type: ignore[arg-type]
        if fut.done():
            return
        data: dict[str, Any] = m["data"] if isinstance(m.get("data"), dict) else {}
        header: dict[str, Any] = m["header"] if isinstance(m.get("header"), dict) else {}
        status = str(header.get("status") or "200")
        errs = data.get("errs")
        if isinstance(m.get("error"), dict):
            err = m["error"]
            fut.set_exception(error_from_ws(channel, str(err.get("code", "")), str(err.get("message", "")), "400"))
        elif isinstance(errs, dict) or status != "200":
            e = errs if isinstance(errs, dict) else {}
            fut.set_exception(error_from_ws(channel, str(e.get("label") or ""), str(e.get("message") or ""), status))
        else:
            fut.set_result(data.get("result"))

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for channel, fut in pending.values():
            if not fut.done():
                self.stats["unknown"] += 1
                fut.set_exception(TemporaryError(f"{channel}: {why}", hint=_UNKNOWN))

    # -- requests -------------------------------------------------------------------------------------
    async def request(self, channel: str, req_param: dict[str, Any], req_header: dict[str, str] | None = None) -> Any:
        """Send one API request once and wait for its result (see the module docstring for failures)."""
        ws = self._ws
        if not self.logged_in.is_set() or ws is None or ws.closed:
            self.stats["not_sent"] += 1
            raise WsOrdersUnavailable(f"{channel}: the order socket is not logged in")
        if self.limiter is not None and not self.limiter.try_acquire(channel):
            group, n = self.limiter.limit_for(channel) or (channel, 0)
            raise OrderRejected(f"{channel}: refused locally, nothing was sent: Gate allows {n} requests/s on "
                                f"{group} and that budget is used up", hint="slow down and try again in a second")
        return await self._request(ws, channel, req_param, req_header)

    async def _request(self, ws: aiohttp.ClientWebSocketResponse, channel: str, req_param: dict[str, Any] | None,
                       req_header: dict[str, str] | None = None) -> Any:
        self._next = self._next % C.MAX_INT32 + 1
        rid = str(self._next)
        t = self._time_s()
        text = "" if req_param is None else orjson.dumps(req_param).decode()
        payload: dict[str, Any] = {"req_id": rid, "api_key": self._key, "timestamp": str(t),
                                   "signature": ws_api_sign(self._secret, channel, text, t)}
        if req_param is not None:
            payload["req_param"] = req_param  # orjson writes the same text that was signed
        if req_header:
            payload["req_header"] = req_header
        frame = orjson.dumps({"time": t, "id": self._next, "channel": channel, "event": "api", "payload": payload})
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (channel, fut)
        try:
            await ws.send_frame(frame, aiohttp.WSMsgType.TEXT)  # orjson's bytes are UTF-8 text already
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:  # not written: nothing reached Gate
            self._pending.pop(rid, None)
            self.stats["not_sent"] += 1
            raise WsOrdersUnavailable(f"{channel}: send failed: {exc}") from None
        self.stats["sent"] += 1
        try:  # (asyncio.timeout: no task or shield per request; the future is only ever ours)
            async with asyncio.timeout(self.request_timeout_s):
                return await fut
        except TimeoutError:
            if self._pending.pop(rid, None) is not None:
                self.stats["unknown"] += 1
            raise TemporaryError(f"{channel}: no answer within {self.request_timeout_s:g} s", hint=_UNKNOWN) from None

    # -- order operations (the same bodies as REST) ----------------------------------------------------
    async def place(self, order: Order) -> Order:
        header = None
        if self.order_expiry_ms > 0:
            header = {"x-gate-exptime": str(time.time_ns() // 1_000_000 + self.order_expiry_ms)}
        return order_from_gate(await self.request(PLACE, place_body(order), header))

    async def amend(self, id_or_text: str, *, side: Side | None, price: Decimal | None = None,
                    size: Decimal | None = None) -> Order:
        return order_from_gate(await self.request(AMEND, amend_body(order_key(id_or_text), side=side, price=price,
                                                                    size=size)))

    async def cancel(self, id_or_text: str) -> Order:
        return order_from_gate(await self.request(CANCEL, {"order_id": order_key(id_or_text)}))


__all__ = ["GATE_WS_ORDER_LIMITS", "GateWsOrders", "WindowLimiter", "WsOrdersUnavailable", "gate_ws_limiter"]
