"""Identifiers. `ClientOrderId` is ours (Gate's `text`), `VenueOrderId` is Gate's: never mixed."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NewType

from cashup_tui.domain.errors import ValidationError

ClientOrderId = NewType("ClientOrderId", str)
VenueOrderId = NewType("VenueOrderId", str)  # Gate ids exceed 2**53: kept as text, never float
TradeId = NewType("TradeId", str)

_CLIENT_ID_RE = re.compile(r"t-[0-9A-Za-z_.\-]{1,28}")  # fullmatch: `$` would let a trailing newline by
_BODY_RE = re.compile(r"[^0-9A-Za-z_.\-]")
CLIENT_ID_MAX_BODY = 28


def validate_client_id(value: str) -> ClientOrderId:
    """Gate's rule for `text`: `t-` then 1..28 of `[0-9A-Za-z_.-]`."""
    if not isinstance(value, str) or not _CLIENT_ID_RE.fullmatch(value):
        raise ValidationError(
            f"client order id {value!r} is not valid for Gate",
            hint="it must start with 't-' followed by 1 to 28 characters from [0-9A-Za-z_.-]",
        )
    return ClientOrderId(value)


def make_client_id(prefix: str, counter: int, *, session: str = "") -> ClientOrderId:
    """Deterministic, restart-safe ids: `t-<prefix><session>-<counter base36>`.

    `session` should differ per process start (e.g. a base36 start time) so that a
    restarted counter never repeats an id; the caller persists and restores `counter`.
    Valid by construction (a sanitised body cut to fit, a base36 suffix), so Gate's rule is only
    re-checked for a suffix that cannot fit: every order of a backtest comes through here.
    """
    suffix = _base36(counter)
    n = len(suffix)
    if n > CLIENT_ID_MAX_BODY - 1:
        return validate_client_id(f"t-{suffix}")
    body = _body(prefix, session)[: CLIENT_ID_MAX_BODY - n - 1]
    return ClientOrderId(f"t-{body}-{suffix}" if body else f"t-{suffix}")


@lru_cache(maxsize=64)
def _body(prefix: str, session: str) -> str:
    """The id's fixed part with every character Gate refuses removed (one per order manager)."""
    return _BODY_RE.sub("", f"{prefix}{session}")


_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PAIRS36 = [a + b for a in _DIGITS36 for b in _DIGITS36]  # "00".."zz": two digits per step


def _base36(n: int) -> str:
    if n < 0:
        raise ValueError("counter must be >= 0")
    if n < 36:
        return _DIGITS36[n]
    out = ""
    while n >= 1296:
        n, r = divmod(n, 1296)
        out = _PAIRS36[r] + out
    return (_DIGITS36[n] if n < 36 else _PAIRS36[n]) + out
