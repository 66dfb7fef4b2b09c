"""What the workstation shows as toasts: one per order (its fills summed), critical ones marked.

Why: a kill-3 flatten filled in many pieces and made a dozen toasts over the Risk pane. Fills are summed
per order between two drains (the app's timer), and a toast carries a key (the order's client id): a
later fill of the same order replaces that order's toast instead of adding one, and two toasts with one
key in the same drain become one. Critical toasts (rejections and denials, the kill switch and risk
trips, liquidation distance, a failed strategy) stay on screen until read in the notification centre.
No textual here: app/toasts.py shows them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from cashup_tui.domain.orders import Fill

ZERO = Decimal(0)
MAX_PENDING = 100  # toasts kept between two drains (a stalled app must not grow this without bound)
MAX_ORDERS = 500  # orders whose running fill totals are remembered (for a later fill's replacement toast)


@dataclass(frozen=True, slots=True)
class Toast:
    severity: str  # information | warning | error
    text: str
    key: str = ""  # a toast with the same key replaces the one shown
    critical: bool = False  # stays until read in the notification centre


@dataclass(slots=True)
class _Filled:
    side: str
    symbol: str
    size: Decimal = ZERO
    notional: Decimal = ZERO  # sum of size * price: the average price
    fees: Decimal = ZERO
    fills: int = 0


class ToastFeed:
    """Collects the toasts of one workstation between two `drain` calls."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, Toast | None] = OrderedDict()  # key -> toast (None: an order's fills)
        self._filled: OrderedDict[str, _Filled] = OrderedDict()
        self._seq = 0

    def add(self, severity: str, text: str, *, key: str = "", critical: bool = False) -> None:
        if not key:
            self._seq += 1
            key = f"#{self._seq}"
        old = self._pending.pop(key, None)
        if old is not None:  # one key, one toast: the newer text after the older one
            text = f"{old.text}; {text}"
            critical = critical or old.critical
            severity = max(old.severity, severity, key=SEVERITY_RANK.__getitem__)
        self._pending[key] = Toast(severity, text, key, critical)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def fill(self, f: Fill) -> None:
        """One venue fill: summed into its order's toast."""
        cid = f.client_id or f.venue_order_id or f.trade_id
        key = f"order:{cid}"
        s = self._filled.get(cid)
        if s is None:
            s = self._filled[cid] = _Filled(f.side.value.upper(), f.symbol)
            while len(self._filled) > MAX_ORDERS:
                self._filled.popitem(last=False)
        s.size += f.size
        s.notional += f.size * f.price
        s.fees += f.fee
        s.fills += 1
        if key not in self._pending:
            self._pending[key] = None

    def drain(self) -> list[Toast]:
        out: list[Toast] = []
        for key, toast in self._pending.items():
            if toast is None:
                cid = key.removeprefix("order:")
                s = self._filled.get(cid)
                if s is None:
                    continue
                avg = (s.notional / s.size) if s.size else ZERO
                pieces = f", {s.fills} fills" if s.fills > 1 else ""
                toast = Toast("information", f"FILL {s.side} {s.size} {s.symbol} @ {avg:.8g} ({cid}{pieces})", key)
            out.append(toast)
        self._pending.clear()
        return out


SEVERITY_RANK = {"information": 0, "warning": 1, "error": 2}
