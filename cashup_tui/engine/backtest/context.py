"""What a strategy holds during an event backtest: its context (orders go through the engine's
order manager) and the live strategy runner wired to that context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cashup_tui.domain.errors import CashupError
from cashup_tui.engine.runner import Slot, StrategyRunner

if TYPE_CHECKING:
    from cashup_tui.engine.backtest.event import EventEngine


class BacktestRunner(StrategyRunner):
    """The live strategy runner (slot, lifecycle, budget, the hook guard that halts a failing strategy
    with file:line) with the backtest's context instead of `LiveContext`."""

    def __init__(self, engine: EventEngine, *args: Any) -> None:
        self.engine = engine
        super().__init__(*args)

    def make_context(self, slot: Slot) -> Any:
        return self.engine.ctx


class BacktestContext:
    """`StrategyContext` of the event backtest: orders go through the order manager."""

    def __init__(self, eng: EventEngine) -> None:
        self._e = eng
        self.symbol = eng.sym

    @property
    def position(self) -> float:
        return self._e.units

    @property
    def equity(self) -> float:
        e = self._e
        return float(e.pf.equity())

    @property
    def allow_short(self) -> bool:
        return self._e.cfg.allow_short

    def target(self, exposure: float) -> None:
        e = self._e
        v = 1 if exposure > 0 else -1 if exposure < 0 else 0
        if v < 0 and not e.cfg.allow_short:
            v = 0
        e.desired = v
        e.targeting = True
        if v != 0:
            e.blocked = False

    def buy(self, qty: float, price: float | None = None, tag: str = "") -> str:
        return self._e.order(abs(qty), price, tag)

    def sell(self, qty: float, price: float | None = None, tag: str = "") -> str:
        return self._e.order(-abs(qty), price, tag)

    def cancel(self, order_id: str) -> None:
        e = self._e
        try:
            e.om.cancel_now(order_id, reason=f"{e.s.label()}: cancel")
        except CashupError as exc:
            e.refused("cancel refused", exc)
        e.after_orders()

    def cancel_all(self) -> None:
        for o in self.open_orders():
            self.cancel(o.client_id)

    def open_orders(self) -> list[Any]:
        return self._e.cache.open_orders(self._e.sym)

    def log(self, message: str) -> None:
        self._e.logs.append((self._e.clock.now_ms(), message))
