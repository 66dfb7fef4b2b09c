"""Stub values of the domain for tests, one place per concern (as nautilus's `test_kit/stubs`):
a test that needs a contract asks here instead of spelling out an `Instrument` literal again."""

from __future__ import annotations

from decimal import Decimal

from cashup_tui.domain.instruments import Instrument

D = Decimal


def btc_usdt(**spec: object) -> Instrument:
    """Gate's BTC_USDT: 0.0001 BTC a contract, price tick 0.1 (the rest Instrument's defaults or `spec`)."""
    return Instrument("BTC_USDT", quanto_multiplier=D("0.0001"), price_tick=D("0.1"), **spec)  # type: ignore[arg-type]


def eth_usdt(**spec: object) -> Instrument:
    """Gate's ETH_USDT: 0.01 ETH a contract, price tick 0.01."""
    return Instrument("ETH_USDT", quanto_multiplier=D("0.01"), price_tick=D("0.01"), **spec)  # type: ignore[arg-type]


def unit_contract(symbol: str, price_tick: Decimal, **spec: object) -> Instrument:
    """One coin a contract, sizes down to 1e-12 and up to 1e9: what the event backtest trades when a run
    does not round to whole contracts."""
    return Instrument(symbol, quanto_multiplier=D(1), price_tick=price_tick, size_step=D("1e-12"),
                      min_size=D("1e-12"), max_size=D(10**9), **spec)  # type: ignore[arg-type]
