"""Gate USDT-perpetual contract specs and the rounding rules that go with them.

Every Gate size is in contracts; coins = contracts * quanto_multiplier.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, overload

from cashup_tui.domain.errors import ValidationError

ZERO = Decimal(0)
ONE = Decimal(1)
MAX_EXP = 30  # sizes, prices and notionals live well inside 1e-30 .. 1e30
_NAN = Decimal("NaN")


def in_range(d: Decimal) -> bool:
    """Finite and of a sane magnitude (0, or |d| within 1e-30 .. 1e30): arithmetic on it cannot overflow."""
    return d.is_finite() and (d == ZERO or -MAX_EXP <= d.adjusted() < MAX_EXP)


def to_decimal(value: object, what: str = "number", *, bounded: bool = False) -> Decimal:
    """The one parser of numbers into exact Decimals: a Decimal, an int, plain ASCII decimal text (no NaN or
    infinity words, no `1_0`, no non-ASCII digits) or a float by its shortest repr (never binary noise).
    Refuses anything else and any non-finite result with a ValidationError naming `what`; `bounded` also
    refuses magnitudes outside `in_range`, so arithmetic on the result cannot overflow."""
    t = type(value)
    if t is Decimal:
        out: Decimal = value  # type: ignore[assignment]
    elif t is float:  # (before the str test: the event backtest converts a float per price update)
        out = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        try:  # Decimal's own grammar, less what it takes beyond plain ASCII digits
            out = Decimal(text) if len(text) <= 64 and text.isascii() and "_" not in text else _NAN
        except InvalidOperation:
            out = _NAN
        if not out.is_finite():
            raise ValidationError(f"{what} {value!r} is not a number")
    elif t is int:
        out = Decimal(value)  # type: ignore[arg-type]
    elif isinstance(value, bool) or value is None:
        raise ValidationError(f"{what} {value!r} is not a number")
    elif isinstance(value, Decimal):
        out = value
    elif isinstance(value, numbers.Integral):  # numpy integers
        out = Decimal(int(value))
    elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Rational):  # numpy floats
        out = Decimal(repr(float(value)))
    else:
        raise ValidationError(f"{what} {value!r} is not a number")
    if not out.is_finite():
        raise ValidationError(f"{what} {value!r} must be finite")
    if bounded and not in_range(out):
        raise ValidationError(f"{what} {value!r} is out of range (|x| must be 0 or within 1e-30 .. 1e30)")
    return out


@overload
def to_decimal_or(value: object, default: Decimal = ZERO) -> Decimal: ...


@overload
def to_decimal_or(value: object, default: None) -> Decimal | None: ...


def to_decimal_or(value: object, default: Decimal | None = ZERO) -> Decimal | None:
    """`to_decimal` for lenient readers of venue payloads: `default` for a missing ("" or None) or bad number."""
    if value is None or value == "":
        return default
    try:
        return to_decimal(value)
    except ValidationError:
        return default


def user_decimal(text: str, name: str) -> Decimal:
    """A number typed by a user, exactly (no float): plain ASCII decimal text of a sane magnitude.
    Raises ValidationError naming `name` and how to write it."""
    hint = f"write {name} like 0.5, 25000.1 or 3e-5 (ASCII digits, no units, no '_')"
    if not isinstance(text, str):
        raise ValidationError(f"{name} {text!r} is not a number", hint=hint)
    try:
        return to_decimal(text, name, bounded=True)
    except ValidationError as exc:
        raise ValidationError(exc.args[0], hint=hint) from None


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str  # Gate contract name, e.g. "BTC_USDT"
    quanto_multiplier: Decimal  # coins per contract (BTC_USDT 0.0001)
    price_tick: Decimal  # order_price_round
    size_step: Decimal = ONE  # 1 contract, or a fraction on enable_decimal contracts
    min_size: Decimal = ONE  # order_size_min (contracts)
    max_size: Decimal = Decimal(1_000_000)  # order_size_max (contracts)
    leverage_min: Decimal = ONE
    leverage_max: Decimal = Decimal(100)
    maintenance_rate: Decimal = Decimal("0.005")
    maker_fee_rate: Decimal = Decimal("-0.00025")
    taker_fee_rate: Decimal = Decimal("0.00075")
    price_deviate: Decimal = Decimal("0.5")  # order_price_deviate: max |price-mark|/mark
    orders_limit: int = 100
    funding_interval_s: int = 28_800
    settle: str = "usdt"
    in_delisting: bool = False

    @property
    def base(self) -> str:
        return self.symbol.split("_", 1)[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("_", 1)[1] if "_" in self.symbol else "USDT"

    # -- conversions ---------------------------------------------------------------
    def notional(self, size: Decimal, price: Decimal) -> Decimal:
        """Quote (USDT) value of `size` contracts at `price`; always >= 0."""
        return abs(size) * self.quanto_multiplier * price

    def coins(self, size: Decimal) -> Decimal:
        return size * self.quanto_multiplier

    def contracts_for_coins(self, coins: Decimal) -> Decimal:
        return coins / self.quanto_multiplier

    # -- rounding --------------------------------------------------------------------
    def round_price(self, price: Decimal, mode: str = "nearest") -> Decimal:
        """Round to the tick: `nearest`, `down` (floor) or `up` (ceiling)."""
        rounding = {"nearest": ROUND_HALF_EVEN, "down": ROUND_FLOOR, "up": ROUND_CEILING}[mode]
        return (price / self.price_tick).to_integral_value(rounding) * self.price_tick

    def round_size(self, size: Decimal) -> Decimal:
        """Round an absolute size toward zero to the size step (never sends more than asked)."""
        steps = (abs(size) / self.size_step).to_integral_value(ROUND_DOWN)
        out = steps * self.size_step
        return out if size >= ZERO else -out

    def is_price_on_tick(self, price: Decimal) -> bool:
        q = price / self.price_tick  # one division (every order is checked by the risk gate and the venue)
        return q == q.to_integral_value()

    def is_size_on_step(self, size: Decimal) -> bool:
        q = size / self.size_step
        return q == q.to_integral_value()

    def check_order(self, size: Decimal, price: Decimal | None) -> None:
        """Venue rules for one order: raises ValidationError saying which rule and how to fix it."""
        if not in_range(size) or size == 0:
            raise ValidationError(f"{self.symbol}: size {size} must be a finite non-zero number of contracts")
        if not self.is_size_on_step(size):
            raise ValidationError(
                f"{self.symbol}: size {size} is not a multiple of the size step {self.size_step}",
                hint=f"sizes are in contracts (1 contract = {self.quanto_multiplier} {self.base})",
            )
        if abs(size) < self.min_size or abs(size) > self.max_size:
            raise ValidationError(
                f"{self.symbol}: size {abs(size)} outside [{self.min_size}, {self.max_size}] contracts"
            )
        if price is not None:
            if not in_range(price) or price <= 0:
                raise ValidationError(f"{self.symbol}: price {price} must be a finite positive number")
            if not self.is_price_on_tick(price):
                raise ValidationError(
                    f"{self.symbol}: price {price} is not on the tick {self.price_tick}",
                    hint=f"nearest valid prices: {self.round_price(price, 'down')} / {self.round_price(price, 'up')}",
                )

    def check_leverage(self, leverage: Decimal) -> None:
        if not in_range(leverage) or leverage < self.leverage_min or leverage > self.leverage_max:
            raise ValidationError(
                f"{self.symbol}: leverage {leverage} outside [{self.leverage_min}, {self.leverage_max}]"
            )


def instrument_from_gate(c: dict[str, Any]) -> Instrument:
    """Build an Instrument from one object of Gate's `GET /futures/usdt/contracts`."""

    def d(key: str, default: str) -> Decimal:
        v = c.get(key)
        return Decimal(str(v)) if v not in (None, "") else Decimal(default)

    decimal_sizes = bool(c.get("enable_decimal"))
    min_size = d("order_size_min", "1")
    step = Decimal("0.0001") if decimal_sizes else ONE
    if decimal_sizes and min_size == 0:
        min_size = step
    qm = d("quanto_multiplier", "1")
    return Instrument(
        symbol=str(c["name"]),
        quanto_multiplier=qm if qm != 0 else ONE,
        price_tick=d("order_price_round", "0.01"),
        size_step=step,
        min_size=min_size,
        max_size=d("order_size_max", "1000000"),
        leverage_min=d("leverage_min", "1"),
        leverage_max=d("leverage_max", "100"),
        maintenance_rate=d("maintenance_rate", "0.005"),
        maker_fee_rate=d("maker_fee_rate", "-0.00025"),
        taker_fee_rate=d("taker_fee_rate", "0.00075"),
        price_deviate=d("order_price_deviate", "0.5"),
        orders_limit=int(c.get("orders_limit") or 100),
        funding_interval_s=int(c.get("funding_interval") or 28_800),
        in_delisting=bool(c.get("in_delisting")),
    )
