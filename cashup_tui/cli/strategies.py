"""`cashup strategies list`: strategies found by name, with their parameters (type, default, range)."""

from __future__ import annotations

import sys

import typer

from cashup_tui.cli.common import print_json

app = typer.Typer(help="List strategies and their parameters.", no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """List strategies and their parameters."""


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout.")) -> None:
    """Show every strategy in the strategies folders with its parameters."""
    from cashup_tui.domain.errors import CashupError
    from cashup_tui.engine.strategy import describe, discover, load_strategy, strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    dirs = strategy_dirs(user_strategies_dir())
    found = discover(dirs)
    if not found:  # an install without the built-in strategies, or an empty CASHUP_STRATEGIES_DIR
        where = ", ".join(str(d) for d in dirs) or "(none)"
        sys.stderr.write(f"warning: no strategies found in {where}\n"
                         "  hint: reinstall cashup (it ships sma_cross, grid, ...) or put strategy files "
                         "in $CASHUP_STRATEGIES_DIR\n")
    rows, broken = [], []
    for name, path in found.items():
        try:
            rows.append(describe(load_strategy(str(path))))
        except CashupError as exc:  # one broken file must not hide the others
            broken.append({"name": name, "path": str(path), "error": str(exc).splitlines()[0]})
    if json_out:
        print_json({"strategies": rows, "broken": broken, "dirs": [str(d) for d in dirs]})
        return
    from rich.table import Table

    from cashup_tui.cli.common import console

    t = Table(title="Strategies", show_lines=True)
    for col in ("name", "kind", "parameters", "description"):
        t.add_column(col)
    for r in rows:
        params = "\n".join(
            f"{p['name']}: {p['type']} = {p['default']}"
            + (f"  [{_n(p['min'])}..{_n(p['max'])}]" if p["min"] is not None or p["max"] is not None else "")
            + (f"  {p['help']}" if p["help"] else "")
            for p in r["params"]
        )
        t.add_row(r["name"], "vectorised" if r["vectorised"] else "event only", params or "-", r["summary"])
    c = console()
    c.print(t)
    for b in broken:
        c.print(f"[red]cannot load {b['name']}[/red] ({b['path']}): {b['error']}")


def _n(x: object) -> str:
    return "" if x is None else f"{x:g}" if isinstance(x, float) else str(x)
