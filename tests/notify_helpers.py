"""Loopback endpoints for notification tests and the bench: JSON/QANotify HTTP, hang, SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    path: str
    query: dict[str, str]
    body: str


@dataclass
class HttpSink:
    port: int
    got: list[Received] = field(default_factory=list)
    status: int = 200

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@contextlib.asynccontextmanager
async def http_sink() -> AsyncIterator[HttpSink]:
    """POST /anything -> records the request; /fail answers 500."""
    sink = HttpSink(0)

    async def handler(req: web.Request) -> web.Response:
        if req.headers.get("Upgrade"):  # a stray websocket client of another test whose port was reused
            return web.Response(status=404)
        sink.got.append(Received(req.path, dict(req.query), await req.text()))
        status = 500 if req.path.startswith("/fail") else sink.status
        return web.Response(status=status, text="ok" if status == 200 else "boom")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sink.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield sink
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def hanging_server() -> AsyncIterator[tuple[int, list[int]]]:
    """Accepts connections and reads, but never answers (the worst endpoint)."""
    conns: list[asyncio.StreamWriter] = []
    hits: list[int] = []

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)
        hits.append(1)
        with contextlib.suppress(Exception):
            while await reader.read(65536):
                pass

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, hits
    finally:
        for w in conns:
            w.close()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


_HELD: list[socket.socket] = []


def refused_port() -> int:
    """A loopback port that refuses connections: bound but never listening, and held for the life of
    the test process, so no other process (another xdist worker) can start listening on it meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]


@contextlib.asynccontextmanager
async def smtp_sink() -> AsyncIterator[tuple[int, list[Any]]]:
    """aiosmtpd on a free loopback port, served by the running loop."""
    from aiosmtpd.smtp import SMTP

    messages: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append(envelope)
            return "250 Message accepted"

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname="localhost"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, messages
    finally:
        server.close()


class LagProbe:
    """Measures the worst event-loop stall: a task that sleeps `interval` and records overshoot."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.worst = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, time.perf_counter() - t0 - self.interval)
            self.ticks += 1

    def start(self) -> LagProbe:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> float:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return self.worst


async def wait_for(cond: Any, timeout: float = 5.0, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(step)
    return bool(cond())
