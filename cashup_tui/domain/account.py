"""Account balances and equity (USDT-settled)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from cashup_tui.domain.positions import Position

ZERO = Decimal(0)


class Balance(msgspec.Struct, frozen=True, gc=False):
    currency: str
    total: Decimal  # wallet balance (cash): deposits + realised PnL - fees + funding
    available: Decimal
    ts_ms: int = 0

    @property
    def locked(self) -> Decimal:
        return self.total - self.available


@dataclass(slots=True)
class Account:
    """Cash plus positions; `equity(marks)` is what the header shows."""

    currency: str = "USDT"
    cash: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)

    def unrealized(self, marks: dict[str, Decimal]) -> Decimal:
        return sum(
            (p.unrealized_pnl(marks[s]) for s, p in self.positions.items() if not p.is_flat and s in marks),
            ZERO,
        )

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        return self.cash + self.unrealized(marks)

    def gross_exposure(self, marks: dict[str, Decimal]) -> Decimal:
        return sum((p.notional(marks[s]) for s, p in self.positions.items() if s in marks), ZERO)
