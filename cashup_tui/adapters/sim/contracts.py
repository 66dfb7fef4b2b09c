"""Gate-format contract objects for the simulated symbols.

Real specs (quanto multiplier, tick, size limits, leverage, maintenance and fee rates, funding interval)
are copied from Gate's `GET /futures/usdt/contracts` captured on 2023-05-24
(futures_usdt_rest_contracts_2023-05-24.json; a test checks they still agree);
other symbols get synthesised but sensible specs. Dynamic fields (mark/last/index price, funding rate,
trade and book ids) are filled from the running market when a contract is served.
"""

from __future__ import annotations

import math
import zlib
from decimal import Decimal
from typing import Any

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.instruments import Instrument, instrument_from_gate

# name: (quanto_multiplier, order_price_round, mark_price_round, leverage_max, maintenance_rate,
#        maker_fee_rate, taker_fee_rate, risk_limit_base, funding_rate, last_price (2023-05-24))
REAL_SPECS: dict[str, tuple[str, str, str, str, str, str, str, str, str, str]] = {
    "BTC_USDT": ("0.0001", "0.1", "0.01", "100", "0.005", "-0.000152", "0.00075", "1000000", "0.000086", "26696"),
    "ETH_USDT": ("0.01", "0.05", "0.01", "100", "0.005", "-0.0001368", "0.00075", "1000000", "0.0001", "1814.8"),
    "SOL_USDT": ("1", "0.0001", "0.0001", "20", "0.025", "-0.000152", "0.00075", "500000", "0.0001", "19.3988"),
    "XRP_USDT": ("10", "0.0001", "0.0001", "20", "0.025", "-0.000152", "0.00075", "500000", "0.0001", "0.4566"),
    "DOGE_USDT": ("10", "0.000001", "0.000001", "20", "0.025", "-0.000152", "0.00075", "500000", "0.000046", "0.071033"),
    "BNB_USDT": ("0.001", "0.001", "0.001", "20", "0.025", "-0.000152", "0.00075", "500000", "0.0001", "308.602"),
    "ADA_USDT": ("10", "0.00001", "0.00001", "20", "0.025", "-0.000152", "0.00075", "500000", "0.0001", "0.36493"),
    "LTC_USDT": ("0.1", "0.01", "0.01", "50", "0.01", "-0.000152", "0.00075", "500000", "0.0001", "86.3"),
    "LINK_USDT": ("1", "0.0001", "0.0001", "50", "0.01", "-0.000152", "0.00075", "500000", "0.0001", "6.3383"),
    "AVAX_USDT": ("1", "0.0001", "0.0001", "20", "0.025", "-0.000152", "0.00075", "500000", "0.00004", "14.3286"),
    "DOT_USDT": ("1", "0.0001", "0.0001", "20", "0.025", "-0.000152", "0.00075", "500000", "0.0001", "5.2825"),
}

_ORDERS_LIMIT = {"SOL_USDT": 50}  # the real per-contract open-order caps that differ from 100

_SYMBOL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def check_symbol(symbol: str) -> str:
    """Simulated symbols are Gate USDT-perpetual names: `BASE_USDT`, upper case."""
    base, sep, quote = symbol.partition("_")
    if not sep or quote != "USDT" or not base or not set(base) <= _SYMBOL_CHARS or len(base) > 20:
        raise ValidationError(
            f"symbol {symbol!r} is not a Gate USDT perpetual name",
            hint="use names like BTC_USDT,ETH_USDT (upper case, _USDT suffix)",
        )
    return symbol


def _synth_start_price(symbol: str) -> Decimal:
    """A stable pseudo-random start price in [0.05, 500) for an unknown symbol (same name -> same price)."""
    h = zlib.crc32(symbol.encode())
    exponent = (h % 5) - 1  # 0.1 .. 1000 decades
    mantissa = 1 + (h >> 8) % 900 / 100  # 1.00 .. 9.99
    return Decimal(str(round(mantissa * 10**exponent, 6)))


def _tick_for(price: Decimal) -> Decimal:
    """About 1 bp of price, rounded down to a power of ten (Gate's ticks look like that)."""
    return Decimal(1).scaleb(math.floor(math.log10(float(price) * 1e-4)))


def _quanto_for(price: Decimal) -> Decimal:
    """Contract worth roughly 1-10 USDT."""
    return Decimal(1).scaleb(-math.floor(math.log10(float(price))))


def contract_spec(symbol: str, funding_interval_s: int = 28_800) -> dict[str, Any]:
    """Static Gate contract JSON for `symbol` (real where known, synthesised otherwise)."""
    check_symbol(symbol)
    if symbol in REAL_SPECS:
        qm, tick, mark_round, lev_max, mm, maker, taker, rl_base, fr, last = REAL_SPECS[symbol]
    else:
        price = _synth_start_price(symbol)
        t = _tick_for(price)
        qm, tick, mark_round = format(_quanto_for(price), "f"), format(t, "f"), format(t, "f")
        lev_max, mm, maker, taker, rl_base, fr, last = "20", "0.025", "-0.000152", "0.00075", "500000", "0.0001", str(price)
    return {
        "name": symbol,
        "type": "direct",
        "quanto_multiplier": qm,
        "ref_discount_rate": "0",
        "order_price_deviate": "0.5",
        "maintenance_rate": mm,
        "mark_type": "index",
        "last_price": last,
        "mark_price": last,
        "index_price": last,
        "funding_rate_indicative": fr,
        "mark_price_round": mark_round,
        "funding_offset": 0,
        "in_delisting": False,
        "risk_limit_base": rl_base,
        "interest_rate": "0.0003",
        "order_price_round": tick,
        "order_size_min": 1,
        "ref_rebate_rate": "0.2",
        "funding_interval": funding_interval_s,
        "risk_limit_step": rl_base,
        "leverage_min": "1",
        "leverage_max": lev_max,
        "risk_limit_max": str(int(Decimal(rl_base) * 30)),
        "maker_fee_rate": maker,
        "taker_fee_rate": taker,
        "funding_rate": fr,
        "order_size_max": 1000000,
        "funding_next_apply": 0,
        "short_users": 0,
        "config_change_time": 1682318841,
        "trade_size": 0,
        "position_size": 0,
        "long_users": 0,
        "funding_impact_value": "60000",
        "orders_limit": _ORDERS_LIMIT.get(symbol, 100),
        "trade_id": 0,
        "orderbook_id": 0,
        "enable_bonus": False,
        "enable_credit": True,
        "create_time": 0,
        "funding_cap_ratio": "0.75",
        "status": "trading",
        "launch_time": 1609459200,
    }


def synthetic(symbols: list[str]) -> list[str]:
    """The symbols whose specs are made up here (no Gate spec on file): a user must be told, because a
    typo such as `BTCC_USDT` is a valid name and would otherwise trade as if it were a real contract."""
    return [s for s in symbols if s not in REAL_SPECS]


def start_price(symbol: str) -> Decimal:
    """The price the synthetic market starts from (Gate's last price on 2023-05-24 for known symbols)."""
    return Decimal(contract_spec(symbol)["last_price"])


def build_contracts(symbols: list[str]) -> tuple[dict[str, Instrument], dict[str, dict[str, Any]]]:
    """Instruments and Gate contract objects for `symbols`, in the given order."""
    if not symbols:
        raise ValidationError("no symbols to simulate", hint="pass e.g. --symbols BTC_USDT,ETH_USDT")
    contracts: dict[str, dict[str, Any]] = {}
    for s in symbols:
        if s in contracts:
            raise ValidationError(f"symbol {s} listed twice", hint="list each symbol once")
        contracts[s] = contract_spec(s)
    instruments = {s: instrument_from_gate(c) for s, c in contracts.items()}
    return instruments, contracts


def parse_symbols(text: str) -> list[str]:
    """`"BTC_USDT, eth_usdt"` -> `["BTC_USDT", "ETH_USDT"]`, each checked."""
    out = [check_symbol(s.strip().upper()) for s in text.split(",") if s.strip()]
    if not out:
        raise ValidationError(f"no symbols in {text!r}", hint="pass e.g. --symbols BTC_USDT,ETH_USDT")
    return out
