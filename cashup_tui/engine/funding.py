"""Funding settlements the venue books, applied once to the portfolio and announced on the bus.

Why the venue's amount and not a rate computed here: Gate settles on its own reference price at its own
time (the contract's `funding_next_apply`), and the wallet moves by what it says (`futures.balances`
type `fund`). The engine takes that amount as it is: the position's Funding, the cash, and (through the
bus) each strategy's share of it (`runner.StrategyRunner.on_funding`). A settlement is known by its key
(contract and time) and applied once, also across a reconnect or a restart.
"""

from __future__ import annotations

import logging

from cashup_tui.domain.events import FundingSettled
from cashup_tui.domain.ports import EventSink, Journal
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.portfolio import Portfolio

log = logging.getLogger("cashup.funding")
SEEN_KEY = "funding.seen"
SEEN_KEPT = 500  # the newest keys kept: far more settlements than a reconnect can replay


class FundingLedger:
    def __init__(self, portfolio: Portfolio, cache: Cache, journal: Journal, bus: EventSink | None) -> None:
        self.portfolio = portfolio
        self.cache = cache
        self.journal = journal
        self.bus = bus
        self._seen: list[str] = [str(k) for k in (journal.kv_get(SEEN_KEY) or [])]

    def seen(self, key: str) -> bool:
        return key in self._seen

    def apply(self, ev: FundingSettled) -> bool:
        """Book one settlement; False when it was booked before (or is for an unknown contract)."""
        if ev.key in self._seen or ev.symbol not in self.portfolio.instruments:
            return False
        pos = self.portfolio.book_funding(ev.symbol, ev.amount, ev.ts_ms)
        self.cache.put_position(pos)
        self.journal.save_positions([pos.snapshot()])
        self._seen = [*self._seen, ev.key][-SEEN_KEPT:]
        self.journal.kv_set(SEEN_KEY, self._seen)
        log.info("funding %s %s USDT (%s)", ev.symbol, ev.amount, ev.key)
        if self.bus is not None:
            self.bus.publish(ev)
        return True


__all__ = ["SEEN_KEY", "FundingLedger"]
