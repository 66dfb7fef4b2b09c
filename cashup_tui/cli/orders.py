"""`cashup orders place|list|cancel|sync`: one order through the full engine path, headless."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

import typer

from cashup_tui.cli.choices import Mode, OrderType, Tif
from cashup_tui.cli.common import fail, print_json
from cashup_tui.cli.engine_cli import (
    MODE_HELP,
    authorize,
    confirm_live,
    decimal_arg,
    open_journal,
    order_dict,
    order_line,
    resolve_mode,
    run_node,
)
from cashup_tui.domain.enums import Mode as TradingMode

app = typer.Typer(help="Place, list, cancel and reconcile orders.", no_args_is_help=True)
TYPES = "market | limit | stop_market | stop_limit | take_profit | trailing_stop"
TIFS = ("gtc", "ioc", "poc", "fok")
EXIT_UNCONFIRMED = 3  # `orders place`: the order's outcome is unknown (UNCONFIRMED after a timeout)
_SYMBOL_RE = re.compile(r"[A-Z0-9]{1,20}_[A-Z0-9]{1,20}")


class OrderFields(NamedTuple):
    """`orders place` arguments, checked before anything starts (numbers exact, choices known)."""

    symbol: str
    side: str
    size: Decimal
    order_type: str
    price: Decimal | None
    trigger: Decimal | None
    tif: str | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    client_id: str | None


def _choice(value: Any) -> str:
    return str(getattr(value, "value", value)).strip().lower()


def parse_order_fields(symbol: str, side: Any, size: str, order_type: Any = "limit", price: str | None = None,
                       trigger: str | None = None, tif: Any = None, stop_loss: str | None = None,
                       take_profit: str | None = None, client_id: str | None = None) -> OrderFields:
    """Every field of a CLI order, or a ValidationError saying which and how to fix it (exit 2)."""
    from cashup_tui.domain.enums import OrderType
    from cashup_tui.domain.errors import ValidationError
    from cashup_tui.domain.ids import validate_client_id
    from cashup_tui.domain.instruments import user_decimal

    sym = symbol.strip().upper()
    if not sym.isascii() or _SYMBOL_RE.fullmatch(sym) is None:
        raise ValidationError(f"symbol {symbol!r} is not a Gate contract name", hint="e.g. BTC_USDT")
    sd = _choice(side)
    if sd not in ("buy", "sell"):
        raise ValidationError(f"side {side!r} must be buy or sell")
    ot = _choice(order_type)
    if ot not in {t.value for t in OrderType}:
        raise ValidationError(f"order type {order_type!r} is not known", hint=f"--type {TYPES}")
    tf = _choice(tif) if tif is not None else None
    if tf is not None and tf not in TIFS:
        raise ValidationError(f"time in force {tif!r} is not known", hint="--tif " + " | ".join(TIFS))

    def num(text: str | None, name: str) -> Decimal | None:
        return None if text is None else user_decimal(text, name)

    sl, tp = num(stop_loss, "--stop-loss"), num(take_profit, "--take-profit")
    if (sl is None) != (tp is None):
        raise ValidationError("a bracket needs both --stop-loss and --take-profit")
    cid = validate_client_id(client_id) if client_id is not None else None
    return OrderFields(sym, sd, user_decimal(size, "SIZE"), ot, num(price, "--price"), num(trigger, "--trigger"), tf,
                       sl, tp, cid)


@app.command("place")
def place(
    ctx: typer.Context,
    symbol: str = typer.Argument(..., help="Gate contract, e.g. BTC_USDT."),
    side: str = typer.Argument(..., help="buy or sell."),
    size: str = typer.Argument(..., help="Contracts (whole number unless the contract allows decimals)."),
    order_type: OrderType = typer.Option("limit", "--type", "-t", help=TYPES, case_sensitive=False),
    price: str = typer.Option(None, "--price", "-p", help="Limit price (limit, stop_limit, take_profit)."),
    trigger: str = typer.Option(None, "--trigger", help="Trigger price (stops, take-profit) or trail distance."),
    tif: Tif = typer.Option(None, "--tif", help="gtc | ioc | poc | fok (market orders: ioc).", case_sensitive=False),
    post_only: bool = typer.Option(False, "--post-only", help="Maker only (tif=poc)."),
    reduce_only: bool = typer.Option(False, "--reduce-only", help="Only shrink the position."),
    stop_loss: str = typer.Option(None, "--stop-loss", help="Bracket: reduce-only stop at this trigger price."),
    take_profit: str = typer.Option(None, "--take-profit", help="Bracket: reduce-only take-profit at this price."),
    client_id: str = typer.Option(None, "--client-id", help="Your own id (t-...): placing it again never duplicates."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live trading without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Submit one order: risk gate -> write-ahead journal -> venue; print it once acknowledged."""
    from cashup_tui.domain.errors import ValidationError

    try:
        f = parse_order_fields(symbol, side, size, order_type, price, trigger, tif, stop_loss, take_profit, client_id)
    except ValidationError as exc:
        fail(exc.args[0], hint=exc.hint, code=2)
    settings, m, url = resolve_mode(ctx, mode)
    sym, qty, px, trig, sl, tp = f.symbol, f.size, f.price, f.trigger, f.stop_loss, f.take_profit
    live_ok = confirm_live(m, confirm)

    async def go(node):
        from cashup_tui.domain import enums
        from cashup_tui.service import commands
        from cashup_tui.service.views import OrderRequest

        req = OrderRequest(sym, enums.Side(f.side), qty, enums.OrderType(f.order_type), px, trig,
                           enums.TimeInForce(f.tif) if f.tif else None, reduce_only, post_only, tp, sl)
        return await commands.place(node, req, authorize=partial(authorize, node.session), record_as="orders.place",
                                    client_id=f.client_id, wait_legs=True)

    res = run_node(settings, m, url, go, symbols=[sym], live_ok=live_ok)
    legs = res.legs
    if as_json:
        print_json({"existed": res.existed, "order": order_dict(res.order), "bracket": [order_dict(x) for x in legs]})
    else:
        if res.existed:
            typer.echo(f"client id {res.order.client_id} already exists: nothing new was sent")
        typer.echo(order_line(res.order))
        for x in legs:
            typer.echo(f"  bracket leg: {order_line(x)}")
    unknown = [o.client_id for o in (res.order, *legs) if o.unconfirmed]
    if unknown:  # sent, but the venue never said whether it has it: not a success, not a failure
        fail(f"outcome unknown for {', '.join(unknown)}: sent, but the venue did not confirm it",
             hint="do not re-send blindly: `cashup orders sync` settles it (placing the same --client-id "
                  "again never duplicates)", code=EXIT_UNCONFIRMED)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    all_: bool = typer.Option(False, "--all", "-a", help="Include finished orders (latest 200)."),
    symbol: str = typer.Option(None, "--symbol", "-s", help="Only this contract."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Orders from the local journal (no network). UNCONFIRMED = sent, venue has not answered."""
    settings, m, url = resolve_mode(ctx, mode)
    store, journal = open_journal(settings, m, url)
    from cashup_tui.engine.triggers import BRACKETS_KEY, bracket_legs

    try:
        orders = journal.load_orders(open_only=not all_, limit=200)
        legs = bracket_legs(journal.kv_get(BRACKETS_KEY))
    finally:
        store.close()
    if symbol:
        orders = [o for o in orders if o.symbol == symbol.upper()]
    if as_json:  # "bracket": the entry a leg is linked to by id, and which leg (SL | TP); null otherwise
        print_json([{**order_dict(o), "bracket": dict(zip(("entry", "leg"), legs[o.client_id], strict=True))
                     if o.client_id in legs else None} for o in orders])
        return
    if not orders:
        typer.echo(f"no {'' if all_ else 'open '}orders ({m})")
    from cashup_tui.store.timefmt import iso

    for o in orders:  # in time order (created), with when it was created and last changed
        leg = legs.get(o.client_id)
        changed = f" updated {iso(o.updated_ms, ms=True)}" if o.updated_ms and o.updated_ms != o.created_ms else ""
        typer.echo(f"{iso(o.created_ms, ms=True)}  " + order_line(o) + (f" [{leg[1]} leg of {leg[0]}]" if leg else "") + changed)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    client_id: str = typer.Argument(None, help="Client id (t-...) of the order to cancel."),
    all_: bool = typer.Option(False, "--all", help="Cancel every open order."),
    symbol: str = typer.Option(None, "--symbol", "-s", help="With --all: only this contract."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Cancel one order (by client id) or all open orders, at the venue."""
    if not client_id and not all_:
        fail("give a client id or --all", hint="see `cashup orders list`", code=2)
    settings, m, url = resolve_mode(ctx, mode)
    live_ok = confirm_live(m, confirm)

    async def go(node):
        from cashup_tui.service import commands

        auth = partial(authorize, node.session)
        if all_:
            return await commands.cancel_all(node, symbol.upper() if symbol else None, authorize=auth,
                                             reason="cancel all (cli)", record_as="orders.cancel")
        return [await commands.cancel(node, client_id, authorize=auth, reason="cancelled (cli)",
                                      record_as="orders.cancel")]

    orders = run_node(settings, m, url, go, trade=False, live_ok=live_ok)
    if as_json:
        print_json([order_dict(o) for o in orders])
        return
    if not orders:
        typer.echo("nothing to cancel")
    for o in orders:
        typer.echo(order_line(o))


@app.command("sync")
def sync(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Reconcile the journal with the venue (orders, fills, positions, balances); print what changed."""
    settings, m, url = resolve_mode(ctx, mode)
    live_ok = confirm_live(m, confirm)

    async def go(node):
        return list(node.om.changes_log)

    changes = run_node(settings, m, url, go, trade=False, live_ok=live_ok)
    if as_json:
        print_json({"mode": m, "changes": changes})
        return
    typer.echo(f"{len(changes)} change(s)" + (":" if changes else ": the journal matches the venue"))
    for c in changes:
        typer.echo(f"  {c}")


@app.command("amend")
def amend(
    ctx: typer.Context,
    client_id: str = typer.Argument(..., help="Client id (t-...) of a working order."),
    price: str = typer.Option(None, "--price", "-p", help="New limit price."),
    size: str = typer.Option(None, "--size", help="New total size in contracts (filled part included)."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Change a working order's price and/or size (checked by the risk gate like a new order)."""
    px, qty = decimal_arg(price, "--price"), decimal_arg(size, "--size")
    if px is None and qty is None:
        fail("give --price and/or --size", code=2)
    settings, m, url = resolve_mode(ctx, mode)
    live_ok = confirm_live(m, confirm)

    async def go(node):
        from cashup_tui.service import commands

        return await commands.amend(node, client_id, authorize=partial(authorize, node.session), price=px, size=qty,
                                    record_as="orders.amend")

    stored = _symbol_of(settings, m, url, client_id)
    o = run_node(settings, m, url, go, symbols=[stored], live_ok=live_ok)
    if as_json:
        print_json(order_dict(o))
        return
    typer.echo(order_line(o))


@app.command("close")
def close(
    ctx: typer.Context,
    symbol: str = typer.Argument(..., help="Contract whose whole net position is closed (reduce-only market)."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Close the net position on SYMBOL with a reduce-only market order (allowed in every trading state
    but HALTED)."""
    settings, m, url = resolve_mode(ctx, mode)
    sym = symbol.strip().upper()
    live_ok = confirm_live(m, confirm)

    async def go(node):
        from cashup_tui.service import commands

        return await commands.close_position(node, sym, authorize=partial(authorize, node.session),
                                             record_as="orders.close")

    o = run_node(settings, m, url, go, symbols=[sym], live_ok=live_ok)
    if as_json:
        print_json(None if o is None else order_dict(o))
        return
    typer.echo(f"no open {sym} position" if o is None else order_line(o))


def _symbol_of(settings, mode: TradingMode, url: str, client_id: str) -> str:
    store, journal = open_journal(settings, mode, url)
    try:
        o = journal.get_order(client_id)
    finally:
        store.close()
    if o is None:
        fail(f"no order with client id {client_id!r} in the {mode} journal", hint="see `cashup orders list`")
    return o.symbol
