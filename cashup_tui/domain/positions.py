"""One-way (net) positions with exact Decimal PnL, fees and funding.

Linear USDT contracts: PnL = size * quanto_multiplier * (exit - entry).
Cash effects: realised PnL, minus fees, plus funding received (negative = paid).
Invariant used by the tests: equity = cash + unrealised PnL at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cashup_tui.domain.enums import Side
from cashup_tui.domain.orders import Fill

ZERO = Decimal(0)

_ONE = Decimal(1)
_MINUS_ONE = Decimal(-1)


@dataclass(slots=True)
class Position:
    symbol: str
    quanto_multiplier: Decimal = Decimal(1)
    size: Decimal = ZERO  # signed contracts: > 0 long, < 0 short
    entry_price: Decimal = ZERO  # average entry of the open size
    realized_pnl: Decimal = ZERO  # gross price PnL of closed size
    fees: Decimal = ZERO  # paid (> 0) or rebated (< 0)
    funding: Decimal = ZERO  # received (> 0) or paid (< 0)
    leverage: Decimal = Decimal(1)
    updated_ms: int = 0

    def snapshot(self) -> Position:
        """An independent copy (journals keep one per fill): the constructor, several times cheaper than
        `copy.copy`, which goes through `__reduce_ex__` for a slotted dataclass."""
        return Position(self.symbol, self.quanto_multiplier, self.size, self.entry_price, self.realized_pnl,
                        self.fees, self.funding, self.leverage, self.updated_ms)

    @property
    def side(self) -> Side | None:
        if self.size > ZERO:
            return Side.BUY
        if self.size < ZERO:
            return Side.SELL
        return None

    @property
    def is_flat(self) -> bool:
        return self.size == ZERO

    @property
    def net_pnl(self) -> Decimal:
        """Realised PnL after fees and funding (what the closed part added to cash)."""
        return self.realized_pnl - self.fees + self.funding

    def notional(self, price: Decimal) -> Decimal:
        return abs(self.size) * self.quanto_multiplier * price

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        if self.size == ZERO:
            return ZERO
        return self.size * self.quanto_multiplier * (mark - self.entry_price)

    def apply_fill(self, fill: Fill) -> Decimal:
        """Apply one fill; return the realised price PnL it produced (before fees)."""
        qty = fill.size  # > 0 (a Fill refuses anything else): |signed| == qty
        signed = qty * fill.side.sign
        self.fees += fill.fee
        ts = fill.ts_ms
        if ts > self.updated_ms:  # == max(updated_ms, ts)
            self.updated_ms = ts
        size = self.size
        if size == ZERO:  # opening from flat: the entry is the fill price, exactly (no 28-digit division)
            self.entry_price = fill.price
            self.size = signed
            return ZERO
        if (size > ZERO) == (signed > ZERO):
            new_size = size + signed
            self.entry_price = (self.entry_price * abs(size) + fill.price * qty) / abs(new_size)
            self.size = new_size
            return ZERO
        held = -size if size < ZERO else size
        closing = held if held < qty else qty  # == min(qty, held) (the first on a tie, as min() does)
        realized = closing * self.quanto_multiplier * (fill.price - self.entry_price) * (_ONE if size > ZERO else _MINUS_ONE)
        self.realized_pnl += realized
        remainder = qty - closing
        if remainder == ZERO:
            self.size = size = size + signed
            if size == ZERO:
                self.entry_price = ZERO
        else:  # flip: the rest opens a new position at the fill price
            self.size = remainder * (_ONE if signed > ZERO else _MINUS_ONE)
            self.entry_price = fill.price
        return realized

    def apply_funding(self, rate: Decimal, mark: Decimal, ts_ms: int = 0) -> Decimal:
        """Gate funding: longs pay shorts when the rate is positive. Returns the cash amount."""
        amount = -self.size * self.quanto_multiplier * mark * rate
        self.funding += amount
        self.updated_ms = max(self.updated_ms, ts_ms)
        return amount

    def margin(self, mark: Decimal) -> Decimal:
        if self.leverage <= ZERO:
            return ZERO
        return self.notional(mark) / self.leverage

    def liquidation_price(self, maintenance_rate: Decimal, margin: Decimal | None = None) -> Decimal | None:
        """Gate isolated-margin estimate: the price where margin + uPnL = maintenance margin.

        long:  liq = entry - (margin/coins - mm * entry) / (1 - mm)
        short: liq = entry + (margin/coins - mm * entry) / (1 + mm)
        with coins = |size| * quanto_multiplier and margin = entry notional / leverage by default.
        """
        if self.size == ZERO or self.entry_price <= ZERO:
            return None
        coins = abs(self.size) * self.quanto_multiplier
        m = margin if margin is not None else coins * self.entry_price / self.leverage
        per_coin = m / coins
        if self.size > ZERO:
            liq = (self.entry_price - per_coin) / (1 - maintenance_rate)
        else:
            liq = (self.entry_price + per_coin) / (1 + maintenance_rate)
        return liq if liq > ZERO else ZERO
