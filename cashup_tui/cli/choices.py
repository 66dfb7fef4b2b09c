"""Fixed value sets of CLI options, as typer choices: `--help` lists them, shell completion offers
them, and a bad value is refused by typer with the list of valid ones (exit 2).

Stdlib only: imported on the fast `cashup --help` path.
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["demo", "paper", "testnet", "live"]
Engine = Literal["fast", "event"]
Channel = Literal["tickers", "trades", "book"]
OrderType = Literal["market", "limit", "stop_market", "stop_limit", "take_profit", "trailing_stop"]
Tif = Literal["gtc", "ioc", "poc", "fok"]
ImportFormat = Literal["auto", "csv", "parquet", "feather"]
ExportFormat = Literal["auto", "csv", "parquet"]
GateInterval = Literal["10s", "1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "7d"]

TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "1w")
SIZER_KINDS = ("all-in", "percent:", "notional:", "atr:")


def complete_timeframe(incomplete: str) -> list[str]:
    """Common timeframes; any `<n><s|m|h|d|w>` is accepted, so this only suggests."""
    return [t for t in TIMEFRAMES if t.startswith(incomplete)]


def complete_sizer(incomplete: str) -> list[str]:
    """The sizer kinds (`percent:`, `notional:` and `atr:` take a value after the colon)."""
    return [k for k in SIZER_KINDS if k.startswith(incomplete)]
