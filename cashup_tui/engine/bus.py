"""Typed in-process pub/sub.

Why: the order manager, risk gate, runner, recorder and UI bridge must not know each
other. `publish` is synchronous and cheap; a subscriber that raises is logged and
isolated (the publisher and the other subscribers carry on). Async subscribers are
scheduled as tasks so they never block the publisher.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from cashup_tui.domain.events import Event
from cashup_tui.engine.tasks import wait_tasks

log = logging.getLogger("cashup.engine.bus")

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Any]


class EventBus:
    """Subscribe by event class (subclasses are delivered too); `publish(event)` fans out.

    Implements `domain.ports.EventSink`.
    """

    def __init__(self) -> None:
        self._subs: dict[type, list[Handler]] = defaultdict(list)
        self._cache: dict[type, tuple[Handler, ...]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors = 0  # subscriber failures (shown in diagnostics)
        self.published = 0

    def subscribe(self, event_type: type[E], handler: Callable[[E], Any]) -> Callable[[], None]:
        """Register `handler` for `event_type` and its subclasses; returns an unsubscribe function."""
        self._subs[event_type].append(handler)
        self._cache.clear()

        def unsubscribe() -> None:
            try:
                self._subs[event_type].remove(handler)
            except ValueError:
                pass
            self._cache.clear()

        return unsubscribe

    def _handlers(self, cls: type) -> tuple[Handler, ...]:
        hs = self._cache.get(cls)
        if hs is None:
            found: list[Handler] = []
            for klass in cls.__mro__:
                found.extend(self._subs.get(klass, ()))
            hs = self._cache[cls] = tuple(found)
        return hs

    def publish(self, event: Event) -> None:
        self.published += 1
        for handler in self._handlers(type(event)):
            try:
                rv = handler(event)
                if inspect.isawaitable(rv):
                    self._spawn(rv, handler)
            except Exception:
                self.errors += 1
                log.exception("bus subscriber %r failed on %s (isolated)", handler, type(event).__name__)

    def _spawn(self, aw: Any, handler: Handler) -> None:
        try:
            task = asyncio.ensure_future(aw)
        except RuntimeError:  # no running loop: cannot run an async handler
            self.errors += 1
            log.error("async subscriber %r needs a running event loop", handler)
            if inspect.iscoroutine(aw):
                aw.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.errors += 1
            log.error("async bus subscriber failed (isolated): %r", exc)

    async def drain(self) -> None:
        """Wait for async subscribers scheduled so far (tests, orderly shutdown)."""
        await wait_tasks(self._tasks)
