"""Bus isolation, cache reads, clocks."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from cashup_tui.domain.events import Event, FeedStale, OrderDenied
from cashup_tui.domain.market import Ticker
from cashup_tui.domain.ports import Clock, EventSink
from cashup_tui.engine.bus import EventBus
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.clock import LiveClock, TestClock


def test_bus_delivers_by_type_and_isolates_a_raising_subscriber(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    assert isinstance(bus, EventSink)
    got: list[Event] = []
    everything: list[Event] = []

    def boom(e: Event) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(OrderDenied, boom)
    bus.subscribe(OrderDenied, got.append)
    bus.subscribe(Event, everything.append)
    with caplog.at_level(logging.ERROR, "cashup.engine.bus"):
        bus.publish(OrderDenied(1, "t-a", "rule", "msg"))
        bus.publish(FeedStale(2, "ws", 100))
    assert [type(e) for e in got] == [OrderDenied]
    assert len(everything) == 2 and bus.errors == 1
    assert "isolated" in caplog.text


async def test_async_subscribers_do_not_block_the_publisher() -> None:
    bus = EventBus()
    gate = asyncio.Event()
    done: list[int] = []

    async def slow(e: Event) -> None:
        await gate.wait()
        done.append(e.ts_ms)

    async def bad(e: Event) -> None:
        raise ValueError("async bug")

    bus.subscribe(Event, slow)
    bus.subscribe(Event, bad)
    bus.publish(FeedStale(5, "ws", 1))  # returns at once
    assert done == []
    gate.set()
    await bus.drain()
    assert done == [5] and bus.errors == 1


def test_unsubscribe() -> None:
    bus = EventBus()
    got: list[Event] = []
    off = bus.subscribe(Event, got.append)
    off()
    bus.publish(FeedStale(1, "ws", 1))
    assert got == []


def test_cache_tracks_marks_and_age() -> None:
    c = Cache()
    c.update_ticker(Ticker("BTC_USDT", 1000, last=50000.5, mark_price=50001.25))
    assert c.mark("BTC_USDT") == Decimal("50001.25")
    assert c.age_ms("BTC_USDT", 1500) == 500 and c.age_ms("ETH_USDT", 1500) is None
    c.set_mark("BTC_USDT", Decimal(1), 900)  # older update does not rewind the clock
    assert c.last_update_ms("BTC_USDT") == 1000


def test_clocks() -> None:
    live, test = LiveClock(), TestClock(10)
    assert isinstance(live, Clock) and isinstance(test, Clock)
    assert live.now_ms() > 1_600_000_000_000
    assert test.advance(5) == 15 and test.now_ms() == 15
    with pytest.raises(ValueError):
        test.set(1)


def test_the_engine_reads_time_only_through_a_clock() -> None:
    """engine/clock.py's promise: no wall-clock or monotonic call elsewhere in the engine (the HTML
    report's "generated" stamp is the one exception), so tests and backtests control time."""
    import re
    from pathlib import Path

    import cashup_tui.engine as engine_pkg

    root = Path(engine_pkg.__file__).parent
    calls = re.compile(r"\btime\.(time|time_ns|monotonic|monotonic_ns|perf_counter)\(|datetime\.now\(|\.utcnow\(")
    found = [f"{p.relative_to(root)}: {line.strip()}" for p in sorted(root.rglob("*.py")) if p.name != "clock.py"
             for line in p.read_text().splitlines() if calls.search(line)]
    assert len(found) == 1 and found[0].startswith("backtest/report.py: now=datetime.now("), found
