"""The v1 shape of the tables that schema v3 alters (orders, order_events, fills, positions,
balances, risk_events), and the v5 shape of candle_stats that v8 alters, frozen as SQLAlchemy Core
tables in their own MetaData.

Why: migration 1 must create what it always created, not the current models (which carry v3's
`account` keys), or v3 would alter tables that already have its columns. The SQLite DDL these
render is byte-for-byte the DDL of existing files (`tests/test_store_pg.py` checks it against the
literal v2 DDL in `tests/store_v2_schema.py`).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table

from cashup_tui.store.types import MS, DecimalText, JsonText

META = MetaData()


def _dec(name: str, nullable: bool = False) -> Column:
    return Column(name, DecimalText, nullable=nullable)


ORDERS = Table(
    "orders", META,
    Column("id", Integer, primary_key=True), Column("client_id", String, nullable=False),
    Column("venue_order_id", String), Column("symbol", String, nullable=False),
    Column("side", String, nullable=False), Column("order_type", String, nullable=False), _dec("size"),
    _dec("price", True), Column("tif", String, nullable=False), Column("reduce_only", Boolean, nullable=False),
    _dec("trigger_price", True), Column("status", String, nullable=False), _dec("filled"), _dec("avg_fill_price"),
    _dec("fees"), Column("created_ms", MS, nullable=False), Column("updated_ms", MS, nullable=False),
    Column("strategy", String, nullable=False), Column("reason", String, nullable=False),
    Column("mode", String, nullable=False), Column("trade_ids", JsonText),
    Index("ix_orders_client_id", "client_id", unique=True), Index("ix_orders_status", "status"),
    Index("ix_orders_symbol", "symbol"), Index("ix_orders_venue_order_id", "venue_order_id"),
)

ORDER_EVENTS = Table(
    "order_events", META,
    Column("seq", Integer, primary_key=True), Column("client_id", String, nullable=False),
    Column("kind", String, nullable=False), Column("ts_ms", MS, nullable=False), Column("venue_order_id", String),
    Column("trade_id", String), Column("fill", JsonText), Column("reason", String, nullable=False),
    _dec("new_price", True), _dec("new_size", True), Column("mode", String, nullable=False),
    Column("recorded_ms", MS, nullable=False),
    Index("ix_order_events_client_seq", "client_id", "seq"),
)

FILLS = Table(
    "fills", META,
    Column("id", Integer, primary_key=True), Column("trade_id", String, nullable=False, unique=True),
    Column("client_id", String, nullable=False), Column("venue_order_id", String),
    Column("symbol", String, nullable=False), Column("side", String, nullable=False), _dec("size"), _dec("price"),
    _dec("fee"), Column("ts_ms", MS, nullable=False), Column("liquidity", String, nullable=False),
    Column("mode", String, nullable=False),
    Index("ix_fills_symbol", "symbol"), Index("ix_fills_client_id", "client_id"),
)

POSITIONS = Table(
    "positions", META,
    Column("mode", String, primary_key=True), Column("symbol", String, primary_key=True),
    _dec("quanto_multiplier"), _dec("size"), _dec("entry_price"), _dec("realized_pnl"), _dec("fees"),
    _dec("funding"), _dec("leverage"), Column("updated_ms", MS, nullable=False),
)

BALANCES = Table(
    "balances", META,
    Column("mode", String, primary_key=True), Column("currency", String, primary_key=True),
    _dec("total"), _dec("available"), Column("ts_ms", MS, nullable=False),
)

RISK_EVENTS = Table(
    "risk_events", META,
    Column("id", Integer, primary_key=True), Column("ts_ms", MS, nullable=False),
    Column("rule", String, nullable=False), Column("message", String, nullable=False),
    Column("state", String, nullable=False), Column("numbers", JsonText), Column("mode", String, nullable=False),
    Index("ix_risk_events_ts_ms", "ts_ms"),
)

CANDLE_STATS = Table(  # as migration 5 creates it; migration 8 adds `version`
    "candle_stats", META,
    Column("symbol", String, primary_key=True), Column("timeframe", String, primary_key=True),
    Column("first_ms", MS, nullable=False), Column("last_ms", MS, nullable=False),
    Column("rows", MS, nullable=False), Column("gaps", Integer, nullable=False),
    sqlite_with_rowid=False,
)

FROZEN = {t.name: t for t in (ORDERS, ORDER_EVENTS, FILLS, POSITIONS, BALANCES, RISK_EVENTS, CANDLE_STATS)}
