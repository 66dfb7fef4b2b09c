"""The quit question: what is still open when the user presses q, by count and symbol."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from cashup_tui.domain.orders import Order
from cashup_tui.service.views import PositionView, StrategyView

SHOWN = 4  # names listed before "+N more"


def _names(items: Sequence[str]) -> str:
    more = len(items) - SHOWN
    return ", ".join(items[:SHOWN]) + (f", +{more} more" if more > 0 else "")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def quit_question(strategies: Sequence[StrategyView], positions: Sequence[PositionView],
                  orders: Sequence[Order]) -> str | None:
    """None when nothing runs or is open; else the question naming each kind with its count and symbols.
    Quitting stops strategies; it never cancels an order or closes a position, and the question says so."""
    running = [v.id for v in strategies if v.state == "running"]
    held = [v.position for v in positions if not v.position.is_flat]
    resting = [o for o in orders if o.is_open]
    if not (running or held or resting):
        return None
    parts = []
    if running:
        parts.append(f"{_count(len(running), 'strategy is', 'strategies are')} running ({_names(running)})")
    if held:
        names = [f"{p.symbol} {'long' if p.size > 0 else 'short'} {abs(p.size):f}" for p in held]
        parts.append(f"{_count(len(held), 'position is', 'positions are')} open ({_names(names)})")
    if resting:
        by_symbol = Counter(o.symbol for o in resting)
        names = [s if n == 1 else f"{s} x{n}" for s, n in sorted(by_symbol.items())]
        parts.append(f"{_count(len(resting), 'order is', 'orders are')} open ({_names(names)})")
    stop = "Strategies stop; open" if running else "Open"
    return (f"{'; '.join(parts)}. Quit? {stop} orders and positions stay at the venue "
            "(nothing is cancelled or closed).")
