"""Price-triggered orders (Gate `price_orders`) and the dead-man switch (`countdown_cancel_all`).

A mixin of `Venue` (venue.py), kept apart because it only talks to the core through `place`,
`_cancel_where`, `_flush` and the shared state below. Triggers fire at most once: a trigger is finished
before its order is placed, so a re-entrant price update can never place it twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from cashup_tui.venue.base import ContractState, VenueError, check_text, to_dec
from cashup_tui.venue.models import VenueEvent, VenueOrder, VenueTrigger, dstr


class TriggerOrders:
    """Trigger orders and countdown cancel; state is created by `Venue.__init__`."""

    if TYPE_CHECKING:
        user_id: int
        _c: dict[str, ContractState]
        _record: bool
        _events: list[VenueEvent]
        _next_trigger: int
        _triggers: dict[int, VenueTrigger]
        _triggers_done: deque[VenueTrigger]
        _countdowns: dict[str, int]
        _countdown_min: int | None
        _stamp: Callable[[int | None], int]
        _contract: Callable[[str], ContractState]
        place: Callable[..., VenueOrder]
        _cancel_where: Callable[[str | None, str | None, str, int], list[VenueOrder]]
        _flush: Callable[[int], None]

    # ------------------------------------------------------------------ trigger orders (price_orders)
    def place_trigger(
        self,
        contract: str,
        size: Decimal | int | str,
        price: Decimal | int | str,
        trigger_price: Decimal | int | str,
        *,
        rule: int,
        price_type: int = 0,
        tif: str = "gtc",
        reduce_only: bool = False,
        close: bool = False,
        text: str = "",
        expiration_s: int = 0,
        ts_ms: int | None = None,
    ) -> VenueTrigger:
        """Gate `POST /futures/usdt/price_orders`: places the order once, when the trigger rule is met."""
        c = self._contract(contract)
        now = self._stamp(ts_ms)
        sz = to_dec(size, "size")
        px = to_dec(price, "price")
        tp = to_dec(trigger_price, "trigger price")
        tif = (tif or "gtc").lower()
        if rule not in (1, 2):
            raise VenueError("INVALID_PARAM_VALUE", f"trigger rule {rule!r} must be 1 (>=) or 2 (<=)")
        if price_type not in (0, 1, 2):
            raise VenueError("INVALID_PARAM_VALUE", f"price_type {price_type!r} must be 0 (last), 1 (mark) or 2 (index)")
        if tp <= 0 or not c.inst.is_price_on_tick(tp):
            raise VenueError("INVALID_PARAM_VALUE", f"trigger price {dstr(tp)} must be > 0 and on the tick {dstr(c.inst.price_tick)}")
        if tif not in ("gtc", "ioc"):
            raise VenueError("INVALID_PARAM_VALUE", "trigger orders take tif gtc or ioc")
        if px < 0 or (px == 0 and tif != "ioc"):
            raise VenueError("INVALID_PARAM_VALUE", "a market trigger order (price 0) needs tif ioc")
        if px > 0 and not c.inst.is_price_on_tick(px):
            raise VenueError("INVALID_PARAM_VALUE", f"price {dstr(px)} is not a multiple of the tick {dstr(c.inst.price_tick)}")
        if close and sz != 0:
            raise VenueError("INVALID_PARAM_VALUE", "size must be 0 when close is true")
        if not close and (sz == 0 or not c.inst.is_size_on_step(abs(sz))):
            raise VenueError("INVALID_PARAM_VALUE", f"size {dstr(sz)} must be a non-zero multiple of {dstr(c.inst.size_step)}")
        if expiration_s < 0:
            raise VenueError("INVALID_PARAM_VALUE", "expiration must be >= 0 seconds")
        ref = c.last if price_type == 0 else c.mark
        if ref is not None:  # Gate refuses a trigger that is already met
            if rule == 1 and tp <= ref:
                raise VenueError(
                    "AUTO_TRIGGER_PRICE_LESS_LAST", f"trigger price {dstr(tp)} must be above the current {dstr(ref)}"
                )
            if rule == 2 and tp >= ref:
                raise VenueError(
                    "AUTO_TRIGGER_PRICE_GREATE_LAST", f"trigger price {dstr(tp)} must be below the current {dstr(ref)}"
                )
        self._next_trigger += 1
        t = VenueTrigger(
            id=self._next_trigger,
            user=self.user_id,
            contract=contract,
            size=sz,
            price=px,
            tif=tif,
            text=check_text(text),
            reduce_only=reduce_only or close,
            close=close,
            trigger_price=tp,
            rule=rule,
            price_type=price_type,
            expiration_s=expiration_s,
            create_ms=now,
        )
        self._triggers[t.id] = t
        c.triggers.append(t)
        self._emit_trigger(t, now)
        return t

    def _emit_trigger(self, t: VenueTrigger, now: int) -> None:
        if self._record:
            self._events.append(VenueEvent("autoorder", now, t.snapshot()))

    def _end_trigger(self, t: VenueTrigger, finish_as: str, now: int, reason: str = "") -> None:
        t.status = "finished"
        t.finish_as = finish_as
        t.finish_ms = now
        t.reason = reason
        c = self._c[t.contract]
        if t in c.triggers:
            c.triggers.remove(t)
        self._triggers_done.append(t)
        self._emit_trigger(t, now)

    def _check_triggers(self, c: ContractState, now: int) -> None:
        for t in list(c.triggers):
            if t.status != "open":
                continue
            if t.expiration_s and now >= t.create_ms + t.expiration_s * 1000:
                self._end_trigger(t, "expired", now)
                continue
            px = c.last if t.price_type == 0 else c.mark
            if px is None:
                continue
            if not (px >= t.trigger_price if t.rule == 1 else px <= t.trigger_price):
                continue
            t.status = "finished"  # finished before placing: fires once, even on re-entry
            t.finish_ms = now
            c.triggers.remove(t)
            self._triggers_done.append(t)
            try:
                o = self.place(
                    t.contract,
                    0 if t.close else t.size,
                    t.price,
                    tif=t.tif,
                    reduce_only=t.reduce_only and not t.close,
                    close=t.close,
                    text=t.text if t.text != "api" else "",
                    ts_ms=now,
                )
            except VenueError as exc:
                t.finish_as = "failed"
                t.reason = f"{exc.label}: {exc.message}"
                self._emit_trigger(t, now)
                continue
            t.finish_as = "succeeded"
            t.order_id = o.id
            self._emit_trigger(t, now)

    def cancel_trigger(self, trigger_id: int | str, *, ts_ms: int | None = None) -> VenueTrigger:
        """Gate `DELETE /futures/usdt/price_orders/{id}`."""
        now = self._stamp(ts_ms)
        t = self.get_trigger(trigger_id)
        if t.status != "open":
            raise VenueError("ORDER_NOT_FOUND", f"trigger order {trigger_id} is already finished ({t.finish_as})")
        self._end_trigger(t, "cancelled", now)
        return t

    def cancel_triggers(self, contract: str | None = None, *, ts_ms: int | None = None) -> list[VenueTrigger]:
        """Gate `DELETE /futures/usdt/price_orders?contract=`."""
        now = self._stamp(ts_ms)
        if contract:
            self._contract(contract)
        out = [t for t in sorted(self._triggers.values(), key=lambda t: t.id) if t.status == "open" and (not contract or t.contract == contract)]
        for t in out:
            self._end_trigger(t, "cancelled", now)
        return out

    def get_trigger(self, trigger_id: int | str) -> VenueTrigger:
        try:
            tid = int(trigger_id)
        except (TypeError, ValueError):
            tid = -1
        t = self._triggers.get(tid)
        if t is None:
            raise VenueError("ORDER_NOT_FOUND", f"trigger order {trigger_id} not found")
        return t

    def list_triggers(
        self, contract: str | None = None, status: str = "open", *, limit: int = 100, offset: int = 0
    ) -> list[VenueTrigger]:
        """Gate `GET /futures/usdt/price_orders?status=open|finished`, newest first."""
        if status not in ("open", "finished"):
            raise VenueError("INVALID_PARAM_VALUE", f"status {status!r} must be 'open' or 'finished'")
        rows = [
            t
            for t in sorted(self._triggers.values(), key=lambda t: t.id, reverse=True)
            if (t.status == "open") == (status == "open") and (not contract or t.contract == contract)
        ]
        return rows[offset : offset + limit]

    # ------------------------------------------------------------------ dead-man switch
    def countdown_cancel_all(self, timeout_s: int, now_ms: int | None = None, *, contract: str = "") -> int:
        """Gate `POST /futures/usdt/countdown_cancel_all`: cancel open orders (of `contract`, or all) unless
        called again within `timeout_s`. 0 disarms. Returns the trigger time in ms (0 when disarmed)."""
        now = self._stamp(now_ms)
        if contract:
            self._contract(contract)
        if not isinstance(timeout_s, int) or isinstance(timeout_s, bool) or timeout_s < 0:
            raise VenueError("INVALID_PARAM_VALUE", f"timeout {timeout_s!r} must be an integer number of seconds >= 0")
        if 0 < timeout_s < 5:
            raise VenueError("INVALID_PARAM_VALUE", "timeout must be 0 (disarm) or at least 5 seconds")
        if timeout_s == 0:
            self._countdowns.pop(contract, None)
            deadline = 0
        else:
            deadline = now + timeout_s * 1000
            self._countdowns[contract] = deadline
        self._countdown_min = min(self._countdowns.values()) if self._countdowns else None
        return deadline

    def _fire_countdowns(self, now: int) -> None:
        expired = sorted(k for k, v in self._countdowns.items() if v <= now)
        for k in expired:
            del self._countdowns[k]
        self._countdown_min = min(self._countdowns.values()) if self._countdowns else None
        for k in expired:
            self._cancel_where(k or None, None, "cancelled", now)
        self._flush(now)
