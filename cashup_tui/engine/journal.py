"""`MemoryJournal`: the `domain.ports.Journal` port in memory.

Why: the engine must not depend on how the store lays out its tables. The runtime hands the
engine a store-backed journal (`cashup_tui/store/journal.py`); tests, restart simulations, the
event backtest and `demo --no-store` use this one, which keeps the same contract (see the port).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, MutableSequence
from typing import Any

from cashup_tui.domain.account import Balance
from cashup_tui.domain.orders import Fill, Order, OrderEvent
from cashup_tui.domain.positions import Position


class MemoryJournal:
    """In-process journal with the store's semantics (used by tests and by `demo --no-store`)."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.journal: MutableSequence[tuple[str, OrderEvent]] = []  # a bounded deque in WindowJournal
        self.fills: dict[str, Fill] = {}
        self.positions: dict[str, Position] = {}
        self.balances: dict[str, Balance] = {}
        self.risk_events: list[tuple[int, str, str, str, dict[str, Any]]] = []
        self.audit_log: list[tuple[int, str, str, str]] = []
        self.kv: dict[str, Any] = {}
        self.commits = 0

    def save_order(self, order: Order, *, event: OrderEvent | None = None, relaxed: bool = False) -> None:
        self.orders[order.client_id] = order
        if event is not None:
            self.journal.append((order.client_id, event))
        self.commits += 1

    def save_orders(self, items: list[tuple[Order, OrderEvent]]) -> list[Order]:
        """Many order rows and their journal lines in one commit (a cancel-all answer)."""
        for order, event in items:
            self.orders[order.client_id] = order
            self.journal.append((order.client_id, event))
        self.commits += 1
        return [order for order, _ in items]

    def get_order(self, client_id: str) -> Order | None:
        return self.orders.get(client_id)

    def load_orders(self, *, open_only: bool = False, limit: int = 1000) -> list[Order]:
        """As the store: every open order plus the `limit` most recently added, oldest first."""
        rows = list(self.orders.values())
        out = [o for o in rows if o.is_open] if open_only else [
            o for i, o in enumerate(rows) if o.is_open or i >= len(rows) - limit]
        return sorted(out, key=lambda o: (o.created_ms, o.client_id))

    def events(self, client_id: str | None = None) -> list[tuple[str, OrderEvent]]:
        return [(c, e) for c, e in self.journal if client_id is None or c == client_id]

    def save_fill(self, fill: Fill) -> bool:
        if fill.trade_id in self.fills:
            return False
        self.fills[fill.trade_id] = fill
        self.commits += 1
        return True

    def has_fill(self, trade_id: str) -> bool:
        return trade_id in self.fills

    def record_fill(self, fill: Fill, *, order: Order | None, event: OrderEvent | None, position: Position,
                    balance: Balance) -> bool:
        """Fill + order row + journal line + position + wallet as ONE commit; False for a duplicate."""
        if fill.trade_id in self.fills:
            return False
        self.fills[fill.trade_id] = fill
        if order is not None:
            self.orders[order.client_id] = order
            if event is not None:
                self.journal.append((order.client_id, event))
        self.positions[position.symbol] = position.snapshot()
        self.balances[balance.currency] = balance
        self.commits += 1
        return True

    def load_fills(self, since_ms: int | None = None) -> list[Fill]:
        return sorted((f for f in self.fills.values() if since_ms is None or f.ts_ms >= since_ms),
                      key=lambda f: (f.ts_ms, f.trade_id))

    def strategy_fills(self, strategy: str, symbol: str) -> list[Fill]:
        mine = {cid for cid, o in self.orders.items() if o.strategy == strategy}
        return [f for f in self.load_fills() if f.client_id in mine and f.symbol == symbol]

    def fills_after(self, cursor: int, limit: int | None = None) -> tuple[list[Fill], int]:
        """The cursor counts the fills held, in the order added (a journal that forgets its oldest fills,
        `WindowJournal`, is not read this way)."""
        fills = list(self.fills.values())[cursor:None if limit is None else cursor + limit]
        return fills, cursor + len(fills)

    def order_strategies(self, client_ids: Iterable[str]) -> dict[str, str]:
        return {c: o.strategy for c in client_ids if (o := self.orders.get(c)) is not None and o.strategy}

    def last_fill_ms(self) -> int | None:
        return max((f.ts_ms for f in self.fills.values()), default=None)

    def save_positions(self, positions: list[Position], *, state: tuple[str, Any] | None = None) -> None:
        for p in positions:
            self.positions[p.symbol] = p.snapshot()
        if state is not None:
            self.kv_set(*state)

    def load_positions(self) -> list[Position]:
        return [p.snapshot() for p in self.positions.values()]

    def save_balances(self, balances: list[Balance]) -> None:
        for b in balances:
            self.balances[b.currency] = b

    def load_balances(self) -> list[Balance]:
        return list(self.balances.values())

    def record_risk_event(self, ts_ms: int, kind: str, rule: str, message: str, numbers: dict[str, Any]) -> None:
        self.risk_events.append((ts_ms, kind, rule, message, dict(numbers)))

    def audit(self, ts_ms: int, actor: str, action: str, detail: str) -> None:
        self.audit_log.append((ts_ms, actor, action, detail))

    def kv_get(self, key: str) -> Any | None:
        return copy.deepcopy(self.kv.get(key))

    def kv_set(self, key: str, value: Any) -> None:
        # immutable values need no deep copy (the order id counter is set once per order)
        self.kv[key] = value if value is None or type(value) in (int, str, float, bool) else copy.deepcopy(value)
