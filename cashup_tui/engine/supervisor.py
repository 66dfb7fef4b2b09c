"""The running node's loop: market data into the engine, and the rules that watch it.

Why in the engine (not in `runtime.py`): these are trading rules (stale feed, price guard,
alerts, reconcile retry, dead-man refresh) over ports; the composition root only builds and
wires. The loop (10 Hz) copies new tickers/books into the cache, feeds marks to the portfolio
and the local triggers, feeds a local (paper) venue (its book, marks and funding settlements), and every
second checks the rules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from cashup_tui.domain.alerts import AlertEngine, AlertFired
from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Ticker
from cashup_tui.domain.ports import Clock, Execution, Journal, MarketData
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.order_manager import OrderManager
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.engine.risk import RiskEngine
from cashup_tui.engine.runner import StrategyRunner

log = logging.getLogger("cashup.runtime")
ALERTS_KEPT = 100  # recent AlertFired the front ends can show


class LocalVenue(Protocol):
    """A venue that matches in this process (paper): it is fed the live book and marks."""

    def update_book(self, symbol: str, bids: Sequence[tuple[Decimal, Decimal]],
                    asks: Sequence[tuple[Decimal, Decimal]], ts_ms: int | None = None) -> None: ...

    def update_mark(self, symbol: str, mark: Decimal, ts_ms: int | None = None) -> None: ...

    def apply_funding(self, contract: str, rate: Decimal | int | str, ts_ms: int | None = None, *,
                      mark: Decimal | None = None) -> Decimal: ...


class AlertSink(Protocol):
    def alert(self, fired: Any) -> bool: ...


class Supervisor:
    """One node's engine loop. `dead_man_s` > 0 arms the venue's dead-man switch while healthy."""

    def __init__(self, *, symbols: list[str], instruments: dict[str, Instrument], market: MarketData | None,
                 execution: Execution, cache: Cache, clock: Clock, journal: Journal, om: OrderManager,
                 risk: RiskEngine, portfolio: Portfolio, runner: StrategyRunner, alerts: AlertEngine | None,
                 alerts_fired: list[AlertFired], notifier: AlertSink | None = None,
                 local_venue: LocalVenue | None = None, pump: Callable[[], object] | None = None,
                 dead_man_s: int = 0, loop_hz: float = 10.0) -> None:
        self.symbols = symbols
        self.instruments = instruments
        self.market = market
        self.execution = execution
        self.cache = cache
        self.clock = clock
        self.journal = journal
        self.om = om
        self.risk = risk
        self.portfolio = portfolio
        self.runner = runner
        self.alerts = alerts
        self.alerts_fired = alerts_fired
        self.notifier = notifier
        self.local_venue = local_venue
        self.pump = pump
        self.dead_man_s = dead_man_s if execution.has_dead_man else 0
        self.loop_hz = loop_hz
        self.running = False
        self._task: asyncio.Task[None] | None = None
        self._last_ticker: dict[str, int] = {}
        self._last_book: dict[str, int] = {}
        self._next_funding: dict[str, tuple[int, float]] = {}  # the venue's next settlement (s) and its rate

    # -- market data into the engine ------------------------------------------------------------
    def pull_market(self) -> list[tuple[str, Decimal, int]]:
        """Copy new tickers/books into the cache (and the local venue); return new marks."""
        md = self.market
        marks: list[tuple[str, Decimal, int]] = []
        if md is None:
            return marks
        lv = self.local_venue
        for sym in self.symbols:
            book = md.book(sym)
            if book is not None and book.update_id != self._last_book.get(sym):
                self._last_book[sym] = book.update_id
                self.cache.update_book(book)
                if lv is not None:
                    lv.update_book(sym, [(x.price, x.size) for x in book.bids],
                                   [(x.price, x.size) for x in book.asks], self.clock.now_ms())
            t = md.ticker(sym)
            if t is not None and t.ts_ms != self._last_ticker.get(sym):
                self._last_ticker[sym] = t.ts_ms
                self.cache.update_ticker(t)
                if lv is not None:
                    self.settle_funding(lv, t)
                mark = self.cache.mark(sym)
                if mark is not None and not self.price_paused(sym):  # a disputed mark is not forwarded (no triggers)
                    marks.append((sym, mark, t.ts_ms))
                    self.portfolio.set_mark(sym, mark)
                    if lv is not None:
                        lv.update_mark(sym, mark, self.clock.now_ms())
                self.runner.on_ticker(t)
        if self.pump is not None:
            self.pump()
        return marks

    def settle_funding(self, lv: LocalVenue, t: Ticker) -> None:
        """The local (paper) venue settles funding when the real venue does: the ticker's next settlement
        time moved on, so the one before it happened, at the rate the ticker announced for it."""
        before = self._next_funding.get(t.symbol)
        if t.funding_next_apply_s:
            self._next_funding[t.symbol] = (t.funding_next_apply_s, t.funding_rate)
        if before is not None and t.funding_next_apply_s > before[0]:
            try:
                lv.apply_funding(t.symbol, Decimal(str(before[1])), before[0] * 1000)
            except CashupError as exc:
                log.warning("paper funding for %s not settled: %s", t.symbol, exc)

    async def wait_for_market(self, timeout_s: float) -> None:
        """Reconcile and trade only once every symbol has a book and a mark (or time out)."""
        if self.market is None:
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while loop.time() < end:
            self.pull_market()
            if all(self.cache.mark(x) is not None and self.cache.book(x) is not None for x in self.symbols):
                return
            await asyncio.sleep(0.05)
        missing = [x for x in self.symbols if self.cache.book(x) is None]
        raise CashupError(f"no market data for {', '.join(missing)} after {timeout_s:.0f} s",
                          hint="check the network / endpoint URLs (cashup config show)")

    def price_paused(self, sym: str) -> bool:
        guard = self.risk.price_guard
        return guard is not None and bool(guard.check(self.cache, sym))

    # -- the loop -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.running = True
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="engine-loop")

    async def _loop(self) -> None:
        period = 1.0 / self.loop_hz
        ticks = 0
        while True:
            try:
                for sym, mark, ts in self.pull_market():
                    await self.om.on_mark(sym, mark, ts)
                ticks += 1
                if ticks % max(1, int(self.loop_hz)) == 0:
                    self.check_rules()
                if self.dead_man_s and ticks % max(1, int(self.loop_hz * 10)) == 0:
                    await self.arm_dead_man()
                if ticks % max(1, int(self.loop_hz * 5)) == 0:
                    await self.retry_reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("engine loop step failed (continuing)")
            await asyncio.sleep(period)

    async def stop(self, *, disarm_dead_man: bool = True) -> None:
        """Stop the loop. `disarm_dead_man=False` for a stop nobody chose (SIGHUP, SIGTERM): the venue's
        countdown stays armed, so a process that does not come back has its open orders cancelled."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        armed, self.running = self.running and bool(self.dead_man_s), False
        if armed and not disarm_dead_man:
            self.journal.audit(self.clock.now_ms(), "engine", "dead_man.armed",
                               f"left armed on a signal stop: Gate cancels open orders in {self.dead_man_s}s")
        elif armed:
            # a deliberate quit is not a crash: the user's resting orders stay (kill 3/4 cancels them on purpose)
            try:
                await self.execution.dead_man(0)
                self.journal.audit(self.clock.now_ms(), "engine", "dead_man.disarm", "countdown_cancel_all 0 on stop")
            except Exception as exc:  # stopping must finish; say what stays armed
                log.warning("countdown_cancel_all not disarmed on stop (%s): Gate cancels open orders in %ss",
                            type(exc).__name__, self.dead_man_s)

    # -- the rules ----------------------------------------------------------------------------------
    def check_rules(self) -> None:
        self.risk.evaluate()
        self.check_alerts(self.clock.now_ms())
        now = self.clock.now_ms()
        traded = {x for s in self.runner.slots.values() if s.state.value == "running" for x in s.traded_symbols}
        for sym in self.symbols:
            age = self.cache.age_ms(sym, now)
            if age is None:
                continue
            if age > self.risk.limits.stale_feed_ms:
                if sym not in self.risk.stale_symbols:
                    self.risk.feed_stale(sym, age, strategy_depends=sym in traded)
            elif sym in self.risk.stale_symbols:
                self.risk.feed_fresh(sym)
            self.price_paused(sym)  # announces a pause or a resume even when no order is sent

    def check_alerts(self, now: int) -> None:
        eng = self.alerts
        if eng is None or not eng.rules:
            return
        fired: list[AlertFired] = []
        for sym in self.symbols:
            t = self.cache.ticker(sym)
            if t is None:
                continue
            fired += eng.on_price(sym, Decimal(str(t.last)), now)
            fired += eng.on_funding(sym, Decimal(str(t.funding_rate)), now)
            pos = self.portfolio.positions.get(sym)
            mark = self.cache.mark(sym)
            if pos is not None and not pos.is_flat and mark is not None:
                liq = pos.liquidation_price(self.instruments[sym].maintenance_rate)
                fired += eng.on_position(sym, mark, liq, now)
        for f in fired:
            log.warning("alert %s: %s", f.rule.describe(), f.message)
            self.alerts_fired.append(f)
            if self.notifier is not None:
                self.notifier.alert(f)
        del self.alerts_fired[:-ALERTS_KEPT]

    async def retry_reconcile(self) -> None:
        """A reconciliation that failed (venue error after a reconnect) is retried every 5 s while the
        private stream is up; trading stays blocked until one succeeds (fail closed)."""
        om = self.om
        if om.ready or om.reconciling or not self.execution.connected:
            return  # (one that is running now is not a failed one)
        try:
            await om.reconcile()
        except CashupError as exc:
            log.warning("reconciliation retry failed: %s (trading stays blocked)", exc)

    async def arm_dead_man(self) -> None:
        """Arm or refresh the venue's countdown while the node is healthy (reconciled, stream up)."""
        if self.dead_man_s and self.om.ready and self.execution.connected:
            try:
                await self.execution.dead_man(self.dead_man_s)
            except CashupError as exc:
                log.warning("countdown_cancel_all not armed: %s", exc)
