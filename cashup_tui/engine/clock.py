"""Clocks implementing `domain.ports.Clock`: the live wall clock and a settable test clock.

The engine reads the time only through these (the HTML report's "generated" stamp aside), so tests and
backtests control time; tests/test_engine_core.py holds it.
"""

from __future__ import annotations

import time


class LiveClock:
    """Wall-clock UTC milliseconds (what live, paper and demo use)."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ms(self) -> int:
        """For durations (rate limits, staleness): immune to wall-clock jumps."""
        return time.monotonic_ns() // 1_000_000


class TestClock:
    """A clock that moves only when told: deterministic tests and backtests."""

    __slots__ = ("_now",)
    __test__ = False  # not a pytest test class

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def monotonic_ms(self) -> int:
        return self._now

    def set(self, ts_ms: int) -> None:
        if ts_ms < self._now:
            raise ValueError(f"TestClock cannot go backwards ({ts_ms} < {self._now})")
        self._now = int(ts_ms)

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("TestClock.advance needs ms >= 0")
        self._now += int(ms)
        return self._now
