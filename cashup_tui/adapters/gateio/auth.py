"""Gate.io v4 signing (HMAC-SHA512), for our client and for the simulator's verification.

WS:   SIGN = hex(HMAC_SHA512(secret, f"channel={channel}&event={event}&time={time}"))
API:  SIGN = hex(HMAC_SHA512(secret, "api\\n" + channel + "\\n" + req_param_json + "\\n" + time))  (WS trading API)
REST: SIGN = hex(HMAC_SHA512(secret, METHOD\\n/api/v4+path\\nquery\\nhex(SHA512(body))\\nts))
The query is signed exactly as sent (not re-encoded) and the body bytes signed are the bytes sent.
"""

from __future__ import annotations

import hashlib
import hmac

EMPTY_BODY_HASH = hashlib.sha512(b"").hexdigest()


def ws_sign(secret: str, channel: str, event: str, time_s: int) -> str:
    msg = f"channel={channel}&event={event}&time={time_s}"
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha512).hexdigest()


def ws_auth_block(api_key: str, secret: str, channel: str, event: str, time_s: int) -> dict[str, str]:
    return {"method": "api_key", "KEY": api_key, "SIGN": ws_sign(secret, channel, event, time_s)}


def rest_sign(secret: str, method: str, path: str, query: str, body: str | bytes, ts: str) -> str:
    """`path` includes the `/api/v4` prefix; `query` is the raw query string ('' if none)."""
    raw = body.encode() if isinstance(body, str) else body
    hashed = hashlib.sha512(raw).hexdigest()
    msg = f"{method.upper()}\n{path}\n{query}\n{hashed}\n{ts}"
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha512).hexdigest()


def rest_headers(api_key: str, secret: str, method: str, path: str, query: str, body: str, ts: str) -> dict[str, str]:
    return {
        "KEY": api_key,
        "Timestamp": ts,
        "SIGN": rest_sign(secret, method, path, query, body, ts),
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Gate-Size-Decimal": "1",
    }


def verify(expected_sign: str, given_sign: str) -> bool:
    return hmac.compare_digest(expected_sign.lower(), (given_sign or "").lower())


def ws_api_sign(secret: str, channel: str, req_param: str, time_s: int | str) -> str:
    """WS trading API (`event: api`): HMAC_SHA512(secret, "api\\n{channel}\\n{req_param}\\n{time}"), where
    `req_param` is exactly the JSON text sent (empty for `futures.login`)."""
    msg = f"api\n{channel}\n{req_param}\n{time_s}"
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha512).hexdigest()
