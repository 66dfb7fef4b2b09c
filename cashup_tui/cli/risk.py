"""`cashup risk status|kill LEVEL|resume|report`: trading state, kill switch, portfolio analytics."""

from __future__ import annotations

from functools import partial

import typer

from cashup_tui.cli.choices import Mode
from cashup_tui.cli.common import fail, print_json
from cashup_tui.cli.engine_cli import (
    MODE_HELP,
    authorize,
    confirm_live,
    offline_session,
    open_journal,
    resolve_mode,
    run_node,
)

app = typer.Typer(help="Risk status, kill switch, resume, report.", no_args_is_help=True)
LEVELS = ("1 stop entries (cancel resting entries; exits stay) | 2 reduce only (also cancel every order not "
          "flagged reduce-only) | 3 cancel all and flatten | 4 as 3, then halt (nothing new is sent)")


@app.command("status")
def status(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Trading state (ACTIVE / REDUCING / HALTED), kill level, limits and recent risk events (offline)."""
    settings, m, url = resolve_mode(ctx, mode)
    store, journal = open_journal(settings, m, url)
    try:
        from cashup_tui.service.offline import offline_risk

        risk = offline_risk(settings.risk, journal)
        snap = risk.snapshot()
        from cashup_tui.store import records

        events = [e for e in records.list_risk_events(store, 10, mode=m, account=journal.account)]
    finally:
        store.close()
    recent = [{"ts_ms": e.ts_ms, "kind": e.state, "rule": e.rule, "message": e.message} for e in events]
    if as_json:
        print_json({"mode": m, **snap, "recent_events": recent})
        return
    typer.echo(f"mode {m}: trading {snap['state'].upper()}  kill level {snap['kill_level']} ({snap['kill_level_name']})")
    if snap["reason"]:
        typer.echo(f"  reason: {snap['reason']} (by {snap['source']})")
    lim = snap["limits"]
    typer.echo(f"  limits: order {lim['max_order_notional']} USDT, position {lim['max_position_notional']}, gross "
               f"{lim['max_gross_exposure']}, leverage {lim['max_leverage']}x, band {lim['price_band_pct']}%, "
               f"daily loss {lim['daily_loss_limit']}, drawdown {lim['max_drawdown_pct']}%")
    for e in recent:
        typer.echo(f"  {e['kind']:<9} {e['rule']:<22} {e['message']}")


@app.command("kill")
def kill(
    ctx: typer.Context,
    level: int = typer.Argument(..., help=LEVELS),
    reason: str = typer.Option("manual kill switch (cli)", "--reason", "-r", help="Why (journalled)."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live mode without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Engage the graded kill switch at the venue; each level does all the one below does, and more:
    1 no new entries and resting entry orders cancelled (reduce-only orders, protective stops and
    orders that reduce a position stay); 2 also cancels every order not flagged reduce-only;
    3 cancels all and closes every position; 4 does 3, then halts (not even reduce-only orders go out)."""
    if level not in (1, 2, 3, 4):
        fail(f"kill level {level} is not 1..4", hint=LEVELS, code=2)
    settings, m, url = resolve_mode(ctx, mode)
    from cashup_tui.service import commands

    live_ok = confirm_live(m, confirm)

    async def go(node):
        return await commands.kill(node, level, reason, authorize=partial(authorize, node.session), source="cli")

    actions = run_node(settings, m, url, go, trade=level >= 3, live_ok=live_ok)
    state = {1: "REDUCING", 2: "REDUCING", 3: "REDUCING", 4: "HALTED"}[level]
    if as_json:
        print_json({"mode": m, "kill_level": level, "state": state.lower(), "actions": actions})
        return
    typer.echo(f"kill level {level} engaged ({m}): trading {state}")
    for a in actions:
        typer.echo(f"  {a}")
    typer.echo("resume with `cashup risk resume`")


@app.command("resume")
def resume(
    ctx: typer.Context,
    reason: str = typer.Option("resumed (cli)", "--reason", "-r", help="Why (journalled)."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Back to ACTIVE (kill level 0): an admin action (asks the admin passphrase). Recorded in the audit log."""
    settings, m, url = resolve_mode(ctx, mode)
    store, journal = open_journal(settings, m, url)
    try:
        from cashup_tui.service import commands
        from cashup_tui.service.offline import offline_risk

        old = commands.resume(offline_risk(settings.risk, journal), reason=reason, source="cli",
                              authorize=partial(authorize, offline_session(settings, m, journal)))
    finally:
        store.close()
    if as_json:
        print_json({"mode": m, "state": "active", "previous_kill_level": old})
        return
    typer.echo(f"trading ACTIVE ({m}); was kill level {old}")


@app.command("report")
def report(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    timeframe: str = typer.Option("1h", "--timeframe", help="Stored candles used for VaR (resampled to days)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Exposure by symbol/side, 1-day historical VaR 95/99 from stored candles, stress tests."""
    from decimal import Decimal

    from cashup_tui.domain.errors import CashupError
    from cashup_tui.engine.portfolio import daily_closes
    from cashup_tui.service.offline import journal_portfolio, known_instruments
    from cashup_tui.store import candles as candles_repo
    from cashup_tui.store import portfolio as pf_repo

    settings, m, url = resolve_mode(ctx, mode)
    store, journal = open_journal(settings, m, url)
    try:
        positions = [p for p in journal.load_positions() if not p.is_flat]
        pf = journal_portfolio(journal, positions, known_instruments(positions, pf_repo.load_instruments(store)))
        closes: dict[str, list[float]] = {}
        notes: list[str] = []
        for p in positions:
            bars = candles_repo.load_bars(store, p.symbol, timeframe)
            if bars:
                pf.set_mark(p.symbol, Decimal(repr(bars[-1].close)))
                closes[p.symbol] = daily_closes(bars)
            else:
                notes.append(f"no stored {timeframe} candles for {p.symbol}: mark = entry price, no VaR")
    finally:
        store.close()
    var = None
    try:
        if positions and len(closes) == len(positions):
            var = pf.historical_var(closes)
    except CashupError as exc:
        notes.append(str(exc))
    exposure = pf.exposure_by_symbol()
    stress = pf.stress()
    if as_json:
        print_json({
            "mode": m, "equity": pf.equity(), "gross_exposure": pf.gross_exposure(), "net_exposure": pf.net_exposure(),
            "exposure": exposure,
            "var": None if var is None else {"days": var.days, "var95": var.var95, "var99": var.var99, "worst": var.worst},
            "stress": [{"scope": r.scope, "shock_pct": r.shock_pct, "pnl": r.pnl, "equity_after": r.equity_after,
                        "margin_after": r.margin_after, "liquidated": list(r.liquidated)} for r in stress],
            "notes": notes,
        })
        return
    typer.echo(f"mode {m}: equity {pf.equity():.2f} USDT, gross {pf.gross_exposure():.2f}, net {pf.net_exposure():.2f}")
    for sym, e in exposure.items():
        typer.echo(f"  {sym:<12} long {e['long']:>12.2f}  short {e['short']:>12.2f}")
    if var is not None:
        typer.echo(f"1-day historical VaR over {var.days} days: 95% {var.var95:.2f} USDT, 99% {var.var99:.2f} USDT, "
                   f"worst day {var.worst:.2f}")
    if stress:
        typer.echo(f"{'SCOPE':<12} {'SHOCK':>6} {'PnL':>12} {'EQUITY':>12} {'MARGIN':>10}  LIQUIDATED")
        for r in stress:
            typer.echo(f"{r.scope:<12} {r.shock_pct:>+5d}% {r.pnl:>12.2f} {r.equity_after:>12.2f} {r.margin_after:>10.2f}  "
                       f"{', '.join(r.liquidated) or '-'}")
    else:
        typer.echo("no open positions: nothing to stress")
    for n in notes:
        typer.echo(f"note: {n}")
