"""`cashup audit`: the audit log of the store: every user action, allowed or denied, and who did it.

Each row is written by the profile check (`service/roles.py`) or the engine (node start/stop, the live
switch's key check): actor (`user:trader`, `cli:developer`, `engine`), action, outcome, details. The rows
are built by `service/fills.py`, the same builder as the workstation's audit view (`A`).
"""

from __future__ import annotations

import typer

from cashup_tui.cli.choices import Mode
from cashup_tui.cli.common import fail, parse_window, print_json
from cashup_tui.cli.engine_cli import MODE_HELP, open_journal, resolve_mode


def command(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    since: str = typer.Option(None, "--since", help="From this time (UTC date, ISO time or epoch ms), inclusive."),
    until: str = typer.Option(None, "--until", help="Up to this time (UTC date, ISO time or epoch ms), exclusive."),
    limit: int = typer.Option(1000, "--limit", help="At most this many rows (the newest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The audit log (no network): time, actor, action, allowed/denied and details, oldest first."""
    from cashup_tui.service.fills import audit_rows

    if limit < 1:
        fail(f"--limit {limit} must be at least 1", code=2)
    lo, hi = parse_window(since, until)
    settings, m, url = resolve_mode(ctx, mode)
    store, _ = open_journal(settings, m, url)
    try:
        rows = audit_rows(store, since_ms=lo, until_ms=hi, mode=m, limit=limit)
    finally:
        store.close()
    if as_json:
        print_json({"mode": m, "audit": rows})
        return
    if not rows:
        typer.echo(f"no audit rows ({m})" + (f" since {since}" if since else ""))
        return
    for r in rows:
        flag = "DENIED " if r["outcome"] == "denied" else ""
        typer.echo(f"{r['time']}  {r['actor']:<16} {r['action']:<20} {flag}{r['detail']}")
    denied = sum(r["outcome"] == "denied" for r in rows)
    typer.echo(f"{len(rows)} actions, {denied} denied ({m})")
