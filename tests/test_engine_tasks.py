"""Waiting for background tasks never spins (Python 3.12+: gather of done tasks does not yield).

A task that finished in this loop iteration still sits in its owner's set until its
done-callback runs on the next one; the old `while tasks: await gather(*tasks)` never let it
run on 3.12+. A hang is turned into a failure by the timeout marker (SIGALRM interrupts a busy
loop that asyncio.wait_for could not).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cashup_tui.domain.events import Event
from cashup_tui.engine.bus import EventBus
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.engine.tasks import wait_tasks
from tests.engine_fakes import INSTRUMENTS, make_engine

pytestmark = pytest.mark.timeout(10)


async def _noop() -> None:
    return None


async def test_bus_drain_returns_when_handlers_finished_this_iteration() -> None:
    bus = EventBus()
    seen: list[Event] = []

    async def handler(e: Event) -> None:
        seen.append(e)

    bus.subscribe(Event, handler)
    bus.publish(Event(1))
    await asyncio.sleep(0)  # the handler task runs and finishes; its done-callback is still queued
    assert seen and bus._tasks and all(t.done() for t in bus._tasks)
    await bus.drain()
    assert not bus._tasks


async def test_bus_drain_counts_a_failed_handler_already_finished() -> None:
    bus = EventBus()

    async def handler(e: Event) -> None:
        raise ValueError("boom")

    bus.subscribe(Event, handler)
    bus.publish(Event(1))
    await asyncio.sleep(0)
    await bus.drain()
    assert bus.errors == 1 and not bus._tasks


async def test_order_manager_idle_returns_when_follow_ups_finished_this_iteration() -> None:
    e = make_engine()
    e.om._spawn(_noop())
    await asyncio.sleep(0)
    assert e.om._bg and all(t.done() for t in e.om._bg)
    await e.om.idle()
    assert not e.om._bg


async def test_runner_idle_returns_when_orders_finished_this_iteration() -> None:
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    runner._spawn(_noop())
    await asyncio.sleep(0)
    assert runner._tasks and all(t.done() for t in runner._tasks)
    await runner.idle()
    assert not runner._tasks


async def test_wait_tasks_waits_for_tasks_added_meanwhile_and_for_failures() -> None:
    tasks: set[asyncio.Task[Any]] = set()
    gate = asyncio.Event()
    order: list[str] = []

    def spawn(coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    async def child() -> None:
        await gate.wait()
        order.append("child")

    async def parent() -> None:
        spawn(child())
        order.append("parent")
        gate.set()

    async def fails() -> None:
        raise RuntimeError("boom")

    spawn(parent())
    spawn(fails())
    await wait_tasks(tasks)
    assert order == ["parent", "child"] and not tasks


async def test_wait_tasks_returns_for_a_finished_task_nobody_removes() -> None:
    t = asyncio.get_running_loop().create_task(_noop())
    await t
    tasks = {t}  # no done-callback will ever remove it
    await wait_tasks(tasks)
