"""The Gate-compatible loopback simulator: one aiohttp app with Gate's futures WS (`/v4/ws/usdt`),
the REST routes of rest.py (`/api/v4/...`) and an admin endpoint (`/_sim/faults`), driven by a market
loop that steps the market source, feeds the Venue and pushes public and private frames.

Usage (tests, demo, benchmarks):
    async with SimServer(["BTC_USDT"], seed=7) as sim:
        sim.ws_url, sim.rest_url, sim.api_key, sim.api_secret
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from cashup_tui.adapters.sim.contracts import build_contracts
from cashup_tui.adapters.sim.faults import ACTIONS_HELP, FAULT_HELP, Faults
from cashup_tui.adapters.sim.market import SyntheticMarket
from cashup_tui.adapters.sim.market_values import StepResult
from cashup_tui.adapters.sim.state import SimState
from cashup_tui.adapters.sim.ws import WsHub
from cashup_tui.domain.errors import CashupError, ValidationError

log = logging.getLogger("cashup.sim")

WS_PATH = "/v4/ws/usdt"
REST_PREFIX = "/api/v4"
ADMIN_PATH = "/_sim/faults"


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def make_test_keys() -> tuple[str, str]:
    """A fresh made-up key pair for this run (never a real credential)."""
    return "sim" + secrets.token_hex(16), secrets.token_hex(32)


class SimServer:
    """Owns the SimState, the WS hub, the market loop and the aiohttp runner."""

    def __init__(
        self,
        symbols: list[str] | None = None,
        *,
        seed: int = 7,
        tick_ms: int = 100,
        balance: Decimal | str | float = Decimal("100000"),
        api_key: str | None = None,
        api_secret: str | None = None,
        faults: Faults | None = None,
        market: SyntheticMarket | None = None,
        clock: Callable[[], int] = wall_ms,
        auth_clock: Callable[[], int] | None = None,
        backfill: int = 500,
        user_id: int = 10001,
        run_loop: bool = True,
    ) -> None:
        if (api_key is None) != (api_secret is None):
            raise ValidationError("give both --api-key and --api-secret, or neither (a fresh pair is generated)")
        if tick_ms < 5:
            raise ValidationError(f"tick_ms {tick_ms} too small", hint="use 100 (10 Hz) or more")
        self.faults = faults or Faults(seed=seed)
        self._clock = clock
        self._auth_clock = auth_clock  # what signed requests are timed against (None: `clock`)
        now = self.now_ms()
        if market is None:
            symbols = symbols or ["BTC_USDT", "ETH_USDT"]
            instruments, contracts = build_contracts(symbols)
            market = SyntheticMarket(symbols, seed=seed, start_ms=now, tick_ms=tick_ms, contracts=contracts, backfill=backfill)
        else:
            contracts = {s: m.contract for s, m in market.symbols.items()}
            from cashup_tui.domain.instruments import instrument_from_gate

            instruments = {s: instrument_from_gate(c) for s, c in contracts.items()}
        self.market = market
        self.tick_ms = tick_ms
        if api_key is None:
            api_key, api_secret = make_test_keys()
        assert api_secret is not None
        self.api_key, self.api_secret = api_key, api_secret
        venue = _make_venue(instruments, Decimal(str(balance)), self.now_ms, user_id)
        self.state = SimState(
            instruments=instruments,
            contracts=contracts,
            market=market,
            venue=venue,
            faults=self.faults,
            api_keys={api_key: api_secret},
            user_id=user_id,
            now_ms=self.now_ms,
            signed_now_ms=self.auth_now_ms if auth_clock is not None else None,
        )
        self.hub = WsHub(self.state, market)
        self.run_loop = run_loop
        self.paused = False  # True: the market loop keeps time but does not step (tests, blast benchmarks)
        self.steps = 0
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._last_mark: dict[str, Decimal] = {}
        self.app = self._build_app()

    # -- clock ------------------------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Server time with the clock-skew fault applied."""
        return self._clock() + self.faults.clock_skew_ms

    def auth_now_ms(self) -> int:
        """The time request signatures are checked against (clients sign with the wall clock), skew applied."""
        return (self._auth_clock or self._clock)() + self.faults.clock_skew_ms

    # -- app --------------------------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._lost_request_middleware])
        app.router.add_get(WS_PATH, self.hub.handle)
        app.router.add_get(ADMIN_PATH, self._admin_get)
        app.router.add_post(ADMIN_PATH, self._admin_post)
        try:
            from cashup_tui.adapters.sim.rest import add_rest_routes
        except ImportError as exc:  # rest.py is built by a colleague; WS still works without it
            log.warning("sim: REST routes unavailable (%s)", exc)
        else:
            add_rest_routes(app, self.state, REST_PREFIX)
            from cashup_tui.adapters.sim.rest import REST_API
            from cashup_tui.adapters.sim.ws_api import WsTradingApi

            self.hub.api = WsTradingApi(self.state, app[REST_API])
        return app

    @web.middleware
    async def _lost_request_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """The `lose_next_requests` fault: an order request that never reaches the venue (the client sees
        the connection drop, exactly like a lost ack, but nothing was placed)."""
        if (
            request.method in ("POST", "PUT", "DELETE")
            and request.path.startswith(_FUTURES)
            and request.path[len(_FUTURES) :].split("/", 1)[0] in _ORDER_PATH_TAILS
            and self.faults.lose_request()
        ):
            log.info("sim: losing %s %s before the venue (nothing placed)", request.method, request.path)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=204)
        return await handler(request)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}{REST_PREFIX}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.port}{ADMIN_PATH}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise CashupError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="pick another --port, or 0 for any free port"
            ) from None
        addresses = self._runner.addresses  # the bound socket tells the real port when port=0
        self.host = host
        self.port = addresses[0][1] if addresses else port
        if self.run_loop:
            self._loop_task = asyncio.create_task(self._market_loop(), name="sim-market")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        await self.hub.close_all("close", 1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the market loop --------------------------------------------------------------------------------
    async def _market_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.tick_ms / 1000
        next_t = loop.time()
        while True:
            try:
                if not self.paused:
                    self.step()
            except Exception:  # never let one bad step kill the simulator
                log.exception("sim: market step failed")
            next_t += period
            delay = next_t - loop.time()
            if delay < -1.0:  # fell far behind (suspended laptop, debugger): don't burst-catch-up
                next_t = loop.time()
                delay = 0
            await asyncio.sleep(max(0.0, delay))

    def step(self, ts_ms: int | None = None) -> list[StepResult]:
        """One market tick: market -> venue -> public frames -> private frames -> timed faults."""
        ts = self.now_ms() if ts_ms is None else ts_ms
        results = self.market.step(ts)
        self.steps += 1
        self._feed_venue(results, ts)
        self.hub.on_step(results)
        if not self.faults.stale:
            self.flush_private()
        self.hub.housekeeping()
        return results

    def _feed_venue(self, results: list[StepResult], ts: int) -> None:
        venue = self.state.venue
        if venue is None:
            return
        for r in results:
            sm = self.market.symbols[r.symbol]
            try:
                if r.book_changed:
                    bids, asks = sm.levels_decimal(20)
                    venue.update_book(r.symbol, bids, asks, ts)
                mark = sm.mark_decimal()
                if self._last_mark.get(r.symbol) != mark:
                    self._last_mark[r.symbol] = mark
                    venue.update_mark(r.symbol, mark, ts)
                if r.trades:
                    venue.update_last(r.symbol, Decimal(sm.fmt(r.trades[-1].price)), ts)
                if r.funding_rate is not None:
                    venue.apply_funding(r.symbol, r.funding_rate, ts)
            except Exception:
                log.exception("sim: venue update for %s failed", r.symbol)

    def flush_private(self) -> None:
        """Push the venue's pending events on the private channels (batched per channel, in order)."""
        venue = self.state.venue
        if venue is None:
            return
        events = venue.drain_events()
        batches: list[tuple[str, str | None, list[dict[str, Any]]]] = []
        for ev in events:
            if not batches or batches[-1][:2] != (ev.channel, ev.contract):
                batches.append((ev.channel, ev.contract, []))
            batches[-1][2].append(ev.to_gate())
        delay = self.faults.private_delay_ms
        if delay > 0 and batches:  # (call_later keeps the order: every flush waits the same)
            asyncio.get_running_loop().call_later(delay / 1000, self._push_batches, batches)
        else:
            self._push_batches(batches)

    def _push_batches(self, batches: list[tuple[str, str | None, list[dict[str, Any]]]]) -> None:
        for channel, contract, rows in batches:
            self.hub.push_private(channel, contract, rows)

    # -- admin ------------------------------------------------------------------------------------------
    async def _admin_get(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"faults": self.faults.snapshot(), "switches": FAULT_HELP, "actions": ACTIONS_HELP, "connections": len(self.hub.conns)}
        )

    async def _admin_post(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _admin_error("body must be a JSON object, e.g. {\"gap_every\": 50} or {\"action\": \"drop\"}")
        if not isinstance(body, dict):
            return _admin_error("body must be a JSON object")
        out: dict[str, Any] = {}
        try:
            action = body.pop("action", None)
            if action is not None:
                out.update(await self.admin_action(str(action), body))
            else:
                for name, value in body.items():
                    self.faults.set(str(name), value)
        except CashupError as exc:
            return _admin_error(str(exc))
        out["faults"] = self.faults.snapshot()
        return web.json_response(out)

    async def admin_action(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run-time actions: drop, upgrade, reset, release, funding, blast (throughput mode for benchmarks)."""
        if action == "drop":
            mode = str(args.get("mode", "close"))
            if mode not in ("close", "abort"):
                raise ValidationError(f"drop mode {mode!r} is not 'close' or 'abort'")
            return {"dropped": await self.hub.close_all(mode, 1000)}
        if action == "upgrade":
            return {"notified": self.hub.broadcast_system(str(args.get("msg", "system upgrade, please reconnect")))}
        if action == "reset":
            self.faults.reset()
            return {}
        if action == "release":
            from cashup_tui.adapters.sim.rest import REST_API

            api = self.app.get(REST_API)
            return {"released": api.late.release() if api is not None else 0}
        if action == "funding":  # the next step settles as at the interval (Gate's arithmetic, moved in time)
            symbol = str(args.get("symbol") or next(iter(self.market.symbols)))
            sm = self.market.symbols.get(symbol)
            if sm is None:
                raise ValidationError(f"unknown symbol {symbol!r}", hint=f"simulated: {', '.join(self.market.symbols)}")
            sm.next_funding_s = min(sm.next_funding_s, self.now_ms() // 1000)
            return {"symbol": symbol, "funding_next_apply": sm.next_funding_s}
        if action == "blast":
            symbol = str(args.get("symbol") or next(iter(self.market.symbols)))
            try:
                count = int(args.get("count", 100_000))
            except (TypeError, ValueError):
                raise ValidationError("blast count must be an integer") from None
            return {"sent": await self.hub.blast(symbol, count)}
        raise ValidationError(f"unknown action {action!r}", hint=f"actions: {', '.join(ACTIONS_HELP)}, blast")


_FUTURES = f"{REST_PREFIX}/futures/usdt/"
_ORDER_PATH_TAILS = {"orders", "batch_orders", "price_orders"}  # place, amend, cancel (any order op)


def _admin_error(message: str) -> web.Response:
    return web.json_response({"label": "INVALID_PARAM_VALUE", "message": message}, status=400)


def _make_venue(instruments: dict[str, Any], balance: Decimal, clock: Callable[[], int], user_id: int) -> Any:
    """The shared Venue; None if it cannot be imported, so public data still runs."""
    try:
        from cashup_tui.venue import Venue
    except ImportError as exc:
        log.warning("sim: venue unavailable (%s): private channels and orders are off", exc)
        return None
    return Venue(instruments, balance=balance, clock=clock, user_id=user_id)
