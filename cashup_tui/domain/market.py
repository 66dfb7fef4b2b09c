"""Market data values. Hot-path values use plain slotted classes with float prices;
the order book keeps exact decimal strings so nothing is lost on the way to an order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    ts_ms: int
    last: float
    mark_price: float = 0.0
    index_price: float = 0.0
    change_pct: float = 0.0
    volume_24h_quote: float = 0.0
    high_24h: float = 0.0
    low_24h: float = 0.0
    funding_rate: float = 0.0  # the rate of the next settlement, as Gate reports it now
    open_interest: float = 0.0  # Gate `total_size`, contracts
    funding_rate_indicative: float = 0.0  # Gate's predicted rate (0 when the venue sends none)
    funding_next_apply_s: int = 0  # epoch seconds of the next settlement (0 when the venue sends none)


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    ts_ms: int
    trade_id: int
    price: float
    size: float  # contracts, signed: > 0 taker bought, < 0 taker sold
    is_internal: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    symbol: str
    timeframe: str
    open_ms: int  # bar open time, epoch ms UTC
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    closed: bool = True


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class BookTicker:
    symbol: str
    ts_ms: int
    update_id: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A point-in-time L2 view (top levels), as served to the engine and UI."""

    symbol: str
    ts_ms: int
    update_id: int
    bids: tuple[BookLevel, ...]  # best first (descending)
    asks: tuple[BookLevel, ...]  # best first (ascending)
    in_sync: bool = True

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2


@dataclass(frozen=True, slots=True)
class FundingRate:
    symbol: str
    ts_ms: int
    rate: Decimal
