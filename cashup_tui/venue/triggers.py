"""Price-triggered orders (Gate `price_orders`) and the dead-man switch (`countdown_cancel_all`).

Parts of `Venue` (venue.py) that act on orders only through `Matching` (place, cancel_where, flush).
Triggers fire at most once: a trigger is finished before its order is placed, so a re-entrant price
update can never place it twice.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from cashup_tui.venue.base import TRIGGER_ID_BASE, ZERO, ContractState, VenueError, check_text
from cashup_tui.venue.events import Recorder
from cashup_tui.venue.matching import Matching
from cashup_tui.venue.models import VenueEvent, VenueTrigger, dstr


class Triggers:
    """Open and finished trigger orders; checked on every last/mark price change of their contract."""

    __slots__ = ("by_id", "contracts", "done", "matching", "next_id", "rec", "user_id")

    def __init__(
        self, contracts: dict[str, ContractState], matching: Matching, rec: Recorder, user_id: int, max_history: int
    ) -> None:
        self.contracts = contracts
        self.matching = matching
        self.rec = rec
        self.user_id = user_id
        self.next_id = TRIGGER_ID_BASE
        self.by_id: dict[int, VenueTrigger] = {}  # every trigger, open and finished (`status` says which)
        self.done: deque[VenueTrigger] = deque(maxlen=max_history)

    # ------------------------------------------------------------------ trigger orders (price_orders)
    def place(
        self,
        c: ContractState,
        now: int,
        contract: str,
        sz: Decimal,
        px: Decimal,
        tp: Decimal,
        rule: int,
        price_type: int,
        tif: str,
        reduce_only: bool,
        close: bool,
        text: str,
        expiration_s: int,
    ) -> VenueTrigger:
        """Gate `POST /futures/usdt/price_orders` on a resolved contract: places the order once, when met."""
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
        self.next_id += 1
        t = VenueTrigger(
            id=self.next_id,
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
        self.by_id[t.id] = t
        c.triggers.append(t)
        self.emit(t, now)
        return t

    def emit(self, t: VenueTrigger, now: int) -> None:
        if self.rec.record:
            self.rec.events.append(VenueEvent("autoorder", now, t.snapshot()))

    def end(self, t: VenueTrigger, finish_as: str, now: int, reason: str = "") -> None:
        t.status = "finished"
        t.finish_as = finish_as
        t.finish_ms = now
        t.reason = reason
        c = self.contracts[t.contract]
        if t in c.triggers:
            c.triggers.remove(t)
        self.done.append(t)
        self.emit(t, now)

    def check(self, c: ContractState, now: int) -> None:
        """Expire, then fire, the contract's open triggers that `now` and its last/mark price meet."""
        for t in list(c.triggers):
            if t.status != "open":
                continue
            if t.expiration_s and now >= t.create_ms + t.expiration_s * 1000:
                self.end(t, "expired", now)
                continue
            px = c.last if t.price_type == 0 else c.mark
            if px is None:
                continue
            if not (px >= t.trigger_price if t.rule == 1 else px <= t.trigger_price):
                continue
            t.status = "finished"  # finished before placing: fires once, even on re-entry
            t.finish_ms = now
            c.triggers.remove(t)
            self.done.append(t)
            try:
                o = self.matching.place(
                    self.contracts[t.contract],
                    now,
                    t.contract,
                    ZERO if t.close else t.size,
                    t.price,
                    t.tif,
                    t.reduce_only and not t.close,
                    t.close,
                    t.text if t.text != "api" else "",
                    ZERO,
                )
            except VenueError as exc:
                t.finish_as = "failed"
                t.reason = f"{exc.label}: {exc.message}"
                self.emit(t, now)
                continue
            t.finish_as = "succeeded"
            t.order_id = o.id
            self.emit(t, now)

    def cancel(self, trigger_id: int | str, now: int) -> VenueTrigger:
        t = self.get(trigger_id)
        if t.status != "open":
            raise VenueError("ORDER_NOT_FOUND", f"trigger order {trigger_id} is already finished ({t.finish_as})")
        self.end(t, "cancelled", now)
        return t

    def cancel_many(self, contract: str | None, now: int) -> list[VenueTrigger]:
        out = [t for t in sorted(self.by_id.values(), key=lambda t: t.id) if t.status == "open" and (not contract or t.contract == contract)]
        for t in out:
            self.end(t, "cancelled", now)
        return out

    def get(self, trigger_id: int | str) -> VenueTrigger:
        try:
            tid = int(trigger_id)
        except (TypeError, ValueError):
            tid = -1
        t = self.by_id.get(tid)
        if t is None:
            raise VenueError("ORDER_NOT_FOUND", f"trigger order {trigger_id} not found")
        return t

    def rows(self, contract: str | None, status: str, limit: int, offset: int) -> list[VenueTrigger]:
        if status not in ("open", "finished"):
            raise VenueError("INVALID_PARAM_VALUE", f"status {status!r} must be 'open' or 'finished'")
        rows = [
            t
            for t in sorted(self.by_id.values(), key=lambda t: t.id, reverse=True)
            if (t.status == "open") == (status == "open") and (not contract or t.contract == contract)
        ]
        return rows[offset : offset + limit]


class Countdown:
    """Gate's dead-man switch: open orders (of one contract, or "" = all) are cancelled at a deadline
    unless it is pushed back in time. `next_ms` is the earliest deadline (None: disarmed), checked on
    every venue call."""

    __slots__ = ("deadlines", "matching", "next_ms")

    def __init__(self, matching: Matching) -> None:
        self.matching = matching
        self.deadlines: dict[str, int] = {}  # contract ("" = all) -> deadline ms
        self.next_ms: int | None = None

    def arm(self, timeout_s: int, now: int, contract: str) -> int:
        """0 disarms; returns the trigger time in ms (0 when disarmed)."""
        if not isinstance(timeout_s, int) or isinstance(timeout_s, bool) or timeout_s < 0:
            raise VenueError("INVALID_PARAM_VALUE", f"timeout {timeout_s!r} must be an integer number of seconds >= 0")
        if 0 < timeout_s < 5:
            raise VenueError("INVALID_PARAM_VALUE", "timeout must be 0 (disarm) or at least 5 seconds")
        if timeout_s == 0:
            self.deadlines.pop(contract, None)
            deadline = 0
        else:
            deadline = now + timeout_s * 1000
            self.deadlines[contract] = deadline
        self.next_ms = min(self.deadlines.values()) if self.deadlines else None
        return deadline

    def fire(self, now: int) -> None:
        """Cancel the orders of every deadline `now` reached."""
        expired = sorted(k for k, v in self.deadlines.items() if v <= now)
        for k in expired:
            del self.deadlines[k]
        self.next_ms = min(self.deadlines.values()) if self.deadlines else None
        m = self.matching
        for k in expired:
            m.cancel_where(k or None, None, "cancelled", now)
        m.flush(now)
