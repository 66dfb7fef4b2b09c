"""Parameter checks shared by the simulator's REST handlers (Gate's rule for `text`)."""

from __future__ import annotations


def valid_text(text: str) -> bool:
    """Gate's rule for a client order id: `t-` then 1..28 of [0-9A-Za-z_.-]."""
    if not text.startswith("t-"):
        return False
    body = text[2:]
    return 0 < len(body) <= 28 and all(c.isascii() and (c.isalnum() or c in "_.-") for c in body)
