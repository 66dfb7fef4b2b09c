"""Identifiers. `ClientOrderId` is ours (Gate's `text`), `VenueOrderId` is Gate's: never mixed."""

from __future__ import annotations

import os
import re
import time
from functools import lru_cache
from typing import NewType

from cashup_tui.domain.errors import ValidationError

ClientOrderId = NewType("ClientOrderId", str)
VenueOrderId = NewType("VenueOrderId", str)  # Gate ids exceed 2**53: kept as text, never float
TradeId = NewType("TradeId", str)

_CLIENT_ID_RE = re.compile(r"t-[0-9A-Za-z_.\-]{1,28}")  # fullmatch: `$` would let a trailing newline by
_BODY_RE = re.compile(r"[^0-9A-Za-z_.\-]")
CLIENT_ID_MAX_BODY = 28


class ClientIdTaken(ValidationError):
    """A new order's client id is already in the store (another process, or a reused --client-id):
    nothing is sent for it. `existing` is the stored order when known."""

    def __init__(self, client_id: str, existing: object = None) -> None:
        super().__init__(f"client id {client_id} is already in the store", hint="nothing new was sent")
        self.client_id = client_id
        self.existing = existing


def validate_client_id(value: str) -> ClientOrderId:
    """Gate's rule for `text`: `t-` then 1..28 of `[0-9A-Za-z_.-]`."""
    if not isinstance(value, str) or not _CLIENT_ID_RE.fullmatch(value):
        raise ValidationError(
            f"client order id {value!r} is not valid for Gate",
            hint="it must start with 't-' followed by 1 to 28 characters from [0-9A-Za-z_.-]",
        )
    return ClientOrderId(value)


SESSION_RANDOM = 4  # base36 characters of randomness per process: 36**4 = 1.7M namespaces per start second
SESSION_LEN = 6 + SESSION_RANDOM
CLIENT_ID_PREFIX = "t-"


def new_session(now_s: float | None = None, entropy: bytes | None = None) -> str:
    """A per-process id namespace: base36 start second (6) + base36 randomness (4).

    The start second alone collided when two processes started in the same second (issue 14):
    the random part separates them; the store's unique client-id index is the final arbiter
    (a write-ahead insert of an id that exists is refused, never overwritten).
    """
    t = _base36(int(time.time() if now_s is None else now_s))[-6:].rjust(6, "0")
    r = int.from_bytes(os.urandom(4) if entropy is None else entropy, "big") % 36**SESSION_RANDOM
    return t + _base36(r).rjust(SESSION_RANDOM, "0")


_OURS_TAIL_RE = re.compile(rf"^[0-9a-z]{{1,{SESSION_LEN}}}-[0-9a-z]+$")


def is_ours(text: str | None, prefix: str) -> bool:
    """True when `text` is a client id `make_client_id(prefix, ...)` produced, in any session, old
    (`t-<prefix><start second>-<n>`) or new (`t-<prefix><start second><random>-<n>`) layout.

    `prefix` is the order manager's id prefix (the mode's first letter in a node); ids a user
    chose (`--client-id t-mine`) are not ours unless they happen to follow the same layout.
    """
    if not text or not text.startswith(CLIENT_ID_PREFIX):
        return False
    body = _body(prefix, "")
    rest = text[len(CLIENT_ID_PREFIX):]
    if not rest.startswith(body):
        return False
    return bool(_OURS_TAIL_RE.match(rest[len(body):]))


def make_client_id(prefix: str, counter: int, *, session: str = "") -> ClientOrderId:
    """Deterministic, restart-safe ids: `t-<prefix><session>-<counter base36>`.

    `session` must differ per process (`new_session()`), so two processes on one store, or a
    restarted counter, never repeat an id; the caller persists and restores `counter`.
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
