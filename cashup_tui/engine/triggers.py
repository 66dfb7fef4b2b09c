"""Trigger emulation and brackets for the order manager (split out of order_manager.py).

Why here: stop-market/stop-limit/take-profit orders are held locally and fired on the mark price
when the venue does not hold them (`emulate_triggers`: paper, demo); trailing stops and brackets
(entry + stop + take-profit, one cancels the other) are always managed here. The held triggers and
brackets are journalled (key-value state) so a restart keeps them.

A fired trigger's child is written ahead: its intent (client id and fields) is journalled before the
parent is marked triggered, and the send runs in a task of its own that a stopping engine loop does not
cancel (the node's shutdown waits for it). Until the venue has the child, the intent stays: after a
restart an unsent child is sent once with its client id, one that may have been sent is looked up by
client id, and only one the venue can no longer receive (REJECTED "never reached the venue", decided
after its placement deadline) is replaced by a new child. A parent with an intent never fires again.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cashup_tui.domain.enums import ORDER_TYPE, SIDE
from cashup_tui.domain.errors import CashupError, RiskDenied, ValidationError
from cashup_tui.domain.order_merge import NEVER_REACHED
from cashup_tui.domain.orders import EVENT_KIND, STATUS, Fill, Order, OrderEvent

if TYPE_CHECKING:
    from cashup_tui.engine.order_manager import OrderManager

log = logging.getLogger("cashup.engine.orders")

TRIGGERS_KEY = "orders.local_triggers"
BRACKETS_KEY = "orders.brackets"
CHILDREN_KEY = "orders.trigger_children"
RETRY_RULES = ("reconciling", "stale_data", "duplicate")  # a denial that passes: keep the intent, retry
RETRY_MS = 5_000  # an owed child (in doubt, or denied for now) is tried again at most this often


LEG_NAMES = {"stop": "SL", "take_profit": "TP"}


def bracket_legs(brackets: dict[str, dict[str, Any]] | None) -> dict[str, tuple[str, str]]:
    """Leg client id -> (entry client id, "SL" | "TP"), from the journalled brackets: a leg is linked to
    its entry by id when it is armed, so an unrelated reduce-only order is never taken for a leg."""
    out: dict[str, tuple[str, str]] = {}
    for entry, b in (brackets or {}).items():
        for key, name in LEG_NAMES.items():
            if b.get(key):
                out[b[key]] = (entry, name)
    return out


class TriggerEmulator:
    """The locally held triggers and brackets of one OrderManager (it sends through the manager)."""

    def __init__(self, om: OrderManager) -> None:
        self.om = om
        self.triggers: dict[str, dict[str, Any]] = dict(om.journal.kv_get(TRIGGERS_KEY) or {})
        self.brackets: dict[str, dict[str, Any]] = dict(om.journal.kv_get(BRACKETS_KEY) or {})
        # parent client id -> the child it fired (written ahead; dropped once the venue has the child)
        self.children: dict[str, dict[str, Any]] = dict(om.journal.kv_get(CHILDREN_KEY) or {})
        self._delivering: dict[str, asyncio.Task[Order | None]] = {}
        self._retry_at: dict[str, int] = {}  # parent id -> clock ms of the next try of an owed child

    def holds(self, client_id: str) -> bool:
        """A trigger held here (not at the venue)."""
        return client_id in self.triggers

    def release(self, client_id: str) -> None:
        """Forget a held trigger (cancelled locally)."""
        self.triggers.pop(client_id, None)
        self.save_triggers()

    def arm(self, order: Order) -> Order:
        order = self.om._apply(order, OrderEvent(EVENT_KIND.ACCEPTED, self.om.clock.now_ms(), reason="armed locally"))
        mark = self.om.cache.mark(order.symbol)
        spec: dict[str, Any] = {"symbol": order.symbol}
        if order.order_type is ORDER_TYPE.TRAILING_STOP:
            offset = order.trigger_price  # trailing distance in price units
            spec.update(offset=str(offset), extreme=str(mark) if mark is not None else None)
        self.triggers[order.client_id] = spec
        self.save_triggers()
        return self.om.cache.order(order.client_id) or order

    def save_triggers(self) -> None:
        self.om.journal.kv_set(TRIGGERS_KEY, self.triggers)

    def save_brackets(self) -> None:
        self.om.journal.kv_set(BRACKETS_KEY, self.brackets)

    @staticmethod
    def fires(order: Order, mark: Decimal, spec: dict[str, Any]) -> bool:
        if order.order_type is ORDER_TYPE.TRAILING_STOP:
            offset = Decimal(spec["offset"])
            extreme = Decimal(spec["extreme"]) if spec.get("extreme") else mark
            if order.side is SIDE.SELL:  # protects a long: follow the high
                extreme = max(extreme, mark)
                spec["extreme"] = str(extreme)
                return mark <= extreme - offset
            extreme = min(extreme, mark)
            spec["extreme"] = str(extreme)
            return mark >= extreme + offset
        trig = order.trigger_price
        if trig is None:
            return False
        stop = order.order_type in (ORDER_TYPE.STOP_MARKET, ORDER_TYPE.STOP_LIMIT)
        if order.side is SIDE.SELL:
            return mark <= trig if stop else mark >= trig
        return mark >= trig if stop else mark <= trig

    async def on_mark(self, symbol: str, mark: Decimal) -> list[Order]:
        """Fire the held triggers of `symbol` that `mark` crosses, and deliver children still owed
        (after a restart or a denial that passes). Returns the child orders sent."""
        fired: list[Order] = []
        now = self.om.clock.now_ms()
        for pid, intent in list(self.children.items()):  # owed from before: settled in the background
            if intent.get("symbol") == symbol and pid not in self._delivering and now >= self._retry_at.get(pid, 0):
                self._retry_at[pid] = now + RETRY_MS
                self._start(pid)
        changed = False
        for cid, spec in list(self.triggers.items()):
            if spec.get("symbol") != symbol:
                continue
            order = self.om.cache.order(cid)
            if order is None or order.status.is_terminal or cid in self.children:
                if order is not None and not order.status.is_terminal:  # fired, then the process died
                    self.om._apply(order, OrderEvent(EVENT_KIND.CANCELLED, self.om.clock.now_ms(),
                                                     reason=f"triggered -> {self.children[cid]['child']}"))
                self.triggers.pop(cid, None)
                changed = True
                continue
            before = dict(spec)
            if not self.fires(order, mark, spec):
                changed = changed or before != spec
                continue
            self.triggers.pop(cid, None)
            changed = True
            child = await self._fire(order, mark)
            if child is not None:
                fired.append(child)
        if changed:
            self.save_triggers()
        return fired

    async def _fire(self, parent: Order, mark: Decimal) -> Order | None:
        limit = parent.order_type is ORDER_TYPE.STOP_LIMIT or (
            parent.order_type is ORDER_TYPE.TAKE_PROFIT and parent.price is not None)
        child = self.om.build(parent.symbol, parent.side, parent.remaining,
                              order_type=ORDER_TYPE.LIMIT if limit else ORDER_TYPE.MARKET,
                              price=parent.price if limit else None, reduce_only=parent.reduce_only,
                              strategy=parent.strategy)
        self.children[parent.client_id] = {  # write-ahead: the intent before the parent is marked triggered
            "symbol": child.symbol, "child": child.client_id, "side": child.side.value, "size": str(child.size),
            "type": child.order_type.value, "price": None if child.price is None else str(child.price),
            "reduce_only": child.reduce_only, "strategy": child.strategy, "replaced": []}
        self.save_children()
        self.om._apply(parent, OrderEvent(EVENT_KIND.CANCELLED, self.om.clock.now_ms(), reason=f"triggered at {mark} -> {child.client_id}"))
        for bid, b in self.brackets.items():  # OCO: a fired leg cancels its sibling
            legs = (b.get("stop"), b.get("take_profit"))
            if parent.client_id in legs:
                for other in legs:
                    if other and other != parent.client_id:
                        await self.om.cancel(other, reason=f"OCO with {parent.client_id}")
                b["done"] = True
                log.info("bracket %s closed by %s", bid, parent.client_id)
        self.save_brackets()
        return await self._deliver(parent.client_id)

    def save_children(self) -> None:
        self.om.journal.kv_set(CHILDREN_KEY, self.children)

    async def _deliver(self, pid: str) -> Order | None:
        """Send the child owed by `pid` and wait for it; cancelling the caller (the engine loop
        stopping) does not cancel the send (`_start`)."""
        return await asyncio.shield(self._start(pid))

    def _start(self, pid: str) -> asyncio.Task[Order | None]:
        """Send (or settle) the child owed by `pid` in a task of its own, one at a time per trigger;
        `OrderManager.idle` (and so the node's shutdown) waits for it."""
        task = self._delivering.get(pid)
        if task is None:
            task = self._delivering[pid] = asyncio.get_running_loop().create_task(self._send_child(pid))
            self.om._bg.add(task)
            task.add_done_callback(lambda t: self._delivered(pid, t))
        return task

    def _delivered(self, pid: str, task: asyncio.Task[Order | None]) -> None:
        self.om._bg.discard(task)
        self._delivering.pop(pid, None)

    async def _send_child(self, pid: str) -> Order | None:
        om = self.om
        intent = self.children.get(pid)
        if intent is None:
            return None
        for _ in range(2):  # once more when the lookup just found that the venue never received it
            cid = intent["child"]
            known = om.cache.order(cid) or om.journal.get_order(cid)
            if known is not None and known.status is STATUS.REJECTED and known.reason == NEVER_REACHED:
                # past its placement deadline the venue cannot receive it any more: a new child, written ahead
                intent["replaced"] = [*intent.get("replaced", []), cid]
                intent["child"] = cid = om.new_client_id()
                self.save_children()
                log.warning("trigger %s: child %s never reached the venue; sending %s", pid, known.client_id, cid)
                known = None
            if om.risk.reconciling:
                return None  # reconciliation settles what the venue has first; the next mark delivers
            child = known or om.build(intent["symbol"], intent["side"], Decimal(intent["size"]),
                                      order_type=intent["type"], reduce_only=bool(intent["reduce_only"]),
                                      price=None if intent["price"] is None else Decimal(intent["price"]),
                                      client_id=cid, strategy=intent["strategy"])
            try:
                sent: Order | None = (await om.submit(child)).order
            except RiskDenied as exc:
                if exc.rule in RETRY_RULES:
                    log.warning("child %s of trigger %s denied for now (%s): retried on the next mark", cid, pid, exc)
                    return None
                log.error("triggered %s denied by risk: %s", pid, exc)
                sent = None
            except CashupError as exc:  # refused by the venue: definitive, journalled by the order manager
                log.error("child %s of trigger %s refused: %s", cid, pid, exc)
                sent = None
            if sent is not None and sent.status in (STATUS.SUBMITTING, STATUS.UNKNOWN):
                return sent  # in doubt: looked up again on the next mark, never re-sent
            if sent is None or sent.status is not STATUS.REJECTED or sent.reason != NEVER_REACHED:
                break
        self.children.pop(pid, None)
        self.save_children()
        return sent

    def check_bracket(self, entry: Order, *, stop_price: Decimal, take_profit_price: Decimal) -> None:
        """The exits' tick and price band (the risk gate's `check_price`) and their side of the entry;
        run before the entry goes out, and by the ticket's preview (inside `RiskEngine.preview`)."""
        for name, px in (("stop_price", stop_price), ("take_profit_price", take_profit_price)):
            self.om.risk.check_price(entry.symbol, name, px)
        ref = entry.price or self.om.cache.mark(entry.symbol)
        if ref is not None:
            wrong = (stop_price >= ref or take_profit_price <= ref) if entry.side is SIDE.BUY else (
                stop_price <= ref or take_profit_price >= ref)
            if wrong:
                raise ValidationError(
                    f"bracket around {ref}: stop {stop_price} / take-profit {take_profit_price} are on the wrong side",
                    hint="a long needs stop < price < take-profit; a short the reverse")

    async def bracket(self, entry: Order, *, stop_price: Decimal, take_profit_price: Decimal) -> Order:
        """Entry + stop + take-profit; the exits are armed (reduce-only) when the entry fills,
        sized to what filled, and one cancels the other."""
        if entry.client_id not in self.brackets and self.om.cache.order(entry.client_id) is None:
            # the exits are checked BEFORE the entry goes out: never an unprotected entry
            self.check_bracket(entry, stop_price=stop_price, take_profit_price=take_profit_price)
        result = await self.om.submit(entry)
        if result.existed:
            return result.order
        self.brackets[entry.client_id] = {"stop_price": str(stop_price), "tp_price": str(take_profit_price),
                                          "armed": "0", "stop": None, "take_profit": None}
        self.save_brackets()
        order = self.om.cache.order(entry.client_id) or result.order
        await self.maybe_arm_bracket(order)
        return self.om.cache.order(entry.client_id) or order

    async def maybe_arm_bracket(self, entry: Order) -> None:
        b = self.brackets.get(entry.client_id)
        if not b or b.get("done") or entry.filled <= Decimal(b.get("armed", "0")):
            return
        qty = entry.filled
        exit_side = entry.side.opposite
        for key, typ, px in (("stop", ORDER_TYPE.STOP_MARKET, b["stop_price"]),
                             ("take_profit", ORDER_TYPE.TAKE_PROFIT, b["tp_price"])):
            old = b.get(key)
            if old:
                old_order = self.om.cache.order(old)
                if old_order is not None and not old_order.status.is_terminal:
                    await self.om.amend(old, size=qty)
                    continue
            leg = self.om.build(entry.symbol, exit_side, qty, order_type=typ, trigger_price=Decimal(px),
                                reduce_only=True, strategy=entry.strategy)
            b[key] = leg.client_id
            self.save_brackets()
            await self.om.submit(leg)
        b["armed"] = str(qty)
        self.save_brackets()

    def after_order_change(self, order: Order, fill: Fill | None = None) -> None:
        if order.client_id in self.brackets and fill is not None:
            self.om._spawn(self.maybe_arm_bracket(order))
        for b in self.brackets.values():  # a bracket leg filled at the venue: cancel its sibling
            if b.get("done"):
                continue
            legs = (b.get("stop"), b.get("take_profit"))
            if order.client_id in legs and order.status is STATUS.FILLED:
                b["done"] = True
                self.save_brackets()
                for other in legs:
                    if other and other != order.client_id:
                        self.om._spawn(self.om.cancel(other, reason=f"OCO with {order.client_id}"))
