"""`cashup config path|show|init|set`."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from cashup_tui.cli.common import ctx_obj, fail, print_json, settings_from

app = typer.Typer(help="Show, locate, create and edit the settings file.", no_args_is_help=True)


@app.command("path")
def path_cmd(ctx: typer.Context) -> None:
    """Print the settings file in use and how it was found (or where `init` would write it)."""
    from cashup_tui.paths import default_config_file
    from cashup_tui.settings import discover_config_file

    p, how = discover_config_file(ctx_obj(ctx).get("config"))
    if p is None:
        typer.echo(f"{default_config_file()} (not created yet: built-in defaults in use)")
    else:
        typer.echo(f"{p} ({how})")


@app.command("show")
def show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the effective settings (file + CASHUP_* overrides). Secrets show only as <set>."""
    from cashup_tui.settings import render_toml

    s = settings_from(ctx)
    if as_json:
        print_json({"source": s.source, "settings": s.as_dict(redact=True)})
        return
    typer.echo(f"# source: {s.source}")
    typer.echo(render_toml(s))


@app.command("init")
def init(
    ctx: typer.Context,
    path: Path = typer.Option(None, "--path", help="Where to write (default: the user config dir)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write the documented example settings file (every key with its default)."""
    from importlib import resources

    from cashup_tui.paths import default_config_file
    from cashup_tui.private_files import ensure_private_dir

    target = path or (Path(ctx_obj(ctx)["config"]) if ctx_obj(ctx).get("config") else default_config_file())
    if target.exists() and not force:
        fail(f"{target} already exists", hint="pass --force to overwrite it, or --path to write elsewhere")
    text = resources.files("cashup_tui").joinpath("cashup.example.toml").read_text(encoding="utf-8")
    ensure_private_dir(target.parent)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    typer.echo(f"wrote {target}")


@app.command("set")
def set_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="SECTION.KEY, e.g. risk.max_leverage (see `cashup config show`)."),
    value: str = typer.Argument(..., help='The new value; a list as "a, b" or \'["a", "b"]\'.'),
) -> None:
    """Change one key in the settings file, checked as the loader checks it, comments kept. Secrets are
    refused (API keys: `cashup keys`; channel URLs: the workstation's notification centre)."""
    from cashup_tui.service.config_edit import ConfigFile
    from cashup_tui.settings import discover_config_file

    path, _ = discover_config_file(ctx_obj(ctx).get("config"))
    typer.echo(ConfigFile(path).set(key, value).message)
