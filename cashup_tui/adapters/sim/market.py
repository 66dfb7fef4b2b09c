"""Seeded synthetic market for the simulator: mid-price regimes, a 100-level book, trades that walk
the book, candles built from those trades, tickers with 24h stats, funding.

Why this shape: the server steps every symbol at `tick_ms` (10 Hz by default) and must stay cheap, so
prices are integer ticks in plain dicts and Python's `random.Random` (seeded per symbol) drives the hot
path; numpy is used only for the one-off history backfill. Output is Gate JSON (REST and WS `result`
objects) built on demand, so nothing is formatted for channels nobody watches.

Determinism: the sequence of books, trades, candles and funding depends only on the seed, the symbol
list and the number of steps; timestamps come in as arguments (no wall clock here).

Layout: this module holds the set of symbols (what the server steps and what the REST routes read);
symbol_market.py one symbol's generator and Gate JSON views; market_values.py the shared values
(intervals, price format, step results); market_history.py the history a market starts with.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from cashup_tui.adapters.sim.market_values import PricePath, StepResult
from cashup_tui.adapters.sim.symbol_market import SymbolMarket
from cashup_tui.domain.errors import ValidationError


class SyntheticMarket:
    """All symbols of the simulated market; implements state.MarketSource for the REST routes."""

    def __init__(
        self,
        symbols: list[str],
        *,
        seed: int = 7,
        start_ms: int,
        tick_ms: int = 100,
        contracts: dict[str, dict[str, Any]] | None = None,
        backfill: int = 500,
        paths: dict[str, PricePath] | None = None,
        start_prices: dict[str, float] | None = None,
        history: dict[str, dict[str, list[tuple]]] | None = None,
    ) -> None:
        if not symbols:
            raise ValidationError("the market needs at least one symbol", hint="e.g. --symbols BTC_USDT")
        self.seed = seed
        self.tick_ms = tick_ms
        self.symbols: dict[str, SymbolMarket] = {}
        for s in symbols:
            self.symbols[s] = SymbolMarket(
                s,
                seed,
                start_ms,
                contract=(contracts or {}).get(s),
                tick_ms=tick_ms,
                backfill=backfill,
                path=(paths or {}).get(s),
                start_price=(start_prices or {}).get(s),
                history=(history or {}).get(s),
            )

    def __iter__(self) -> Iterator[SymbolMarket]:
        return iter(self.symbols.values())

    def get(self, symbol: str) -> SymbolMarket:
        try:
            return self.symbols[symbol]
        except KeyError:
            raise ValidationError(
                f"unknown contract {symbol!r}", hint=f"simulated contracts: {', '.join(self.symbols)}"
            ) from None

    def step(self, ts_ms: int) -> list[StepResult]:
        return [m.step(ts_ms) for m in self.symbols.values()]

    # -- MarketSource (REST) ----------------------------------------------------------------------------
    def order_book(self, symbol: str, limit: int = 20, decimal_sizes: bool = False) -> dict[str, Any]:
        return self.get(symbol).order_book(limit, decimal_sizes)

    def tickers(self, decimal_sizes: bool = False) -> list[dict[str, Any]]:
        return [m.ticker(decimal_sizes) for m in self.symbols.values()]

    def candles(
        self, symbol: str, interval: str, from_s: int | None = None, to_s: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return self.get(symbol).candles(interval, from_s, to_s, limit)

    def funding_history(self, symbol: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.get(symbol).funding_rows(limit)

    def trades(self, symbol: str, limit: int = 100, decimal_sizes: bool = False) -> list[dict[str, Any]]:
        return self.get(symbol).rest_trades(limit, decimal_sizes)

    def contract(self, symbol: str) -> dict[str, Any]:
        return self.get(symbol).contract_json()

    def mark_price(self, symbol: str) -> Decimal:
        return self.get(symbol).mark_decimal()
