"""Gate's futures WS trading API (`"event": "api"`), server side, on the simulator's websocket.

`futures.login` checks the signature `api\\n{channel}\\n{req_param}\\n{timestamp}` and binds the key to the
connection; order channels then answer like Gate: a placement gets an `ack: true` echo of the request and
then the result frame, other calls only the result; every answer carries `request_id` (= `req_id`) and a
`header` with the HTTP-like status; errors come as `data.errs {label, message}`. The venue calls are the
REST routes' own (`_RestApi`), so both paths validate and act identically. The order faults
`lose_next_requests` (dropped before the venue), `lose_next_acks` (applied, answer lost) and
`hold_next_placements` (arrives late, x-gate-exptime checked then) apply here too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from cashup_tui.adapters.gateio import auth
from cashup_tui.adapters.sim.rest_wire import GateHttpError
from cashup_tui.adapters.sim.rest_wire import gate_json as _gate
from cashup_tui.adapters.sim.state import SimState
from cashup_tui.domain.instruments import to_decimal_or

if TYPE_CHECKING:
    from cashup_tui.adapters.sim.rest import _RestApi
    from cashup_tui.adapters.sim.ws import Conn

AUTH_WINDOW_S = 60
LOGIN = "futures.login"
ORDER_CHANNELS = ("futures.order_place", "futures.order_batch_place", "futures.order_amend", "futures.order_cancel",
                  "futures.order_cancel_cp", "futures.order_status", "futures.order_list")
_ACKED = ("futures.order_place", "futures.order_batch_place")  # Gate acks placements before their result
_HELD = ("futures.order_place", "futures.order_batch_place", "futures.order_amend")  # as REST's placement_ops
_VENUE_OPS = ("futures.order_place", "futures.order_batch_place", "futures.order_amend", "futures.order_cancel",
              "futures.order_cancel_cp")


def signed_texts(req_param: Any) -> Iterator[str]:
    """The `req_param` texts a client may have signed: exactly what it sent, as compact JSON (orjson, as
    our client writes it, first; then ccxt's json.dumps), or the empty string for an empty login.
    Lazy: a signature that matches the first text costs one JSON encoding and one HMAC."""
    if req_param is None or req_param == {} or req_param == "":
        yield from ("", "{}")
        return
    yield orjson.dumps(req_param).decode()
    yield json.dumps(req_param, separators=(",", ":"))
    yield json.dumps(req_param, separators=(",", ":"), ensure_ascii=False)


class WsTradingApi:
    """Handles one `event: api` frame on a connection (sync; frames go out through `conn.answer`)."""

    def __init__(self, state: SimState, rest: _RestApi | None) -> None:
        self.state = state
        self.rest = rest
        self.requests = 0
        self._held: set[asyncio.Task[Any]] = set()

    def _frame(self, conn: Conn, channel: str, rid: Any, *, status: int = 200, ack: bool = False,
               result: Any = None, errs: Mapping[str, str] | None = None) -> bytes:
        now = self.state.now_ms()
        header = {"response_time": str(now), "status": str(status), "channel": channel, "event": "api",
                  "client_id": "127.0.0.1-sim", "conn_id": conn.conn_id, "x_in_time": now * 1000, "x_out_time": now * 1000}
        data: dict[str, Any] = {"errs": dict(errs)} if errs is not None else {"result": result}
        return orjson.dumps({"request_id": rid, "ack": ack, "header": header, "data": data}, default=str)

    def handle(self, conn: Conn, req: dict[str, Any]) -> None:
        self.requests += 1
        channel = str(req.get("channel") or "")
        payload = req.get("payload")
        if not isinstance(payload, dict):
            conn.answer(self._frame(conn, channel, None, status=400,
                                  errs={"label": "INVALID_REQUEST", "message": "payload must be an object"}))
            return
        rid = payload.get("req_id")
        try:
            if channel == LOGIN:
                conn.answer(self._frame(conn, channel, rid, result=self._login(conn, payload)))
                return
            if channel not in ORDER_CHANNELS:
                raise GateHttpError("INVALID_REQUEST", f"unknown api channel {channel}")
            self._check(conn, channel, payload)
        except GateHttpError as exc:
            conn.answer(self._frame(conn, channel, rid, status=exc.status or 400,
                                  errs={"label": exc.label, "message": exc.message}))
            return
        faults = self.state.faults
        if channel in _VENUE_OPS and faults.lose_request():  # vanishes before the venue: nothing done
            conn.abort()
            return
        if channel in _HELD and faults.hold_placement() and self.rest is not None:  # still in flight: no answer now
            task = asyncio.get_running_loop().create_task(self.rest.late.hold(lambda: self._late(conn, channel, payload)))
            self._held.add(task)
            task.add_done_callback(self._held.discard)
            return
        ack = None
        if channel in _ACKED:
            echo = {k: payload.get(k) for k in ("req_id", "req_header", "req_param", "api_key", "timestamp", "signature")}
            ack = self._frame(conn, channel, rid, ack=True, result=echo)
        frame = self._answer(conn, channel, payload)
        if channel in _VENUE_OPS and faults.lose_ack():  # acted, but the answer never arrives
            conn.abort()
            return
        delay = faults.ack_delay_ms if channel in _VENUE_OPS else 0
        if delay > 0:
            if ack is not None:
                conn.answer(ack)
            asyncio.get_running_loop().call_later(delay / 1000, conn.answer, frame)
        elif ack is not None:
            conn.answer(ack, frame)  # both frames in one write
        else:
            conn.answer(frame)

    def _answer(self, conn: Conn, channel: str, payload: Mapping[str, Any]) -> bytes:
        param, rid = payload.get("req_param"), payload.get("req_id")
        try:
            out = self._call(channel, param if param is not None else {}, payload.get("req_header"))
            return self._frame(conn, channel, rid, result=out)
        except GateHttpError as exc:
            return self._frame(conn, channel, rid, status=exc.status or 400,
                               errs={"label": exc.label, "message": exc.message})

    async def _late(self, conn: Conn, channel: str, payload: Mapping[str, Any]) -> Any:
        """A held request reaches the venue now (its x-gate-exptime checked); the answer goes to the socket
        if it is still there."""
        conn.answer(self._answer(conn, channel, payload))

    def _verify(self, channel: str, payload: Mapping[str, Any]) -> str:
        key = str(payload.get("api_key") or "")
        secret = self.state.secret_for(key)
        if secret is None:
            raise GateHttpError("INVALID_KEY", "Invalid key provided", 401)
        ts = str(payload.get("timestamp") or "")
        if not ts.isdigit():
            raise GateHttpError("INVALID_PARAM_VALUE", "timestamp must be integer seconds as a string", 400)
        if abs(int(ts) - self.state.auth_now_ms() // 1000) > AUTH_WINDOW_S:
            raise GateHttpError("REQUEST_EXPIRED", "timestamp differs from server time by more than 60s", 401)
        sign = str(payload.get("signature") or "")
        if not any(auth.verify(auth.ws_api_sign(secret, channel, t, ts), sign) for t in signed_texts(payload.get("req_param"))):
            raise GateHttpError("INVALID_SIGNATURE", "Signature mismatch", 401)
        return key

    def _login(self, conn: Conn, payload: Mapping[str, Any]) -> dict[str, Any]:
        conn.api_key = self._verify(LOGIN, payload)
        return {"api_key": conn.api_key, "uid": str(self.state.user_id)}

    def _check(self, conn: Conn, channel: str, payload: Mapping[str, Any]) -> None:
        if not conn.api_key:
            raise GateHttpError("AUTHENTICATION_FAILED", "Not login", 401)
        if payload.get("signature"):  # a signed request must be signed right (ccxt signs every one)
            self._verify(channel, payload)
        if self.rest is None or self.state.venue is None:
            raise GateHttpError("SERVER_ERROR", "orders are not available in this simulator", 503)

    def _call(self, channel: str, p: Any, req_header: Any) -> Any:
        rest, venue = self.rest, self.state.venue
        assert rest is not None
        if channel == "futures.order_batch_place":
            if not isinstance(p, list) or not 1 <= len(p) <= 10:
                raise GateHttpError("INVALID_PARAM_VALUE", "order_batch_place takes a list of 1 to 10 orders")
            rows = []
            for item in p:
                try:
                    rows.append({**rest._place(item), "succeeded": True})
                except GateHttpError as exc:
                    rows.append({"succeeded": False, "label": exc.label, "message": exc.message})
            return rows
        if not isinstance(p, Mapping):
            raise GateHttpError("INVALID_PARAM_VALUE", "req_param must be an object")
        if channel == "futures.order_place":
            exptime = (req_header or {}).get("x-gate-exptime") if isinstance(req_header, Mapping) else None
            late = rest.late.exptime_error(str(exptime)) if exptime not in (None, "") else None
            if late:
                raise GateHttpError("REQUEST_EXPTIME_EXCEEDED", late)
            return rest._place(p)
        if channel == "futures.order_list":
            status = str(p.get("status") or "open")
            if status not in ("open", "finished"):
                raise GateHttpError("INVALID_PARAM_VALUE", "status must be open or finished")
            contract = p.get("contract") or None
            if contract:
                rest.need_contract(contract)
            rows = rest.venue(venue.list_orders, contract, status, limit=int(p.get("limit") or 100),
                              offset=int(p.get("offset") or 0))
            return [_gate(o) for o in rows]
        if channel == "futures.order_cancel_cp":
            contract = rest.need_contract(p.get("contract"))
            return [_gate(o) for o in rest.venue(venue.cancel_all, contract, side=p.get("side") or None)]
        order_id = str(p.get("order_id") or "")
        if not order_id:
            raise GateHttpError("MISSING_REQUIRED_PARAM", "missing required parameter: order_id")
        if channel == "futures.order_status":
            return _gate(rest.venue(venue.get_order, order_id))
        if channel == "futures.order_cancel":
            return _gate(rest.venue(venue.cancel, order_id))
        price = to_decimal_or(p["price"], None) if p.get("price") not in (None, "") else None
        size = to_decimal_or(p["size"], None) if p.get("size") not in (None, "") else None
        if price is None and size is None:
            raise GateHttpError("INVALID_PARAM_VALUE", "invalid argument: nothing to amend (price or size)")
        return _gate(rest.venue(venue.amend, order_id, price=price, size=size))
