"""Shared pieces of the simulated venue: constants, `VenueError`, number parsing, per-contract state.

Split out of venue.py so that the matching core (venue.py) and the trigger/countdown logic
(venue_triggers.py) share one definition of each. See venue.py for the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from cashup_tui.domain.errors import ExchangeError, ValidationError
from cashup_tui.domain.instruments import Instrument, to_decimal
from cashup_tui.domain.positions import Position
from cashup_tui.venue.models import VenueOrder, VenueTrigger

ZERO = Decimal(0)
ONE = Decimal(1)
ORDER_ID_BASE = 300_000_000_000_000_000  # > 2**53: a float round-trip anywhere shows up as a wrong id
TRADE_ID_BASE = 400_000_000_000_000_000
TRIGGER_ID_BASE = 500_000_000_000_000_000
TEXT_LOOKUP_MS = 60_000  # Gate: get/cancel/amend by text works while open and 60 s after finishing
TIFS = frozenset({"gtc", "ioc", "poc", "fok"})
# margin checks forgive this much (USDT): "all-in" sizing (units = cash / (price * (1 + fee))) must fit
# exactly, but Decimal division rounds at the 28th digit
MARGIN_EPS = Decimal("1e-9")
UNLIMITED = Decimal("1e18")  # level size of the synthetic book that `update_price` builds
TEXT_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-")
_TEXT_RE = re.compile(r"t-[0-9a-zA-Z_.\-]{1,28}")  # ASCII classes only (no \w): exactly TEXT_CHARS

# Gate labels that are not HTTP 400
_STATUS = {"ORDER_NOT_FOUND": 404, "POSITION_NOT_FOUND": 404, "CONTRACT_NOT_FOUND": 400}


class VenueError(ExchangeError):
    """A Gate business error: `label` (e.g. INSUFFICIENT_AVAILABLE), `message`, and the HTTP `status`."""

    def __init__(self, label: str, message: str, *, status: int | None = None, hint: str = "") -> None:
        super().__init__(f"{label}: {message}", hint=hint)
        self.label = label
        self.message = message
        self.status = status if status is not None else _STATUS.get(label, 400)

    def to_gate(self) -> dict[str, str]:
        """Gate's error body."""
        return {"label": self.label, "message": self.message}


def to_dec(value: object, what: str) -> Decimal:
    """The domain's `to_decimal`, refusing with Gate's INVALID_PARAM_VALUE."""
    if type(value) is Decimal and value.is_finite():  # the order path's case, without the call
        return value
    try:
        return to_decimal(value, what)
    except ValidationError as exc:
        raise VenueError("INVALID_PARAM_VALUE", exc.args[0]) from None


@dataclass(slots=True)
class ContractState:
    """Everything the venue keeps per contract (book, mark, resting orders, position, margins)."""

    inst: Instrument
    qm: Decimal
    mkfr: Decimal
    tkfr: Decimal
    leverage: Decimal
    pos: Position
    bids: Sequence[tuple[Decimal, Decimal]] = ()
    asks: Sequence[tuple[Decimal, Decimal]] = ()
    used_bids: dict[Decimal, Decimal] = field(default_factory=dict)
    used_asks: dict[Decimal, Decimal] = field(default_factory=dict)
    mark: Decimal | None = None
    last: Decimal | None = None
    last_explicit: bool = False
    buys: list[VenueOrder] = field(default_factory=list)  # resting, best (highest) price first, then id
    sells: list[VenueOrder] = field(default_factory=list)  # resting, best (lowest) price first, then id
    margin: Decimal = ZERO
    order_margin: Decimal = ZERO
    liq: Decimal | None = None
    history_pnl: Decimal = ZERO
    last_close_pnl: Decimal = ZERO
    open_ms: int = 0
    update_ms: int = 0
    update_id: int = 0
    touched: bool = False
    triggers: list[VenueTrigger] = field(default_factory=list)
    # cross margin (Gate leverage 0): `leverage` is then the cross leverage limit, and the account's available
    # balance (`cross_funds`, the wallet's) backs the position beyond its own margin
    cross: bool = False
    cross_funds: Callable[[], Decimal] | None = None

    def ref_price(self) -> Decimal | None:
        """Mark, else book mid, else last trade: what uPnL and price bands are measured against."""
        if self.mark is not None:
            return self.mark
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        return self.last


def check_text(text: str) -> str:
    """Gate's client id rule for `text` ("api" when none is given)."""
    if not text:
        return "api"
    if _TEXT_RE.fullmatch(text) is None:  # == text.startswith("t-") and 2 < len(text) <= 30 and chars in TEXT_CHARS
        raise VenueError(
            "INVALID_PARAM_VALUE",
            f"text {text!r} must be 't-' followed by 1-28 characters of [0-9A-Za-z_.-]",
        )
    return text
