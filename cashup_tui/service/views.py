"""What the workstation shows and asks for: plain read models and the node interface.

The app never talks to adapters: it reads these views from a `WorkstationNode` (built by
`cashup_tui.runtime`) on a timer, and sends every user action through the node, which runs the
risk gate and the order manager. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from cashup_tui.domain.enums import Mode, OrderType, Side, TimeInForce, TradingState
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.margin import MarginMode, PositionMargin
from cashup_tui.domain.market import Bar, BookSnapshot, Ticker, Trade
from cashup_tui.domain.orders import Order
from cashup_tui.domain.ports import StreamHealth
from cashup_tui.domain.positions import Position
from cashup_tui.service.funding import FundingView
from cashup_tui.service.margin import AccountView
from cashup_tui.service.toasts import Toast


@dataclass(frozen=True, slots=True)
class HeaderStatus:
    mode: Mode
    equity: Decimal
    day_pnl: Decimal
    trading_state: TradingState
    streams: tuple[StreamHealth, ...] = ()
    latency_ms: float | None = None  # last submit -> ack
    loop_lag_ms: float = 0.0
    now_ms: int = 0
    kill_level: int = 0
    profile: str = "trader"  # viewer sessions are marked VIEW ONLY
    available: Decimal | None = None  # the venue's available margin (None: not reported yet)


@dataclass(frozen=True, slots=True)
class PositionView:
    position: Position
    mark: Decimal
    unrealized: Decimal
    roe_pct: Decimal
    liq_price: Decimal | None
    liq_distance_pct: Decimal | None
    margin: Decimal
    venue: PositionMargin | None = None  # leverage, margin mode and margin as the venue reports them


@dataclass(frozen=True, slots=True)
class StrategyView:
    id: str
    name: str
    symbol: str
    state: str  # stopped | running | paused | failed
    params: dict[str, object]
    pnl: Decimal = Decimal(0)
    trades: int = 0
    error: str = ""
    timeframe: str = ""
    size: Decimal | None = None  # USDT notional per unit of exposure (a running slot)
    legs: tuple[dict[str, Any], ...] = ()  # a portfolio slot, per symbol: target vs held weight, position, PnL


@dataclass(frozen=True, slots=True)
class LimitUsage:
    rule: str
    used: float
    limit: float
    unit: str = "USDT"

    @property
    def ratio(self) -> float:
        return 0.0 if self.limit <= 0 else min(self.used / self.limit, 9.99)


@dataclass(frozen=True, slots=True)
class StressRow:
    scenario: str
    pnl: Decimal
    margin: Decimal
    liquidated: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RiskView:
    trading_state: TradingState
    kill_level: int
    limits: tuple[LimitUsage, ...]
    exposure: tuple[tuple[str, str, Decimal], ...]  # (symbol, side, notional)
    var95: Decimal | None
    var99: Decimal | None
    stress: tuple[StressRow, ...]
    account: AccountView | None = None  # the venue's futures account (None: not reported yet)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the order ticket (or `cashup orders place`) asks for; service/commands.py turns it into
    orders through the risk gate."""

    symbol: str
    side: Side
    size: Decimal  # contracts
    order_type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    tif: TimeInForce | None = TimeInForce.GTC  # None: the order manager's default (IOC for market orders)
    reduce_only: bool = False
    post_only: bool = False
    take_profit: Decimal | None = None  # bracket legs (optional)
    stop_loss: Decimal | None = None
    trail_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TicketPreview:
    notional: Decimal
    margin: Decimal
    fees: Decimal
    liq_price: Decimal | None
    headroom: tuple[LimitUsage, ...] = ()
    denial: str = ""  # non-empty: the risk gate would refuse, and why
    leverage_label: str = ""  # the symbol's current leverage and margin mode ("10x isolated")
    available: Decimal | None = None  # margin free for a new order (equity - position margin), for quick sizes
    leverage: Decimal | None = None  # the leverage the margin above assumes
    fee_rate: Decimal = Decimal(0)  # the fee rate the fees above assume


@dataclass(frozen=True, slots=True)
class NotificationView:
    ts_ms: int
    severity: str
    title: str
    body: str
    channel: str
    delivered: bool


@dataclass(frozen=True, slots=True)
class LogLine:
    ts_ms: int
    level: str
    source: str
    message: str


@dataclass
class BacktestProgress:
    done: int = 0
    total: int = 0
    result: dict[str, object] = field(default_factory=dict)


class WorkstationNode(Protocol):
    """A running demo/paper/testnet/live node as the workstation sees it."""

    mode: Mode

    async def start(self) -> None: ...

    async def stop(self, *, disarm_dead_man: bool = True) -> None: ...

    def status(self) -> HeaderStatus: ...

    def watchlist(self) -> Sequence[str]: ...

    def instrument(self, symbol: str) -> Instrument | None: ...

    def symbols(self) -> Sequence[str]: ...

    def ticker(self, symbol: str) -> Ticker | None: ...

    def funding(self, symbol: str) -> FundingView | None: ...

    def book(self, symbol: str) -> BookSnapshot | None: ...

    def trades(self, symbol: str) -> Sequence[Trade]: ...

    def bars(self, symbol: str, timeframe: str) -> Sequence[Bar]: ...

    def open_orders(self) -> Sequence[Order]: ...

    def order_history(self, limit: int = 200) -> Sequence[Order]: ...

    def bracket_legs(self) -> dict[str, tuple[str, str]]: ...

    def positions(self) -> Sequence[PositionView]: ...

    def strategies(self) -> Sequence[StrategyView]: ...

    def risk(self) -> RiskView: ...

    def notifications(self, limit: int = 200) -> Sequence[NotificationView]: ...

    def logs(self, limit: int = 500) -> Sequence[LogLine]: ...

    async def preview(self, req: OrderRequest) -> TicketPreview: ...

    async def submit(self, req: OrderRequest) -> Order: ...

    async def cancel(self, client_id: str) -> Order: ...

    async def amend(self, client_id: str, *, price: Decimal | None = None, size: Decimal | None = None) -> Order: ...

    async def cancel_all(self, symbol: str | None = None) -> int: ...

    async def close_position(self, symbol: str, fraction: Decimal = Decimal(1)) -> Order | None: ...

    async def set_leverage(self, symbol: str, leverage: Decimal, margin: MarginMode | None = None) -> PositionMargin | None:
        """The symbol's leverage (and margin mode) at the venue; returns what the venue then reports."""
        ...

    def margin_of(self, symbol: str) -> PositionMargin | None: ...

    async def kill(self, level: int, reason: str) -> None: ...

    async def resume(self, passphrase: str | None = None) -> None: ...

    async def start_strategy(self, name: str, symbol: str, params: dict[str, object]) -> str: ...

    async def stop_strategy(self, strategy_id: str) -> None: ...

    async def pause_strategy(self, strategy_id: str) -> None: ...

    async def test_notification(self) -> bool: ...

    async def backtest(self, name: str, symbol: str, params: dict[str, object], *,
                       cash: float | None = None) -> dict[str, object]:
        """Fast backtest of `name` on recent bars of `symbol` in a worker process, at the venue's fees,
        with `cash` or else the account's equity."""
        ...

    def backtest_terms(self, symbol: str) -> dict[str, float]:
        """The cash and fees (bps) a backtest on `symbol` would use."""
        ...

    async def drift(self, strategy_id: str) -> dict[str, object]:
        """Live fills of a running strategy next to a backtest over the same bars."""
        ...

    def channels(self) -> Sequence[str]: ...

    def alert_rules(self) -> Sequence[str]: ...

    def drain_alerts(self) -> Sequence[Toast]:
        """Discrete events since the last call (service/toasts.py): one per order, critical ones marked."""
        ...
