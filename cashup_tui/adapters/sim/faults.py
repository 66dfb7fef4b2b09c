"""Fault-injection switches of the simulator, flipped by `cashup sim serve --fault NAME=VALUE` or at run
time through the admin endpoint `POST /_sim/faults`.

The switches are plain data; the code that honours them lives with the protocol it breaks (ws.py for
stream faults, rest.py for HTTP faults). Random draws use a seeded RNG so a run is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any

from cashup_tui.domain.errors import ValidationError

# switch name -> one-line help (shown by `cashup sim serve --help` and in error messages)
FAULT_HELP: dict[str, str] = {
    "drop_after_s": "close every WS connection N seconds after it opens (0 = never)",
    "drop_mode": "how drops happen: 'close' (close frame 1000) or 'abort' (abrupt TCP drop, no close frame)",
    "upgrade_after_s": "push a futures.system upgrade notice N seconds after each WS connection opens (0 = never)",
    "gap_every": "skip a sequence id in futures.order_book_update every N updates per contract (0 = off)",
    "duplicate_every": "re-send the previous order_book_update every N updates (0 = off)",
    "reorder_every": "swap two consecutive order_book_update frames every N updates (0 = off)",
    "stale": "stop pushing market data but keep sockets open and answer pings (true/false)",
    "ack_delay_ms": "REST and WS API: delay the response to order placement/cancel/amend by N ms (order still acts)",
    "ack_loss_rate": "REST: probability 0..1 that an order ack is never sent (the order IS placed)",
    "lose_next_acks": "REST and WS API: lose the next N order acks (deterministic form of ack_loss_rate)",
    "lose_next_requests": "REST and WS API: the next N order requests (place/amend/cancel) vanish BEFORE the venue: connection dropped, nothing done",
    "hold_next_placements": "REST: the next N order placements are held (the client gets no answer and times out), "
    "then applied hold_placement_s later (or at the 'release' action): an order that arrives late",
    "hold_placement_s": "REST: how long a held placement waits before it reaches the venue (X-Gate-Exptime still applies)",
    "http_5xx_rate": "REST: probability 0..1 of answering 502 instead of serving",
    "http_429_rate": "REST: probability 0..1 of answering 429 TOO_MANY_REQUESTS",
    "http_5xx_next": "REST: answer the next N requests with 502",
    "http_429_next": "REST: answer the next N requests with 429",
    "clock_skew_ms": "shift the server clock by N ms (frames' time/time_ms, REST timestamps, auth windows)",
    "private_delay_ms": "WS: push the private channels' frames (orders, fills, positions, balances) N ms late, in order",
}

ACTIONS_HELP: dict[str, str] = {
    "drop": "drop all WS connections now; body {'action':'drop','mode':'close'|'abort'}",
    "upgrade": "push a futures.system upgrade notice to every WS connection now",
    "reset": "turn every switch off",
    "release": "apply every held placement now (see hold_next_placements)",
    "funding": "settle funding at the next tick instead of at the interval; body {'action':'funding','symbol':'BTC_USDT'}",
}


@dataclass
class Faults:
    """Switch values; defaults = a healthy venue."""

    drop_after_s: float = 0.0
    drop_mode: str = "close"
    upgrade_after_s: float = 0.0
    gap_every: int = 0
    duplicate_every: int = 0
    reorder_every: int = 0
    stale: bool = False
    ack_delay_ms: int = 0
    ack_loss_rate: float = 0.0
    lose_next_acks: int = 0
    lose_next_requests: int = 0
    hold_next_placements: int = 0
    hold_placement_s: float = 30.0
    http_5xx_rate: float = 0.0
    http_429_rate: float = 0.0
    http_5xx_next: int = 0
    http_429_next: int = 0
    clock_skew_ms: int = 0
    private_delay_ms: int = 0
    seed: int = 7
    _rng: random.Random = field(default_factory=lambda: random.Random(7), repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # -- setting -----------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Set one switch from a typed value or its string form; ValidationError names the switch."""
        if name not in FAULT_HELP:
            known = ", ".join(sorted(FAULT_HELP))
            raise ValidationError(f"unknown fault switch {name!r}", hint=f"known switches: {known}")
        current = getattr(self, name)
        try:
            new = _coerce(value, type(current))
        except ValueError:
            raise ValidationError(
                f"fault {name}: bad value {value!r} (expected {type(current).__name__})", hint=FAULT_HELP[name]
            ) from None
        if name == "drop_mode" and new not in ("close", "abort"):
            raise ValidationError(f"fault drop_mode: {new!r} is not 'close' or 'abort'", hint=FAULT_HELP[name])
        if name.endswith("_rate") and not 0.0 <= new <= 1.0:
            raise ValidationError(f"fault {name}: {new} is not a probability in [0, 1]", hint=FAULT_HELP[name])
        if isinstance(new, int | float) and not isinstance(new, bool) and new < 0 and name != "clock_skew_ms":
            raise ValidationError(f"fault {name}: {new} must not be negative", hint=FAULT_HELP[name])
        setattr(self, name, new)

    def apply_pairs(self, pairs: list[str]) -> None:
        """Apply CLI `NAME=VALUE` strings."""
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep:
                raise ValidationError(
                    f"--fault {pair!r}: expected NAME=VALUE", hint="e.g. --fault gap_every=50 --fault stale=true"
                )
            self.set(name.strip(), value.strip())

    def reset(self) -> None:
        for f in fields(self):
            if f.name in FAULT_HELP:
                setattr(self, f.name, getattr(Faults(), f.name))

    def snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FAULT_HELP}

    # -- draws used by rest.py ------------------------------------------------------------------
    def http_error(self) -> int | None:
        """HTTP status to answer instead of serving (502 or 429), or None. Consumes one `*_next` count."""
        if self.http_5xx_next > 0:
            self.http_5xx_next -= 1
            return 502
        if self.http_429_next > 0:
            self.http_429_next -= 1
            return 429
        if self.http_5xx_rate and self._rng.random() < self.http_5xx_rate:
            return 502
        if self.http_429_rate and self._rng.random() < self.http_429_rate:
            return 429
        return None

    def lose_ack(self) -> bool:
        """True if this order ack must never be sent (the order is still placed/cancelled)."""
        if self.lose_next_acks > 0:
            self.lose_next_acks -= 1
            return True
        return bool(self.ack_loss_rate) and self._rng.random() < self.ack_loss_rate

    def hold_placement(self) -> bool:
        """True if this order placement must be held back and applied late (consumes one count)."""
        if self.hold_next_placements > 0:
            self.hold_next_placements -= 1
            return True
        return False

    def lose_request(self) -> bool:
        """True if this order request must be dropped before it reaches the venue (the "timed out and
        was NOT placed" case; server.py's middleware aborts the connection before any route runs)."""
        if self.lose_next_requests > 0:
            self.lose_next_requests -= 1
            return True
        return False


def _coerce(value: Any, typ: type) -> Any:
    if typ is bool:
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if typ is int:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(str(value).strip()) if not isinstance(value, int | float) else int(value)
    if typ is float:
        if isinstance(value, bool):
            raise ValueError(value)
        out = float(value)
        if out != out or out in (float("inf"), float("-inf")):
            raise ValueError(value)
        return out
    return str(value)
