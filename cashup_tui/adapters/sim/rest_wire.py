"""How the simulator answers Gate REST calls: the error body and status of each label, JSON bodies
(Decimals as strings, venue objects in their Gate shape)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

_STATUS_BY_LABEL = {
    "ORDER_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "INVALID_KEY": 401,
    "INVALID_SIGNATURE": 401,
    "MISSING_REQUIRED_HEADER": 401,
    "REQUEST_EXPIRED": 403,
    "FORBIDDEN": 403,
    "TOO_MANY_REQUESTS": 429,
    "SERVER_ERROR": 500,
}


class GateHttpError(Exception):
    """An error answered as Gate does: HTTP status + `{"label", "message"}`."""

    def __init__(self, label: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{label}: {message}")
        self.label = label
        self.message = message
        self.status = status or _STATUS_BY_LABEL.get(label, 400)


def gate_error(label: str, message: str, status: int | None = None) -> web.Response:
    err = GateHttpError(label, message, status)
    return json_response({"label": err.label, "message": err.message}, status=err.status)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, default=_default, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "to_gate"):
        return o.to_gate()
    if hasattr(o, "value"):
        return o.value
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def gate_json(obj: Any) -> Any:
    """Venue objects expose `.to_gate()`; plain dicts pass through."""
    return obj.to_gate() if hasattr(obj, "to_gate") else obj
