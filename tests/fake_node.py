"""A scripted in-memory WorkstationNode for pane-rendering tests (layout only).

Flows (ticket -> order -> fill -> position) are tested against the real demo node; this fake
only feeds deterministic read models so the panes can be checked in isolation.
"""

from __future__ import annotations

import math
from decimal import Decimal

from cashup_tui.domain.enums import Mode, OrderStatus, Side, TradingState
from cashup_tui.domain.errors import RiskDenied
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, BookLevel, BookSnapshot, Ticker, Trade
from cashup_tui.domain.orders import Order
from cashup_tui.domain.positions import Position
from cashup_tui.service.views import (
    HeaderStatus,
    LimitUsage,
    OrderRequest,
    PositionView,
    RiskView,
    StrategyView,
    StreamHealth,
    StressRow,
    TicketPreview,
)

D = Decimal
T0 = 1_763_942_400_000  # 2025-11-24 00:00 UTC, fixed


class FakeNode:
    mode = Mode.DEMO

    def __init__(self) -> None:
        self.step = 0
        self.orders: list[Order] = []
        self.killed = 0
        self.state = TradingState.ACTIVE
        self.inst = {
            "BTC_USDT": Instrument("BTC_USDT", D("0.0001"), D("0.1")),
            "ETH_USDT": Instrument("ETH_USDT", D("0.01"), D("0.01")),
        }
        self.alerts: list[tuple[str, str]] = []

    async def start(self) -> None: ...

    async def stop(self, *, disarm_dead_man: bool = True) -> None: ...

    def _mid(self, sym: str) -> float:
        base = 30000.0 if sym == "BTC_USDT" else 2000.0
        return base * (1 + 0.001 * math.sin(self.step / 3))

    def status(self) -> HeaderStatus:
        return HeaderStatus(Mode.DEMO, D("100000"), D("12.5"), self.state,
                            (StreamHealth("ws", True, 120, 42.0, 0),), 1.2, 0.0, T0 + self.step * 1000, self.killed)

    def watchlist(self): return ["BTC_USDT", "ETH_USDT"]
    def symbols(self): return list(self.inst)
    def instrument(self, s): return self.inst.get(s)

    def ticker(self, s):
        return Ticker(s, T0, self._mid(s), self._mid(s), self._mid(s), 1.25, 1.2e9, 0, 0, 0.0001, 12345)

    def book(self, s):
        mid = D(str(round(self._mid(s), 1)))
        tick = self.inst[s].price_tick
        bids = tuple(BookLevel(mid - tick * (i + 1), D(10 + i * 3)) for i in range(20))
        asks = tuple(BookLevel(mid + tick * (i + 1), D(12 + i * 2)) for i in range(20))
        return BookSnapshot(s, T0, self.step, bids, asks, True)

    def trades(self, s):
        return [Trade(s, T0 + i * 1000, i, self._mid(s), (5 if i % 3 else -40000)) for i in range(30)]

    def bars(self, s, tf):
        out = []
        for i in range(120):
            o = self._mid(s) * (1 + 0.01 * math.sin(i / 7))
            c = o * (1 + 0.002 * math.cos(i / 3))
            out.append(Bar(s, tf, T0 + i * 60000, o, max(o, c) * 1.001, min(o, c) * 0.999, c, 100))
        return out

    def open_orders(self): return [o for o in self.orders if o.is_open]
    def order_history(self, limit=200): return [o for o in self.orders if not o.is_open][-limit:]

    def positions(self):
        p = Position("BTC_USDT", D("0.0001"), D("100"), D("29900"), leverage=D("5"))
        return [PositionView(p, D("30000"), D("1"), D("0.83"), D("24000"), D("20"), D("598"))]

    def strategies(self):
        return [StrategyView("s1", "sma_cross", "BTC_USDT", "stopped", {"fast": 10, "slow": 30})]

    def risk(self):
        return RiskView(self.state, self.killed, (LimitUsage("max order notional", 3000, 50000),
                        LimitUsage("daily loss", 1800, 2000)), (("BTC_USDT", "long", D("3000")),),
                        D("150"), D("260"), (StressRow("all -10%", D("-300"), D("600"), ()),))

    def notifications(self, limit=200): return []
    def logs(self, limit=500): return []
    def channels(self): return []
    def alert_rules(self): return []
    def drain_alerts(self):
        out, self.alerts = self.alerts, []
        return out

    async def preview(self, req: OrderRequest) -> TicketPreview:
        notional = req.size * D("0.0001") * (req.price or D(30000))
        denial = "max order notional: 60000 > 50000" if notional > 50000 else ""
        return TicketPreview(notional, notional / 5, notional * D("0.0005"), None, (), denial)

    async def submit(self, req: OrderRequest) -> Order:
        p = await self.preview(req)
        if p.denial:
            raise RiskDenied("max_order_notional", p.denial)
        o = Order(ClientOrderId(f"t-fake-{len(self.orders)}"), req.symbol, req.side, req.size, req.order_type,
                  req.price, req.tif, status=OrderStatus.OPEN)
        self.orders.append(o)
        return o

    async def cancel(self, cid):
        for i, o in enumerate(self.orders):
            if o.client_id == cid:
                self.orders[i] = Order(o.client_id, o.symbol, o.side, o.size, o.order_type, o.price,
                                       status=OrderStatus.CANCELLED)
                return self.orders[i]
        raise KeyError(cid)

    async def amend(self, cid, *, price=None, size=None): raise NotImplementedError
    async def cancel_all(self, symbol=None): return 0
    async def close_position(self, symbol, fraction=D(1)): return None

    async def kill(self, level, reason):
        self.killed = level
        self.state = TradingState.HALTED if level >= 3 else TradingState.REDUCING

    async def resume(self, passphrase=None):
        self.killed = 0
        self.state = TradingState.ACTIVE

    async def start_strategy(self, name, symbol, params): return "s1"
    async def stop_strategy(self, sid): ...
    async def pause_strategy(self, sid): ...
    async def test_notification(self): return True


_ = Side
