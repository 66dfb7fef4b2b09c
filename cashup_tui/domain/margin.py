"""Margin as the venue reports it: the futures account's balances and each position's leverage, margin mode
and margins. Read-only values: the engine's portfolio keeps its own books; these say what the venue holds
(Gate `GET /futures/usdt/accounts` and the position objects)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


@dataclass(frozen=True, slots=True)
class MarginAccount:
    """Gate's futures account: `total` is the wallet balance (cash), `available` what new orders may use."""

    currency: str
    total: Decimal
    available: Decimal
    position_margin: Decimal
    order_margin: Decimal
    maintenance_margin: Decimal
    unrealised_pnl: Decimal
    ts_ms: int = 0

    @property
    def margin_used(self) -> Decimal:
        return self.position_margin + self.order_margin

    @property
    def equity(self) -> Decimal:
        return self.total + self.unrealised_pnl

    @property
    def margin_ratio_pct(self) -> Decimal | None:
        """Maintenance margin over equity, in percent: liquidation comes near 100 (None with no equity)."""
        eq = self.equity
        return self.maintenance_margin / eq * 100 if eq > 0 else None


@dataclass(frozen=True, slots=True)
class PositionMargin:
    """One contract's leverage and margin at the venue. `leverage` is the isolated leverage, or in cross
    mode the cross leverage limit (Gate reports leverage 0 then)."""

    symbol: str
    mode: MarginMode
    leverage: Decimal
    margin: Decimal = ZERO
    maintenance_margin: Decimal = ZERO
    liq_price: Decimal | None = None

    @property
    def label(self) -> str:
        """'10x' isolated, 'C10x' cross: narrow enough for a table column."""
        lev = f"{self.leverage.normalize():f}"
        return f"C{lev}x" if self.mode is MarginMode.CROSS else f"{lev}x"


def leverage_refusal(symbol: str, leverage: Decimal, risk_cap: Decimal, lo: Decimal, hi: Decimal) -> tuple[str, str]:
    """(message, hint) for a leverage outside [lo, min(risk_cap, hi)]: which limit refused it (the risk gate's
    `risk.max_leverage` or the contract's range) and how to change it."""
    cap = min(risk_cap, hi)
    if leverage > risk_cap and risk_cap < hi:
        return (f"leverage {leverage:f} is above the risk limit risk.max_leverage = {risk_cap:f} ({symbol} itself "
                f"allows up to {hi:f}x): allowed [{lo:f}, {cap:f}]",
                f"choose {cap:f}x or less, or raise max_leverage under [risk] in the settings file (`cashup config path`; "
                "or CASHUP_RISK_MAX_LEVERAGE) and restart")
    return (f"leverage {leverage:f} is outside {symbol}'s range: allowed [{lo:f}, {cap:f}]",
            f"choose a leverage from {lo:f} to {cap:f}")
