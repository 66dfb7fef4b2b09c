"""Shared state of one simulated Gate venue: what the REST routes, the WS handler and the market loop share.

Three modules (server/ws, rest, venue) are written against this one object, so it holds only data and
small helpers; behaviour lives in the modules that own it. No I/O, no asyncio here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from cashup_tui.adapters.sim.faults import Faults
from cashup_tui.domain.instruments import Instrument

if TYPE_CHECKING:  # venue.py is built concurrently; only its type is needed here
    from cashup_tui.venue import Venue


class MarketSource(Protocol):
    """What REST reads from the market (synthetic generator or replay), in Gate's JSON shapes."""

    def order_book(self, symbol: str, limit: int = 20, decimal_sizes: bool = False) -> dict[str, Any]:
        """Gate REST `order_book?with_id=true`: {id, current (float s), update, asks:[{p,s}], bids:[...]};
        `id` is in the same id space as the WS order_book_update U/u. Sizes are JSON ints, or strings
        when `decimal_sizes` (the request carried `X-Gate-Size-Decimal: 1`). Unknown symbol ->
        ValidationError."""
        ...

    def tickers(self, decimal_sizes: bool = False) -> list[dict[str, Any]]:
        """Gate REST `/futures/usdt/tickers` rows (strings, like Gate; `total_size`/`volume_24h` sized)."""
        ...

    def candles(
        self, symbol: str, interval: str, from_s: int | None = None, to_s: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows `{t (int s), o, h, l, c (str), v (int contracts), sum (str quote volume)}`, oldest first."""
        ...

    def funding_history(self, symbol: str, limit: int = 100) -> list[dict[str, Any]]:
        """Rows `{t (int s), r (str rate)}`, newest first (Gate order)."""
        ...

    def trades(self, symbol: str, limit: int = 100, decimal_sizes: bool = False) -> list[dict[str, Any]]:
        """Gate REST `/futures/usdt/trades` rows, newest first."""
        ...

    def contract(self, symbol: str) -> dict[str, Any]:
        """The Gate contract object with live fields (mark/last/index price, funding rate, ids) filled in."""
        ...

    def mark_price(self, symbol: str) -> Decimal:
        """Current mark price (what margin and liquidation use)."""
        ...


@dataclass
class SimState:
    """Everything one simulated account + market needs; built by SimServer, read by rest.py and ws.py."""

    instruments: dict[str, Instrument]
    contracts: dict[str, dict[str, Any]]  # Gate JSON contract objects, by name
    market: MarketSource
    venue: Venue
    faults: Faults = field(default_factory=Faults)
    api_keys: dict[str, str] = field(default_factory=dict)  # key -> secret
    user_id: int = 1
    now_ms: Callable[[], int] = field(default=lambda: 0)  # server clock, clock-skew fault already applied
    # the clock request timestamps are checked against (skew applied); None: `now_ms`
    signed_now_ms: Callable[[], int] | None = None

    def now_s(self) -> int:
        return self.now_ms() // 1000

    def auth_now_ms(self) -> int:
        """Server time for a signature's timestamp and X-Gate-Exptime."""
        return (self.signed_now_ms or self.now_ms)()

    def secret_for(self, api_key: str) -> str | None:
        """The secret of a configured test key, or None (-> INVALID_KEY)."""
        return self.api_keys.get(api_key)
