"""The venue's margin as both front ends read it: the futures account (wallet, available, margins,
maintenance, uPnL) and each position's leverage and margin mode.

Why polled here: the engine's portfolio keeps its own books (size, entry, fees, funding) but not what the
venue holds as margin, nor the margin mode; those come from Gate's account and position objects. The
workstation refreshes this every few seconds on its background loop (never per frame) and right after a
leverage change; a venue without margin reads (a test double) leaves it empty and the views show "—".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.margin import MarginAccount, PositionMargin
from cashup_tui.domain.ports import MarginReads

log = logging.getLogger("cashup.margin")


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the account section and the status bar show (USDT)."""

    wallet: Decimal
    available: Decimal
    margin_used: Decimal
    position_margin: Decimal
    order_margin: Decimal
    maintenance_margin: Decimal
    margin_ratio_pct: Decimal | None
    unrealised_pnl: Decimal
    equity: Decimal
    ts_ms: int = 0

    @classmethod
    def of(cls, a: MarginAccount) -> AccountView:
        return cls(a.total, a.available, a.margin_used, a.position_margin, a.order_margin, a.maintenance_margin,
                   a.margin_ratio_pct, a.unrealised_pnl, a.equity, a.ts_ms)


class MarginWatch:
    """The last margin figures the venue reported; `refresh` asks again (at most every `every_s` with
    `due_only`)."""

    def __init__(self, execution: Any, *, every_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.reads: MarginReads | None = execution if isinstance(execution, MarginReads) else None
        self.every_s = every_s
        self._clock = clock
        self._at: float | None = None
        self.account: AccountView | None = None
        self.positions: dict[str, PositionMargin] = {}

    async def refresh(self, *, due_only: bool = False) -> None:
        if self.reads is None:
            return
        now = self._clock()
        if due_only and self._at is not None and now - self._at < self.every_s:
            return
        self._at = now
        try:
            account = AccountView.of(await self.reads.margin_account())
            positions = {p.symbol: p for p in await self.reads.position_margins()}
        except CashupError as exc:  # a failed read keeps the last figures; the next one retries
            log.info("margin read failed (%s); keeping the last figures", exc)
            return
        self.account, self.positions = account, positions

    def position(self, symbol: str) -> PositionMargin | None:
        return self.positions.get(symbol)
