"""`cashup serve`: the same workstation in a browser on localhost (textual-serve)."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(help="Serve the workstation to a browser on localhost.", invoke_without_command=True)


@app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (keep it on loopback; use SSH -L)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    mode: str = typer.Option("demo", "--mode", "-m", help="demo | paper (live/testnet only in a terminal)."),
) -> None:
    """Each browser tab runs `cashup tui` in a fresh process behind textual-serve; closing the tab stops
    that process's node cleanly, and stopping serve stops every tab's process first."""
    from cashup_tui.cli.common import ctx_obj, fail
    from cashup_tui.domain.enums import LOCAL_MODES

    if mode not in LOCAL_MODES:
        fail(f"--mode {mode} is not offered in the browser", hint="use demo or paper; trade live from a terminal", code=2)
    if host not in ("127.0.0.1", "localhost", "::1"):
        fail(f"refusing to serve on {host}", hint="serve on 127.0.0.1 and tunnel with `ssh -L 8000:127.0.0.1:8000`",
             code=2)
    from cashup_tui.extras import require

    require("textual_serve.server", extra="serve", why="cashup serve needs textual-serve")
    from cashup_tui.cli.serve_host import ServeHost

    obj = ctx_obj(ctx)
    parts = [sys.executable, "-m", "cashup_tui"]
    if obj.get("config"):
        parts += ["--config", obj["config"]]
    if obj.get("db"):
        parts += ["--db", obj["db"]]
    parts += ["tui", "--mode", mode]
    typer.echo(f"serving CashUp ({mode}) on http://{host}:{port}  (Ctrl-C stops)")
    ServeHost(parts, host=host, port=port, title="CashUp").serve()
