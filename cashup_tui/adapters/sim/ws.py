"""Gate futures WS v4 protocol, server side: subscriptions, acks, error frames, ping/pong, auth,
public pushes from the market steps, private pushes from venue events, and the stream faults.

Why a hub: one encoded frame is shared by every subscriber of the same (channel, contract, variant),
and each connection has its own bounded send queue + writer task, so one slow client never stalls
the market loop (it is dropped instead, like a real venue would).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from cashup_tui.adapters.gateio import auth
from cashup_tui.adapters.sim.market import SyntheticMarket
from cashup_tui.adapters.sim.market_values import INTERVALS, StepResult
from cashup_tui.adapters.sim.state import SimState
from cashup_tui.adapters.sim.symbol_market import SymbolMarket

log = logging.getLogger("cashup.sim.ws")

PUBLIC = {
    "futures.tickers",
    "futures.trades",
    "futures.book_ticker",
    "futures.order_book_update",
    "futures.order_book",
    "futures.candlesticks",
}
PRIVATE = {"futures.orders", "futures.usertrades", "futures.positions", "futures.balances"}
BOOK_LEVELS = ("20", "50", "100")
LEGACY_LIMITS = (1, 5, 10, 20, 50, 100)
QUEUE_MAX = 20_000  # frames a client may lag behind before it is dropped as too slow
ANSWER_DIRECT_MAX = 64 << 10  # bytes already buffered for a socket above which answers wait in its queue
AUTH_WINDOW_S = 60


class WsRequestError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Conn:
    """One client connection and what it subscribed to."""

    __slots__ = (
        "api_key",
        "candles",
        "closed",
        "conn_id",
        "legacy",
        "notified",
        "obu",
        "opened_ms",
        "private",
        "queue",
        "simple",
        "size_decimal",
        "transport",
        "writer",
        "ws",
    )

    def __init__(self, ws: web.WebSocketResponse, transport: Any, size_decimal: bool, conn_id: str, now_ms: int) -> None:
        self.ws = ws
        self.transport = transport
        self.size_decimal = size_decimal
        self.conn_id = conn_id
        self.opened_ms = now_ms
        self.simple: dict[str, set[str]] = {"futures.tickers": set(), "futures.trades": set(), "futures.book_ticker": set()}
        self.obu: dict[str, int] = {}  # contract -> depth
        self.legacy: dict[str, int] = {}  # contract -> limit
        self.candles: set[tuple[str, str]] = set()  # (interval, contract)
        self.private: dict[str, set[str]] = {}  # channel -> {contract | "!all"}
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_MAX)
        self.closed = False
        self.notified = False  # upgrade_after_s notice already sent
        self.writer: asyncio.Task[None] | None = None
        self.api_key = ""  # set by a successful futures.login (the WS trading API)

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:  # too slow: drop it rather than stall everyone
            log.warning("sim ws: client %s too slow, dropping", self.conn_id)
            self.abort()

    def answer(self, *payloads: bytes) -> None:
        """Send request answers (the WS trading API's ack and result) in one transport write when nothing
        is queued before them: no hop through the writer task, one syscall for both frames. Order is kept:
        an empty queue means the writer has already written every earlier frame. A socket that is
        closing or backed up takes the queue, with its flow control and slow-client drop."""
        t, ws = self.transport, self.ws
        if (self.closed or not self.queue.empty() or t is None or t.is_closing() or ws.closed
                or t.get_write_buffer_size() > ANSWER_DIRECT_MAX):
            for p in payloads:
                self.send(p)
            return
        t.write(b"".join(ws_text_frame(p) for p in payloads))

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def write_loop(self) -> None:
        ws, q = self.ws, self.queue
        text = WSMsgType.TEXT
        try:
            while True:
                data = await q.get()
                if data is None:
                    return
                await ws.send_frame(data, text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            self.closed = True


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class WsHub:
    """All WS connections of one simulator, and the translation from market/venue changes to frames."""

    def __init__(self, state: SimState, market: SyntheticMarket) -> None:
        self.state = state
        self.market = market
        self.conns: set[Conn] = set()
        self._ids = itertools.count(1)
        self._obu_counter: dict[str, int] = defaultdict(int)
        self._held: list[tuple[Conn, bytes]] = []  # reorder fault: frames delayed past the next one
        self._last_ticker_s: dict[str, int] = {}
        self._last_candle_s: dict[str, int] = {}
        self._candle_t: dict[tuple[str, str], int] = {}
        self.frames_sent = 0
        self.api: Any = None  # the WS trading API handler (sim/ws_api.py), set by the server

    # -- envelope -------------------------------------------------------------------------------------
    def _env(self, channel: str, event: str, result: Any, **extra: Any) -> dict[str, Any]:
        now = self.state.now_ms()
        env = {"time": now // 1000, "time_ms": now, "channel": channel, "event": event}
        env.update(extra)
        env["result"] = result
        return env

    def _error(self, req: dict[str, Any] | None, code: int, message: str) -> bytes:
        req = req if isinstance(req, dict) else {}
        extra: dict[str, Any] = {}
        if "id" in req:
            extra["id"] = req["id"]
        if "payload" in req:
            extra["payload"] = req["payload"]
        extra["error"] = {"code": code, "message": message}
        return _dumps(self._env(str(req.get("channel", "")), str(req.get("event", "")), {"status": "fail"}, **extra))

    # -- connection lifecycle -------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Conn(
            ws,
            request.transport,
            request.headers.get("X-Gate-Size-Decimal", "") == "1",
            f"sim-{next(self._ids)}",
            self.state.now_ms(),
        )
        conn.writer = asyncio.create_task(conn.write_loop())
        self.conns.add(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.send(self._error(None, 1, "request message need json scheme"))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.conns.discard(conn)
            conn.closed = True
            with contextlib.suppress(asyncio.QueueFull):
                conn.queue.put_nowait(None)
            if conn.writer is not None:
                conn.writer.cancel()
                with contextlib.suppress(BaseException):
                    await conn.writer
        return ws

    async def close_all(self, mode: str = "close", code: int = 1000) -> int:
        """Drop every connection: a close frame with `code`, or an abrupt TCP abort."""
        conns = list(self.conns)
        for c in conns:
            await self._drop(c, mode, code)
        return len(conns)

    async def _drop(self, c: Conn, mode: str, code: int = 1000) -> None:
        self.conns.discard(c)
        if mode == "abort":
            c.abort()
            return
        c.closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.ws.close(code=code, message=b"simulated drop"), 2.0)

    def housekeeping(self) -> None:
        """Timed faults: upgrade notices after `upgrade_after_s`, drops after `drop_after_s`."""
        f = self.state.faults
        if f.drop_after_s <= 0 and f.upgrade_after_s <= 0:
            return
        now = self.state.now_ms()
        for c in list(self.conns):
            age_s = (now - c.opened_ms) / 1000
            if f.upgrade_after_s > 0 and not c.notified and age_s >= f.upgrade_after_s:
                c.notified = True
                c.send(self._system_frame("system upgrade, please reconnect"))
            if f.drop_after_s > 0 and age_s >= f.drop_after_s:
                self.conns.discard(c)  # once: the drop task runs after this step
                asyncio.get_running_loop().create_task(self._drop(c, f.drop_mode))

    def _system_frame(self, msg: str) -> bytes:
        return _dumps(self._env("futures.system", "update", {"type": "upgrade", "msg": msg}))

    def broadcast_system(self, msg: str = "system upgrade, please reconnect") -> int:
        data = self._system_frame(msg)
        for c in list(self.conns):
            c.send(data)
        return len(self.conns)

    # -- requests -------------------------------------------------------------------------------------
    def on_text(self, conn: Conn, text: str) -> None:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.send(self._error(None, 1, "request message need json scheme"))
            return
        if not isinstance(req, dict):
            conn.send(self._error(None, 1, "request message need json scheme"))
            return
        channel = req.get("channel")
        event = req.get("event")
        if channel == "futures.ping":
            pong_id = {"id": req["id"]} if "id" in req else {}
            conn.send(_dumps(self._env("futures.pong", "", None, error=None, **pong_id)))
            return
        if not isinstance(channel, str) or not channel:
            conn.send(self._error(req, 1, "channel is required"))
            return
        if event not in ("subscribe", "unsubscribe"):
            if event == "api" and self.api is not None:
                self.api.handle(conn, req)
            elif event == "api":
                conn.send(self._error(req, 2, f"{channel}: the WS trading API is not available here; use REST"))
            else:
                conn.send(self._error(req, 1, f"invalid event {event!r}: expected subscribe or unsubscribe"))
            return
        payload = req.get("payload", [])
        try:
            if not isinstance(payload, list):
                raise WsRequestError(2, "payload must be a list")
            if channel in PUBLIC:
                self._public(conn, channel, event, payload)
            elif channel in PRIVATE:
                self._check_auth(req, channel, event)
                self._private(conn, channel, event, payload)
            else:
                raise WsRequestError(2, f"Unknown channel {channel}")
        except WsRequestError as exc:
            conn.send(self._error(req, exc.code, exc.message))
            return
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # odd shapes: an error frame, never a crash
            conn.send(self._error(req, 2, f"invalid argument: {type(exc).__name__}"))
            return
        extra: dict[str, Any] = {}
        if "id" in req:
            extra["id"] = req["id"]
        extra.update(payload=payload, conn_id=conn.conn_id, error=None)
        conn.send(_dumps(self._env(channel, event, {"status": "success"}, **extra)))

    def _contract(self, name: Any) -> str:
        if not isinstance(name, str) or name not in self.market.symbols:
            raise WsRequestError(2, f"unknown contract {name}")
        return name

    def _public(self, conn: Conn, channel: str, event: str, payload: list[Any]) -> None:
        sub = event == "subscribe"
        if channel in conn.simple:
            if not payload:
                raise WsRequestError(2, "payload must list at least one contract")
            names = [self._contract(p) for p in payload]  # one unknown contract fails the whole request
            target = conn.simple[channel]
            target.update(names) if sub else target.difference_update(names)
        elif channel == "futures.order_book_update":
            if not payload:
                raise WsRequestError(2, "payload must be [contract, frequency, level]")
            name = self._contract(payload[0])
            if not sub:
                conn.obu.pop(name, None)
                return
            freq = payload[1] if len(payload) > 1 else "100ms"
            level = str(payload[2]) if len(payload) > 2 else "100"
            if freq not in ("20ms", "100ms"):
                raise WsRequestError(2, f"provided frequency not supported: {freq}")
            if level not in BOOK_LEVELS or (freq == "20ms" and level != "20"):
                raise WsRequestError(2, f"provided level not supported: {level}")
            conn.obu[name] = int(level)
        elif channel == "futures.order_book":
            if not payload:
                raise WsRequestError(2, "payload must be [contract, limit, interval]")
            name = self._contract(payload[0])
            if not sub:
                conn.legacy.pop(name, None)
                return
            try:
                limit = int(payload[1]) if len(payload) > 1 else 20
            except (TypeError, ValueError):
                raise WsRequestError(2, f"provided limit not supported: {payload[1]}") from None
            if limit not in LEGACY_LIMITS:
                raise WsRequestError(2, f"provided limit not supported: {limit}")
            if len(payload) > 2 and str(payload[2]) != "0":
                raise WsRequestError(2, f"provided interval not supported: {payload[2]}")
            conn.legacy[name] = limit
        elif channel == "futures.candlesticks":
            if len(payload) != 2:
                raise WsRequestError(2, "payload must be [interval, contract]")
            interval, name = payload
            if interval not in INTERVALS:
                raise WsRequestError(2, f"provided interval not supported: {interval}")
            if isinstance(name, str) and name.startswith(("mark_", "index_")):
                raise WsRequestError(2, f"{name}: mark/index candlesticks are not simulated")
            key = (interval, self._contract(name))
            conn.candles.add(key) if sub else conn.candles.discard(key)

    def _check_auth(self, req: dict[str, Any], channel: str, event: str) -> None:
        block = req.get("auth")
        if not isinstance(block, dict) or block.get("method") != "api_key":
            raise WsRequestError(4, '{"label":"MISSING_REQUIRED_HEADER","message":"auth {method: api_key, KEY, SIGN} required"}')
        key = str(block.get("KEY") or "")
        secret = self.state.secret_for(key)
        if secret is None:
            raise WsRequestError(4, '{"label":"INVALID_KEY","message":"Invalid key provided"}')
        t = req.get("time")
        if not isinstance(t, int) or isinstance(t, bool):
            raise WsRequestError(4, '{"label":"INVALID_PARAM_VALUE","message":"time must be integer seconds"}')
        if abs(t - self.state.auth_now_ms() // 1000) > AUTH_WINDOW_S:
            raise WsRequestError(
                4, '{"label":"REQUEST_EXPIRED","message":"request time differs from server time by more than 60s"}'
            )
        if not auth.verify(auth.ws_sign(secret, channel, event, t), str(block.get("SIGN") or "")):
            raise WsRequestError(4, '{"label":"INVALID_SIGNATURE","message":"Signature mismatch"}')

    def _private(self, conn: Conn, channel: str, event: str, payload: list[Any]) -> None:
        if not payload or str(payload[0]) != str(self.state.user_id):
            raise WsRequestError(
                2, f"payload must start with your user id as a string ({self.state.user_id!s}), got {payload[:1]}"
            )
        targets = [str(p) for p in payload[1:]] or ["!all"]
        for t in targets:
            if t != "!all":
                self._contract(t)
        subs = conn.private.setdefault(channel, set())
        subs.update(targets) if event == "subscribe" else subs.difference_update(targets)

    # -- public pushes --------------------------------------------------------------------------------
    def on_step(self, results: Iterable[StepResult]) -> None:
        """Frames for one market step; honours the stale/gap/duplicate/reorder faults."""
        held, self._held = self._held, []
        if self.state.faults.stale or not self.conns:
            return
        for r in results:
            self._push_symbol(self.market.symbols[r.symbol], r)
        for c, data in held:  # reorder fault: the held frame goes out after its successor
            c.send(data)

    def _groups(self, pick: Callable[[Conn], Any]) -> dict[Any, list[Conn]]:
        out: dict[Any, list[Conn]] = defaultdict(list)
        for c in self.conns:
            key = pick(c)
            if key is not None:
                out[key].append(c)
        return out

    def _push_symbol(self, sm: SymbolMarket, r: StepResult) -> None:
        sym = r.symbol
        conns = [c for c in self.conns if not c.closed]
        f = self.state.faults
        # order_book_update (with sequence faults)
        groups = self._groups(lambda c: (c.obu[sym], c.size_decimal) if sym in c.obu else None)
        if groups and r.book_changed:
            self._obu_counter[sym] += 1
            n = self._obu_counter[sym]
            skip = f.gap_every > 0 and n % f.gap_every == 0
            dup = f.duplicate_every > 0 and n % f.duplicate_every == 0
            hold = f.reorder_every > 0 and n % f.reorder_every == 0
            if not skip:
                for (depth, sd), cs in groups.items():
                    data = _dumps(self._env("futures.order_book_update", "update", sm.book_update(r.first_id, depth, sd)))
                    for c in cs:
                        if hold:
                            self._held.append((c, data))
                        else:
                            c.send(data)
                        if dup:
                            c.send(data)
        if r.book_changed:
            self._simple(conns, "futures.book_ticker", sym, lambda sd: sm.book_ticker(sd))
        if r.trades:
            self._simple(conns, "futures.trades", sym, lambda sd: sm.trade_rows(r.trades, sd))
        sec = r.ts_ms // 1000
        if self._last_ticker_s.get(sym) != sec:
            self._last_ticker_s[sym] = sec
            self._simple(conns, "futures.tickers", sym, lambda sd: [sm.ticker(sd)])
        # legacy full book
        for (limit, sd), cs in self._groups(lambda c: (c.legacy[sym], c.size_decimal) if sym in c.legacy else None).items():
            data = _dumps(self._env("futures.order_book", "all", sm.legacy_book(limit, sd)))
            for c in cs:
                c.send(data)
        self._push_candles(conns, sm, r)

    def _simple(self, conns: list[Conn], channel: str, sym: str, build: Callable[[bool], Any]) -> None:
        cache: dict[bool, bytes] = {}
        for c in conns:
            if sym in c.simple[channel]:
                data = cache.get(c.size_decimal)
                if data is None:
                    data = cache[c.size_decimal] = _dumps(self._env(channel, "update", build(c.size_decimal)))
                c.send(data)

    def _push_candles(self, conns: list[Conn], sm: SymbolMarket, r: StepResult) -> None:
        sym = r.symbol
        wanted = {iv for c in conns for iv, s in c.candles if s == sym}
        if not wanted:
            return
        sec = r.ts_ms // 1000
        periodic = self._last_candle_s.get(sym) != sec
        self._last_candle_s[sym] = sec
        for iv in wanted:
            rows_by_sd: dict[bool, list[dict[str, Any]]] = {}
            cur_t = sm.cur[iv][0]
            prev_t = self._candle_t.get((iv, sym))
            self._candle_t[(iv, sym)] = cur_t
            closed = prev_t is not None and prev_t != cur_t and sm.bars[iv] and sm.bars[iv][-1][0] == prev_t
            if not (closed or periodic):
                continue
            for sd in (False, True):
                rows = []
                if closed:
                    rows.append(sm.ws_candle(iv, sm.bars[iv][-1], True, sd))
                rows.append(sm.ws_candle(iv, None, False, sd))
                rows_by_sd[sd] = rows
            cache: dict[bool, bytes] = {}
            for c in conns:
                if (iv, sym) in c.candles:
                    data = cache.get(c.size_decimal)
                    if data is None:
                        data = cache[c.size_decimal] = _dumps(
                            self._env("futures.candlesticks", "update", rows_by_sd[c.size_decimal])
                        )
                    c.send(data)

    # -- private pushes -------------------------------------------------------------------------------
    def push_private(self, channel: str, contract: str | None, rows: list[dict[str, Any]]) -> None:
        """Send `rows` (Gate JSON, sizes as ints or strings) on a private channel to every subscriber."""
        if not rows:
            return
        cache: dict[bool, bytes] = {}
        for c in list(self.conns):
            subs = c.private.get(channel)
            if not subs or not ("!all" in subs or contract is None or contract in subs):
                continue
            data = cache.get(c.size_decimal)
            if data is None:
                data = cache[c.size_decimal] = _dumps(
                    self._env(channel, "update", [_wire_typed(channel, row, c.size_decimal) for row in rows])
                )
            c.send(data)

    # -- throughput mode (bench) ----------------------------------------------------------------------
    async def blast(self, symbol: str, count: int, chunk: int = 4000) -> int:
        """Push `count` real order_book_update frames (valid U/u chain, book kept consistent) for `symbol`
        to its subscribers as fast as the sockets take them: for ingest benchmarks.

        Frames are rendered from a byte template and written as pre-framed WebSocket text frames, many per
        transport write (same bytes on the wire as send_str, without per-frame writer overhead); the
        loop waits whenever a socket's write buffer passes 4 MB so memory stays bounded."""
        sm = self.market.get(symbol)
        sent = 0
        while sent < count:
            n = min(chunk, count - sent)
            groups = self._groups(lambda c: (c.obu[symbol], c.size_decimal) if symbol in c.obu else None)
            if not groups:
                return sent
            updates = sm.size_churn(n)
            now = self.state.now_ms()
            for (depth, sd), cs in groups.items():
                data = b"".join(ws_text_frame(p) for p in _blast_payloads(sm, updates, depth, sd, now))
                for c in cs:
                    t = c.transport
                    if c.closed or t is None or t.is_closing():
                        continue
                    t.write(data)
            sent += n
            for cs in groups.values():
                for c in cs:
                    t = c.transport
                    while t is not None and not t.is_closing() and t.get_write_buffer_size() > 4 << 20:
                        await asyncio.sleep(0.0005)
            await asyncio.sleep(0)
        return sent


def ws_text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed, final WebSocket text frame (server -> client, RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def _blast_payloads(sm: SymbolMarket, updates: list[tuple[int, int, int, int]], depth: int, sd: bool, now: int) -> list[bytes]:
    head = (
        f'{{"time":{now // 1000},"time_ms":{now},"channel":"futures.order_book_update","event":"update",'
        f'"result":{{"t":{now},"s":"{sm.symbol}",'
    )
    tail = f'"l":"{depth}"}}}}'
    f = sm.fmt
    out = []
    for uid, side, p, size in updates:
        s = f'"{size}"' if sd else str(size)
        lvl = f'[{{"p":"{f(p)}","s":{s}}}]'
        b, a = ("[]", lvl) if side > 0 else (lvl, "[]")
        out.append(f'{head}"U":{uid},"u":{uid},"b":{b},"a":{a},{tail}'.encode())
    return out


_SIZE_KEYS = ("size", "left", "iceberg", "close_size")
# fields Gate's private WS channels push as JSON numbers, not strings
_NUMBER_KEYS: dict[str, tuple[str, ...]] = {
    "futures.orders": ("mkfr", "tkfr", "refr", "fee", "point_fee"),
    "futures.usertrades": ("fee", "point_fee"),
    "futures.positions": ("realised_point", "history_point", "leverage_max", "risk_limit"),
    "futures.balances": ("balance", "change"),
}
_INT_KEYS: dict[str, tuple[str, ...]] = {"futures.positions": ("leverage",)}


def _wire_typed(channel: str, row: dict[str, Any], decimal_sizes: bool) -> dict[str, Any]:
    """Gate's wire types for a private push: sizes per the decimal header, money fields as numbers."""
    out = _size_typed(row, decimal_sizes)
    for k in _NUMBER_KEYS.get(channel, ()):
        v = out.get(k)
        if isinstance(v, str | Decimal):
            with contextlib.suppress(ArithmeticError, ValueError):
                num = Decimal(str(v))
                out[k] = int(num) if num == num.to_integral_value() and "." not in str(v) else float(num)
    for k in _INT_KEYS.get(channel, ()):
        v = out.get(k)
        if isinstance(v, str):
            with contextlib.suppress(ArithmeticError, ValueError):
                out[k] = int(Decimal(v))
    return out


def _size_typed(row: dict[str, Any], decimal_sizes: bool) -> dict[str, Any]:
    """Contract-count fields as strings with the decimal header, floored ints without (Gate's rule)."""
    out = dict(row)
    for k in _SIZE_KEYS:
        if k in out and out[k] is not None:
            v = out[k]
            if decimal_sizes:
                out[k] = str(v)
            else:
                with contextlib.suppress(ArithmeticError, ValueError, TypeError):
                    out[k] = v if isinstance(v, int) else int(Decimal(str(v)))
    return out
