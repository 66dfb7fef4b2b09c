"""CashUp: a terminal trading workstation for Gate.io USDT perpetual futures.

Importing this package must stay cheap: nothing heavy (textual, pandas, ccxt,
aiohttp, sqlmodel) is imported here, so `cashup --help` starts fast.
"""

__version__ = "0.1.0"
