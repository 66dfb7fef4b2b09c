"""textual-serve's server, with app processes that end when their browser or the server does.

textual-serve starts one app process per browser tab through a shell and, when the tab closes, asks
it to quit and waits for its output to end, however long that takes. When the server was stopped
(Ctrl-C, SIGTERM) while a tab was open, its shutdown waited on the websocket's heartbeat and the app
process outlived it. Here the app is started without a shell (the pid we hold is the app's), its stop
is bounded (ask, wait for the node's clean stop, then SIGTERM, then SIGKILL), the server's shutdown
stops every app process before closing their websockets, and the page's font is served from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from pathlib import Path

from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "serve"
QUIT_GRACE_S = 8.0  # the app's own guard hard-exits 4 s after it starts stopping the node
TERM_GRACE_S = 3.0


class AppProcess(AppService):
    """One browser tab's `cashup tui` process."""

    def __init__(self, argv: list[str], **kwargs: object) -> None:
        super().__init__(shlex.join(argv), **kwargs)  # type: ignore[arg-type]
        self.argv = argv

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        env = self._build_environment(width=width, height=height)
        process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
        self._process = process
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        """Ask the app to leave (it stops its node), then make sure it is gone. Safe to call twice."""
        task, self._task = self._task, None
        if task is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        await self.send_meta({"type": "quit"})
        process = self._process
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), QUIT_GRACE_S)
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), QUIT_GRACE_S)
            except TimeoutError:
                await _end(process)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _end(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), TERM_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class ServeHost(Server):
    """The browser front end of `cashup serve`: one `argv` process per tab."""

    def __init__(self, argv: list[str], *, host: str, port: int, title: str) -> None:
        super().__init__(shlex.join(argv), host=host, port=port, title=title, templates_path=TEMPLATES)
        self.argv = argv
        self.sessions: dict[web.WebSocketResponse, AppProcess] = {}

    async def on_shutdown(self, app: web.Application) -> None:
        """Stop every app process (each stops its node), then close the browsers' websockets."""
        sessions = list(self.sessions.items())
        await asyncio.gather(*(service.stop() for _, service in sessions), return_exceptions=True)
        for websocket, _ in sessions:
            with contextlib.suppress(Exception):
                await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopped")

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: AppProcess | None = None
        try:
            await websocket.prepare(request)
            service = AppProcess(self.argv, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                 close=websocket.close, download_manager=self.download_manager, debug=self.debug)
            self.sessions[websocket] = service
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await websocket.close()
        finally:
            self.sessions.pop(websocket, None)
            if service is not None:
                await service.stop()
        return websocket
