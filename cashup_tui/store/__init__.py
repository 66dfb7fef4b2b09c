"""Persistence: SQLite (WAL) by default or any SQLAlchemy URL; SQLModel `*Row` tables,
lossless Decimal columns, forward migrations and small typed repositories.

Submodules: `engine` (open_store), `tables`, `migrations`, `mappers`, and the repositories
`orders`, `portfolio`, `candles`, `backtests`, `records`. Importing this package loads
SQLAlchemy/SQLModel but never textual, typer, aiohttp or ccxt, and does no I/O.
"""

from __future__ import annotations

from cashup_tui.store.engine import Store, StoreError, open_store, transaction

__all__ = ["Store", "StoreError", "open_store", "transaction"]
