"""Waiting for a set of fire-and-forget tasks, on every supported Python.

Why: the bus, the order manager and the strategy runner keep their background tasks in a set
that each task leaves through a done-callback. `while tasks: await gather(*tasks)` spun at
100% CPU forever on Python 3.12+: there `gather` of tasks that are already done completes
without yielding to the event loop, so the done-callbacks that empty the set never run.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_tasks(tasks: set[asyncio.Task[Any]]) -> None:
    """Return once every task in `tasks` (including ones added meanwhile) has finished.

    Exceptions stay with the tasks (their owners' callbacks log or count them); finished tasks
    are retrieved so none is reported as "exception never retrieved".
    """
    while tasks:
        pending = [t for t in tasks if not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            continue
        for t in list(tasks):  # finished, but their done-callbacks have not run yet
            if not t.cancelled():
                t.exception()
        await asyncio.sleep(0)  # yield once: the pending done-callbacks run and leave the set
        if all(t.done() for t in tasks):
            return  # nothing left to wait for (a task nobody removes must not keep us here)
