"""`SimulatedExecution`: the event engine's venue port.

Its own module, not `plumbing.py`'s: a `@runtime_checkable` Protocol fails at import once compiled by
mypyc (mypyc issue 909), and bench/compiled.py compiles the plumbing (the order cache is on the order path)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cashup_tui.domain.ports import SyncExecution
from cashup_tui.venue import Venue


@runtime_checkable
class SimulatedExecution(SyncExecution, Protocol):
    """The event engine's venue port: in-process answers (`SyncExecution`) and the simulated venue
    itself, which the engine feeds each bar's path and funding."""

    @property
    def venue(self) -> Venue: ...
