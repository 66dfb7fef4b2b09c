"""Late requests at the simulator: the `hold_next_placements` fault and Gate's `X-Gate-Exptime` header.

A held placement is an order request still in flight: the client hears nothing and times out, and the
request reaches the venue `hold_placement_s` later (or at the admin action 'release'), where its
X-Gate-Exptime is checked on arrival like Gate does. This is how the suite produces an order that
arrives after the client gave up on it (issue 14).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from cashup_tui.adapters.sim.state import SimState

log = logging.getLogger("cashup.sim.rest")
EXPTIME_HEADER = "X-Gate-Exptime"


class LatePlacements:
    def __init__(self, state: SimState) -> None:
        self.state = state
        self._held: set[asyncio.Task[web.StreamResponse]] = set()
        self._release = asyncio.Event()
        self.expired: list[int] = []  # X-Gate-Exptime deadlines of requests refused for arriving late

    async def hold(self, serve: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Serve the request late. Shielded: a client that gives up does not stop it reaching the venue."""
        task = asyncio.get_running_loop().create_task(self._late(serve))
        self._held.add(task)
        task.add_done_callback(self._held.discard)
        return await asyncio.shield(task)

    async def _late(self, serve: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        release = self._release
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(release.wait(), self.state.faults.hold_placement_s)
        log.info("sim: a held order placement reaches the venue now")
        return await serve()

    def release(self) -> int:
        """Let every held placement reach the venue now; returns how many were held."""
        held = len(self._held)
        release, self._release = self._release, asyncio.Event()
        release.set()
        return held

    @property
    def held(self) -> int:
        return len(self._held)

    def exptime_error(self, raw: str | None) -> str | None:
        """Why a request with this X-Gate-Exptime (ms epoch) may not act now, or None if it may."""
        if raw is None or raw == "":
            return None
        try:
            deadline = int(raw)
        except ValueError:
            return f"invalid {EXPTIME_HEADER} header {raw!r}"
        now = self.state.auth_now_ms()
        if now <= deadline:
            return None
        self.expired.append(deadline)
        return f"request arrived at {now}, after its {EXPTIME_HEADER} {deadline}: not executed"
