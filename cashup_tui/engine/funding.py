"""Funding settlements the venue books, applied once to the portfolio and announced on the bus.

Why the venue's amount and not a rate computed here: Gate settles on its own reference price at its own
time (the contract's `funding_next_apply`), and the wallet moves by what it says (`futures.balances`
type `fund`). The engine takes that amount as it is: the position's Funding, the cash, and (through the
bus) each strategy's share of it (`runner.StrategyRunner.on_funding`). A settlement is known by its key
(contract and time) and applied once, also across a reconnect or a restart; each is journalled (time,
contract, amount), so closed positions (round trips) carry the funding paid while they were open,
with what it paid per contract of the account's position, so a strategy that was not running when a
settlement was booked (start-up reconciliation) takes its share when it comes back (`shares_missed`).

Each settlement also gets its booking number (1, 2, ... in the order booked), and a strategy's record
says up to which booking it has its share, not up to which settlement time: a settlement can be booked
after a newer one (a late push, a reconnect's or a start-up's reconciliation), and a time mark that has
passed it would skip it for good. The record (the strategy's funding and its mark) is one commit, so
whatever the order and wherever the process stops, the bookings after its mark are exactly the ones its
funding lacks: each is taken once.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from cashup_tui.domain.events import FundingSettled
from cashup_tui.domain.ports import EventSink, Journal
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.portfolio import Portfolio

log = logging.getLogger("cashup.funding")
SETTLEMENTS_KEY = "funding.settlements"  # [[key, ts_ms, symbol, amount, per_contract, seq], ...], as booked
SETTLEMENTS_KEPT = 20_000  # years of settlements of a few contracts (3 a day each); the oldest go first
FUNDING_CHECKED_KEY = "funding.checked_ms"  # when reconciliation last read the venue's settlements
FUNDING_OVERLAP_MS = 3_600_000  # re-read before that time: clocks differ, keys dedupe


class FundingLedger:
    def __init__(self, portfolio: Portfolio, cache: Cache, journal: Journal, bus: EventSink | None) -> None:
        self.portfolio = portfolio
        self.cache = cache
        self.journal = journal
        self.bus = bus
        self._rows: list[list[object]] = list(journal.kv_get(SETTLEMENTS_KEY) or [])
        self._seq = {str(r[0]): _seq(r) for r in self._rows}
        self._last = max(self._seq.values(), default=0)

    def seen(self, key: str) -> bool:
        return key in self._seq

    def seq(self, key: str) -> int:
        """The booking number of the settlement `key` (0: not booked, or booked before they were kept)."""
        return self._seq.get(key, 0)

    def apply(self, ev: FundingSettled) -> bool:
        """Book one settlement; False when it was booked before (or is for an unknown contract)."""
        if ev.key in self._seq or ev.symbol not in self.portfolio.instruments:
            return False
        per = per_contract(self.portfolio, ev.symbol, ev.amount)
        pos = self.portfolio.book_funding(ev.symbol, ev.amount, ev.ts_ms)
        self.cache.put_position(pos)
        self._last += 1
        row = [ev.key, ev.ts_ms, ev.symbol, str(ev.amount), "" if per is None else str(per), self._last]
        self._rows = [*self._rows, row][-SETTLEMENTS_KEPT:]
        self._seq[ev.key] = self._last
        # one commit: a settlement in the position's funding is in the ledger too, so it is never booked twice
        self.journal.save_positions([pos.snapshot()], state=(SETTLEMENTS_KEY, self._rows))
        log.info("funding %s %s USDT (%s)", ev.symbol, ev.amount, ev.key)
        if self.bus is not None:
            self.bus.publish(ev)
        return True


def per_contract(portfolio: Portfolio, symbol: str, amount: Decimal) -> Decimal | None:
    """What a settlement paid per contract of the account's position on `symbol` (None when flat): a
    strategy's share is this times its own contracts (signed, so a slot short against a net long receives)."""
    pos = portfolio.positions.get(symbol)
    return amount / pos.size if pos is not None and pos.size != 0 else None


def _seq(row: list[object]) -> int:
    return int(str(row[5])) if len(row) > 5 else 0  # rows booked before the numbers were kept: 0


def newest_seq(journal: Journal) -> int:
    """The booking number of the last booked settlement (0 if none): the mark of a strategy's record."""
    return max((_seq(r) for r in journal.kv_get(SETTLEMENTS_KEY) or []), default=0)


def shares_missed(journal: Journal, record: dict[str, object], symbols: set[str]) -> list[tuple[int, str, Decimal]]:
    """Settlements on `symbols` booked after the mark of a strategy's `record` (time, contract, paid per
    contract), oldest first; none for a new strategy (no mark). A record written before booking numbers
    were kept has a time mark (`funding_ms`): the settlements after that time. Rows journalled before the
    per-contract figure was kept, or booked while the account was flat, are left out: no share can be
    derived from them."""
    seq, ms = record.get("funding_seq"), record.get("funding_ms")
    if seq is None and ms is None:
        return []
    out = [(int(r[1]), str(r[2]), Decimal(str(r[4]))) for r in journal.kv_get(SETTLEMENTS_KEY) or []
           if (_seq(r) > int(str(seq)) if seq is not None else int(r[1]) > int(str(ms)))
           and str(r[2]) in symbols and len(r) > 4 and r[4] != ""]
    return sorted(out, key=lambda x: x[0])


def settlements(journal: Journal) -> list[tuple[int, str, Decimal]]:
    """Every booked settlement (time, contract, amount), oldest first: what round trips add up."""
    rows = [(int(r[1]), str(r[2]), Decimal(str(r[3]))) for r in journal.kv_get(SETTLEMENTS_KEY) or []]
    return sorted(rows, key=lambda x: x[0])  # booked in any order


__all__ = ["FUNDING_CHECKED_KEY", "FUNDING_OVERLAP_MS", "SETTLEMENTS_KEY", "FundingLedger", "newest_seq",
           "per_contract", "settlements", "shares_missed"]
