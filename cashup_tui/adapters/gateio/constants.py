"""Gate.io futures v4 websocket facts in one place: URLs, channel names, limits, timings.

Why: every number here is Gate's (its API docs, or measured on its captures); keeping them together makes a
protocol change a one-file edit and lets the simulator and tests share the same names.
"""

from __future__ import annotations

from typing import Final

WS_URL_USDT: Final = "wss://fx-ws.gateio.ws/v4/ws/usdt"
WS_URL_TESTNET: Final = "wss://fx-ws-testnet.gateio.ws/v4/ws/usdt"
REST_URL: Final = "https://api.gateio.ws/api/v4"

# Handshake header: sizes arrive as (possibly fractional) strings instead of floored ints.
SIZE_DECIMAL_HEADER: Final = {"X-Gate-Size-Decimal": "1"}

# Public channels
TICKERS: Final = "futures.tickers"
TRADES: Final = "futures.trades"
BOOK_TICKER: Final = "futures.book_ticker"
BOOK_UPDATE: Final = "futures.order_book_update"
CANDLES: Final = "futures.candlesticks"
# Private channels (payload starts with the numeric user id as a string)
ORDERS: Final = "futures.orders"
USERTRADES: Final = "futures.usertrades"
POSITIONS: Final = "futures.positions"
BALANCES: Final = "futures.balances"
# Control
PING: Final = "futures.ping"
PONG: Final = "futures.pong"
SYSTEM: Final = "futures.system"

PUBLIC_CHANNELS: Final = frozenset({TICKERS, TRADES, BOOK_TICKER, BOOK_UPDATE, CANDLES})
PRIVATE_CHANNELS: Final = frozenset({ORDERS, USERTRADES, POSITIONS, BALANCES})

# Spot (parsing of captures only)
SPOT_TICKERS: Final = "spot.tickers"
SPOT_TRADES: Final = "spot.trades"
SPOT_BOOK_UPDATE: Final = "spot.order_book_update"
SPOT_CANDLES: Final = "spot.candlesticks"
SPOT_BOOK_TICKER: Final = "spot.book_ticker"

# Error codes in error frames
ERR_BAD_STRUCT: Final = 1
ERR_BAD_ARGUMENT: Final = 2
ERR_SERVICE: Final = 3
ERR_AUTH: Final = 4

BOOK_FREQS: Final = ("20ms", "100ms")
BOOK_LEVELS: Final = (20, 50, 100)
CANDLE_INTERVALS: Final = ("10s", "1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "7d")

# Liveness: app ping every 10-15 s; a socket silent (pongs included) this long is dead.
PING_INTERVAL_S: Final = 12.0
DEAD_AFTER_S: Final = 40.0
STREAM_STALE_AFTER_S: Final = 60.0  # quiet contracts go 20-36 s without a book frame
# Reconnect backoff: base * 2**attempt, capped, full jitter in [0.5, 1.0] of it.
BACKOFF_BASE_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
MAX_INT32: Final = 2**31 - 1
