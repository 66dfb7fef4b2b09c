"""The ticket's size units and quick sizes. Gate sizes every order in contracts; a trader may think in coins
or in USDT, so the ticket takes the size in any of the three and always shows what it is in all of them.

A size in coins or USDT becomes whole contracts rounded DOWN to the size step (never more than asked), and
the conversion is on screen before anything is sent."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from cashup_tui.app import fmt
from cashup_tui.domain.instruments import Instrument

QUICK = {"f5": Decimal("0.25"), "f6": Decimal("0.5"), "f7": Decimal(1)}  # key -> share of the available margin


class UnitError(ValueError):
    pass


def unit_options(inst: Instrument | None) -> list[tuple[str, str]]:
    """(label, unit) for the toggle: `cont`, the base coin (BTC) and the quote (USDT)."""
    if inst is None:
        return [("cont", "cont")]
    return [("cont", "cont"), (inst.base, "coin"), (inst.quote, "usdt")]


def to_contracts(value: Decimal, unit: str, inst: Instrument | None, price: Decimal | None) -> Decimal:
    """`value` in `unit` as whole contracts (rounded down to the size step)."""
    if unit == "cont" or inst is None:
        return value
    if unit == "usdt":
        if price is None or price <= 0:
            raise UnitError("a size in USDT needs a price (type one, or switch the unit with f3)")
        coins = value / price
    else:
        coins = value
    contracts = inst.round_size(coins / inst.quanto_multiplier)
    if contracts <= 0:
        one = inst.notional(inst.size_step, price) if unit == "usdt" and price else inst.coins(inst.size_step)
        name = inst.quote if unit == "usdt" else inst.base
        raise UnitError(f"{value} {name} is less than one contract ({_plain(one)} {name})")
    return contracts


def from_contracts(contracts: Decimal, unit: str, inst: Instrument | None, price: Decimal | None) -> Decimal:
    """Whole contracts in `unit` (exact: converting back gives the same contracts)."""
    if unit == "cont" or inst is None:
        return contracts
    coins = inst.coins(contracts)
    if unit == "coin":
        return coins
    if price is None or price <= 0:
        raise UnitError("a size in USDT needs a price")
    return coins * price


def quick_contracts(share: Decimal, available: Decimal, leverage: Decimal, fee_rate: Decimal, inst: Instrument,
                    price: Decimal) -> Decimal:
    """The most whole contracts whose margin at `leverage` plus the fee fit in `share` of `available`."""
    per_contract = inst.notional(inst.size_step, price) * (1 / leverage + max(fee_rate, Decimal(0)))
    if per_contract <= 0 or available <= 0:
        return Decimal(0)
    steps = (share * available / per_contract).to_integral_value(ROUND_DOWN)
    return min(steps * inst.size_step, inst.max_size)


def conversion(contracts: Decimal, inst: Instrument | None, price: Decimal | None) -> str:
    """`12 cont = 0.0012 BTC = 32.05 USDT` (the USDT at `price`, when known)."""
    if inst is None:
        return f"{_plain(contracts)} cont"
    text = f"{_plain(contracts)} cont = {_plain(inst.coins(contracts))} {inst.base}"
    if price is not None and price > 0:
        text += f" = {fmt.num(inst.notional(contracts, price))} {inst.quote}"
    return text


def _plain(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 0.0012, 12, 1500."""
    return f"{d.normalize():f}"
