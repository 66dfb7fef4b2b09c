"""Positions, balances and instrument specs (latest value per key, upserted)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from cashup_tui.domain.account import Balance
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.positions import Position
from cashup_tui.store import mappers as m
from cashup_tui.store.engine import transaction
from cashup_tui.store.sql import now_ms, table, upsert
from cashup_tui.store.tables import DEFAULT_ACCOUNT, BalanceRow, InstrumentRow, PositionRow

POSITIONS = table(PositionRow)
BALANCES = table(BalanceRow)
INSTRUMENTS = table(InstrumentRow)


POSITION_KEY = ("account", "mode", "symbol")
BALANCE_KEY = ("account", "mode", "currency")


def upsert_position(db: Any, position: Position, mode: str = "", account: str = DEFAULT_ACCOUNT) -> None:
    with transaction(db) as conn:
        upsert(conn, POSITIONS, [m.position_to_row(position, mode, account)], keys=POSITION_KEY)


def load_positions(db: Any, mode: str = "", *, include_flat: bool = False,
                   account: str = DEFAULT_ACCOUNT) -> dict[str, Position]:
    q = select(POSITIONS).where(POSITIONS.c.account == account, POSITIONS.c.mode == mode)
    with transaction(db) as conn:
        rows = conn.execute(q.order_by(POSITIONS.c.symbol))
        out = {r["symbol"]: m.position_from_row(r) for r in rows.mappings()}
    return out if include_flat else {s: p for s, p in out.items() if not p.is_flat}


def upsert_balance(db: Any, balance: Balance, mode: str = "", account: str = DEFAULT_ACCOUNT) -> None:
    with transaction(db) as conn:
        upsert(conn, BALANCES, [m.balance_to_row(balance, mode, account)], keys=BALANCE_KEY)


def load_balances(db: Any, mode: str = "", account: str = DEFAULT_ACCOUNT) -> dict[str, Balance]:
    q = select(BALANCES).where(BALANCES.c.account == account, BALANCES.c.mode == mode)
    with transaction(db) as conn:
        rows = conn.execute(q).mappings()
        return {r["currency"]: m.balance_from_row(r) for r in rows}


def save_instruments(db: Any, instruments: Iterable[Instrument], updated_ms: int | None = None) -> int:
    ts = now_ms() if updated_ms is None else updated_ms
    rows = [m.instrument_to_row(i, ts) for i in instruments]
    with transaction(db) as conn:
        upsert(conn, INSTRUMENTS, rows, keys=("symbol",))
    return len(rows)


def load_instruments(db: Any) -> dict[str, Instrument]:
    with transaction(db) as conn:
        rows = conn.execute(select(INSTRUMENTS).order_by(INSTRUMENTS.c.symbol)).mappings()
        return {r["symbol"]: m.instrument_from_row(r) for r in rows}


def get_instrument(db: Any, symbol: str) -> Instrument | None:
    with transaction(db) as conn:
        r = conn.execute(select(INSTRUMENTS).where(INSTRUMENTS.c.symbol == symbol)).mappings().first()
    return m.instrument_from_row(r) if r else None
