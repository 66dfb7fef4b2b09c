"""Persistence: SQLite (WAL) by default or any SQLAlchemy URL; SQLModel `*Row` tables,
lossless Decimal columns, forward migrations and small typed repositories.

Submodules: `engine` (open_store), `tables`, `migrations`, `mappers`, and the repositories
`orders`, `portfolio`, `candles`, `backtests`, `records`; `lite` is the stdlib-sqlite3 path of
`cashup backtest run` (no SQLAlchemy import). Importing this package does no I/O and loads
nothing heavy: `Store`, `StoreError`, `open_store` and `transaction` load SQLAlchemy/SQLModel on
first use, and never textual, typer, aiohttp or ccxt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cashup_tui.store.engine import Store, StoreError, open_store, transaction

__all__ = ["Store", "StoreError", "open_store", "transaction"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cashup_tui.store import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'cashup_tui.store' has no attribute {name!r}")
