"""Enumerations shared by every layer."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


def members_of(cls: type[E]) -> type[E]:
    """The members of `cls` as plain class attributes, for the order path.

    Python 3.11's `EnumType` defines `__getattr__`, so every `OrderStatus.FILLED` read goes through a
    slow lookup hook (Python 3.12 dropped it), and an order reads many members on its way;
    `STATUS = members_of(OrderStatus)` gives `STATUS.FILLED is OrderStatus.FILLED` at the plain cost. Only for reading members: construct, iterate and annotate with the enum itself."""
    return type(f"{cls.__name__}Members", (), {"__slots__": (), **cls.__members__})


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell: Gate encodes the side as the sign of `size`."""
        return 1 if self is _BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def from_signed(cls, size: object) -> Side:
        return cls.BUY if float(size) > 0 else cls.SELL  # type: ignore[arg-type]


_BUY = Side.BUY  # (read by `sign` on every order: see members_of)


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    """Gate's `tif` values: gtc, ioc, poc (post-only), fok."""

    GTC = "gtc"
    IOC = "ioc"
    POC = "poc"
    FOK = "fok"


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTING = "submitting"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_working(self) -> bool:
        """The order may still (or might, if in doubt) rest at the venue."""
        return not self.is_terminal and self is not OrderStatus.NEW


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


class Mode(StrEnum):
    DEMO = "demo"
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"
    BACKTEST = "backtest"


TRADING_MODES = (Mode.DEMO, Mode.PAPER, Mode.TESTNET, Mode.LIVE)  # what `--mode` and `[ui] mode` accept
GATE_MODES = (Mode.TESTNET, Mode.LIVE)  # orders reach a Gate account: API keys, dead-man switch, reconcile
LOCAL_MODES = (Mode.DEMO, Mode.PAPER)  # orders never leave this machine: no money at stake


class TradingState(StrEnum):
    """Nautilus-style trading states; cancels are always allowed."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


# The members as plain class attributes, for the order path (see members_of); OrderStatus and
# OrderEventKind have theirs in domain/orders.py (S, K).
SIDE = members_of(Side)
ORDER_TYPE = members_of(OrderType)
TIF = members_of(TimeInForce)
TRADING_STATE = members_of(TradingState)
LIQUIDITY = members_of(Liquidity)
