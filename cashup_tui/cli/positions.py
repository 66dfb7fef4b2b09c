"""`cashup positions`: net positions per contract from the journal (or reconciled with the venue)."""

from __future__ import annotations

import typer

from cashup_tui.cli.choices import Mode
from cashup_tui.cli.common import print_json
from cashup_tui.cli.engine_cli import MODE_HELP, confirm_live, open_journal, resolve_mode, run_node


def command(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    sync: bool = typer.Option(False, "--sync", help="Reconcile with the venue first (connects; marks are live)."),
    flat: bool = typer.Option(False, "--flat", help="Include flat positions."),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show positions: size, entry, mark, unrealised/realised PnL, fees, funding, margin, liquidation price."""
    settings, m, url = resolve_mode(ctx, mode)
    if sync:
        live_ok = confirm_live(m, confirm)

        async def go(node):
            pf = node.portfolio
            return pf.views(include_flat=flat), pf.cash, pf.equity(), list(node.om.changes_log)

        views, cash, equity, changes = run_node(settings, m, url, go, live_ok=live_ok)
    else:
        from cashup_tui.service.offline import journal_portfolio, known_instruments

        store, journal = open_journal(settings, m, url)
        try:
            positions = journal.load_positions()
            pf = journal_portfolio(journal, positions, known_instruments(positions))
        finally:
            store.close()
        views, cash, equity, changes = pf.views(include_flat=flat), pf.cash, pf.equity(), []
    rows = [{
        "symbol": v.symbol, "side": v.side, "size": v.size, "entry_price": v.entry_price, "mark": v.mark,
        "notional": v.notional, "unrealized_pnl": v.unrealized_pnl, "realized_pnl": v.realized_pnl, "fees": v.fees,
        "funding": v.funding, "leverage": v.leverage, "margin": v.margin, "liquidation_price": v.liquidation_price,
    } for v in views]
    if as_json:
        print_json({"mode": m, "cash": cash, "equity": equity, "positions": rows, "reconcile_changes": changes})
        return
    for c in changes:
        typer.echo(f"reconciled: {c}")
    if not rows:
        typer.echo(f"no open positions ({m}); cash {cash:.2f} USDT")
        return
    typer.echo(f"{'SYMBOL':<12} {'SIDE':<5} {'SIZE':>10} {'ENTRY':>12} {'MARK':>12} {'uPnL':>10} {'rPnL':>10} "
               f"{'FEES':>8} {'LEV':>4} {'MARGIN':>10} {'LIQ':>12}")
    for r in rows:
        mark = f"{r['mark']:.6g}" if r["mark"] is not None else "-"
        liq = f"{r['liquidation_price']:.6g}" if r["liquidation_price"] is not None else "-"
        typer.echo(f"{r['symbol']:<12} {r['side'].upper():<5} {r['size']:>10} {r['entry_price']:>12.6g} {mark:>12} "
                   f"{r['unrealized_pnl']:>+10.2f} {r['realized_pnl']:>10.2f} {r['fees']:>8.2f} "
                   f"{r['leverage']:>4.3g} {r['margin']:>10.2f} {liq:>12}")
    typer.echo(f"cash {cash:.2f} USDT, equity {equity:.2f} USDT" + ("" if sync else " (marks: entry prices; --sync for live)"))
