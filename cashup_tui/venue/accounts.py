"""The user's wallet and what is read from it: cash, the Gate account, positions, deposits, funding.

total is the wallet (starting balance + deposits + realised PnL - fees + funding); available = total -
position margin - order margin; equity = total + unrealised PnL on the mark. Funding: amount =
-size * multiplier * mark * rate to the wallet (longs pay shorts when the rate is positive).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from cashup_tui.venue.base import ZERO, ContractState, VenueError
from cashup_tui.venue.events import Recorder
from cashup_tui.venue.models import BalanceChange, VenueAccount, VenueEvent, VenuePosition, dstr

BOOK_KEPT = 10_000  # the newest deposits and funding settlements `account_book` lists


class Wallet:
    """Cash and its history; reads over every contract's state (`contracts` is the venue's own dict).
    `book` keeps the newest deposits and settlements (Gate's account book): a client whose stream was down
    when one was booked finds it there."""

    __slots__ = ("book", "booked", "contracts", "dnw", "hist_fee", "hist_fund", "hist_pnl", "rec", "total", "user_id")

    def __init__(self, contracts: dict[str, ContractState], rec: Recorder, user_id: int, start: Decimal) -> None:
        self.contracts = contracts
        self.rec = rec
        self.user_id = user_id
        self.total = start
        self.dnw = start
        self.hist_pnl = ZERO
        self.hist_fee = ZERO
        self.hist_fund = ZERO
        self.book: deque[tuple[int, BalanceChange]] = deque(maxlen=BOOK_KEPT)  # (row id, change)
        self.booked = 0  # row ids so far

    # ------------------------------------------------------------------ reads
    def available(self) -> Decimal:
        used = ZERO
        for c in self.contracts.values():
            if c.touched:
                used += c.margin + c.order_margin
        return self.total - used

    def available_balance(self) -> Decimal:
        """`account().available` (the same sums in the same order) without building the account."""
        pm = om = ZERO
        for c in self.contracts.values():
            if c.touched:
                pm += c.margin
                om += c.order_margin
        return self.total - pm - om

    def unrealised_pnl(self) -> Decimal:
        total = ZERO
        for c in self.contracts.values():
            if c.pos.size:
                mark = c.ref_price()
                if mark is not None:
                    total += c.pos.unrealized_pnl(mark)
        return total

    def account(self) -> VenueAccount:
        """Gate `GET /futures/usdt/accounts`."""
        pm = om = mm = ZERO
        for c in self.contracts.values():
            if c.touched:
                pm += c.margin
                om += c.order_margin
                if c.pos.size:
                    mark = c.ref_price() or c.pos.entry_price
                    mm += abs(c.pos.size) * c.qm * mark * c.inst.maintenance_rate
        return VenueAccount(
            user=self.user_id,
            total=self.total,
            available=self.total - pm - om,
            position_margin=pm,
            order_margin=om,
            unrealised_pnl=self.unrealised_pnl(),
            maintenance_margin=mm,
            history_dnw=self.dnw,
            history_pnl=self.hist_pnl,
            history_fee=self.hist_fee,
            history_fund=self.hist_fund,
        )

    def position(self, c: ContractState) -> VenuePosition:
        """Gate's position object of one contract, valued at its reference price."""
        pos = c.pos
        mark = c.ref_price()
        if mark is None:
            mark = pos.entry_price
        value = abs(pos.size) * c.qm * mark
        return VenuePosition(
            user=self.user_id,
            contract=c.inst.symbol,
            size=pos.size,
            entry_price=pos.entry_price,
            mark_price=mark,
            leverage=c.leverage,
            leverage_max=c.inst.leverage_max,
            margin=c.margin,
            maintenance_rate=c.inst.maintenance_rate,
            value=value,
            unrealised_pnl=pos.unrealized_pnl(mark),
            realised_pnl=pos.net_pnl,
            pnl_pnl=pos.realized_pnl,
            pnl_fee=-pos.fees,
            pnl_fund=pos.funding,
            history_pnl=c.history_pnl + pos.net_pnl,
            last_close_pnl=c.last_close_pnl,
            liq_price=c.liq if c.liq is not None else ZERO,
            taker_fee_rate=c.tkfr,
            pending_orders=len(c.buys) + len(c.sells),
            open_ms=c.open_ms if pos.size else 0,
            update_ms=c.update_ms,
            update_id=c.update_id,
            cross=c.cross,
        )

    def positions(self, holding: bool) -> list[VenuePosition]:
        out = []
        for c in self.contracts.values():
            keep = c.pos.size != 0 if holding else (c.touched or c.pos.size != 0)
            if keep:
                out.append(self.position(c))
        return out

    # ------------------------------------------------------------------ cash movements
    def keep(self, change: BalanceChange) -> None:
        self.booked += 1
        self.book.append((self.booked, change))

    def deposit(self, amt: Decimal, now: int) -> Decimal:
        """Move USDT in (> 0) or out (< 0) of the wallet (Gate `dnw`); returns the new total."""
        if amt < 0 and -amt > self.available():
            raise VenueError("INSUFFICIENT_AVAILABLE", f"cannot withdraw {dstr(-amt)}: available {dstr(self.available())}")
        self.total += amt
        self.dnw += amt
        change = BalanceChange(self.user_id, self.total, amt, "dnw", "deposit", now)
        self.keep(change)
        if self.rec.record:
            self.rec.events.append(VenueEvent("balance", now, change))
        return self.total

    def fund(self, contract: str, c: ContractState, rate: Decimal, now: int) -> Decimal:
        """Settle one funding period of an open position on its reference price; returns the cash amount.
        The caller pushes the position (the contract is dirty)."""
        px = c.ref_price()
        if px is None:
            raise VenueError("INVALID_PARAM_VALUE", f"no mark price for {contract} yet: call update_mark first")
        amount = c.pos.apply_funding(rate, px, now)
        self.total += amount
        self.hist_fund += amount
        c.update_ms = now
        c.update_id += 1
        if amount:
            change = BalanceChange(self.user_id, self.total, amount, "fund", contract, now)
            self.keep(change)
            if self.rec.record:
                self.rec.events.append(VenueEvent("balance", now, change))
        return amount
