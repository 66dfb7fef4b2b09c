"""Setting a contract's leverage and margin mode: one command for `cashup positions leverage` and the
workstation's leverage dialog.

Order of checks, so each refusal says what to fix: the profile (audited), the symbol, the contract's
leverage range (named in the message), the risk gate's leverage cap (`risk.max_leverage`), then the venue
(Gate refuses, e.g. LIQUIDATE_IMMEDIATELY when the position would be under its maintenance margin). The
margin mode is kept when not given. Gate's endpoint sets both at once: leverage N isolated, or leverage 0
with cross_leverage_limit N for cross.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.margin import MarginMode, PositionMargin
from cashup_tui.service.commands import Authorize, Node
from cashup_tui.service.margin import MarginWatch
from cashup_tui.service.roles import Action


def parse_leverage(text: Any) -> Decimal:
    """A leverage as typed (`5`, `12.5`, `20x`): a finite number > 0, else a ValidationError."""
    raw = str(text).strip().lower().removesuffix("x")
    try:
        lev = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise ValidationError(f"leverage {text!r} is not a number", hint="e.g. 5 or 12.5") from None
    if not lev.is_finite() or lev <= 0:
        raise ValidationError(f"leverage {text!r} must be a number > 0", hint="e.g. 5 or 12.5")
    return lev


def parse_mode(text: str | None) -> MarginMode | None:
    if text is None or text == "":
        return None
    try:
        return MarginMode(text.strip().lower())
    except ValueError:
        raise ValidationError(f"margin mode {text!r}: use cross or isolated") from None


def check_range(node: Node, symbol: str, leverage: Decimal) -> None:
    inst = node.instruments.get(symbol)
    if inst is None:
        raise ValidationError(f"unknown symbol {symbol!r}", hint="contract names look like BTC_USDT")
    lo, hi = inst.leverage_min, inst.leverage_max
    if not lo <= leverage <= hi:
        raise ValidationError(f"leverage {leverage:f} is outside {symbol}'s range {lo:f}-{hi:f}x",
                              hint=f"choose a leverage from {lo:f} to {hi:f}")


async def set_leverage(node: Node, symbol: str, leverage: Decimal, margin: MarginMode | None = None, *,
                       authorize: Authorize, watch: MarginWatch | None = None) -> PositionMargin | None:
    """Set `symbol`'s leverage (and margin mode); returns what the venue then reports for it (None when
    the venue reports no margin)."""
    authorize(Action.PLACE_ORDER, "position.leverage", symbol=symbol, leverage=leverage,
              margin=margin.value if margin else "")
    check_range(node, symbol, leverage)
    watch = watch or MarginWatch(node.execution)
    if margin is None:
        await watch.refresh()
        current = watch.position(symbol)
        margin = current.mode if current is not None else MarginMode.ISOLATED
    await node.om.set_leverage(symbol, leverage, cross=margin is MarginMode.CROSS)
    await watch.refresh()
    return watch.position(symbol)


class LeverageMixin:
    """The workstation's leverage dialog and margin reads (EngineWorkstation mixes this in): the venue's
    margin is polled by `margin` (a MarginWatch) from the workstation's background loop."""

    node: Any
    margin: MarginWatch

    async def set_leverage(self, symbol: str, leverage: Decimal, margin: MarginMode | None = None) -> PositionMargin | None:
        return await set_leverage(self.node, symbol, leverage, margin, authorize=self.node.authorize, watch=self.margin)

    def margin_of(self, symbol: str) -> PositionMargin | None:
        return self.margin.position(symbol)

    def leverage_label(self, symbol: str) -> str:
        """'10x isolated' / '5x cross' from the venue, else the engine's leverage for the symbol."""
        pm = self.margin.position(symbol)
        if pm is not None:
            return f"{pm.label.removeprefix('C')} {pm.mode.value}"
        pf = self.node.portfolio if self.node is not None else None
        if pf is None:
            return ""
        return f"{pf.leverage.get(symbol, pf.default_leverage).normalize():f}x"
