"""What each kill-switch level does at the venue: every level does all the one below does, and more.

  1 stop entries  REDUCING (no new order that opens or adds to a position); resting entry orders (neither
                  reduce-only nor reducing the position) are cancelled at the venue. Exits stay:
                  reduce-only orders, protective stops and take-profits, orders that reduce a position.
  2 reduce only   level 1, and every resting order not flagged reduce-only is cancelled too (an unflagged
                  exit or stop opens a new position if the position shrinks first): what stays at the
                  venue can only reduce.
  3 flatten       level 2, and the reduce-only orders too (cancel all), then every position is closed.
  4 halt          level 3, then HALTED: nothing new is sent, not even a reduce-only order.

Why strictly growing: a trader escalating one step must never get back an order or a position a lower
level had already removed. The risk engine decides and records the level (engine/risk.py); this module
carries out its actions through the order manager. Rules (stale feed, error rate: 1; daily loss,
drawdown: 2) only escalate.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.orders import Order

if TYPE_CHECKING:
    from cashup_tui.engine.order_manager import OrderManager

log = logging.getLogger("cashup.engine.kill")

HALT = 4
FLATTEN = 3


def kept(om: OrderManager, level: int, order: Order) -> bool:
    """Does `order` stay resting under kill `level` (1 or 2)?"""
    if order.reduce_only:
        return True
    return level == 1 and om.risk._reduces(order, count_working=False)


async def cancel_for(om: OrderManager, level: int, reason: str) -> list[Order]:
    """Cancel what `level` removes, one by one for levels 1-2 (the venue's cancel-all would take the exits)."""
    if level >= FLATTEN:
        return await om.cancel_all(reason=reason)
    out: list[Order] = []
    for o in om.cache.open_orders():
        if kept(om, level, o):
            continue
        try:
            out.append(await om.cancel(o.client_id, reason=reason))
        except CashupError as exc:
            log.error("kill %d: cancel %s failed: %s", level, o.client_id, exc)
    return out


async def kill(om: OrderManager, level: int, reason: str, *, source: str) -> list[str]:
    """Record `level` and carry out its actions. Level 4 flattens under level 3 (a HALTED gate would
    refuse the closing orders) and halts once they are sent."""
    om.risk.set_kill_level(min(level, FLATTEN), reason, source=source)
    done = await actions(om, level, reason)
    if level == HALT:
        om.risk.set_kill_level(HALT, reason, source=source)
    return done


async def actions(om: OrderManager, level: int, reason: str) -> list[str]:
    """The venue actions of `level` (also run when a rule escalates)."""
    done = [f"cancelled {o.client_id}" for o in await cancel_for(om, level, f"kill {level}: {reason}")]
    if level >= FLATTEN:
        done += [f"flatten {o.client_id} {o.status.value}" for o in await om.flatten_all()]
    return done
