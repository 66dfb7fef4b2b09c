"""SQLModel `*Row` tables: the persistent shape of CashUp's data.

Money and sizes are `DecimalText` (exact); candle prices are REAL (market data, bulk,
never summed into an account). Timestamps are integer epoch milliseconds (UTC).
Venue ids (orders, trades) are TEXT: Gate's ids exceed 2**53.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from cashup_tui.store.types import MS, DecimalText, JsonText

DEFAULT_ACCOUNT = "default"  # the account of rows written before schema v3, and of an unnamed account


def _ms(*default: Any, nullable: bool = False) -> Any:
    """An epoch-milliseconds column: 64-bit on every backend."""
    return Field(*default, sa_type=MS, nullable=nullable)


def _account() -> Any:
    """The venue account a row belongs to (schema v3): two accounts can share one database."""
    return Field(default=DEFAULT_ACCOUNT, nullable=False, sa_column_kwargs={"server_default": DEFAULT_ACCOUNT})


def _dec(default: Decimal | None = None, *, nullable: bool = False) -> Any:
    return Field(default=default, sa_type=DecimalText, nullable=nullable)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=JsonText, nullable=nullable)


class SchemaVersionRow(SQLModel, table=True):
    __tablename__ = "schema_version"
    version: int = Field(primary_key=True)
    description: str = ""
    applied_ms: int = _ms(0)


class InstrumentRow(SQLModel, table=True):
    __tablename__ = "instruments"
    symbol: str = Field(primary_key=True)
    quanto_multiplier: Decimal = _dec()
    price_tick: Decimal = _dec()
    size_step: Decimal = _dec()
    min_size: Decimal = _dec()
    max_size: Decimal = _dec()
    leverage_min: Decimal = _dec()
    leverage_max: Decimal = _dec()
    maintenance_rate: Decimal = _dec()
    maker_fee_rate: Decimal = _dec()
    taker_fee_rate: Decimal = _dec()
    price_deviate: Decimal = _dec()
    orders_limit: int = 100
    funding_interval_s: int = 28_800
    settle: str = "usdt"
    in_delisting: bool = False
    updated_ms: int = _ms(0)


class CandleRow(SQLModel, table=True):
    """OHLCV bars keyed by (symbol, timeframe, open_ms). Mark-price series use Gate's `mark_<SYMBOL>` name."""

    __tablename__ = "candles"
    __table_args__ = {"sqlite_with_rowid": False}
    symbol: str = Field(primary_key=True)
    timeframe: str = Field(primary_key=True)
    open_ms: int = Field(primary_key=True, sa_type=MS)
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (Index("ux_orders_account_mode_client", "account", "mode", "client_id", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    account: str = _account()
    client_id: str  # looked up with account and mode: the unique index serves it (v8 dropped a plain one)
    venue_order_id: str | None = Field(default=None, index=True)
    symbol: str = Field(index=True)
    side: str
    order_type: str
    size: Decimal = _dec()
    price: Decimal | None = _dec(nullable=True)
    tif: str = "gtc"
    reduce_only: bool = False
    trigger_price: Decimal | None = _dec(nullable=True)
    status: str = Field(index=True)
    filled: Decimal = _dec(Decimal(0))
    avg_fill_price: Decimal = _dec(Decimal(0))
    fees: Decimal = _dec(Decimal(0))
    created_ms: int = _ms(0)
    updated_ms: int = _ms(0)
    strategy: str = ""
    reason: str = ""
    mode: str = ""
    trade_ids: Any = _json()  # sorted list of venue trade ids applied to this order
    # bumped by every compare-and-set write (store/order_cas.py); added by migration 4 (the server default
    # lets migration 3's SQLite rebuild copy old rows into the current shape)
    version: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})


class OrderEventRow(SQLModel, table=True):
    """The append-only order journal (UPDATE/DELETE refused by triggers on SQLite)."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_client_seq", "client_id", "seq"),)
    seq: int | None = Field(default=None, primary_key=True)
    client_id: str
    kind: str
    ts_ms: int = _ms(nullable=False)
    venue_order_id: str | None = None
    trade_id: str | None = None
    fill: Any = _json()  # the Fill as a JSON object (Decimal as strings) for FILLED events
    reason: str = ""
    new_price: Decimal | None = _dec(nullable=True)
    new_size: Decimal | None = _dec(nullable=True)
    mode: str = ""
    recorded_ms: int = _ms(0)
    account: str = _account()  # added by v3 (ALTER TABLE ADD COLUMN: last)


class FillRow(SQLModel, table=True):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("account", "mode", "trade_id", name="uq_fills_account_mode_trade"),)
    id: int | None = Field(default=None, primary_key=True)
    account: str = _account()
    trade_id: str
    client_id: str = Field(index=True)
    venue_order_id: str | None = None
    symbol: str = Field(index=True)
    side: str
    size: Decimal = _dec()
    price: Decimal = _dec()
    fee: Decimal = _dec(Decimal(0))
    ts_ms: int = _ms(0)
    liquidity: str = "taker"
    mode: str = ""


class PositionRow(SQLModel, table=True):
    __tablename__ = "positions"
    account: str = Field(default=DEFAULT_ACCOUNT, primary_key=True,
                         sa_column_kwargs={"server_default": DEFAULT_ACCOUNT})
    mode: str = Field(default="", primary_key=True)
    symbol: str = Field(primary_key=True)
    quanto_multiplier: Decimal = _dec(Decimal(1))
    size: Decimal = _dec(Decimal(0))
    entry_price: Decimal = _dec(Decimal(0))
    realized_pnl: Decimal = _dec(Decimal(0))
    fees: Decimal = _dec(Decimal(0))
    funding: Decimal = _dec(Decimal(0))
    leverage: Decimal = _dec(Decimal(1))
    updated_ms: int = _ms(0)


class BalanceRow(SQLModel, table=True):
    __tablename__ = "balances"
    account: str = Field(default=DEFAULT_ACCOUNT, primary_key=True,
                         sa_column_kwargs={"server_default": DEFAULT_ACCOUNT})
    mode: str = Field(default="", primary_key=True)
    currency: str = Field(primary_key=True)
    total: Decimal = _dec()
    available: Decimal = _dec()
    ts_ms: int = _ms(0)


class BacktestRunRow(SQLModel, table=True):
    __tablename__ = "backtest_runs"
    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(index=True)  # hash of strategy code + params + data + settings
    strategy: str
    symbol: str
    timeframe: str
    engine: str = "fast"
    params: Any = _json()
    metrics: Any = _json()
    status: str = "running"  # running | done | failed
    error: str = ""
    data_start_ms: int = _ms(0)
    data_end_ms: int = _ms(0)
    started_ms: int = _ms(0)
    finished_ms: int = _ms(0)
    cash: Decimal = _dec(Decimal(0))


class BacktestTradeRow(SQLModel, table=True):
    __tablename__ = "backtest_trades"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("backtest_runs.id", ondelete="CASCADE"), index=True))
    symbol: str
    side: str
    size: Decimal = _dec()
    entry_ms: int = _ms(nullable=False)
    entry_price: Decimal = _dec()
    exit_ms: int | None = _ms(None, nullable=True)
    exit_price: Decimal | None = _dec(nullable=True)
    pnl: Decimal = _dec(Decimal(0))
    fees: Decimal = _dec(Decimal(0))
    reason: str = ""


class BacktestEquityRow(SQLModel, table=True):
    """Equity curve points (REAL: an analytics series, thousands of points per run)."""

    __tablename__ = "backtest_equity"
    __table_args__ = {"sqlite_with_rowid": False}
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("backtest_runs.id", ondelete="CASCADE"), primary_key=True))
    ts_ms: int = Field(primary_key=True, sa_type=MS)
    equity: float
    drawdown: float = 0.0


class NotificationRow(SQLModel, table=True):
    __tablename__ = "notifications"
    id: int | None = Field(default=None, primary_key=True)
    ts_ms: int = Field(index=True, sa_type=MS)
    severity: str = "info"
    title: str = ""
    body: str = ""
    channel: str = ""
    status: str = "sent"  # sent | failed | suppressed | queued
    error: str = ""


class RiskEventRow(SQLModel, table=True):
    __tablename__ = "risk_events"
    id: int | None = Field(default=None, primary_key=True)
    ts_ms: int = Field(index=True, sa_type=MS)
    rule: str
    message: str = ""
    state: str = ""
    numbers: Any = _json()
    mode: str = ""
    account: str = _account()  # added by v3 (ALTER TABLE ADD COLUMN: last)


class AuditRow(SQLModel, table=True):
    """Who did what: every state-changing user action (order, cancel, kill, resume, key change)."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    ts_ms: int = Field(index=True, sa_type=MS)
    actor: str
    action: str
    details: Any = _json()


# ---- schema v2 --------------------------------------------------------------------------------


class StateRow(SQLModel, table=True):
    """Key-value state that must survive restarts (trading state, client-id counters)."""

    __tablename__ = "state"
    key: str = Field(primary_key=True)
    value: str = ""
    updated_ms: int = _ms(0)


class OptTrialRow(SQLModel, table=True):
    """One optimisation trial; unique by (study, params_hash) so a resumed sweep skips finished ones."""

    __tablename__ = "opt_trials"
    __table_args__ = (UniqueConstraint("study", "params_hash", name="uq_opt_trials_study_params"),)
    id: int | None = Field(default=None, primary_key=True)
    study: str = Field(index=True)
    params_hash: str
    params: Any = _json()
    run_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("backtest_runs.id", ondelete="SET NULL"), nullable=True)
    )
    objective: float | None = None
    metrics: Any = _json()
    status: str = "done"  # done | failed
    error: str = ""
    created_ms: int = _ms(0)


class FundingRow(SQLModel, table=True):
    """Funding-rate history (settlement time, exact rate), imported from funding CSVs or fetched."""

    __tablename__ = "funding_rates"
    __table_args__ = {"sqlite_with_rowid": False}
    symbol: str = Field(primary_key=True)
    ts_ms: int = Field(primary_key=True, sa_type=MS)
    rate: Decimal = _dec()


class CandleStatsRow(SQLModel, table=True):
    """Per-series span, row count and holes (schema v5), so `data list` need not scan the candles.
    Derived data: `store.candle_stats` rewrites a series' row in the transaction that changes its
    candles, tagged with the series version that write produced (v8), and rebuilds rows it finds missing
    or not at the current version; never the only copy of anything."""

    __tablename__ = "candle_stats"
    __table_args__ = {"sqlite_with_rowid": False}
    symbol: str = Field(primary_key=True)
    timeframe: str = Field(primary_key=True)
    first_ms: int = _ms()
    last_ms: int = _ms()
    rows: int = Field(sa_type=MS)
    gaps: int
    version: int | None = Field(default=None, sa_type=MS, nullable=True)  # its series' candle_versions version (v8)


class CandleVersionRow(SQLModel, table=True):
    """Per-series version of the candles (schema v7): a random token that triggers on `candles` replace in
    the transaction of every write to the series (store.candle_versions), so the derived column cache
    (store.candle_cache) knows exactly when its copy is stale."""

    __tablename__ = "candle_versions"
    __table_args__ = {"sqlite_with_rowid": False}
    symbol: str = Field(primary_key=True)
    timeframe: str = Field(primary_key=True)
    version: int = Field(sa_type=MS)


V1_TABLES = (
    SchemaVersionRow, InstrumentRow, CandleRow, OrderRow, OrderEventRow, FillRow, PositionRow, BalanceRow,
    BacktestRunRow, BacktestTradeRow, BacktestEquityRow, NotificationRow, RiskEventRow, AuditRow,
)
V2_TABLES = (StateRow, OptTrialRow, FundingRow)
V5_TABLES = (CandleStatsRow,)
V7_TABLES = (CandleVersionRow,)
