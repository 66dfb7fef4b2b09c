"""How CashUp configures an unmodified ccxt `gate` instance: where it sends requests, and per-call headers."""

from __future__ import annotations

import time
from typing import Any

from cashup_tui.domain.errors import ValidationError

HEADERS_PARAM = "__cashup_headers"  # params key read by add_header_hook: extra request headers, not sent as params


def expiring(params: dict[str, Any], expiry_ms: int) -> dict[str, Any]:
    """`params` plus Gate's `X-Gate-Exptime` header (ms epoch) `expiry_ms` from now: Gate refuses the
    request if it arrives later, so a delayed placement can never act after the client gave up."""
    return {**params, HEADERS_PARAM: {"X-Gate-Exptime": str(time.time_ns() // 1_000_000 + expiry_ms)}}


def add_header_hook(exchange: Any) -> None:
    """Let one call carry extra HTTP headers: `params[HEADERS_PARAM] = {...}` is taken out of the params
    before ccxt signs them and added to the headers it returns. ccxt's gate `sign()` takes no headers,
    and the exchange-wide `headers` would leak into concurrent requests. (Gate does not sign them.)"""
    sign = exchange.sign

    def sign_with_headers(path: str, api: Any = "public", method: str = "GET", params: Any = None) -> dict[str, Any]:
        extra = None
        if isinstance(params, dict) and HEADERS_PARAM in params:
            params = dict(params)
            extra = params.pop(HEADERS_PARAM)
        request: dict[str, Any] = sign(path, api, method, {} if params is None else params)
        if extra:
            request["headers"] = {**(request.get("headers") or {}), **extra}
        return request

    exchange.sign = sign_with_headers


def point_ccxt_at(exchange: Any, base_url: str) -> None:
    """Point every `urls['api']` entry (public/private x spot/futures/delivery/...) at one base URL.

    ccxt builds `url = urls['api'][public|private][family] + '/' + family + path`, so one base such
    as `http://127.0.0.1:PORT/api/v4` serves every family. Also replaces the 'test' map so a later
    `set_sandbox_mode(True)` cannot silently send requests elsewhere.
    """
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValidationError(
            f"REST URL {base_url!r} is not an http(s) URL",
            hint="e.g. https://api.gateio.ws/api/v4 or the simulator's http://127.0.0.1:PORT/api/v4",
        )
    for table in ("api", "test"):
        urls = exchange.urls.get(table)
        if not isinstance(urls, dict):
            continue
        for access in urls.values():
            if isinstance(access, dict):
                for family in list(access):
                    access[family] = base
