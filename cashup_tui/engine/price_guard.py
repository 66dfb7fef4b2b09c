"""Cross-checks a symbol's mark price against its order book mid and index price.

Why: one lying source must not decide a risk check. A mark of 1e-9 once let a 533k USDT market buy
pass a 50k notional cap; a mark of 99999999 refused every valid order with a nonsense price band.
When the mark and another source (book mid, index price; where present) differ by more than
`band_pct`, the symbol is paused: only orders that reduce a position pass (REDUCING for that symbol),
the reason goes to the log, the risk journal and the bus (a notification); once they agree again it
resumes by itself, and says so. Order notionals use the highest of the agreeing sources, so a low
lying price cannot shrink them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from cashup_tui.domain.enums import TRADING_STATE, TradingState
from cashup_tui.domain.events import RiskTripped
from cashup_tui.domain.ports import Clock, EventSink, Journal
from cashup_tui.engine.cache import Cache

log = logging.getLogger("cashup.engine.price_guard")

RULE = "price_sources"
HUNDRED = Decimal(100)


def _usable(x: Decimal | float | None) -> Decimal | None:
    if x is None:
        return None
    d = x if isinstance(x, Decimal) else Decimal(repr(x))
    return d if d.is_finite() and d > 0 else None


def price_sources(cache: Cache, symbol: str) -> dict[str, Decimal]:
    """The usable prices for `symbol` now: "mark", "book mid" (an in-sync book with both sides), "index"."""
    out: dict[str, Decimal] = {}
    mark = _usable(cache.mark(symbol))
    if mark is not None:
        out["mark"] = mark
    book = cache.book(symbol)
    if book is not None and book.in_sync:
        mid = _usable(book.mid)
        if mid is not None:
            out["book mid"] = mid
    t = cache.ticker(symbol)
    if t is not None:
        index = _usable(t.index_price)
        if index is not None:
            out["index"] = index
    return out


@dataclass(slots=True)
class PriceGuard:
    """Per-symbol pause on disagreeing price sources. `band_pct` <= 0 turns the check off."""

    band_pct: Decimal
    clock: Clock
    journal: Journal | None = None
    bus: EventSink | None = None
    paused: dict[str, str] = field(default_factory=dict)  # symbol -> reason

    def disagreement(self, cache: Cache, symbol: str) -> str:
        """Why the sources of `symbol` disagree now ("" = they agree, or there is nothing to compare)."""
        if self.band_pct <= 0:
            return ""
        src = price_sources(cache, symbol)
        mark = src.get("mark")
        if mark is None:
            return ""
        for name, value in src.items():
            if name != "mark":
                dev = abs(mark - value) / value * HUNDRED
                if dev > self.band_pct:
                    return (f"{symbol} mark {mark} is {dev:.2f}% from the {name} {value} "
                            f"(band {self.band_pct}%)")
        return ""

    def check(self, cache: Cache, symbol: str) -> str:
        """Re-evaluate `symbol`; announce a pause or a resume when the answer changes. Returns the reason."""
        why = self.disagreement(cache, symbol)
        was = self.paused.get(symbol)
        if why and was is None:
            self.paused[symbol] = why
            self._announce(symbol, f"{why}: {symbol} paused, only reducing orders until they agree", TRADING_STATE.REDUCING)
        elif not why and was is not None:
            del self.paused[symbol]
            self._announce(symbol, f"{symbol} price sources agree again: trading resumed", TRADING_STATE.ACTIVE)
        elif why:
            self.paused[symbol] = why
        return why

    def reference(self, cache: Cache, symbol: str, mark: Decimal | None) -> Decimal | None:
        """The price for notional checks: the highest usable source (falls back to `mark`)."""
        src = price_sources(cache, symbol)
        return max(src.values()) if src else mark

    def _announce(self, symbol: str, message: str, state: TradingState) -> None:
        now = self.clock.now_ms()
        if state is TRADING_STATE.ACTIVE:
            log.warning("%s", message)
        else:
            log.error("%s", message)
        if self.journal is not None:
            try:
                self.journal.record_risk_event(now, "paused" if state is TRADING_STATE.REDUCING else "resumed", RULE, message,
                                               {"symbol": symbol})
            except Exception:  # the journal must not turn a guard into a crash
                log.exception("could not journal a price-source event")
        if self.bus is not None:
            self.bus.publish(RiskTripped(now, RULE, message, state))
