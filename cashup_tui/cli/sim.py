"""`cashup sim ...`: run the Gate-compatible loopback simulator.

Light at import time (stdlib + typer): aiohttp, numpy and the simulator load inside the command.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

import typer

from cashup_tui.cli.common import fail, settings_from

app = typer.Typer(
    name="sim",
    help="Run the Gate-compatible loopback simulator (WS + REST + fault injection).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _group() -> None:
    """Run the Gate-compatible loopback simulator (WS + REST + fault injection)."""


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="Interface to bind (default: settings sim.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="TCP port; 0 = any free port (default: settings sim.port)."),
    seed: int = typer.Option(None, "--seed", help="Market generator seed: same seed, same market."),
    symbols: str = typer.Option(None, "--symbols", help="Comma-separated contracts, e.g. BTC_USDT,ETH_USDT."),
    replay: str = typer.Option(
        None,
        "--replay",
        help="Replay a capture instead of generating: a Gate frames .jsonl (like "
        "futures_usdt_ws_frames_2023-05-24.jsonl) or a candle .csv (open_time_ms,open,high,low,close,volume...).",
    ),
    replay_speed: float = typer.Option(1.0, "--replay-speed", help="Frames replay pace: 2 = twice as fast as recorded."),
    steps_per_candle: int = typer.Option(10, "--steps-per-candle", help="Candle replay: market steps per CSV candle."),
    fault: list[str] = typer.Option(
        None, "--fault", help="Fault switch NAME=VALUE (repeatable), e.g. gap_every=50, stale=true, http_5xx_rate=0.1."
    ),
    api_key: str = typer.Option(None, "--api-key", help="Test key to accept (default: a fresh made-up pair)."),
    api_secret: str = typer.Option(None, "--api-secret", help="Secret of --api-key."),
    tick_ms: int = typer.Option(None, "--tick-ms", help="Market step in ms (default: settings sim.tick_ms, 100 = 10 Hz)."),
    balance: float = typer.Option(None, "--balance", help="Starting USDT balance of the simulated account."),
    list_faults: bool = typer.Option(False, "--list-faults", help="List the fault switches and admin actions, then exit."),
    no_admin: bool = typer.Option(False, "--no-admin", help="Disable the admin endpoint (/_sim/faults): required "
                                  "to bind an interface other than loopback (anyone who reaches it could flip faults)."),
) -> None:
    """Serve Gate's futures WS and REST on loopback; prints URLs, a test key pair and env lines.

    Stop with Ctrl-C (or SIGTERM): exits 0.
    """
    from cashup_tui.adapters.sim.faults import ACTIONS_HELP, FAULT_HELP, Faults

    if list_faults:
        for name, text in FAULT_HELP.items():
            typer.echo(f"  {name:<16} {text}")
        typer.echo("admin actions (POST /_sim/faults {\"action\": ...}):")
        for name, text in ACTIONS_HELP.items():
            typer.echo(f"  {name:<16} {text}")
        return
    s = settings_from(ctx).sim
    host = host if host is not None else s.host
    port = port if port is not None else s.port
    seed = seed if seed is not None else s.seed
    tick_ms = tick_ms if tick_ms is not None else s.tick_ms
    balance = balance if balance is not None else s.starting_balance
    if not is_loopback(host) and not no_admin:
        fail(f"--host {host!r} is not a loopback interface, and the admin endpoint has no authentication",
             hint="bind 127.0.0.1 (tunnel with ssh -L), or add --no-admin to serve without /_sim/faults", code=2)
    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a TCP port", hint="use 0..65535 (0 = any free port)")
    if (api_key is None) != (api_secret is None):
        fail("give both --api-key and --api-secret, or neither", hint="without them a fresh made-up pair is printed")
    faults = Faults(seed=seed)
    faults.apply_pairs(list(fault or []))

    from cashup_tui.adapters.sim.contracts import parse_symbols

    sym_list = parse_symbols(symbols) if symbols else list(s.symbols)
    if replay_speed <= 0 or steps_per_candle < 4:
        fail("--replay-speed must be > 0 and --steps-per-candle >= 4")
    replay_opts: dict[str, float] = {"speed": replay_speed} if replay and replay.endswith(".jsonl") else {"steps_per_candle": steps_per_candle}
    import asyncio

    asyncio.run(
        _serve(host, port, seed, sym_list, replay, faults, api_key, api_secret, tick_ms, balance,
               symbols_given=bool(symbols), replay_opts=replay_opts, admin=not no_admin)
    )


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost; anything else (0.0.0.0, a LAN address, a name) is not."""
    h = host.strip().strip("[]")
    if h.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def disable_admin(sim: Any) -> None:
    """Answer 404 on the admin path (before the app is started: aiohttp freezes middlewares then)."""
    from aiohttp import web

    from cashup_tui.adapters.sim.server import ADMIN_PATH

    @web.middleware
    async def no_admin(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.rstrip("/") == ADMIN_PATH:
            return web.json_response({"error": "the admin endpoint is disabled (--no-admin)"}, status=404)
        return await handler(request)

    sim.app.middlewares.insert(0, no_admin)


async def _serve(
    host: str,
    port: int,
    seed: int,
    symbols: list[str],
    replay: str | None,
    faults: object,
    api_key: str | None,
    api_secret: str | None,
    tick_ms: int,
    balance: float,
    *,
    symbols_given: bool,
    replay_opts: dict[str, float] | None = None,
    admin: bool = True,
) -> None:
    import asyncio
    import signal
    from decimal import Decimal

    from cashup_tui.adapters.sim.contracts import synthetic
    from cashup_tui.adapters.sim.server import SimServer, wall_ms

    market = None
    if replay:
        from cashup_tui.adapters.sim.replay import load_replay

        market = load_replay(
            replay, seed=seed, start_ms=wall_ms(), tick_ms=tick_ms, symbols=symbols if symbols_given else None, **(replay_opts or {})
        )
    sim = SimServer(
        symbols,
        seed=seed,
        tick_ms=tick_ms,
        balance=Decimal(str(balance)),
        api_key=api_key,
        api_secret=api_secret,
        faults=faults,  # type: ignore[arg-type]
        market=market,
    )
    if not admin:
        disable_admin(sim)
    await sim.start(host, port)
    import gc

    # what start-up built (contracts, market history, the app) lives as long as the server: keep it out of
    # full collections, which would stall every connection's answers for tens of milliseconds
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    active = {k: v for k, v in sim.faults.snapshot().items() if v != getattr(type(sim.faults)(), k)}
    made_up = [] if replay else synthetic(list(sim.market.symbols))
    out = sys.stdout
    out.write(
        f"cashup simulator: {', '.join(sim.market.symbols)} (seed {seed}{', replay ' + replay if replay else ''})\n"
        f"  ws:    {sim.ws_url}\n"
        f"  rest:  {sim.rest_url}\n"
        f"  admin: {sim.admin_url if admin else 'disabled (--no-admin)'}\n"
        f"  test key:    {sim.api_key}\n"
        f"  test secret: {sim.api_secret}\n"
        f"  user id:     {sim.state.user_id}\n"
        + (f"  synthetic (no Gate spec on file; tick, multiplier and fees made up): {', '.join(made_up)}\n"
           if made_up else "")
        + (f"  faults: {', '.join(f'{k}={v}' for k, v in active.items())}\n" if active else "")
        + "point cashup at it:\n"
        f"export CASHUP_GATE_REST_URL={sim.rest_url}\n"
        f"export CASHUP_GATE_WS_URL={sim.ws_url}\n"
        f"export CASHUP_GATE_API_KEY={sim.api_key}\n"
        f"export CASHUP_GATE_API_SECRET={sim.api_secret}\n"
        "Ctrl-C to stop.\n"
    )
    out.flush()
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await sim.stop()
    out.write("simulator stopped\n")
    out.flush()
