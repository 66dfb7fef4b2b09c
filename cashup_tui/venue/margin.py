"""One-way margin, isolated or cross: what a position and open orders lock, when a position is liquidated,
and the leverage and margin-mode changes a user can make.

Position margin = entry notional / leverage, added when a fill opens or increases, released pro rata when
it reduces. Open orders reserve order margin = the opening part of their remaining notional at their price
/ leverage (reduce-only orders reserve nothing). A new order needs the opening part of its immediate fills
* (1/leverage + taker rate) + its resting opening part / leverage <= available (+ MARGIN_EPS), else
INSUFFICIENT_AVAILABLE. Liquidation price: Gate's isolated rule, `Position.liquidation_price`.

Cross margin (Gate: leverage 0 with `cross_leverage_limit` N): margins are computed at N, and the account's
available balance backs the position too, so the liquidation price is the isolated rule's with margin +
available. With one cross position that is Gate's rule; with several, each sees the shared available of the
moment (re-read on every mark), not a joint liquidation of all of them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from cashup_tui.venue.accounts import Wallet
from cashup_tui.venue.base import MARGIN_EPS, ZERO, ContractState, VenueError
from cashup_tui.venue.models import dstr

if TYPE_CHECKING:
    from cashup_tui.venue.matching import Matching


def reducible(c: ContractState, buy: bool) -> Decimal:
    """How much an order of this side can reduce the current position (0 if it would increase)."""
    size = c.pos.size
    if buy:
        return -size if size < ZERO else ZERO
    return size if size > ZERO else ZERO


def liq_price(c: ContractState) -> Decimal | None:
    """The mark at which the position is liquidated (None: flat, or a long that cannot be)."""
    pos = c.pos
    if pos.size == ZERO:
        return None
    liq = pos.liquidation_price(c.inst.maintenance_rate, backing(c))
    if liq is None or (pos.size > ZERO and liq <= ZERO):
        return None
    return liq


def backing(c: ContractState) -> Decimal:
    """What stands between the position and liquidation: its margin, plus the available balance in cross."""
    funds = c.cross_funds
    return c.margin + funds() if c.cross and funds is not None else c.margin


def recalc_order_margin(c: ContractState) -> None:
    """Order margin of the contract's resting orders: only the part that would open reserves margin."""
    size = c.pos.size
    total = ZERO
    for book, red in ((c.buys, -size if size < 0 else ZERO), (c.sells, size if size > 0 else ZERO)):
        q = v = ZERO
        for o in book:
            if not o.is_reduce_only:
                left = o.left_abs
                q += left
                v += left * o.price
        if q > red:
            total += v * (q - red) / q
    c.order_margin = total * c.qm / c.leverage


def check_margin(
    c: ContractState,
    fills: list[tuple[Decimal, Decimal]],
    filled_qty: Decimal,
    qty: Decimal,
    price: Decimal,
    tif: str,
    red: Decimal,
    wallet: Wallet,
) -> None:
    """INSUFFICIENT_AVAILABLE unless the opening part of this order fits in the available balance."""
    lev = c.leverage
    rem_reduce = red
    open_notional = ZERO
    for p, q in fills:
        r = q if q < rem_reduce else rem_reduce
        rem_reduce -= r
        if q > r:
            open_notional += (q - r) * p
    open_notional *= c.qm
    need = open_notional / lev + (open_notional * c.tkfr if c.tkfr > ZERO else ZERO)
    if tif in ("gtc", "poc"):
        rest_open = qty - filled_qty - rem_reduce
        if rest_open > ZERO:
            need += rest_open * price * c.qm / lev
    if need > ZERO:
        avail = wallet.available()
        if need - avail > MARGIN_EPS:
            raise VenueError(
                "INSUFFICIENT_AVAILABLE",
                f"order needs {dstr(need)} USDT margin, available {dstr(avail)}",
                hint="reduce the size, raise the leverage or add funds",
            )


class Margin:
    """Leverage and margin changes (Gate `positions/{contract}/leverage` and `/margin`)."""

    __slots__ = ("matching", "wallet")

    def __init__(self, matching: Matching, wallet: Wallet) -> None:
        self.matching = matching
        self.wallet = wallet

    def set_leverage(self, contract: str, c: ContractState, lev: Decimal, now: int,
                     cross_limit: Decimal | None = None) -> None:
        """Leverage >= 1: isolated at that leverage. 0: cross margin at `cross_limit` (the current leverage
        when none is given). The position margin follows; a change that would leave the position at or
        under its maintenance margin on the mark is refused (LIQUIDATE_IMMEDIATELY), as Gate does."""
        cross = lev == 0
        eff = (cross_limit if cross_limit else c.leverage) if cross else lev
        if eff < c.inst.leverage_min:
            raise VenueError("LEVERAGE_TOO_LOW", f"leverage {dstr(eff)} below {dstr(c.inst.leverage_min)}")
        if eff > c.inst.leverage_max:
            raise VenueError("LEVERAGE_TOO_HIGH", f"leverage {dstr(eff)} above {dstr(c.inst.leverage_max)}")
        pos = c.pos
        new_margin = abs(pos.size) * c.qm * pos.entry_price / eff if pos.size else ZERO
        if pos.size:
            extra = new_margin - c.margin
            avail = self.wallet.available()
            if extra > 0 and extra > avail:
                raise VenueError("INSUFFICIENT_AVAILABLE", f"leverage {dstr(eff)} needs {dstr(extra)} USDT more margin")
            # cross: the available balance left after the change backs the position as well
            funds = new_margin + avail - extra if cross else new_margin
            liq = pos.liquidation_price(c.inst.maintenance_rate, funds)
            mark = c.ref_price()
            if liq is not None and mark is not None and ((pos.size > 0 and mark <= liq) or (pos.size < 0 and mark >= liq)):
                mode = "cross" if cross else "isolated"
                raise VenueError("LIQUIDATE_IMMEDIATELY",
                                 f"{mode} {dstr(eff)}x would leave the position under its maintenance margin "
                                 f"(liquidation {dstr(liq)}, mark {dstr(mark)})",
                                 hint="use a lower leverage or add margin first")
        c.leverage = eff
        c.cross = cross
        c.cross_funds = self.wallet.available if cross else None
        pos.leverage = eff
        c.margin = new_margin
        c.liq = liq_price(c)
        c.touched = True
        c.update_ms = now
        c.update_id += 1
        self.matching.dirty.add(contract)
        self.matching.flush(now)

    def update_margin(self, contract: str, c: ContractState, delta: Decimal, now: int) -> None:
        """Add (> 0) or remove (< 0) isolated margin; the caller re-checks liquidation on the mark."""
        if c.pos.size == 0:
            raise VenueError("POSITION_EMPTY", f"no {contract} position to change the margin of")
        if delta > 0 and delta > self.wallet.available():
            raise VenueError("INSUFFICIENT_AVAILABLE", f"adding {dstr(delta)} USDT margin exceeds the available balance")
        if delta < 0:
            floor = abs(c.pos.size) * c.qm * c.pos.entry_price / c.leverage
            if c.margin + delta < floor:
                raise VenueError("REMOVE_TOO_MUCH", f"margin cannot go below the initial margin {dstr(floor)}")
        c.margin += delta
        c.liq = liq_price(c)
        c.update_ms = now
        c.update_id += 1
        self.matching.dirty.add(contract)
        self.matching.flush(now)
