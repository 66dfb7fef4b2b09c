"""Parameter parsing shared by the simulator's REST handlers (Gate's rules for numbers and `text`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def param_dec(value: Any, default: Decimal | None = Decimal(0)) -> Decimal | None:
    """A finite Decimal from Gate's str/int/float forms, else `default` (booleans are not numbers)."""
    if value is None or value == "" or isinstance(value, bool):
        return default
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return default
    return out if out.is_finite() else default


def valid_text(text: str) -> bool:
    """Gate's rule for a client order id: `t-` then 1..28 of [0-9A-Za-z_.-]."""
    if not text.startswith("t-"):
        return False
    body = text[2:]
    return 0 < len(body) <= 28 and all(c.isascii() and (c.isalnum() or c in "_.-") for c in body)
