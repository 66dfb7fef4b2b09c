"""`cashup notify test [URL]`, `cashup notify channels`, `cashup notify templates`, `cashup notify history`.

`test` sends one message through the same queued, time-limited path the app uses and
reports per channel; with no URL it tests every configured channel, with `-` it reads the
URL at a hidden prompt (a URL on the command line lands in shell history: its token too).
URLs are never printed; channels show as `#1 tgram`. Outcomes go to the store's history.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from cashup_tui.cli.common import fail, print_json

app = typer.Typer(help="Test notification channels; show history.", no_args_is_help=True)


def _history_sink(ctx: typer.Context) -> Any:
    """DeliveryRecord -> the store's notifications table (best effort: a failure is a warning)."""
    try:
        from cashup_tui.cli.common import db_url_from
        from cashup_tui.store import open_store
        from cashup_tui.store.records import Notification, record_notification

        db = open_store(db_url_from(ctx))
    except Exception as exc:
        sys.stderr.write(f"warning: history not recorded: cannot open the store ({type(exc).__name__})\n")
        return None, None

    def sink(rec: Any) -> None:
        record_notification(db, Notification(ts_ms=rec.ts_ms, severity=rec.severity, title=rec.title, body=rec.event,
                                             channel=rec.channel, status=rec.outcome, error=rec.error))

    return sink, db


@app.command("test")
def test_cmd(
    ctx: typer.Context,
    url: str = typer.Argument(None, help="An apprise URL, '-' to type it hidden, or omit for the configured channels."),
    title: str = typer.Option("CashUp test notification", "--title", help="Title."),
    body: str = typer.Option("If you can read this, the channel works.", "--body", help="Message body."),
    severity: str = typer.Option("info", "--severity", help="debug, info, warning or critical."),
    timeout: float = typer.Option(20.0, "--timeout", help="Give up after this many seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Send one test message and report, per channel, whether it was delivered."""
    import asyncio

    from cashup_tui.adapters.notify import NotificationService
    from cashup_tui.adapters.notify_channels import SEVERITIES, parse_channel
    from cashup_tui.cli.common import settings_from
    from cashup_tui.logging_setup import configure_logging

    s = settings_from(ctx)
    configure_logging(s.log.level, file=s.log.file or None)
    if severity not in SEVERITIES:
        fail(f"--severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    ns = s.notify
    if url == "-":
        import getpass

        url = (getpass.getpass("Notification URL (hidden): ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
        if not url:
            fail("no URL given", hint="paste an apprise URL such as tgram://TOKEN/CHAT_ID")
    specs = [url] if url else list(ns.urls)
    if not specs:
        fail("no URL given and no channels configured",
             hint="pass a URL (e.g. json://127.0.0.1:8080/hook) or add notify.urls to the settings file")
    channels = [parse_channel(u, i, timeout_s=ns.timeout_s, connect_timeout_s=ns.connect_timeout_s)
                for i, u in enumerate(specs, 1)]
    if url:  # an explicit URL gets every severity whatever its tags say
        import dataclasses

        channels = [dataclasses.replace(c, tags=frozenset(SEVERITIES)) for c in channels]
    from cashup_tui.adapters.notify_templates import check_templates
    from cashup_tui.settings import notify_templates_dir

    templates = str(notify_templates_dir(s))
    check_templates(templates)  # a broken template of yours: exit 2 naming the file and line, before anything is sent
    sink, db = _history_sink(ctx)

    async def run() -> NotificationService:
        svc = NotificationService(channels, min_severity="debug", rate_limit_per_min=max(ns.rate_limit_per_min, 1),
                                  retries=ns.retries, timeout_s=ns.timeout_s, history=sink, templates_dir=templates)
        await svc.start()
        svc.submit("test", severity, title=title, body=body)
        await svc.stop(drain_s=timeout)
        return svc

    try:
        svc = asyncio.run(run())
    finally:
        if db is not None:
            db.close()
    results = {r.channel: r for r in svc.history if r.channel != "-"}
    rows = [_outcome(c, results.get(c.label), severity, SEVERITIES) for c in channels]
    if as_json:
        print_json({"results": rows})
    else:
        for r in rows:
            if r["outcome"] == "skipped":
                typer.echo(f"{r['channel']}: skipped ({r['error']})")
                continue
            extra = f" ({r['error']})" if r["error"] else ""
            typer.echo(f"{r['channel']}: {r['outcome']} after {r['attempts']} attempt(s){extra}")
    failed = [r for r in rows if r["outcome"] not in ("sent", "skipped")]
    if failed:
        fail(f"{len(failed)} of {len(rows)} channel(s) did not deliver",
             hint="check the URL, the network path and the service's token; see the log file for details")
    if all(r["outcome"] == "skipped" for r in rows):
        sys.stderr.write(f"nothing sent: no channel takes {severity} messages; "
                         "try --severity with one they take (see `cashup notify channels`)\n")


def _outcome(channel: Any, rec: Any, severity: str, severities: tuple[str, ...]) -> dict[str, Any]:
    """One channel's result. A channel whose severity tags do not take the test's severity is skipped
    by routing, as it would be for a real event: that is the configuration working, not a failure."""
    if severity not in channel.tags:
        takes = ", ".join(s for s in severities if s in channel.tags)
        return {"channel": channel.label, "outcome": "skipped", "attempts": 0,
                "error": f"routing: it takes {takes}, not {severity}"}
    if rec is None:
        return {"channel": channel.label, "outcome": "not sent", "attempts": 0, "error": "timed out"}
    return {"channel": channel.label, "outcome": rec.outcome, "attempts": rec.attempts, "error": rec.error}


@app.command("channels")
def channels_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Validate the configured channels and list them (scheme and severity tags, never the URL)."""
    from cashup_tui.adapters.notify_channels import SEVERITIES, parse_channel
    from cashup_tui.cli.common import settings_from

    ns = settings_from(ctx).notify
    chans = [parse_channel(u, i, timeout_s=ns.timeout_s, connect_timeout_s=ns.connect_timeout_s)
             for i, u in enumerate(ns.urls, 1)]
    rows = [{"channel": c.label, "severities": [s for s in SEVERITIES if s in c.tags]} for c in chans]
    if as_json:
        print_json({"channels": rows, "min_severity": ns.min_severity})
        return
    if not rows:
        typer.echo("no notification channels configured (settings: [notify] urls)")
        return
    for r in rows:
        typer.echo(f"{r['channel']}: {', '.join(r['severities'])}")


@app.command("templates")
def templates_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check your notification templates and list which event uses which (yours or the built-in)."""
    from cashup_tui.adapters.notify_templates import EVENTS, check_templates
    from cashup_tui.cli.common import settings_from
    from cashup_tui.settings import notify_templates_dir

    folder = notify_templates_dir(settings_from(ctx))
    mine = check_templates(str(folder))
    rows = [{"event": e, "template": str(mine[e]) if e in mine else "built-in"} for e in EVENTS]
    if as_json:
        print_json({"folder": str(folder), "templates": rows})
        return
    typer.echo(f"templates folder: {folder}{'' if folder.is_dir() else ' (absent: built-ins only)'}")
    for r in rows:
        typer.echo(f"{r['event']:<15} {r['template']}")


@app.command("history")
def history_cmd(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many (most recent first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent notification outcomes (sent, failed, dropped, deduplicated, rate_limited) from the store."""
    from datetime import UTC, datetime

    from cashup_tui.cli.common import db_url_from
    from cashup_tui.store import open_store
    from cashup_tui.store.records import list_notifications

    with open_store(db_url_from(ctx)) as db:
        rows = list_notifications(db, limit)
    out: list[dict[str, Any]] = [{"id": r.id, "ts_ms": r.ts_ms, "severity": r.severity, "title": r.title, "event": r.body,
            "channel": r.channel, "status": r.status, "error": r.error} for r in rows]
    if as_json:
        print_json({"history": out})
        return
    if not out:
        typer.echo("no notifications recorded yet (try `cashup notify test URL`)")
        return
    for r in out:
        ts = datetime.fromtimestamp(r["ts_ms"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        err = f"  ({r['error']})" if r["error"] else ""
        typer.echo(f"{ts}  {r['severity']:<8} {r['status']:<13} {r['channel']:<12} {r['title']}{err}")
