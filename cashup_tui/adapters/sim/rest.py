"""The simulator's Gate REST v4 endpoints: what an unmodified ccxt `gate` client calls.

Paths were found empirically (ccxt 4.5.90 against a logging server): `load_markets` hits
`spot/currencies`, `account/detail` (when keys are set), `futures/usdt/contracts`,
`futures/btc/contracts`, `delivery/usdt/contracts`, `options/underlyings`, `margin/currency_pairs`
and `spot/currency_pairs`; only USDT futures are simulated, other families answer `[]`.

Auth is Gate's REST v4 scheme checked with adapters/gateio/auth.py:
`Timestamp` within 60 s of the (possibly skewed) server clock, else 403 REQUEST_EXPIRED (checked before
the key, like Gate); unknown key 401 INVALID_KEY; bad signature 401 INVALID_SIGNATURE. The query is
verified exactly as sent; the percent-decoded form is accepted too, because Gate's SDK and ccxt sign
the decoded query while sending the encoded one.

HTTP faults from `state.faults` are applied here: 502 / 429 before anything is served, and for order
operations an ack delay or a lost ack (the order IS placed/cancelled, then the connection is dropped
without a response), which is the case the order manager's lookup-by-client-id exists for.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from cashup_tui.adapters.gateio.auth import rest_sign, verify
from cashup_tui.adapters.sim.late import EXPTIME_HEADER, LatePlacements
from cashup_tui.adapters.sim.market_values import INTERVALS
from cashup_tui.adapters.sim.rest_params import valid_text as _valid_text
from cashup_tui.adapters.sim.rest_wire import GateHttpError, gate_error
from cashup_tui.adapters.sim.rest_wire import gate_json as _gate
from cashup_tui.adapters.sim.rest_wire import json_response as _json
from cashup_tui.adapters.sim.state import SimState
from cashup_tui.domain.instruments import to_decimal_or

log = logging.getLogger("cashup.sim.rest")

REST_HITS: web.AppKey[Counter[str]] = web.AppKey("cashup_sim_rest_hits", Counter)
REST_API: web.AppKey[_RestApi] = web.AppKey("cashup_sim_rest_api")
_BODY: web.RequestKey[bytes] = web.RequestKey("cashup_sim_body", bytes)
AUTH_WINDOW_S = 60
MAX_CANDLE_POINTS = 2000
_SIGNED_PREFIX = "/api/v4"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------------------------------
def add_rest_routes(app: web.Application, state: SimState, prefix: str = "/api/v4") -> None:
    """Register every REST route on `app` (before it starts). `app[REST_HITS]` counts 'METHOD /path'."""
    api = _RestApi(state, prefix.rstrip("/"))
    app[REST_HITS] = api.hits
    app[REST_API] = api
    p = api.prefix
    fu = f"{p}/futures/usdt"
    add = app.router.add_route
    public: list[tuple[str, str, Handler]] = [
        ("GET", f"{p}/spot/time", api.spot_time),
        ("GET", f"{fu}/contracts", api.contracts),
        ("GET", f"{fu}/contracts/{{contract}}", api.contract),
        ("GET", f"{fu}/order_book", api.order_book),
        ("GET", f"{fu}/tickers", api.tickers),
        ("GET", f"{fu}/trades", api.trades),
        ("GET", f"{fu}/candlesticks", api.candlesticks),
        ("GET", f"{fu}/funding_rate", api.funding_rate),
    ]
    private: list[tuple[str, str, Handler]] = [
        ("GET", f"{p}/account/detail", api.account_detail),
        ("GET", f"{fu}/accounts", api.accounts),
        ("GET", f"{fu}/account_book", api.account_book),
        ("GET", f"{fu}/positions", api.positions),
        ("GET", f"{fu}/positions/{{contract}}", api.position),
        ("POST", f"{fu}/positions/{{contract}}/leverage", api.set_leverage),
        ("GET", f"{fu}/orders", api.list_orders),
        ("POST", f"{fu}/orders", api.create_order),
        ("DELETE", f"{fu}/orders", api.cancel_all),
        ("GET", f"{fu}/orders/{{order_id}}", api.get_order),
        ("DELETE", f"{fu}/orders/{{order_id}}", api.cancel_order),
        ("PUT", f"{fu}/orders/{{order_id}}", api.amend_order),
        ("POST", f"{fu}/batch_orders", api.batch_orders),
        ("GET", f"{fu}/my_trades", api.my_trades),
        ("GET", f"{fu}/my_trades_timerange", api.my_trades),
        ("GET", f"{fu}/price_orders", api.list_price_orders),
        ("POST", f"{fu}/price_orders", api.create_price_order),
        ("DELETE", f"{fu}/price_orders", api.cancel_price_orders),
        ("GET", f"{fu}/price_orders/{{order_id}}", api.get_price_order),
        ("DELETE", f"{fu}/price_orders/{{order_id}}", api.cancel_price_order),
        ("POST", f"{fu}/countdown_cancel_all", api.countdown_cancel_all),
    ]
    for method, path, handler in public:
        add(method, path, api.wrap(handler, private=False))
    for method, path, handler in private:
        add(method, path, api.wrap(handler, private=True, order_op=handler in api.order_ops))
    add("*", f"{p}/{{tail:.*}}", api.wrap(api.fallback, private=False))


class _RestApi:
    """Route handlers over one SimState. Handlers return JSON-able data or raise GateHttpError."""

    def __init__(self, state: SimState, prefix: str) -> None:
        self.state = state
        self.prefix = prefix
        self.hits: Counter[str] = Counter()
        self.order_ops = {
            self.create_order,
            self.cancel_order,
            self.cancel_all,
            self.amend_order,
            self.batch_orders,
            self.create_price_order,
            self.cancel_price_order,
            self.cancel_price_orders,
            self.countdown_cancel_all,
        }
        self.placement_ops = {self.create_order, self.batch_orders, self.amend_order}
        self.late = LatePlacements(state)  # hold_next_placements and X-Gate-Exptime
        self._decimal_kw: dict[str, bool] = {}

    # -- request pipeline -------------------------------------------------------------------------
    def wrap(self, handler: Callable[[web.Request], Awaitable[Any]], *, private: bool, order_op: bool = False) -> Handler:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            self.hits[f"{request.method} {request.path}"] += 1
            status = self.state.faults.http_error()
            if status == 502:
                return web.Response(status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                                    content_type="text/html")  # fmt: skip
            if status == 429:
                return gate_error("TOO_MANY_REQUESTS", "Request Rate limit Exceeded (simulated)", 429)
            body = await request.read()
            if handler in self.placement_ops and self.state.faults.hold_placement():  # still in flight
                return await self.late.hold(lambda: self._serve(handler, request, body, private, order_op))
            return await self._serve(handler, request, body, private, order_op)

        return endpoint

    async def _serve(self, handler: Callable[[web.Request], Awaitable[Any]], request: web.Request, body: bytes,
                     private: bool, order_op: bool) -> web.StreamResponse:
        try:
            if private:
                self.authenticate(request, body)
            if handler in self.placement_ops and (late := self.late.exptime_error(request.headers.get(EXPTIME_HEADER))):
                raise GateHttpError("REQUEST_EXPTIME_EXCEEDED", late)  # (the simulator's label)
            request[_BODY] = body
            data = await handler(request)
        except GateHttpError as exc:
            return gate_error(exc.label, exc.message, exc.status)
        if order_op:
            delay = self.state.faults.ack_delay_ms
            if delay > 0:
                await asyncio.sleep(delay / 1000)
            if self.state.faults.lose_ack():
                log.info("sim: losing the ack of %s %s (the action was applied)", request.method, request.path)
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=204)
        if isinstance(data, web.StreamResponse):
            return data
        return _json(data)

    def authenticate(self, request: web.Request, body: bytes) -> None:
        h = request.headers
        key, sign, ts = h.get("KEY"), h.get("SIGN"), h.get("Timestamp")
        if not key or not sign or not ts:
            missing = [n for n, v in (("KEY", key), ("SIGN", sign), ("Timestamp", ts)) if not v]
            raise GateHttpError("MISSING_REQUIRED_HEADER", f"Missing required header: {', '.join(missing)}")
        try:
            ts_s = float(ts)
        except ValueError:
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid Timestamp header {ts!r}") from None
        now_s = self.state.auth_now_ms() / 1000
        if abs(ts_s - now_s) > AUTH_WINDOW_S:
            raise GateHttpError(
                "REQUEST_EXPIRED", f"gap between request Timestamp and server time exceeds {AUTH_WINDOW_S}s"
            )
        secret = self.state.secret_for(key)
        if secret is None:
            raise GateHttpError("INVALID_KEY", "Invalid key provided")
        path = _SIGNED_PREFIX + request.path[len(self.prefix) :]
        raw_query = request.rel_url.raw_query_string
        candidates = {raw_query, unquote_plus(raw_query)}
        if not any(verify(rest_sign(secret, request.method, path, q, body, ts), sign) for q in candidates):
            raise GateHttpError("INVALID_SIGNATURE", "Signature mismatch")

    # -- parameters ---------------------------------------------------------------------------------
    @staticmethod
    def body(request: web.Request) -> Any:
        raw = request.get(_BODY, b"")
        if not raw.strip():
            return {}
        try:
            return json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise GateHttpError("INVALID_REQUEST_BODY", "request body is not valid JSON") from None

    @staticmethod
    def q_int(request: web.Request, name: str, default: int | None = None, lo: int = 0, hi: int | None = None) -> int | None:
        v = request.query.get(name)
        if v is None or v == "":
            return default
        try:
            out = int(v)
        except ValueError:
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: {name}={v!r} is not an integer") from None
        if out < lo or (hi is not None and out > hi):
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: {name}={out} out of range")
        return out

    def need_contract(self, name: str | None) -> str:
        if not name:
            raise GateHttpError("MISSING_REQUIRED_PARAM", "missing required parameter: contract")
        if name not in self.state.contracts:
            raise GateHttpError("CONTRACT_NOT_FOUND", f"contract {name} not found")
        return name

    def decimal_sizes(self, request: web.Request) -> bool:
        return request.headers.get("X-Gate-Size-Decimal") == "1"

    def market_call(self, name: str, *args: Any, decimal_sizes: bool = False) -> Any:
        """Call a MarketSource method, passing `decimal_sizes` only if that source accepts it."""
        fn = getattr(self.state.market, name)
        if name not in self._decimal_kw:
            try:
                self._decimal_kw[name] = "decimal_sizes" in inspect.signature(fn).parameters
            except (TypeError, ValueError):
                self._decimal_kw[name] = False
        if self._decimal_kw[name]:
            return fn(*args, decimal_sizes=decimal_sizes)
        return fn(*args)

    def venue(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the Venue, turning its VenueError(label, message) into a Gate error body."""
        try:
            return fn(*args, **kwargs)
        except GateHttpError:
            raise
        except Exception as exc:
            label = getattr(exc, "label", None)
            if label is None:
                raise
            status = getattr(exc, "status", None)
            raise GateHttpError(str(label), str(getattr(exc, "message", "") or exc), status) from None

    # -- public -------------------------------------------------------------------------------------
    async def spot_time(self, request: web.Request) -> Any:
        return {"server_time": self.state.now_ms()}

    def _contract_json(self, name: str) -> dict[str, Any]:
        live = getattr(self.state.market, "contract", None)
        if callable(live):
            try:
                return live(name)
            except Exception:  # a replay source may not know live fields: fall back
                pass
        return self.state.contracts[name]

    async def contracts(self, request: web.Request) -> Any:
        return [self._contract_json(n) for n in self.state.contracts]

    async def contract(self, request: web.Request) -> Any:
        return self._contract_json(self.need_contract(request.match_info["contract"]))

    async def order_book(self, request: web.Request) -> Any:
        name = self.need_contract(request.query.get("contract"))
        limit = self.q_int(request, "limit", 10, 1, 300) or 10
        book = dict(self.market_call("order_book", name, limit, decimal_sizes=self.decimal_sizes(request)))
        if request.query.get("with_id") != "true":
            book.pop("id", None)
        return book

    async def tickers(self, request: web.Request) -> Any:
        rows = self.market_call("tickers", decimal_sizes=self.decimal_sizes(request))
        contract = request.query.get("contract")
        if contract:
            self.need_contract(contract)
            rows = [r for r in rows if r.get("contract") == contract]
        return rows

    async def trades(self, request: web.Request) -> Any:
        name = self.need_contract(request.query.get("contract"))
        limit = self.q_int(request, "limit", 100, 1, 1000) or 100
        return self.market_call("trades", name, limit, decimal_sizes=self.decimal_sizes(request))

    async def candlesticks(self, request: web.Request) -> Any:
        q = request.query
        contract = q.get("contract") or ""
        base = contract.split("_", 1)[1] if contract.startswith(("mark_", "index_")) else contract
        name = self.need_contract(base)  # mark_/index_ served from the same bars (a simulator simplification)
        interval = q.get("interval", "5m")
        if interval not in INTERVALS:
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: interval {interval!r}")
        from_s = self.q_int(request, "from")
        to_s = self.q_int(request, "to")
        limit = self.q_int(request, "limit", None, 1, MAX_CANDLE_POINTS)
        if limit is not None and (from_s is not None or to_s is not None):
            raise GateHttpError("INVALID_PARAM_VALUE", "limit is conflicted with from and to; use one or the other")
        if from_s is not None:
            step = INTERVALS[interval]
            end = to_s if to_s is not None else self.state.now_s()
            if end < from_s:
                raise GateHttpError("INVALID_PARAM_VALUE", "invalid argument: to is before from")
            if (end - from_s) // step + 1 > MAX_CANDLE_POINTS:
                raise GateHttpError(
                    "INVALID_PARAM_VALUE", f"too many points requested: at most {MAX_CANDLE_POINTS} per request"
                )
            to_s = end
        elif limit is None:
            limit = 100  # Gate's default: the latest 100 points (ending at `to` if given)
        return self.market_call("candles", name, interval, from_s, to_s, limit)

    async def funding_rate(self, request: web.Request) -> Any:
        name = self.need_contract(request.query.get("contract"))
        limit = self.q_int(request, "limit", 100, 1, 1000) or 100
        return self.market_call("funding_history", name, limit)

    async def fallback(self, request: web.Request) -> Any:
        """Unsimulated families (spot, margin, delivery, options, btc futures) answer []; unknown
        USDT-futures paths answer 404 like Gate."""
        tail = request.match_info.get("tail", "")
        if tail.startswith("futures/usdt/") or request.method != "GET":
            raise GateHttpError("NOT_FOUND", f"{request.method} {request.path} is not implemented by the simulator")
        return []

    # -- private: account ------------------------------------------------------------------------------
    async def account_detail(self, request: web.Request) -> Any:
        return {
            "user_id": self.state.user_id,
            "ip_whitelist": [],
            "currency_pairs": [],
            "key": {"mode": 1},  # classic account (not unified)
            "tier": 0,
            "copy_trading_role": 0,
        }

    async def accounts(self, request: web.Request) -> Any:
        return _gate(self.venue(self.state.venue.account))

    async def account_book(self, request: web.Request) -> Any:
        """Balance change history (deposits and funding settlements), newest first, filtered as Gate does."""
        limit = self.q_int(request, "limit", 100, 1, 1000) or 100
        kw = {"limit": limit, "offset": self.q_int(request, "offset", 0, 0) or 0,
              "from_s": self.q_int(request, "from"), "to_s": self.q_int(request, "to"),
              "type": request.query.get("type") or None, "contract": request.query.get("contract") or None}
        fn = getattr(self.state.venue, "account_book", None)
        return [_gate(r) for r in self.venue(fn, **kw)] if callable(fn) else []

    async def positions(self, request: web.Request) -> Any:
        holding = request.query.get("holding") == "true"
        return [_gate(p) for p in self.venue(self.state.venue.positions, holding=holding)]

    async def position(self, request: web.Request) -> Any:
        name = self.need_contract(request.match_info["contract"])
        return _gate(self.venue(self.state.venue.position, name))

    async def set_leverage(self, request: web.Request) -> Any:
        name = self.need_contract(request.match_info["contract"])
        raw = request.query.get("leverage")
        if raw is None:
            raise GateHttpError("MISSING_REQUIRED_PARAM", "missing required parameter: leverage")
        lev = to_decimal_or(raw, None)
        if lev is None or lev < 0:
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: leverage {raw!r}")
        raw_limit = request.query.get("cross_leverage_limit")  # with leverage 0: cross margin at that limit
        limit = None if raw_limit is None else to_decimal_or(raw_limit, None)
        if raw_limit is not None and (limit is None or limit < 0):
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: cross_leverage_limit {raw_limit!r}")
        out = self.venue(self.state.venue.set_leverage, name, lev, cross_leverage_limit=limit or None)
        if out is not None:
            return _gate(out)
        return await self.position(request)

    # -- private: orders -------------------------------------------------------------------------------
    async def list_orders(self, request: web.Request) -> Any:
        q = request.query
        status = q.get("status")
        if status not in ("open", "finished"):
            raise GateHttpError("INVALID_PARAM_VALUE", "invalid argument: status must be open or finished")
        contract = q.get("contract")
        if contract:
            self.need_contract(contract)
        limit = self.q_int(request, "limit", 100, 1, 100) or 100  # Gate: at most 100 per page, default 100
        offset = self.q_int(request, "offset", 0) or 0
        rows = self.venue(self.state.venue.list_orders, contract or None, status, limit=limit, offset=offset)
        return [_gate(o) for o in rows]

    def _place(self, b: Any) -> dict[str, Any]:
        if not isinstance(b, Mapping):
            raise GateHttpError("INVALID_REQUEST_BODY", "order body must be a JSON object")
        name = self.need_contract(b.get("contract"))
        size = to_decimal_or(b.get("size"), None)
        if size is None:
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: size {b.get('size')!r}")
        price = to_decimal_or(b.get("price", "0"), None)
        if price is None or price < 0:
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: price {b.get('price')!r}")
        text = b.get("text")
        if text is not None and not _valid_text(str(text)):
            raise GateHttpError(
                "INVALID_PARAM_VALUE", "invalid argument: text must start with 't-' followed by at most 28 [0-9A-Za-z_.-]"
            )
        tif = str(b.get("tif") or "gtc")
        if tif not in ("gtc", "ioc", "poc", "fok"):
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: tif {tif!r}")
        order = self.venue(
            self.state.venue.place,
            contract=name,
            size=size,
            price=price,
            tif=tif,
            reduce_only=bool(b.get("reduce_only", False)),
            close=bool(b.get("close", False)),
            text=str(text) if text else "",
        )
        return _gate(order)

    async def create_order(self, request: web.Request) -> Any:
        return _json(self._place(self.body(request)), status=201)

    async def batch_orders(self, request: web.Request) -> Any:
        items = self.body(request)
        if not isinstance(items, list) or not items or len(items) > 10:
            raise GateHttpError("INVALID_PARAM_VALUE", "batch_orders takes a list of 1 to 10 orders")
        out = []
        for item in items:
            try:
                row = self._place(item)
                row = {**row, "succeeded": True}
            except GateHttpError as exc:
                row = {"succeeded": False, "label": exc.label, "message": exc.message,
                       "text": (item or {}).get("text", "") if isinstance(item, Mapping) else ""}  # fmt: skip
            out.append(row)
        return out

    async def get_order(self, request: web.Request) -> Any:
        return _gate(self.venue(self.state.venue.get_order, request.match_info["order_id"]))

    async def cancel_order(self, request: web.Request) -> Any:
        return _gate(self.venue(self.state.venue.cancel, request.match_info["order_id"]))

    async def cancel_all(self, request: web.Request) -> Any:
        contract = self.need_contract(request.query.get("contract"))
        side = request.query.get("side") or None
        return [_gate(o) for o in self.venue(self.state.venue.cancel_all, contract, side=side)]

    async def amend_order(self, request: web.Request) -> Any:
        b = self.body(request)
        if not isinstance(b, Mapping):
            raise GateHttpError("INVALID_REQUEST_BODY", "amend body must be a JSON object")
        price = to_decimal_or(b["price"], None) if b.get("price") not in (None, "") else None
        size = to_decimal_or(b["size"], None) if b.get("size") not in (None, "") else None
        if price is None and size is None:
            raise GateHttpError("INVALID_PARAM_VALUE", "invalid argument: nothing to amend (price or size)")
        order = self.venue(self.state.venue.amend, request.match_info["order_id"], price=price, size=size)
        return _gate(order)

    async def my_trades(self, request: web.Request) -> Any:
        q = request.query
        contract = q.get("contract")
        if contract:
            self.need_contract(contract)
        limit = self.q_int(request, "limit", 100, 1, 1000) or 100
        offset = self.q_int(request, "offset", 0) or 0
        order_id = self.q_int(request, "order")
        from_s, to_s = self.q_int(request, "from"), self.q_int(request, "to")
        ranged = from_s is not None or to_s is not None
        rows = [
            _gate(t)
            for t in self.venue(
                self.state.venue.my_trades,
                contract or None,
                order_id=order_id,
                limit=1_000_000 if ranged else limit,
                offset=0 if ranged else offset,
            )
        ]
        if from_s is not None:
            rows = [r for r in rows if to_decimal_or(r.get("create_time")) >= from_s]
        if to_s is not None:
            rows = [r for r in rows if to_decimal_or(r.get("create_time")) <= to_s]
        rows.sort(key=lambda r: to_decimal_or(r.get("create_time")), reverse=True)  # Gate: newest first
        return rows[:limit]

    async def countdown_cancel_all(self, request: web.Request) -> Any:
        b = self.body(request)
        timeout = to_decimal_or((b or {}).get("timeout") if isinstance(b, Mapping) else None, None)
        if timeout is None or timeout < 0 or timeout != timeout.to_integral_value():
            raise GateHttpError("INVALID_PARAM_VALUE", "invalid argument: timeout (whole seconds, 0 disarms)")
        contract = str(b.get("contract") or "")
        if contract:
            self.need_contract(contract)
        out = self.venue(self.state.venue.countdown_cancel_all, int(timeout), self.state.now_ms(), contract=contract)
        return {"triggerTime": int(out)}

    # -- private: price-triggered orders -------------------------------------------------------------
    async def list_price_orders(self, request: web.Request) -> Any:
        status = request.query.get("status", "open")
        contract = request.query.get("contract")
        if contract:
            self.need_contract(contract)
        limit = self.q_int(request, "limit", 100, 1, 1000) or 100
        offset = self.q_int(request, "offset", 0) or 0
        rows = self.venue(self.state.venue.list_triggers, contract or None, status, limit=limit, offset=offset)
        return [_gate(r) for r in rows]

    async def create_price_order(self, request: web.Request) -> Any:
        """Gate body: {initial: {contract, size, price, tif, text, reduce_only, close}, trigger: {price, rule
        (1: >=, 2: <=), price_type (0 last, 1 mark, 2 index), expiration (s)}}."""
        b = self.body(request)
        initial = b.get("initial") if isinstance(b, Mapping) else None
        trigger = b.get("trigger") if isinstance(b, Mapping) else None
        if not isinstance(initial, Mapping) or not isinstance(trigger, Mapping):
            raise GateHttpError("INVALID_PARAM_VALUE", "price order needs 'initial' and 'trigger' objects")
        name = self.need_contract(initial.get("contract"))
        text = initial.get("text")
        if text is not None and not _valid_text(str(text)):
            raise GateHttpError("INVALID_PARAM_VALUE", "invalid argument: initial.text")
        rule = self.body_int(trigger, "rule")
        out = self.venue(
            self.state.venue.place_trigger,
            name,
            _need_dec(initial, "size"),
            _need_dec(initial, "price"),
            _need_dec(trigger, "price"),
            rule=rule,
            price_type=self.body_int(trigger, "price_type", 0),
            tif=str(initial.get("tif") or "gtc"),
            reduce_only=bool(initial.get("reduce_only", False)),
            close=bool(initial.get("close", False)),
            text=str(text) if text else "",
            expiration_s=self.body_int(trigger, "expiration", 0),
        )
        return _json({"id": _gate(out).get("id")}, status=201)

    @staticmethod
    def body_int(obj: Mapping[str, Any], name: str, default: int | None = None) -> int:
        v = obj.get(name, default)
        if v is None or isinstance(v, bool):
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: {name} is required (integer)")
        try:
            return int(v)
        except (TypeError, ValueError):
            raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: {name}={v!r} is not an integer") from None

    async def get_price_order(self, request: web.Request) -> Any:
        return _gate(self.venue(self.state.venue.get_trigger, request.match_info["order_id"]))

    async def cancel_price_order(self, request: web.Request) -> Any:
        return _gate(self.venue(self.state.venue.cancel_trigger, request.match_info["order_id"]))

    async def cancel_price_orders(self, request: web.Request) -> Any:
        contract = request.query.get("contract")
        if contract:
            self.need_contract(contract)
        return [_gate(t) for t in self.venue(self.state.venue.cancel_triggers, contract or None)]


def _need_dec(obj: Mapping[str, Any], name: str) -> Decimal:
    out = to_decimal_or(obj.get(name), None)
    if out is None:
        raise GateHttpError("INVALID_PARAM_VALUE", f"invalid argument: {name}={obj.get(name)!r}")
    return out
