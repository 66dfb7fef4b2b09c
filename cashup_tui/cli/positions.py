"""`cashup positions`: net positions per contract from the journal (or reconciled with the venue);
`cashup positions leverage`: a contract's leverage and margin mode at the venue."""

from __future__ import annotations

from functools import partial

import typer

from cashup_tui.cli.choices import Mode
from cashup_tui.cli.common import fail, print_json
from cashup_tui.cli.engine_cli import MODE_HELP, authorize, confirm_live, open_journal, resolve_mode, run_node

app = typer.Typer(help="Show positions; set a contract's leverage and margin mode.", invoke_without_command=True)


@app.callback()
def command(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    sync: bool = typer.Option(False, "--sync", help="Reconcile with the venue first (connects; marks are live)."),
    flat: bool = typer.Option(False, "--flat", help="Include flat positions."),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show positions: size, entry, mark, unrealised/realised PnL, fees, funding, margin, liquidation price."""
    if ctx.invoked_subcommand is not None:
        return
    settings, m, url = resolve_mode(ctx, mode)
    if sync:
        live_ok = confirm_live(m, confirm)

        async def go(node):
            from cashup_tui.service.margin import MarginWatch

            pf, watch = node.portfolio, MarginWatch(node.execution)
            await watch.refresh()  # the venue's leverage, margin mode and margin (the engine keeps neither)
            return pf.views(include_flat=flat), pf.cash, pf.equity(), list(node.om.changes_log), watch.positions

        views, cash, equity, changes, venue = run_node(settings, m, url, go, live_ok=live_ok)
    else:
        from cashup_tui.service.offline import journal_portfolio, known_instruments

        store, journal = open_journal(settings, m, url)
        try:
            positions = journal.load_positions()
            pf = journal_portfolio(journal, positions, known_instruments(positions))
        finally:
            store.close()
        views, cash, equity, changes, venue = pf.views(include_flat=flat), pf.cash, pf.equity(), [], {}
    rows = []
    for v in views:
        pm = venue.get(v.symbol)  # with --sync: what the venue holds, not the engine's estimate
        rows.append({
            "symbol": v.symbol, "side": v.side, "size": v.size, "entry_price": v.entry_price, "mark": v.mark,
            "notional": v.notional, "unrealized_pnl": v.unrealized_pnl, "realized_pnl": v.realized_pnl, "fees": v.fees,
            "funding": v.funding, "leverage": pm.leverage if pm else v.leverage,
            "margin_mode": pm.mode.value if pm else None, "margin": pm.margin if pm else v.margin,
            "liquidation_price": pm.liq_price if pm and pm.liq_price else v.liquidation_price,
        })
    if as_json:
        print_json({"mode": m, "cash": cash, "equity": equity, "positions": rows, "reconcile_changes": changes})
        return
    for c in changes:
        typer.echo(f"reconciled: {c}")
    if not rows:
        typer.echo(f"no open positions ({m}); cash {cash:.2f} USDT")
        return
    typer.echo(f"{'SYMBOL':<12} {'SIDE':<5} {'SIZE':>10} {'ENTRY':>12} {'MARK':>12} {'uPnL':>10} {'rPnL':>10} "
               f"{'FEES':>8} {'FUND':>8} {'LEV':>5} {'MARGIN':>10} {'LIQ':>12}")
    for r in rows:
        mark = f"{r['mark']:.6g}" if r["mark"] is not None else "-"
        liq = f"{r['liquidation_price']:.6g}" if r["liquidation_price"] is not None else "-"
        lev = f"{'C' if r['margin_mode'] == 'cross' else ''}{float(r['leverage']):g}x"
        typer.echo(f"{r['symbol']:<12} {r['side'].upper():<5} {r['size']:>10} {r['entry_price']:>12.6g} {mark:>12} "
                   f"{r['unrealized_pnl']:>+10.2f} {r['realized_pnl']:>10.2f} {r['fees']:>8.2f} {r['funding']:>+8.2f} "
                   f"{lev:>5} {r['margin']:>10.2f} {liq:>12}")
    typer.echo(f"cash {cash:.2f} USDT, equity {equity:.2f} USDT" + ("" if sync else " (marks: entry prices; --sync for live)"))


@app.command("leverage")
def leverage(
    ctx: typer.Context,
    symbol: str = typer.Argument(..., help="Gate contract, e.g. BTC_USDT."),
    value: str = typer.Argument(..., help="Leverage, e.g. 5 (in cross margin: the cross leverage limit)."),
    margin: str = typer.Option(None, "--margin", help="cross | isolated (default: keep the current mode)."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Set SYMBOL's leverage (and margin mode) at the venue; print what the venue then reports."""
    from cashup_tui.domain.errors import ValidationError
    from cashup_tui.service import leverage as lev_cmd

    try:
        lev, margin_mode = lev_cmd.parse_leverage(value), lev_cmd.parse_mode(margin)
    except ValidationError as exc:
        fail(exc.args[0], hint=exc.hint, code=2)
    sym = symbol.upper()
    settings, m, url = resolve_mode(ctx, mode)
    live_ok = confirm_live(m, confirm)

    async def go(node):
        return await lev_cmd.set_leverage(node, sym, lev, margin_mode, authorize=partial(authorize, node.session))

    try:
        pm = run_node(settings, m, url, go, symbols=[sym], trade=False, live_ok=live_ok)
    except ValidationError as exc:  # a bad leverage for this contract: name its range
        fail(exc.args[0], hint=exc.hint, code=2)
    out = {"mode": m, "symbol": sym, "leverage": pm.leverage if pm else lev,
           "margin_mode": pm.mode.value if pm else (margin_mode.value if margin_mode else None),
           "margin": pm.margin if pm else None, "liquidation_price": pm.liq_price if pm else None}
    if as_json:
        print_json(out)
        return
    mm = f" {out['margin_mode']}" if out["margin_mode"] else ""
    extra = f", margin {pm.margin:.2f} USDT" if pm and pm.margin else ""
    liq = f", liquidation {pm.liq_price:.6g}" if pm and pm.liq_price else ""
    typer.echo(f"{sym} leverage {out['leverage']:f}x{mm}{extra}{liq} ({m})")
